"""Backup and restore of the whole registry, the same on SQLite and PostgreSQL.

A backup is a folder: one Parquet file per table and a manifest with each table's row count and a
checksum of its content. Restore loads it into an empty database and recomputes the checksums, so a
restore that lost or altered anything fails loudly instead of silently. Engine-native tools (pg_dump,
sqlite3 .backup) are faster but tie a backup to one engine and verify nothing; this format moves a
registry from SQLite to PostgreSQL as well.

Derived tables (`info={"derived": True}`, e.g. the summary of entered doses) are not backed up: the database's
triggers rebuild them from the rows restored, so they cannot disagree with those rows.
"""

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import JSON, Table, func, insert, select, text
from sqlalchemy.engine import Connection, Engine

from tiemchung.health.registry.db import import_all_models

MANIFEST = "manifest.json"
BATCH_ROWS = 50_000

Progress = Callable[[str, int], None]


@dataclass(frozen=True)
class TableCheck:
    table: str
    rows: int
    checksum: str


def backup(engine: Engine, folder: Path, *, progress: Progress | None = None) -> list[TableCheck]:
    """Write every registry table to `folder` and return what was written."""
    folder.mkdir(parents=True, exist_ok=True)
    checks = []
    with engine.connect() as connection:
        for table in _kept_tables():
            checks.append(_backup_table(connection, table, folder))
            if progress:
                progress(table.name, checks[-1].rows)
    manifest = {
        "format": "tiemchung-backup/1",
        "created_at": datetime.now(UTC).isoformat(),
        "dialect": engine.dialect.name,
        "tables": [check.__dict__ for check in checks],
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
    return checks


def restore(engine: Engine, folder: Path, *, progress: Progress | None = None) -> list[TableCheck]:
    """Load a backup into an empty registry (schema already created) and verify it row for row."""
    expected = {entry["table"]: TableCheck(**entry) for entry in _read_manifest(folder)["tables"]}
    tables = _kept_tables()
    with engine.begin() as connection:
        for table in tables:
            if connection.execute(select(func.count()).select_from(table)).scalar_one():
                raise BackupError(f"Bảng {table.name} đã có dữ liệu: chỉ khôi phục vào cơ sở dữ liệu trống.")
        for table in tables:
            if table.name in expected:
                _restore_table(connection, table, folder / f"{table.name}.parquet")
                if progress:
                    progress(table.name, expected[table.name].rows)
        _reset_sequences(connection, tables)
    restored = verify(engine)
    mismatched = [check.table for check in restored if expected.get(check.table, check) != check]
    if mismatched:
        raise BackupError("Dữ liệu sau khi khôi phục không khớp bản sao lưu ở các bảng: " + ", ".join(mismatched))
    return restored


def verify(engine: Engine) -> list[TableCheck]:
    """Row counts and content checksums of every table, as a backup's manifest records them."""
    with engine.connect() as connection:
        return [_check(table, _rows(connection, table)) for table in _kept_tables()]


def _kept_tables() -> list[Table]:
    return [table for table in import_all_models().sorted_tables if not table.info.get("derived")]


class BackupError(Exception):
    """A backup or restore that cannot be carried out; the message is for the operator, in Vietnamese."""


def _backup_table(connection: Connection, table: Table, folder: Path) -> TableCheck:
    rows = list(_rows(connection, table))
    schema = pa.schema([(column.name, pa.string()) for column in table.columns])
    columns = {column.name: [_portable(row[column.name]) for row in rows] for column in table.columns}
    pq.write_table(pa.table(columns, schema=schema), folder / f"{table.name}.parquet")
    return _check(table, rows)


def _restore_table(connection: Connection, table: Table, path: Path) -> None:
    data = pq.read_table(path).to_pylist()
    for start in range(0, len(data), BATCH_ROWS):
        batch = [_typed(table, row) for row in data[start : start + BATCH_ROWS]]
        connection.execute(insert(table), batch)


def _rows(connection: Connection, table: Table) -> Iterator[dict[str, Any]]:
    order = list(table.primary_key.columns) or list(table.columns)
    for row in connection.execute(select(table).order_by(*order)).mappings():
        yield dict(row)


def _check(table: Table, rows: Iterator[dict[str, Any]] | list[dict[str, Any]]) -> TableCheck:
    digest = hashlib.sha256()
    count = 0
    for row in rows:
        digest.update(json.dumps([_portable(row[c.name]) for c in table.columns], ensure_ascii=False).encode())
        count += 1
    return TableCheck(table=table.name, rows=count, checksum=digest.hexdigest())


def _portable(value: Any) -> str | None:
    """One text form per value, whatever the engine returned (SQLite gives naive datetimes, PostgreSQL aware)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _typed(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    return {name: _from_text(_python_type(table, name), value) for name, value in row.items()}


def _python_type(table: Table, column_name: str) -> type | None:
    column_type = table.columns[column_name].type
    if isinstance(column_type, JSON):
        return dict
    try:
        return column_type.python_type
    except NotImplementedError:
        return None


def _from_text(python_type: type | None, value: str | None) -> Any:
    if value is None or python_type is None or python_type is str:
        return value
    if python_type is bool:
        return value == "1"
    if python_type is datetime:
        return datetime.fromisoformat(value)
    if python_type is date:
        return date.fromisoformat(value)
    if python_type in (dict, list):
        return json.loads(value)
    return python_type(value)


def _reset_sequences(connection: Connection, tables: list[Table]) -> None:
    """PostgreSQL's serial counters do not move on explicit ids: move them past the restored rows."""
    if connection.dialect.name != "postgresql":
        return
    for table in tables:
        for column in table.primary_key.columns:
            if _python_type(table, column.name) is int:
                connection.execute(
                    text(
                        f"select setval(pg_get_serial_sequence('{table.name}', '{column.name}'), "
                        f"coalesce((select max({column.name}) from {table.name}), 0) + 1, false)"
                    )
                )


def _read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    if not path.exists():
        raise BackupError(f"Không tìm thấy {MANIFEST} trong {folder}: đây không phải một bản sao lưu tiemchung.")
    manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return manifest

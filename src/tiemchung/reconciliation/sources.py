"""Where a report's rows come from: the registry database (SQLite, PostgreSQL) or DuckDB over Parquet.

Every report's aggregation is written once, as a SQLAlchemy Core statement over the registry's tables.
`RegistrySource` runs it on the registry's own engine; `ParquetSource` compiles the same statement for
the PostgreSQL dialect with literal values and runs it in DuckDB, whose SQL accepts PostgreSQL's, over
views named like the registry tables. The views read a registry backup folder (one Parquet file per
table, every column stored as text) or the synthetic generator's `records.parquet`, and cast each column
to the type the registry declares, so a query sees the same types on every engine.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Boolean, Date, DateTime, Float, Integer, Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Engine

from tiemchung.reconciliation.queries import Statement
from tiemchung.registry.db import import_all_models

# The registry tables the reports read.
REPORT_TABLES = ("subjects", "doses", "facilities", "import_batches", "verification_results")


class Source(Protocol):
    """Something that runs a Core statement and returns plain tuples."""

    name: str

    def rows(self, statement: Statement) -> list[tuple[Any, ...]]: ...


@dataclass
class RegistrySource:
    engine: Engine
    name: str = field(init=False)

    def __post_init__(self) -> None:
        self.name = self.engine.dialect.name

    def rows(self, statement: Statement) -> list[tuple[Any, ...]]:
        with self.engine.connect() as connection:
            return [tuple(row) for row in connection.execute(statement)]


class ParquetSource:
    """DuckDB over Parquet files; `views` maps a registry table name to a SELECT that produces it."""

    name = "duckdb"

    def __init__(self, views: dict[str, str], *, threads: int | None = None) -> None:
        import duckdb

        self.connection = duckdb.connect()
        if threads:
            self.connection.execute(f"SET threads = {int(threads)}")
        for table_name, select_sql in views.items():
            self.connection.execute(f'CREATE VIEW "{table_name}" AS {select_sql}')

    def rows(self, statement: Statement) -> list[tuple[Any, ...]]:
        sql = str(statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
        return [tuple(row) for row in self.connection.execute(sql).fetchall()]

    def close(self) -> None:
        self.connection.close()

    @classmethod
    def from_backup(cls, folder: Path, *, threads: int | None = None) -> "ParquetSource":
        """Views over a registry backup folder (`tiemchung db backup`), typed as the registry declares."""
        tables = import_all_models().tables
        views = {name: _typed_view(tables[name], folder / f"{name}.parquet") for name in REPORT_TABLES}
        return cls(views, threads=threads)

    @classmethod
    def from_records(cls, records: Path, *, threads: int | None = None) -> "ParquetSource":
        """Views over a `records.parquet` in the interchange layout (one row per dose, subject columns repeated).

        The subject's columns are taken from its first row; `verification_category` and
        `verification_reasons`, when the file carries them, are the register's answers.
        """
        return cls(_records_views(records), threads=threads)


def _duckdb_type(column_type: Any) -> str:
    if isinstance(column_type, Integer):
        return "BIGINT"
    if isinstance(column_type, DateTime):
        return "TIMESTAMPTZ"
    if isinstance(column_type, Date):
        return "DATE"
    if isinstance(column_type, Float):
        return "DOUBLE"
    if isinstance(column_type, Boolean):
        return "BOOLEAN"
    return "VARCHAR"


def _quote_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _typed_view(table: Table, path: Path) -> str:
    if not path.exists():
        # An absent table (e.g. a backup made before a domain existed) reads as empty, with the right columns.
        columns = ", ".join(f'CAST(NULL AS {_duckdb_type(c.type)}) AS "{c.name}"' for c in table.columns)
        return f"SELECT {columns} WHERE false"
    columns = ", ".join(f'CAST("{c.name}" AS {_duckdb_type(c.type)}) AS "{c.name}"' for c in table.columns)
    return f"SELECT {columns} FROM read_parquet({_quote_path(path)})"


def _records_views(records: Path) -> dict[str, str]:
    import duckdb

    with duckdb.connect() as connection:
        described = connection.execute(f"DESCRIBE SELECT * FROM read_parquet({_quote_path(records)})").fetchall()
    available = {row[0] for row in described}

    def optional(column: str, cast: str = "VARCHAR") -> str:
        return f'CAST("{column}" AS {cast})' if column in available else f"CAST(NULL AS {cast})"

    source = f"read_parquet({_quote_path(records)})"
    dose_kind = _dose_kind_sql('"dose"')
    subjects = (
        "SELECT CAST(dense_rank() OVER (ORDER BY subject_id) AS BIGINT) AS id, subject_id AS subject_key, "
        f"province_code, {optional('birth_date')} AS birth_date, "
        f"{optional('verification_category')} AS verification_category, "
        f"coalesce({optional('verification_reasons')}, '') AS verification_reasons "
        f"FROM (SELECT *, row_number() OVER (PARTITION BY subject_id) AS nth FROM {source}) WHERE nth = 1"
    )
    doses = (
        "SELECT CAST(row_number() OVER () AS BIGINT) AS id, record_id, "
        "CAST(dense_rank() OVER (ORDER BY subject_id) AS BIGINT) AS subject_id, vaccine, "
        f"CAST(vaccination_date AS DATE) AS vaccination_date, {dose_kind} AS dose_kind, facility_code, "
        f"{optional('lot_number')} AS lot_number, {optional('reason_group')} AS reason_group, "
        f"CAST(NULL AS BIGINT) AS import_batch_id, {optional('duplicate_of_id', 'BIGINT')} AS duplicate_of_id "
        f"FROM {source}"
    )
    # The facility's province, where the file does not name it, is the province most of its subjects live in.
    facility_province = optional("facility_province_code") if "facility_province_code" in available else "NULL"
    facilities = (
        f"SELECT facility_code AS code, coalesce(min({facility_province}), mode(province_code)) AS province_code "
        f"FROM {source} GROUP BY facility_code"
    )
    import_batches = "SELECT CAST(NULL AS BIGINT) AS id, CAST(NULL AS VARCHAR) AS reason_group WHERE false"
    # A records file carries no answer history: the progress chart is empty for it.
    verification_results = (
        "SELECT CAST(NULL AS BIGINT) AS subject_id, CAST(NULL AS VARCHAR) AS category, "
        "CAST(NULL AS TIMESTAMPTZ) AS answered_at WHERE false"
    )
    return {
        "subjects": subjects,
        "doses": doses,
        "facilities": facilities,
        "import_batches": import_batches,
        "verification_results": verification_results,
    }


def _dose_kind_sql(column: str) -> str:
    """The interchange's `dose` values (`1`, `Nhắc lại 1`, `Liều bổ sung`...) as DoseKind values."""
    return (
        f"CASE lower(trim(CAST({column} AS VARCHAR))) "
        "WHEN '1' THEN '1' WHEN '2' THEN '2' WHEN '3' THEN '3' "
        "WHEN 'liều bổ sung' THEN 'additional' WHEN 'additional' THEN 'additional' "
        "WHEN 'nhắc lại 1' THEN 'booster_1' WHEN 'booster_1' THEN 'booster_1' "
        "WHEN 'nhắc lại 2' THEN 'booster_2' WHEN 'booster_2' THEN 'booster_2' "
        f"ELSE CAST({column} AS VARCHAR) END"
    )

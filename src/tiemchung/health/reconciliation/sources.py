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

from tiemchung.health.reconciliation.queries import Statement
from tiemchung.health.registry.db import import_all_models

# The registry tables the reports read.
REPORT_TABLES = ("subjects", "doses", "facilities", "import_batches", "verification_results", "subject_merges")


class Source(Protocol):
    """Something that runs a Core statement and returns plain tuples; `summarised` when it holds the maintained
    summary of entered doses (`entered_dose_counts`), which reports then read instead of every dose."""

    name: str
    summarised: bool

    def rows(self, statement: Statement) -> list[tuple[Any, ...]]: ...


@dataclass
class RegistrySource:
    engine: Engine
    name: str = field(init=False)
    summarised: bool = field(default=True, init=False)  # the registry's triggers keep it

    def __post_init__(self) -> None:
        self.name = self.engine.dialect.name

    def rows(self, statement: Statement) -> list[tuple[Any, ...]]:
        with self.engine.connect() as connection:
            return [tuple(row) for row in connection.execute(statement)]


class ParquetSource:
    """DuckDB over Parquet files; `views` maps a registry table name to a SELECT that produces it."""

    name = "duckdb"
    summarised = False  # DuckDB counts the dose files faster than it would read a copy of the summary

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
    def from_records(
        cls, records: Path, *, truth: Path | None = None, work_dir: Path, threads: int | None = None
    ) -> "ParquetSource":
        """A `records.parquet` in the interchange layout, first laid out as registry tables in `work_dir`
        (see `records_to_registry_parquet`)."""
        records_to_registry_parquet(records, work_dir, truth=truth, threads=threads)
        return cls.from_backup(work_dir, threads=threads)


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
    """The table as the registry declares it; columns the file lacks (or an absent file) read as NULL."""
    available: set[str] = set()
    if path.exists():
        import pyarrow.parquet as pq

        available = set(pq.read_schema(path).names)
    columns = ", ".join(
        f'CAST({chr(34) + c.name + chr(34) if c.name in available else "NULL"} AS {_duckdb_type(c.type)}) AS "{c.name}"'
        for c in table.columns
    )
    if not path.exists():
        return f"SELECT {columns} WHERE false"
    return f"SELECT {columns} FROM read_parquet({_quote_path(path)})"


def records_to_registry_parquet(
    records: Path, out_dir: Path, *, truth: Path | None = None, threads: int | None = None
) -> None:
    """Lay out a `records.parquet` (interchange section 2, one row per dose) as registry tables in Parquet:
    subjects.parquet, doses.parquet, facilities.parquet, typed as the registry declares them.

    A subject's columns are taken from its rows (the smallest value when rows disagree); birth dates typed
    as dd/mm/yyyy, yyyy-mm-dd or yyyy become the registry's ISO form (anything else: unknown). `truth`, the
    synthetic generator's truth_subjects.parquet, supplies each subject's expected verification answer,
    standing in for the register's answers. A facility's province is the one most of its subjects live in.
    """
    import duckdb
    import pyarrow.parquet as pq

    out_dir.mkdir(parents=True, exist_ok=True)
    source = f"read_parquet({_quote_path(records)})"
    lot_number = "r.lot_number" if "lot_number" in pq.read_schema(records).names else "CAST(NULL AS VARCHAR)"
    with duckdb.connect() as connection:
        if threads:
            connection.execute(f"SET threads = {int(threads)}")
        answers = _truth_join(truth)
        connection.execute(
            "CREATE TEMP TABLE subject_rows AS SELECT CAST(row_number() OVER () AS BIGINT) AS id, * FROM ("
            "SELECT subject_id AS subject_key, min(province_code) AS province_code, "
            f"min({_iso_birth_sql('birth_date')}) AS birth_date FROM {source} GROUP BY subject_id)"
        )
        connection.execute(
            "COPY (SELECT s.id, s.subject_key, s.province_code, s.birth_date, "
            "CAST(substr(s.birth_date, 1, 4) AS INTEGER) AS birth_year, "
            f"{answers[0]} FROM subject_rows s {answers[1]}) "
            f"TO {_quote_path(out_dir / 'subjects.parquet')} (FORMAT parquet)"
        )
        connection.execute(
            "COPY (SELECT CAST(row_number() OVER () AS BIGINT) AS id, r.record_id, s.id AS subject_id, r.vaccine, "
            f"CAST(r.vaccination_date AS DATE) AS vaccination_date, {_dose_kind_sql('r.dose')} AS dose_kind, "
            f"r.facility_code, {lot_number} AS lot_number "
            f"FROM {source} r JOIN subject_rows s ON s.subject_key = r.subject_id) "
            f"TO {_quote_path(out_dir / 'doses.parquet')} (FORMAT parquet)"
        )
        connection.execute(
            "COPY (SELECT facility_code AS code, facility_code AS name, mode(province_code) AS province_code "
            f"FROM {source} GROUP BY facility_code) TO {_quote_path(out_dir / 'facilities.parquet')} (FORMAT parquet)"
        )


def _truth_join(truth: Path | None) -> tuple[str, str]:
    """(select list, join) giving verification_category and verification_reasons from a truth file."""
    if truth is None or not truth.exists():
        return "CAST(NULL AS VARCHAR) AS verification_category, '' AS verification_reasons", ""
    return (
        "t.expected_category AS verification_category, coalesce(t.expected_reasons, '') AS verification_reasons",
        f"LEFT JOIN read_parquet({_quote_path(truth)}) t ON t.subject_id = s.subject_key",
    )


def _iso_birth_sql(column: str) -> str:
    return (
        f"CASE WHEN regexp_full_match({column}, '[0-9]{{2}}/[0-9]{{2}}/[0-9]{{4}}') "
        f"THEN substr({column}, 7, 4) || '-' || substr({column}, 4, 2) || '-' || substr({column}, 1, 2) "
        f"WHEN regexp_full_match({column}, '[0-9]{{4}}(-[0-9]{{2}}-[0-9]{{2}})?') THEN {column} END"
    )


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

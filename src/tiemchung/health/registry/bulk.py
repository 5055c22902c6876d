"""Bulk load of vaccination records from Parquet (millions of doses): the same row rules, a faster path to disk.

Rows are parsed with the importer's `RowParser` and streamed into two staging tables (PostgreSQL: `COPY` through
psycopg; SQLite: `executemany` in one big transaction), then merged into `subjects` and `doses` with one
`INSERT ... SELECT ... ON CONFLICT DO UPDATE` each, so the load is idempotent (keyed by subject_id / record_id) and
atomic (one transaction). Nothing is held in Python per subject: a subject's first row is chosen, and the rows that
disagree with it counted, in SQL over the staging table. Differences from `import_records`, on purpose, for speed:
disagreeing rows are only counted (the interactive import writes a Finding for each), and the audit log gets one
event for the whole load instead of one per subject.
"""

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from tiemchung.health.registry.audit import record as audit_record
from tiemchung.health.registry.importer import SUBJECT_FIELDS, file_sha256
from tiemchung.health.registry.models import ImportBatch
from tiemchung.health.registry.records import RecordRow, RowError, RowParser
from tiemchung.interchange.columns import COLUMNS, REQUIRED_KEYS, header_label
from tiemchung.interchange.sources import RawCell, RawRow

PARQUET_BATCH_ROWS = 50_000
STAGE_FLUSH_ROWS = 50_000
KEPT_ERRORS = 1_000
Progress = Callable[[int, int | None], None]

STAGE_SUBJECT_COLUMNS = ("subject_key", "facility_code", *SUBJECT_FIELDS)
STAGE_SUBJECT_ROW_COLUMNS = (*STAGE_SUBJECT_COLUMNS, "row_number")
COMPARED_FIELDS = ("name_canonical", "birth_date", "sex", "id_number", "passport_number", "nationality")
STAGE_DOSE_COLUMNS = ("record_id", "subject_key", "vaccine", "lot_number", "vaccination_date", "dose_kind",
                      "facility_code")  # fmt: skip


@dataclass(slots=True)
class BulkReport:
    doses: int = 0
    subjects: int = 0
    rejected: int = 0
    disagreeing_rows: int = 0
    seconds: float = 0.0
    batch_id: int | None = None
    errors: list[RowError] = field(default_factory=list)
    file_error: str | None = None


def load_parquet(
    engine: Engine, path: Path, *, actor: str, progress: Progress | None = None, today: date | None = None
) -> BulkReport:
    """Load a Parquet file in the records format into the registry; never raises on bad data."""
    started = time.perf_counter()
    report = BulkReport()
    parquet = _open_parquet(path, report)
    if parquet is None:
        return report
    total = parquet.metadata.num_rows
    with engine.begin() as connection:
        stage = _Stage.create(connection)
        _stage_rows(parquet, RowParser(today=today), stage, report, progress, total)
        stage.flush()
        stage.first_rows(report)
        batch_id = _record_batch(connection, path, actor, report)
        _merge(connection, batch_id, actor)
    report.batch_id = batch_id
    report.seconds = time.perf_counter() - started
    return report


def _open_parquet(path: Path, report: BulkReport) -> Any:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as error:  # pyarrow raises ArrowInvalid, OSError... on anything that is not Parquet
        report.file_error = f"Không đọc được tệp Parquet ({type(error).__name__})."
        return None
    names = set(parquet.schema_arrow.names)
    missing = [key for key in REQUIRED_KEYS if key not in names]
    if missing:
        report.file_error = "Thiếu cột bắt buộc: " + ", ".join(f"{key} ({header_label(key)})" for key in missing) + "."
        return None
    return parquet


def _stage_rows(
    parquet: Any, parser: RowParser, stage: "_Stage", report: BulkReport, progress: Progress | None, total: int
) -> None:
    keys = [column.key for column in COLUMNS if column.key in set(parquet.schema_arrow.names)]
    done = 0
    for raw in _raw_rows(parquet, keys):
        _stage_record(parser.parse(raw), stage, report)
        done += 1
        if progress is not None and done % PARQUET_BATCH_ROWS == 0:
            progress(done, total)
    if progress is not None:
        progress(done, total)


def _raw_rows(parquet: Any, keys: list[str]) -> Iterator[RawRow]:
    number = 1  # row 1 is the header in the records format's numbering
    for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=keys):
        columns = [batch.column(index).to_pylist() for index in range(len(keys))]
        for values in zip(*columns, strict=True):
            number += 1
            yield RawRow(number, {key: RawCell(value) for key, value in zip(keys, values, strict=True)})


def _stage_record(record: RecordRow, stage: "_Stage", report: BulkReport) -> None:
    subject, dose = record.subject, record.dose
    if not record.accepted or subject is None or dose is None:
        report.rejected += 1
        if len(report.errors) < KEPT_ERRORS:
            report.errors.extend(record.errors)
        return
    report.doses += 1
    stage.add_subject(subject, dose.facility_code, record.row)
    stage.add_dose(dose, subject.subject_key)


def _record_batch(connection: Connection, path: Path, actor: str, report: BulkReport) -> int:
    with Session(bind=connection) as session:
        batch = ImportBatch(
            file_name=path.name,
            file_sha256=file_sha256(path),
            uploaded_by=actor,
            status="done",
            rows_total=report.doses + report.rejected,
            rows_accepted=report.doses,
            rows_rejected=report.rejected,
            summary={"bulk": True, "subjects": report.subjects, "disagreeing_rows": report.disagreeing_rows},
            finished_at=datetime.now(UTC),
        )
        session.add(batch)
        session.flush()
        audit_record(
            session,
            actor=actor,
            action="bulk_load",
            entity="import_batch",
            entity_id=batch.id,
            reason=f"Nạp Parquet {path.name}",
            detail={"doses": report.doses, "subjects": report.subjects},
        )
        session.flush()
        return batch.id


class _Stage:
    """Two temporary tables filled in chunks: COPY on PostgreSQL, executemany on SQLite."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.postgres = connection.dialect.name == "postgresql"
        self.subjects: list[tuple[Any, ...]] = []
        self.doses: list[tuple[Any, ...]] = []
        self.last_subject: Any = None

    @classmethod
    def create(cls, connection: Connection) -> "_Stage":
        postgres = connection.dialect.name == "postgresql"
        # PostgreSQL drops them at commit; SQLite keeps temporary tables for the pooled connection's life.
        suffix = " ON COMMIT DROP" if postgres else ""
        tables = (("stage_subjects", STAGE_SUBJECT_ROW_COLUMNS), ("stage_doses", STAGE_DOSE_COLUMNS))
        for table, columns in tables:
            if not postgres:
                connection.execute(text(f"DROP TABLE IF EXISTS temp.{table}"))
            definition = ", ".join(f"{column} {_stage_type(column)}" for column in columns)
            connection.execute(text(f"CREATE TEMPORARY TABLE {table} ({definition}){suffix}"))
        return cls(connection)

    def add_subject(self, subject: Any, facility_code: str, row: int) -> None:
        """Stage a subject's identity as read from one row; the next rows of the same subject share the parsed
        identity object (RowParser), so consecutive repeats are staged once and the staging stays near one row per
        subject. Which row counts (the first) and which disagree is decided in SQL, without a dict per subject."""
        if subject is self.last_subject:
            return
        self.last_subject = subject
        values = [getattr(subject, name) for name in SUBJECT_FIELDS]
        values[SUBJECT_FIELDS.index("identity_findings")] = json.dumps(list(subject.identity_findings))
        self.subjects.append((subject.subject_key, facility_code, *values, row))
        if len(self.subjects) >= STAGE_FLUSH_ROWS:
            self._write("stage_subjects", STAGE_SUBJECT_ROW_COLUMNS, self.subjects)

    def add_dose(self, dose: Any, subject_key: str) -> None:
        # SQLite has no date type: store the ISO text SQLAlchemy's Date reads back (no deprecated sqlite3 adapter).
        when = dose.vaccination_date if self.postgres else dose.vaccination_date.isoformat()
        self.doses.append(
            (dose.record_id, subject_key, dose.vaccine, dose.lot_number, when, dose.dose_kind, dose.facility_code)
        )
        if len(self.doses) >= STAGE_FLUSH_ROWS:
            self._write("stage_doses", STAGE_DOSE_COLUMNS, self.doses)

    def flush(self) -> None:
        self._write("stage_subjects", STAGE_SUBJECT_ROW_COLUMNS, self.subjects)
        self._write("stage_doses", STAGE_DOSE_COLUMNS, self.doses)

    def first_rows(self, report: BulkReport) -> None:
        """stage_first: each subject's first staged row; counts subjects and the staged rows that disagree."""
        suffix = " ON COMMIT DROP" if self.postgres else ""
        if not self.postgres:
            self.connection.execute(text("DROP TABLE IF EXISTS temp.stage_first"))
        self.connection.execute(
            text(
                f"CREATE TEMPORARY TABLE stage_first{suffix} AS SELECT * FROM stage_subjects WHERE row_number IN "
                "(SELECT MIN(row_number) FROM stage_subjects GROUP BY subject_key)"
            )
        )
        report.subjects = self.connection.scalar(text("SELECT COUNT(*) FROM stage_first")) or 0
        differs = " OR ".join(f"s.{name} IS DISTINCT FROM f.{name}" for name in COMPARED_FIELDS)
        report.disagreeing_rows = (
            self.connection.scalar(
                text(
                    "SELECT COUNT(*) FROM stage_subjects s JOIN stage_first f ON f.subject_key = s.subject_key "
                    f"WHERE s.row_number <> f.row_number AND ({differs})"
                )
            )
            or 0
        )

    def _write(self, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        raw = self.connection.connection.driver_connection
        assert raw is not None
        if self.postgres:
            with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            placeholders = ", ".join("?" for _ in columns)
            raw.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})", rows)
        rows.clear()


def _stage_type(column: str) -> str:
    return {"birth_year": "INTEGER", "vaccination_date": "DATE"}.get(column, "TEXT")


# The register's answer no longer applies once the identity it was given changed (as in the importer).
_IDENTITY_CHANGED = " OR ".join(f"subjects.{column} IS DISTINCT FROM excluded.{column}" for column in COMPARED_FIELDS)
_CLEAR_VERIFICATION_IF_CHANGED = ", ".join(
    f"{column} = CASE WHEN {_IDENTITY_CHANGED} THEN {empty} ELSE subjects.{column} END"
    for column, empty in (
        ("verification_category", "NULL"),
        ("verification_reasons", "''"),
        ("matched_person_id", "NULL"),
        ("match_probability", "NULL"),
        ("verified_at", "NULL"),
    )
)


def _merge(connection: Connection, batch_id: int, actor: str) -> None:
    """Staging -> registry, keyed by subject_key and record_id (the same upsert rules as the importer)."""
    postgres = connection.dialect.name == "postgresql"
    findings = "CAST(identity_findings AS JSON)" if postgres else "identity_findings"
    subject_columns = ", ".join(STAGE_SUBJECT_COLUMNS)
    selected = subject_columns.replace("identity_findings", findings)
    updates = ", ".join(f"{column} = excluded.{column}" for column in STAGE_SUBJECT_COLUMNS[1:])
    # "WHERE true": SQLite's parser needs it to tell ON CONFLICT from a join constraint after INSERT ... SELECT.
    connection.execute(
        text(
            f"INSERT INTO subjects ({subject_columns}, verification_reasons, created_at, updated_at) "
            f"SELECT {selected}, '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM stage_first WHERE true "
            f"ON CONFLICT (subject_key) DO UPDATE SET {updates}, {_CLEAR_VERIFICATION_IF_CHANGED}, "
            "updated_at = CURRENT_TIMESTAMP"
        )
    )
    connection.execute(
        text(
            "INSERT INTO doses (record_id, subject_id, vaccine, lot_number, vaccination_date, dose_kind, "
            "facility_code, entered_by, entered_at, import_batch_id) "
            "SELECT d.record_id, s.id, d.vaccine, d.lot_number, d.vaccination_date, d.dose_kind, d.facility_code, "
            ":actor, CURRENT_TIMESTAMP, :batch FROM stage_doses d JOIN subjects s ON s.subject_key = d.subject_key "
            "WHERE true ON CONFLICT (record_id) DO UPDATE SET subject_id = excluded.subject_id, "
            "vaccine = excluded.vaccine, lot_number = excluded.lot_number, "
            "vaccination_date = excluded.vaccination_date, dose_kind = excluded.dose_kind, "
            "facility_code = excluded.facility_code, import_batch_id = excluded.import_batch_id"
        ),
        {"actor": actor, "batch": batch_id},
    )

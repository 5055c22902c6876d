"""Bulk load from Parquet: the same row rules, idempotent, on SQLite (executemany) and PostgreSQL (COPY)."""

from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from tests.support.registry_files import KEYS, record
from tiemchung.health.registry.bulk import load_parquet
from tiemchung.health.registry.models import AuditEvent, Dose, Subject

TODAY = date(2023, 6, 1)


def write_parquet(path: Path, rows: list[dict[str, object]]) -> Path:
    pq.write_table(pa.table({key: [str(row[key]) for row in rows] for key in KEYS}), path)
    return path


def test_bulk_load_applies_the_rules_and_is_idempotent(
    engine: Engine, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    rows = [
        record(),
        record(record_id="R2", dose="2", vaccination_date="2021-10-01", birth_date="15/03/1986"),
        record(subject_id="S2", record_id="R3", id_number="1085012345", full_name="Lê Thị Hoa", sex="Nữ"),
        record(subject_id="S3", record_id="R4", vaccine="không rõ"),
    ]
    path = write_parquet(tmp_path / "records.parquet", rows)
    report = load_parquet(engine, path, actor="admin", today=TODAY)
    assert report.file_error is None
    assert (report.doses, report.subjects, report.rejected, report.disagreeing_rows) == (3, 2, 1, 1)
    assert report.errors[0].column == "vaccine"
    with session_factory.begin() as session:
        s2 = session.scalars(select(Subject).where(Subject.subject_key == "S2")).one()
        assert (s2.id_number, s2.id_status, s2.full_name, s2.identity_findings[0]["severity"]) == (
            "001085012345", "repaired", "Lê Thị Hoa", "warning")  # fmt: skip
        s2.verification_category = "VERIFIED"
    again = load_parquet(engine, path, actor="admin", today=TODAY)
    assert again.doses == 3
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Dose)) == 3
        assert session.scalar(select(func.count()).select_from(Subject)) == 2
        assert session.scalars(select(Subject.verification_category).where(Subject.subject_key == "S2")).one()
        assert session.scalar(select(func.count()).where(AuditEvent.action == "bulk_load")) == 2


def test_bulk_load_refuses_files_it_cannot_use(engine: Engine, tmp_path: Path) -> None:
    not_parquet = tmp_path / "records.parquet"
    not_parquet.write_text("subject_id,record_id\n", encoding="utf-8")
    assert "Parquet" in (load_parquet(engine, not_parquet, actor="a").file_error or "")
    partial = tmp_path / "partial.parquet"
    pq.write_table(pa.table({"subject_id": ["S1"], "record_id": ["R1"]}), partial)
    assert "Thiếu cột bắt buộc" in (load_parquet(engine, partial, actor="a").file_error or "")

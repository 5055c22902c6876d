"""The reports computed from a small registry, on SQLite and PostgreSQL, and the same SQL on DuckDB."""

from datetime import date
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from tests.support.reconciliation_world import AS_OF, RegistryIds
from tiemchung.health.reconciliation import queries
from tiemchung.health.reconciliation.appendix1 import Appendix1Report, Appendix1Row, build_appendix1
from tiemchung.health.reconciliation.area import Area
from tiemchung.health.reconciliation.reported import ReportedFigures, load_reported, record_review, store_reported
from tiemchung.health.reconciliation.service import ReportContext, appendix1, cleaning_progress, unit_report
from tiemchung.health.reconciliation.sources import ParquetSource, RegistrySource
from tiemchung.health.reconciliation.unit_report import UnitReported, store_unit_reports
from tiemchung.health.reconciliation.verification_report import Count, build_verification_report
from tiemchung.health.registry.backup import backup
from tiemchung.health.registry.models import Dose
from tiemchung.health.verification.models import VerificationRecord


def _row(report: Appendix1Report, code: str) -> Appendix1Row:
    return next(row for row in report.rows if row.province_code == code)


def test_entered_cells_by_province_age_and_dose(engine: Engine, registry: RegistryIds) -> None:
    report = build_appendix1(RegistrySource(engine), ReportedFigures(), as_of=AS_OF)
    hanoi, hcm, unknown = _row(report, "01"), _row(report, "79"), _row(report, "")
    # Hà Nội: adult 1, 2, booster 1 (s1), the duplicate copy of s6's dose 1, s7's additional; teen 1 and 2 (s2).
    assert dict(zip(("c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m"), hanoi.entered_cells, strict=True)) == {
        "c": 2, "d": 1, "e": 0, "f": 1, "g": 1, "h": 0, "i": 1, "j": 1, "k": 0, "l": 0, "m": 0,
    }  # fmt: skip
    assert hanoi.entered == 7  # s1's booster 2 is after the report date
    # HCM: the child's dose 1 (5 on the eve of the 6th birthday), s6 and s7's booster; s5's dose before birth
    # has no age group, so it is counted in o but outside the c–m cells.
    assert hcm.entered_cells[0] == 1 and hcm.entered_cells[4] == 1 and hcm.entered_cells[9] == 1
    assert (hcm.entered, hcm.entered_outside) == (4, 1)
    assert unknown.tt is None and unknown.entered == 1  # the facility with province code 99
    total = report.total()
    assert total.entered == sum(row.entered for row in report.rows) == 12
    assert len(report.rows) == 64


def test_gap_and_findings_against_reported_figures(
    engine: Engine, session_factory: sessionmaker[Session], registry: RegistryIds
) -> None:
    figures = ReportedFigures()
    figures.cells["01"] = {("18+", "1"): 5, ("18+", "2"): 4, ("12-17", "1"): 3}
    figures.cells["79"] = {("18+", "1"): 1}
    figures.stated_totals["01"] = 13  # typed total one more than c+…+m = 12
    with session_factory() as session, session.begin():
        store_reported(session, figures, AS_OF, "test.xlsx")
        record_review(session, "01", AS_OF, "Đã rà soát: 5 mũi nhóm 2 chưa nhập")
    context = ReportContext(RegistrySource(engine), session_factory)
    report = appendix1(context)  # the latest report date is found by itself
    hanoi, hcm = _row(report, "01"), _row(report, "79")
    assert report.as_of == AS_OF
    assert (hanoi.reported_total, hanoi.entered, hanoi.gap) == (12, 7, 5)
    assert hanoi.review.startswith("Đã rà soát")
    assert hcm.gap == 1 - 4
    findings = report.findings()
    assert any("Hà Nội" in f and "13" in f and "c+…+m = 12" in f for f in findings)
    assert any("Hồ Chí Minh" in f and "chênh lệch âm" in f for f in findings)
    assert any("Hải Phòng" in f and "chưa có báo cáo" in f for f in findings)
    assert any("không xác định được tỉnh" in f for f in findings)
    assert report.total().gap == sum(row.gap for row in report.rows)
    with session_factory() as session:
        assert load_reported(session, AS_OF).cells["01"][("18+", "1")] == 5


def test_verification_report_adds_up(engine: Engine, registry: RegistryIds) -> None:
    report = build_verification_report(RegistrySource(engine))
    assert report.count("VERIFIED") == Count(2, 6)
    assert report.count("MISMATCH") == Count(1, 2)
    assert report.mismatch_by_reasons == {"NAME;BIRTH_DATE": Count(1, 2)}
    assert report.without_id == Count(2, 2)
    assert report.sent == Count(5, 10)
    assert report.count("FOREIGN_PASSPORT") == Count(1, 2)
    assert report.count("NOT_ANSWERED") == Count(1, 1)
    total = report.province_total()
    assert total.count("VERIFIED", "MISMATCH", "NO_ID_VERIFIED", "NO_ID_UNVERIFIABLE") == report.sent
    unknown = report.provinces[-1]
    assert unknown.province_code == "" and unknown.no_or_invalid_id == 1
    hanoi = next(row for row in report.provinces if row.province_code == "01")
    assert (hanoi.wrong_basic_information, hanoi.verification_rate) == (1, 2 / 3)
    labels = [label for _, label, _ in report.lines()]
    assert "Sai họ tên; Sai ngày sinh" in labels


def test_unit_report_counts_groups_duplicates_and_corrections(
    engine: Engine, session_factory: sessionmaker[Session], registry: RegistryIds
) -> None:
    with session_factory() as session, session.begin():
        store_unit_reports(
            session,
            {"F01": UnitReported(name="", province_code="01", not_entered={"3": 10, "other": 2}, reasons=["Công an"],
                                 stated_given=20, verified_not_enterable=1)},
            AS_OF,
            "test",
        )  # fmt: skip
        session.execute(
            Dose.__table__.update()
            .where(Dose.id == registry.doses["s6d1x"])
            .values(duplicate_of_id=registry.doses["s6d1"])
        )
    table = unit_report(ReportContext(RegistrySource(engine), session_factory), AS_OF)
    f01 = next(row for row in table.rows if row.unit_code == "F01")
    assert f01.unit_name == "Trạm Y tế phường Phúc Xá"
    assert (f01.entered, f01.duplicates, f01.needing_correction) == (6, 1, 2)
    assert f01.not_entered_total == 12 and f01.given == 18
    assert f01.verified_entered[1] == 1  # s1's dose 2 came in a group-2 batch
    assert f01.findings() and "2 mũi không được giải thích" in f01.findings()[0]
    f79 = next(row for row in table.rows if row.unit_code == "F79")
    assert f79.verified_entered[0] == 1  # s3's dose, group 1, verified without ID
    f99 = next(row for row in table.rows if row.unit_code == "F99")
    assert f99.not_verifiable == 1
    total = table.total()
    assert total.entered == sum(row.entered for row in table.rows)
    assert total.not_entered == tuple(sum(col) for col in zip(*(r.not_entered for r in table.rows), strict=True))


def _sorted(rows: list[tuple[object, ...]]) -> list[tuple[str, ...]]:
    return sorted(tuple(str(value) for value in row) for row in rows)


STATEMENTS = {
    "cells": queries.entered_cells(AS_OF),
    "cells-79": queries.entered_cells(None, Area("79")),
    "cells-district": queries.entered_cells(None, Area("001")),
    "units-ward": queries.unit_counts(True, None, Area("00001")),
    "verification": queries.verification_counts(),
    "verification-01": queries.verification_counts(Area("01")),
    "units": queries.unit_counts(True, AS_OF),
    "units-province": queries.unit_counts(False),
    "monthly": queries.monthly_doses(),
    "birth": queries.doses_before_birth(),
    "interval": queries.short_intervals("1", "2", 10),
    "pairs": queries.same_day_pairs(),
    "answers": queries.answers_by_day(),
}


def test_same_sql_gives_same_rows_on_duckdb_over_a_backup(
    engine: Engine, session_factory: sessionmaker[Session], registry: RegistryIds, tmp_path: Path
) -> None:
    with session_factory() as session, session.begin():
        session.add(VerificationRecord(subject_id=registry.subjects["s1"], category="VERIFIED", source="batch"))
    backup(engine, tmp_path / "backup")
    duckdb_source = ParquetSource.from_backup(tmp_path / "backup")
    try:
        for name, statement in STATEMENTS.items():
            registry_rows = RegistrySource(engine).rows(statement)
            assert registry_rows, f"{name}: the fixture has rows for every query"
            assert _sorted(duckdb_source.rows(statement)) == _sorted(registry_rows), name
    finally:
        duckdb_source.close()


def test_cleaning_progress_counts_answers_per_day(
    engine: Engine, session_factory: sessionmaker[Session], registry: RegistryIds
) -> None:
    from datetime import UTC, datetime

    with session_factory() as session, session.begin():
        for subject, category, day in (("s1", "MISMATCH", 1), ("s1", "VERIFIED", 3), ("s2", "MISMATCH", 3)):
            session.add(
                VerificationRecord(
                    subject_id=registry.subjects[subject],
                    category=category,
                    source="batch",
                    answered_at=datetime(2022, 5, day, 10, tzinfo=UTC),
                )
            )
    points = cleaning_progress(ReportContext(RegistrySource(engine)))
    assert [(p.day, p.answered, p.verified) for p in points] == [(date(2022, 5, 1), 1, 0), (date(2022, 5, 3), 2, 1)]


def test_records_parquet_is_laid_out_as_registry_tables(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [
        ("p1", "r1", "01/02/1980", "01", "AstraZeneca", "2021-08-01", "1", "F1"),
        ("p1", "r2", "01/02/1980", "01", "AstraZeneca", "2021-09-01", "2", "F1"),
        ("p2", "r3", "2010-06-01", "79", "Pfizer", "2022-06-01", "Nhắc lại 1", "F2"),
        ("p3", "r4", "1/2/80", "79", "Pfizer", "2022-06-01", "Liều bổ sung", "F2"),
    ]
    names = ["subject_id", "record_id", "birth_date", "province_code", "vaccine", "vaccination_date", "dose",
             "facility_code"]  # fmt: skip
    pq.write_table(pa.table({n: [r[i] for r in rows] for i, n in enumerate(names)}), tmp_path / "records.parquet")
    truth = {"subject_id": ["p1", "p2", "p3"], "expected_category": ["VERIFIED", "MISMATCH", "NO_ID_UNVERIFIABLE"],
             "expected_reasons": ["", "NAME", ""]}  # fmt: skip
    pq.write_table(pa.table(truth), tmp_path / "truth.parquet")
    source = ParquetSource.from_records(
        tmp_path / "records.parquet", truth=tmp_path / "truth.parquet", work_dir=tmp_path / "reg"
    )
    report = build_appendix1(source, ReportedFigures())
    assert _row(report, "01").entered_cells[:2] == (1, 1)  # dd/mm/yyyy birth understood: adult
    assert _row(report, "79").entered_cells[8] == 1  # teen booster 1: column k
    assert _row(report, "79").entered_outside == 1  # an unreadable birth date: no age group, still entered
    verification = build_verification_report(source)
    assert verification.count("VERIFIED") == Count(1, 2)
    assert verification.mismatch_by_reasons == {"NAME": Count(1, 1)}
    source.close()


def test_stored_rows_round_trip(session: Session, registry: RegistryIds) -> None:
    from tiemchung.health.reconciliation.models import ReportedAggregate

    figures = ReportedFigures()
    figures.cells["01"] = {("18+", "1"): 3}
    store_reported(session, figures, date(2023, 1, 31), "a")
    store_reported(session, figures, date(2023, 1, 31), "a")  # replaced, not doubled
    session.commit()
    assert len(session.scalars(select(ReportedAggregate)).all()) == 1


def test_a_damaged_birth_date_counts_as_unknown_age_on_every_engine(
    engine: Engine, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    from tiemchung.health.registry.models import Subject

    with session_factory() as session, session.begin():
        subject = Subject(subject_key="x", full_name_raw="A", full_name="A", name_canonical="a", name_folded="a",
                          birth_date="19x0-0a-01", province_code="01")  # fmt: skip
        session.add(Dose(record_id="x1", subject=subject, vaccine="Pfizer", dose_kind="1",
                         vaccination_date=date(2022, 1, 1), facility_code="F"))  # fmt: skip
    backup(engine, tmp_path / "backup")
    duckdb_source = ParquetSource.from_backup(tmp_path / "backup")
    for source in (RegistrySource(engine), duckdb_source):
        assert source.rows(queries.entered_cells()) == [("01", "unknown", "1", 1)], source.name
    duckdb_source.close()

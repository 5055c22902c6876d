"""The summary of entered doses: kept equal to a fresh count by every path that writes doses, subjects or
facilities, on SQLite and PostgreSQL, and appendix 1 read from it equal to appendix 1 counted from the doses."""

import csv
import random
import threading
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from tiemchung.health.reconciliation import queries, summary
from tiemchung.health.reconciliation.appendix1 import Appendix1Report, build_appendix1
from tiemchung.health.reconciliation.area import Area
from tiemchung.health.reconciliation.models import EnteredDoseCount
from tiemchung.health.reconciliation.quality import resolve_duplicates, same_day_duplicates
from tiemchung.health.reconciliation.reported import ReportedFigures
from tiemchung.health.reconciliation.sources import RegistrySource
from tiemchung.health.registry.backup import backup, restore
from tiemchung.health.registry.bulk import load_parquet
from tiemchung.health.registry.db import create_schema, make_engine, make_session_factory
from tiemchung.health.registry.editing import IdentityChanges, edit_subject_identity
from tiemchung.health.registry.importer import import_records
from tiemchung.health.registry.models import Dose, Facility, Subject, User
from tiemchung.health.web.subjects_service import DoseEntry, add_dose
from tiemchung.interchange.columns import COLUMNS
from tiemchung.reference import DoseKind

KINDS = [kind.value for kind in DoseKind]
# Where people live and facilities stand: (province, district, ward); two wards of one district, a district's
# facility, and no place at all. Districts and wards are summarised too (entered_dose_counts_local).
PLACES = [("01", "001", "00001"), ("01", "001", "00004"), ("01", "002", "00037"), ("79", "760", "26734"),
          ("79", "761", "26764"), ("48", "490", "20194"), (None, None, None)]  # fmt: skip
FACILITY_PLACES = {"F01": ("01", "002", "00037"), "F79": ("79", "760", None), "F48": ("48", "490", "20194"),
                   "F99": ("99", None, None)}  # fmt: skip  # 99: a code outside the 63 provinces
AREAS_BELOW_PROVINCES = ("001", "002", "00001", "00004", "00037", "760", "761", "26734", "490", "20194")
FACILITY_CODES = [*FACILITY_PLACES, "FX"]  # FX: never registered, so its doses count where the subject lives
TODAY = date(2023, 6, 30)


def _birth(rng: random.Random) -> str | None:
    pick = rng.random()
    if pick < 0.05:
        return None
    if pick < 0.1:
        return "19x0-0a-01"  # damaged: unknown age
    if pick < 0.2:
        return str(rng.randrange(1940, 2019))  # year only: born on 1 January
    born = date(1940, 1, 1) + timedelta(days=rng.randrange(80 * 365))
    return born.isoformat()


def _subject(
    key: str, birth: str | None, province: str | None, district: str | None = None, ward: str | None = None
) -> Subject:
    return Subject(subject_key=key, full_name_raw="Nguyễn Văn A", full_name="Nguyễn Văn A",
                   name_canonical="nguyễn văn a", name_folded="nguyen van a", birth_date=birth,
                   birth_year=int(birth[:4]) if birth and birth[:4].isdigit() else None,
                   province_code=province, district_code=district, ward_code=ward)  # fmt: skip


def _facilities() -> list[Facility]:
    return [Facility(code=code, name=code, province_code=province, district_code=district, ward_code=ward)
            for code, (province, district, ward) in FACILITY_PLACES.items()]  # fmt: skip


def build_world(session_factory: sessionmaker[Session], seed: int = 8, subjects: int = 150) -> None:
    """Subjects of every birth-date form in three provinces or none, 1–4 doses each of every kind, some at a
    facility that was never registered, on days around the age thresholds' birthdays, and same-day copies."""
    rng = random.Random(seed)
    with session_factory.begin() as session:
        session.add_all(_facilities())
        for number in range(subjects):
            person = _subject(f"w{number}", _birth(rng), *rng.choice(PLACES))
            session.add(person)
            for dose in range(rng.randrange(1, 5)):
                day = date(2021, 3, 1) + timedelta(days=rng.randrange(850))
                session.add(_dose(f"w{number}-{dose}", person, rng.choice(KINDS), day, rng.choice(FACILITY_CODES)))
                if rng.random() < 0.05:
                    session.add(_dose(f"w{number}-{dose}x", person, KINDS[0], day, rng.choice(FACILITY_CODES)))


def _dose(record_id: str, subject: Subject, kind: str, day: date, facility: str) -> Dose:
    return Dose(record_id=record_id, subject=subject, vaccine="Pfizer", dose_kind=kind, vaccination_date=day,
                facility_code=facility)  # fmt: skip


def counted(engine: Engine) -> RegistrySource:
    """The registry read the old way: every dose counted, the summary ignored."""
    source = RegistrySource(engine)
    source.summarised = False
    return source


def assert_summary_right(engine: Engine) -> None:
    assert summary.differences(engine) == []
    for as_of, province in ((None, None), (date(2022, 1, 31), None), (None, "79"), (date(2022, 6, 30), "01")):
        area = Area(province) if province else None
        from_summary = _rows(build_appendix1(RegistrySource(engine), ReportedFigures(), as_of=as_of, area=area))
        from_doses = _rows(build_appendix1(counted(engine), ReportedFigures(), as_of=as_of, area=area))
        assert from_summary == from_doses, (as_of, province)
    source = RegistrySource(engine)
    monthly = sorted((code or "", *rest) for code, *rest in source.rows(queries.monthly_doses()))
    assert sorted(source.rows(queries.summarised_monthly_doses())) == monthly
    assert_local_summary_right(engine)


def assert_local_summary_right(engine: Engine) -> None:
    """Below a province (a district, a ward) the reports read the district and ward summary: the same appendix 1,
    monthly doses and latest day as counting the area's doses."""
    source, doses = RegistrySource(engine), counted(engine)
    for code in AREAS_BELOW_PROVINCES:
        area = Area(code)
        for as_of in (None, date(2022, 1, 31)):
            from_summary = _rows(build_appendix1(source, ReportedFigures(), as_of=as_of, area=area))
            assert from_summary == _rows(build_appendix1(doses, ReportedFigures(), as_of=as_of, area=area)), code
        monthly = sorted(tuple(row) for row in source.rows(queries.monthly_doses(area)))
        assert sorted(source.rows(queries.summarised_monthly_doses(area))) == monthly, code
        latest = source.rows(queries.latest_dose_day(area, summarised=True))
        assert latest == source.rows(queries.latest_dose_day(area)), code


def _rows(report: Appendix1Report) -> list[Any]:
    return [(row.province_code, row.entered_cells, row.entered_outside) for row in [*report.rows, report.total()]]


def test_appendix1_from_the_summary_equals_the_count_of_every_dose(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    build_world(session_factory)
    assert_summary_right(engine)
    report = build_appendix1(RegistrySource(engine), ReportedFigures())
    with session_factory() as session:
        doses = session.scalar(select(func.count()).select_from(Dose).where(Dose.duplicate_of_id.is_(None)))
    assert report.total().entered == doses
    assert {row.province_code for row in report.rows if row.entered} >= {"01", "79", "48", ""}


def test_random_changes_through_the_orm_keep_the_summary_right(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    build_world(session_factory, subjects=60)
    rng = random.Random(3)
    changes: list[Callable[[Session, random.Random], None]] = [
        _correct_birth,
        _move_subject,
        _change_dose,
        _mark_duplicate,
        _delete_dose,
        _move_facility,
        _register_facility,
        _close_facility,
    ]
    for _ in range(6):
        with session_factory.begin() as session:
            for change in rng.choices(changes, k=8):
                change(session, rng)
                session.flush()
        assert_summary_right(engine)


def _any(session: Session, model: Any, rng: random.Random) -> Any:
    rows = session.scalars(select(model)).all()
    return rng.choice(rows) if rows else None


def _correct_birth(session: Session, rng: random.Random) -> None:
    _any(session, Subject, rng).birth_date = _birth(rng)


def _move_subject(session: Session, rng: random.Random) -> None:
    person = _any(session, Subject, rng)
    province, district, ward = rng.choice(PLACES)
    if rng.random() < 0.3:
        person.ward_code = ward  # a ward alone corrected
    else:
        person.province_code, person.district_code, person.ward_code = province, district, ward


def _change_dose(session: Session, rng: random.Random) -> None:
    dose = _any(session, Dose, rng)
    dose.vaccination_date += timedelta(days=rng.randrange(-400, 400))
    dose.dose_kind = rng.choice(KINDS)
    dose.facility_code = rng.choice(FACILITY_CODES)
    dose.subject = _any(session, Subject, rng)


def _mark_duplicate(session: Session, rng: random.Random) -> None:
    dose, original = _any(session, Dose, rng), _any(session, Dose, rng)
    dose.duplicate_of_id = None if dose.duplicate_of_id or dose.id == original.id else original.id


def _delete_dose(session: Session, rng: random.Random) -> None:
    dose = _any(session, Dose, rng)
    session.execute(update(Dose).where(Dose.duplicate_of_id == dose.id).values(duplicate_of_id=None))
    session.delete(dose)


def _move_facility(session: Session, rng: random.Random) -> None:
    facility = _any(session, Facility, rng)
    if facility is not None:
        facility.province_code, facility.district_code, facility.ward_code = rng.choice(
            [*FACILITY_PLACES.values(), ("01", "001", "00004")]
        )


def _register_facility(session: Session, rng: random.Random) -> None:
    if session.get(Facility, "FX") is None:
        province, district, ward = rng.choice(PLACES[:-1])
        session.add(Facility(code="FX", name="Đội tiêm lưu động", province_code=province, district_code=district,
                             ward_code=ward))  # fmt: skip


def _close_facility(session: Session, rng: random.Random) -> None:
    facility = _any(session, Facility, rng)
    if facility is not None:
        session.delete(facility)


def test_a_birth_date_correction_moves_the_doses_to_the_new_age_group(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        session.add(Facility(code="F01", name="F01", province_code="01"))
        child = _subject("c", "2015-06-01", "01")
        session.add_all([_dose("c1", child, "1", date(2022, 6, 1), "F01"), _dose("c2", child, "2", date(2022, 7, 1),
                                                                                   "F01")])  # fmt: skip
    assert _cells(engine, "01") == {("5-11", "1"): 1, ("5-11", "2"): 1}
    with session_factory.begin() as session:
        subject_id = session.scalars(select(Subject.id)).one()
        result = edit_subject_identity(session, subject_id, IdentityChanges(birth_date="01/06/2004"),
                                       actor="xa", actor_role="health_station", reason="Sai năm sinh")  # fmt: skip
        assert result.ok
    assert _cells(engine, "01") == {("18+", "1"): 1, ("18+", "2"): 1}  # 18 on 1 June 2022: the birthday counts
    assert_summary_right(engine)


def _cells(engine: Engine, province: str) -> dict[tuple[str, str], int]:
    return {
        (age, kind): int(n)
        for _, age, kind, n in RegistrySource(engine).rows(queries.summarised_cells(None, Area(province)))
    }


def test_a_rolled_back_change_leaves_the_summary_as_it_was(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    build_world(session_factory, subjects=20)
    before = _summary_totals(engine)
    with pytest.raises(RuntimeError), session_factory.begin() as session:
        session.add(_dose("late", _any(session, Subject, random.Random(1)), "1", date(2022, 1, 1), "F01"))
        session.flush()
        raise RuntimeError("the import failed half-way")
    assert _summary_totals(engine) == before
    assert_summary_right(engine)


def _summary_totals(engine: Engine) -> list[tuple[Any, ...]]:
    return sorted(RegistrySource(engine).rows(queries.summarised_cells()))


def test_form_entry_counts_the_dose(engine: Engine, session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        session.add(Facility(code="CS01", name="Trạm Y tế", province_code="01"))
        session.add(_subject("p", "1990-01-01", "79"))
    with session_factory.begin() as session:
        user = User(username="cs01", full_name="A", password_hash="x", role="facility", facility_code="CS01")
        session.add(user)
        person = session.scalars(select(Subject)).one()
        outcome = add_dose(session, user, person, DoseEntry("Pfizer", "2023-01-05", "booster_1"))
        assert outcome.ok, outcome.message
    assert _cells(engine, "01") == {("18+", "booster_1"): 1}
    assert_summary_right(engine)


def _record(**values: str) -> dict[str, str]:
    row = {column.key: "" for column in COLUMNS}
    row.update(subject_id="S1", record_id="R1", full_name="Nguyễn Văn An", birth_date="15/03/2010", sex="Nam",
               province_code="01", district_code="001", ward_code="00001", vaccine="Pfizer",
               vaccination_date="20/08/2022", dose="1", facility_code="CS01")  # fmt: skip
    row.update(values)
    return row


def _records(child_birth: str = "15/03/2010", second_day: str = "20/09/2022") -> list[dict[str, str]]:
    """A child's two doses at an unregistered facility (so in the child's province, 01) and an adult's booster at
    a facility of province 79."""
    adult = {"subject_id": "S2", "record_id": "R3", "birth_date": "01/01/1960", "dose": "Nhắc lại 1"}
    return [
        _record(birth_date=child_birth),
        _record(record_id="R2", birth_date=child_birth, vaccination_date=second_day, dose="2"),
        _record(**adult, province_code="79", district_code="760", ward_code="26734", facility_code="CS79"),
    ]


def _register_cs79(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        session.add(Facility(code="CS79", name="Bệnh viện Quận 1", province_code="79"))


def _write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([column.key for column in COLUMNS])
        writer.writerows([row[column.key] for column in COLUMNS] for row in rows)
    return path


def test_workbook_import_and_reimport_keep_the_summary_right(
    engine: Engine, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    _register_cs79(session_factory)
    report = import_records(session_factory, _write_csv(tmp_path / "a.csv", _records()), actor="cs", today=TODAY)
    assert report.accepted == 3
    assert _cells(engine, "79") == {("18+", "booster_1"): 1}
    assert sum(_cells(engine, "01").values()) == 2
    # The facility sends the file again with the child's birth year and a dose date corrected.
    fixed = _records(child_birth="15/03/2004", second_day="25/09/2022")
    import_records(session_factory, _write_csv(tmp_path / "b.csv", fixed), actor="cs", today=TODAY)
    assert _cells(engine, "01") == {("18+", "1"): 1, ("18+", "2"): 1}
    assert_summary_right(engine)


def test_parquet_bulk_load_and_reload_keep_the_summary_right(
    engine: Engine, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    def write(name: str, rows: list[dict[str, str]]) -> Path:
        pq.write_table(pa.table({column.key: [row[column.key] for row in rows] for column in COLUMNS}), tmp_path / name)
        return tmp_path / name

    _register_cs79(session_factory)
    assert load_parquet(engine, write("a.parquet", _records()), actor="a", today=TODAY).doses == 3
    assert _cells(engine, "79") == {("18+", "booster_1"): 1}
    assert sum(_cells(engine, "01").values()) == 2
    assert_summary_right(engine)
    fixed = _records(child_birth="15/03/2004", second_day="25/09/2022")
    assert load_parquet(engine, write("b.parquet", fixed), actor="a", today=TODAY).doses == 3
    assert _cells(engine, "01") == {("18+", "1"): 1, ("18+", "2"): 1}
    assert_summary_right(engine)


def test_duplicate_resolution_uncounts_the_copy(engine: Engine, session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        session.add_all(_facilities())
        person = _subject("d", "1980-01-01", "01")
        session.add_all([_dose("d1", person, "1", date(2021, 8, 1), "F01"), _dose("d2", person, "1", date(2021, 8, 1),
                                                                                   "F79")])  # fmt: skip
    assert sum(_summary_totals_by_cell(engine).values()) == 2
    with session_factory.begin() as session:
        outcome = resolve_duplicates(session, same_day_duplicates(RegistrySource(engine)), actor="bo")
    assert outcome.resolved == 1
    assert sum(_summary_totals_by_cell(engine).values()) == 1
    assert_summary_right(engine)


def _summary_totals_by_cell(engine: Engine) -> dict[tuple[str, str, str], int]:
    return {(p, a, k): int(n) for p, a, k, n in RegistrySource(engine).rows(queries.summarised_cells())}


def test_restore_from_a_backup_rebuilds_the_summary(
    engine: Engine, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    build_world(session_factory, subjects=40)
    backup(engine, tmp_path / "backup")
    assert not (tmp_path / "backup" / "entered_dose_counts.parquet").exists()  # derived: not backed up
    restored = make_engine(f"sqlite:///{tmp_path / 'restored.sqlite'}")
    create_schema(restored)
    restore(restored, tmp_path / "backup")
    assert summary.differences(restored) == []
    assert _summary_totals(restored) == _summary_totals(engine)
    restored.dispose()


def test_check_finds_a_damaged_summary_and_rebuild_repairs_it(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    build_world(session_factory, subjects=30)
    expected = _summary_totals(engine)
    with engine.begin() as connection:
        connection.execute(update(EnteredDoseCount).where(EnteredDoseCount.age_group == "18+").values(doses=99))
        connection.execute(delete(EnteredDoseCount).where(EnteredDoseCount.province_code == "79"))
    damaged = summary.differences(engine)
    assert damaged and all(difference.summary != difference.doses for difference in damaged)
    assert summary.rebuild(engine) > 0
    assert summary.differences(engine) == []
    assert _summary_totals(engine) == expected


def test_summary_commands(engine: Engine, session_factory: sessionmaker[Session]) -> None:
    from typer.testing import CliRunner

    from tiemchung.cli import app

    build_world(session_factory, subjects=10)
    database = engine.url.render_as_string(hide_password=False)
    runner = CliRunner()
    assert "khớp" in runner.invoke(app, ["report", "check-summary", "--database", database]).output
    with engine.begin() as connection:
        connection.execute(update(EnteredDoseCount).values(doses=EnteredDoseCount.doses + 1))
    damaged = runner.invoke(app, ["report", "check-summary", "--database", database])
    assert damaged.exit_code == 1 and "rebuild-summary" in damaged.output
    assert runner.invoke(app, ["report", "rebuild-summary", "--database", database]).exit_code == 0
    assert runner.invoke(app, ["report", "check-summary", "--database", database]).exit_code == 0
    compacted = runner.invoke(app, ["report", "compact-summary", "--database", database])
    assert compacted.exit_code == 0 and "sau khi gộp" in compacted.output


def test_compaction_folds_the_rows_of_many_transactions_without_changing_a_total(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        session.add(Facility(code="F01", name="F01", province_code="01"))
        person = _subject("m", "1980-01-01", "01")
        session.add(person)
    for number in range(5):  # five transactions entering a dose in the same cell and day
        with session_factory.begin() as session:
            session.add(_dose(f"m{number}", session.scalars(select(Subject)).one(), "1", date(2021, 8, 1), "F01"))
    with session_factory.begin() as session:
        session.execute(delete(Dose).where(Dose.record_id == "m4"))
    rows = 5 if engine.dialect.name == "postgresql" else 1  # SQLite: one writer, one row per cell
    for grain in summary.GRAINS:  # the province summary, the district and ward summary
        assert summary.compact(engine, grain) == (rows + (1 if rows > 1 else 0), 1)
    assert _cells(engine, "01") == {("18+", "1"): 4}
    assert summary.compact(engine) == (2, 2)
    assert_summary_right(engine)


@pytest.mark.postgres
@pytest.mark.parametrize("first", ["correction", "dose"])
def test_a_correction_and_a_dose_entered_at_the_same_time_land_in_the_committed_cell(
    first: str, postgres_engine: Engine
) -> None:
    """Two open transactions: a birth-date correction of a subject and a new dose for that subject. Whichever
    starts first, the other waits for it, and the dose ends in the age group of the committed birth date."""
    engine = postgres_engine
    with engine.begin() as connection:
        tables = "subjects, doses, facilities, entered_dose_counts, entered_dose_counts_local"
        connection.execute(text(f"truncate {tables} restart identity cascade"))
    factory = make_session_factory(engine)
    with factory.begin() as session:
        session.add(Facility(code="F01", name="F01", province_code="01"))
        child = _subject("k", "2012-01-01", "01")
        session.add_all([child, _dose("k1", child, "1", date(2022, 6, 1), "F01")])
    sessions = {"correction": factory(), "dose": factory()}

    def correct() -> None:
        sessions["correction"].execute(update(Subject).values(birth_date="2000-01-01"))

    def enter() -> None:
        entry = sessions["dose"]
        entry.add(_dose("k2", entry.scalars(select(Subject)).one(), "2", date(2022, 7, 1), "F01"))
        entry.flush()

    steps = {"correction": correct, "dose": enter}
    second = "dose" if first == "correction" else "correction"
    waiting = threading.Thread(target=steps[second])
    try:
        steps[first]()
        waiting.start()
        waiting.join(timeout=1.0)
        assert waiting.is_alive(), "the second transaction waits for the first"
        sessions[first].commit()
        waiting.join(timeout=30)
        sessions[second].commit()
    finally:
        sessions[first].close()  # on a failure, ends the first transaction so that the second can finish
        if waiting.ident is not None:
            waiting.join(timeout=30)
        sessions[second].close()
    assert _cells(engine, "01") == {("18+", "1"): 1, ("18+", "2"): 1}
    assert summary.differences(engine) == []

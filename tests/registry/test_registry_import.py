"""Importing records files into the registry, on SQLite and PostgreSQL."""

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.registry_files import record
from tiemchung.health.registry.export import write_error_workbook
from tiemchung.health.registry.importer import import_records
from tiemchung.health.registry.models import AuditEvent, Dose, Finding, ImportBatch, Subject

TODAY = date(2023, 6, 1)
Factory = sessionmaker[Session]


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def three_rows() -> list[dict[str, object]]:
    return [
        record(),
        record(record_id="R2", dose="2", vaccination_date="2021-10-01"),
        record(subject_id="S2", record_id="R3", full_name="Trần Thị Bình", sex="Nữ", birth_date="1990",
               id_number="", vaccine="Pfizer", dose="Nhắc lại 1", vaccination_date="15/02/2022"),
    ]  # fmt: skip


def test_a_clean_file_is_imported_with_its_audit_trail(
    session_factory: Factory, make_xlsx: Callable[..., Path]
) -> None:
    report = import_records(session_factory, make_xlsx(three_rows()), actor="cs01", today=TODAY)
    assert report.ok and report.errors == []
    assert (report.rows_total, report.accepted, report.rejected) == (3, 3, 0)
    assert (report.subjects_created, report.doses_created) == (2, 3)
    with session_factory() as session:
        subject = session.scalars(select(Subject).where(Subject.subject_key == "S1")).one()
        assert (subject.full_name, subject.birth_date, subject.sex, subject.id_number) == (
            "Nguyễn Văn An", "1985-03-15", "M", "001085012345")  # fmt: skip
        assert (subject.province_code, subject.ward_code, subject.nationality) == ("01", "00001", "VN")
        assert [dose.dose_kind for dose in subject.doses] == ["1", "2"]
        assert subject.doses[0].entered_by == "cs01" and subject.doses[0].signed_at is None
        other = session.scalars(select(Subject).where(Subject.subject_key == "S2")).one()
        assert (other.birth_date, other.id_status, other.doses[0].dose_kind) == ("1990", "missing", "booster_1")
        batch = session.get(ImportBatch, report.batch_id)
        assert batch is not None and batch.status == "done" and batch.rows_accepted == 3
        actions = sorted(session.scalars(select(AuditEvent.action)))
        assert actions == ["create", "create", "import"]


def test_reimporting_updates_by_key_and_never_duplicates(
    session_factory: Factory, make_xlsx: Callable[..., Path]
) -> None:
    rows = three_rows()
    first = import_records(session_factory, make_xlsx(rows), actor="cs01", today=TODAY)
    again = import_records(session_factory, make_xlsx(rows), actor="cs01", today=TODAY)
    assert first.ok and again.ok
    assert (again.subjects_created, again.subjects_updated, again.doses_created, again.doses_updated) == (0, 0, 0, 0)
    with session_factory.begin() as session:
        subject = session.scalars(select(Subject).where(Subject.subject_key == "S1")).one()
        subject.verification_category = "VERIFIED"
        dose = session.scalars(select(Dose).where(Dose.record_id == "R1")).one()
        dose.signed_at, dose.signed_by, dose.signature = datetime.now(UTC), "cs01", "sig"
    rows[0] = record(birth_date="16/03/1985", lot_number="NEW-LOT")
    rows[1] = record(record_id="R2", dose="2", vaccination_date="2021-10-01", birth_date="16/03/1985")
    corrected = import_records(session_factory, make_xlsx(rows, name="v2.xlsx"), actor="cs01", today=TODAY)
    assert (corrected.subjects_updated, corrected.doses_updated, corrected.doses_created) == (1, 1, 0)
    with session_factory() as session:
        assert (count(session, Subject), count(session, Dose)) == (2, 3)
        subject = session.scalars(select(Subject).where(Subject.subject_key == "S1")).one()
        assert subject.birth_date == "1985-03-16" and subject.verification_category is None
        dose = session.scalars(select(Dose).where(Dose.record_id == "R1")).one()
        assert dose.lot_number == "NEW-LOT" and dose.signed_at is None and dose.signature is None
        update = session.scalars(select(AuditEvent).where(AuditEvent.action == "update")).one()
        assert update.subject_id == subject.id
        assert update.detail["changes"]["birth_date"] == ["1985-03-15", "1985-03-16"]


def test_rejected_rows_never_stop_accepted_ones(
    session_factory: Factory, make_xlsx: Callable[..., Path], tmp_path: Path
) -> None:
    rows = [
        record(),
        record(record_id="R2", birth_date="31/02/1985x"),
        record(record_id="R3", vaccine="Sinovac-Fake", dose="Mũi 9"),
        record(record_id="R4", ward_code="99999"),
        record(record_id="R5", full_name=""),
        record(record_id="R6", vaccination_date="01/01/2020"),
        record(record_id="R1", dose="2"),
    ]
    path = make_xlsx(rows)
    report = import_records(session_factory, path, actor="cs01", today=TODAY)
    assert report.ok and (report.accepted, report.rejected) == (1, 6)
    by_row = {(error.row, error.column) for error in report.errors}
    assert {(3, "birth_date"), (4, "vaccine"), (4, "dose"), (5, "ward_code"), (6, "full_name"),
            (7, "vaccination_date"), (8, "record_id")} <= by_row  # fmt: skip
    assert all(error.message_vi for error in report.errors)
    duplicate = next(error for error in report.errors if error.row == 8)
    assert "trùng với dòng 2" in duplicate.message_vi
    with session_factory() as session:
        assert count(session, Dose) == 1
        batch = session.get(ImportBatch, report.batch_id)
        assert batch is not None and (batch.rows_accepted, batch.rows_rejected) == (1, 6)

    out = tmp_path / "loi.xlsx"
    assert write_error_workbook(report, path, out) == 6
    sheet = load_workbook(out).active
    assert sheet is not None
    header, *rejected = sheet.iter_rows(values_only=True)
    assert header[0] == "Mã đối tượng" and header[-2] == "Lỗi"
    assert [row[1] for row in rejected] == ["R2", "R3", "R4", "R5", "R6", "R1"]
    assert "Tên vắc xin" in str(rejected[1][-2]) and "Mũi tiêm" in str(rejected[1][-2])


def test_the_error_workbook_can_be_fixed_and_reuploaded(
    session_factory: Factory, make_xlsx: Callable[..., Path], tmp_path: Path
) -> None:
    path = make_xlsx([record(), record(subject_id="S2", record_id="R2", birth_date="hôm qua")])
    report = import_records(session_factory, path, actor="cs01", today=TODAY)
    out = tmp_path / "loi.xlsx"
    write_error_workbook(report, path, out)
    workbook = load_workbook(out)
    sheet = workbook.active
    assert sheet is not None
    sheet.cell(2, 4).value = "02/02/1992"
    workbook.save(out)
    fixed = import_records(session_factory, out, actor="cs01", today=TODAY)
    assert fixed.ok and (fixed.accepted, fixed.rejected, fixed.subjects_created) == (1, 0, 1)


def test_rows_of_one_subject_that_disagree_become_findings(
    session_factory: Factory, make_csv: Callable[..., Path]
) -> None:
    rows = [record(), record(record_id="R2", dose="2", vaccination_date="2021-10-01", birth_date="15/03/1986")]
    report = import_records(session_factory, make_csv(rows), actor="cs01", today=TODAY)
    assert report.ok and report.accepted == 2 and report.findings == 1
    with session_factory() as session:
        finding = session.scalars(select(Finding)).one()
        subject = session.scalars(select(Subject)).one()
        assert finding.code == "SUBJECT_ROWS_DISAGREE" and finding.subject_id == subject.id
        assert "Ngày sinh" in finding.message and finding.detail["row"] == 3
        assert subject.birth_date == "1985-03-15"  # the first row is kept, not silently overwritten
        assert count(session, Dose) == 2


def test_legacy_fonts_excel_damage_and_english_headers(
    session_factory: Factory, make_xlsx: Callable[..., Path], make_csv: Callable[..., Path]
) -> None:
    from tiemchung.identity import encode_tcvn3, encode_vni

    tcvn3 = make_xlsx([record(full_name=encode_tcvn3("Nguyễn Văn Hùng"), id_number=1085012345)], name_font=".VnTime")
    vni = make_xlsx(
        [
            record(
                subject_id="S2",
                record_id="R2",
                full_name=encode_vni("Trần Thị Thủy"),
                birth_date=datetime(1990, 5, 4),
                province_code=1,
            )
        ],
        name="vni.xlsx",
        name_font="VNI-Times",
    )
    english = make_csv([record(subject_id="S3", record_id="R3", id_number="001.085.012.346")])
    reports = [import_records(session_factory, path, actor="cs01", today=TODAY) for path in (tcvn3, vni, english)]
    assert [report.accepted for report in reports] == [1, 1, 1]
    assert reports[0].repairs >= 2  # the legacy encoding and the lost leading zeros
    with session_factory() as session:
        names = dict(session.execute(select(Subject.subject_key, Subject.full_name)).all())
        assert names == {"S1": "Nguyễn Văn Hùng", "S2": "Trần Thị Thủy", "S3": "Nguyễn Văn An"}
        ids = dict(session.execute(select(Subject.subject_key, Subject.id_number)).all())
        assert ids["S1"] == "001085012345" and ids["S3"] == "001085012346"
        s2 = session.scalars(select(Subject).where(Subject.subject_key == "S2")).one()
        assert (s2.birth_date, s2.province_code) == ("1990-05-04", "01")


def test_formulas_long_cells_and_merged_cells_reject_their_rows(session_factory: Factory, tmp_path: Path) -> None:
    from openpyxl import Workbook

    from tests.support.registry_files import KEYS, VI_HEADERS

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(VI_HEADERS)
    for number in range(1, 5):
        sheet.append([record(record_id=f"R{number}")[key] for key in KEYS])
    sheet["C3"] = '=HYPERLINK("http://evil.example","Nguyễn Văn An")'
    sheet["M4"] = "x" * 1_000_000
    sheet.merge_cells("A5:A6")
    path = tmp_path / "bad-cells.xlsx"
    workbook.save(path)
    report = import_records(session_factory, path, actor="cs01", today=TODAY)
    assert report.ok and report.accepted == 1
    messages = {error.row: error.message_vi for error in report.errors}
    assert "công thức" in messages[3] and "quá dài" in messages[4] and "gộp" in messages[5]
    assert len(next(error for error in report.errors if error.row == 4).value) <= 100


def test_a_file_found_unusable_half_way_writes_nothing(
    session_factory: Factory, make_csv: Callable[..., Path], monkeypatch
) -> None:
    from tiemchung.health.registry import importer
    from tiemchung.health.registry.models import ImportRow

    monkeypatch.setattr(importer, "BATCH_ROWS", 50)
    path = make_csv([record(subject_id=f"S{n}", record_id=f"R{n}") for n in range(500)])  # 100 kB
    with path.open("ab") as handle:
        handle.write(b"S9,R9,\xff\xfe not UTF-8\n")  # damaged after several staged chunks
    report = import_records(session_factory, path, actor="cs01", today=TODAY)
    assert not report.ok and report.file_error is not None and "Chưa có dòng nào được ghi" in report.file_error
    with session_factory() as session:
        assert (count(session, Subject), count(session, Dose), count(session, ImportRow)) == (0, 0, 0)
        assert count(session, AuditEvent) == 0
        batch = session.scalars(select(ImportBatch)).one()
        assert batch.status == "failed" and batch.error_message == report.file_error


def test_facility_and_reason_group_options(session_factory: Factory, make_xlsx: Callable[..., Path]) -> None:
    path = make_xlsx([record(), record(record_id="R2", facility_code="CS99")])
    bad_group = import_records(session_factory, path, actor="cs01", reason_group="9", today=TODAY)
    assert not bad_group.ok and "Nhóm lý do" in (bad_group.file_error or "")
    report = import_records(session_factory, path, actor="cs01", facility_code="CS01", reason_group="2", today=TODAY)
    assert (report.accepted, report.rejected) == (1, 1)
    assert report.errors[0].column == "facility_code"
    with session_factory() as session:
        assert session.scalars(select(Dose.reason_group)).one() == "2"


def test_a_facility_cannot_overwrite_another_facilitys_keys(
    session_factory: Factory, make_xlsx: Callable[..., Path]
) -> None:
    first = import_records(session_factory, make_xlsx([record()]), actor="cs01", facility_code="CS01", today=TODAY)
    assert first.accepted == 1
    rows = [record(facility_code="CS02", full_name="Người Khác"), record(subject_id="S9", facility_code="CS02")]
    report = import_records(session_factory, make_xlsx(rows, name="cs02.xlsx"), actor="cs02", facility_code="CS02",
                            today=TODAY)  # fmt: skip
    assert (report.accepted, report.rejected) == (0, 2)
    assert [error.column for error in report.errors] == ["record_id", "record_id"]  # R1 is CS01's dose
    with session_factory() as session:
        assert session.scalars(select(Subject.full_name).where(Subject.subject_key == "S1")).one() == "Nguyễn Văn An"


def test_the_unknown_birth_date_placeholder_keeps_the_dose(make_xlsx: Callable[..., Path]) -> None:
    from tiemchung.health.registry.records import read_records

    (row,) = read_records(make_xlsx([record(birth_date=datetime(1900, 1, 1))]), today=TODAY)
    assert row.accepted and row.subject is not None
    assert (row.subject.birth_date, row.subject.birth_year) == (None, None)
    assert row.repairs[0].code == "date.placeholder_unknown"


def test_nationality_is_read_from_cldr_and_iso_names(make_xlsx: Callable[..., Path]) -> None:
    """Issue 17: "Ca-na-đa", "Ba Lan", "Pakistan", "New Zealand" were refused while "ZZ" passed."""
    from tiemchung.health.registry.records import read_records

    typed = ["Ca-na-đa", "Ba Lan", "Pakistan", "New Zealand", "Hàn Quốc", "KR", "ZZ", "Canadda"]
    rows = [record(record_id=f"R{n}", subject_id=f"S{n}", nationality=name) for n, name in enumerate(typed)]
    parsed = list(read_records(make_xlsx(rows), today=TODAY))
    codes = [row.subject.nationality if row.subject else None for row in parsed]
    assert codes == ["CA", "PL", "PK", "NZ", "KR", "KR", None, None]
    (unknown,) = parsed[-1].errors
    assert unknown.column == "nationality" and "Canada" in unknown.message_vi  # the closest names are suggested
    assert parsed[-2].errors[0].column == "nationality"

"""An import never changes a subject or dose outside the uploader's facility and area (issue 16, item 1).

The probe: a facility account (without a facility code) uploaded a one-row file reusing another province's
`subject_id`/`record_id`; the person was renamed, moved to the uploader's province, lost their verification, and
their dose moved to a made-up facility, while the page said "0 updated".
"""

from collections.abc import Callable
from datetime import date
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.registry_files import record
from tiemchung.health.registry.import_scope import ImportScope
from tiemchung.health.registry.importer import import_records
from tiemchung.health.registry.models import AuditEvent, Dose, Facility, Subject

TODAY = date(2023, 6, 1)
Factory = sessionmaker[Session]
# Hồ Chí Minh City / Quận 1 / Tân Định: another province than the uploader's (Hà Nội, 01).
SAIGON = {"province_code": "79", "district_code": "760", "ward_code": "26734"}


def _saigon_person(session_factory: Factory, make_xlsx: Callable[..., Path]) -> None:
    row = record(subject_id="HCM-1", record_id="HCM-R1", full_name="Lê Thị Sài Gòn", facility_code="HCM01", **SAIGON)
    report = import_records(session_factory, make_xlsx([row], name="hcm.xlsx"), actor="hcm", facility_code="HCM01",
                            today=TODAY)  # fmt: skip
    assert report.accepted == 1
    with session_factory.begin() as session:
        subject = session.scalars(select(Subject)).one()
        subject.verification_category = "VERIFIED"


def _saigon_state(session: Session) -> tuple[object, ...]:
    subject = session.scalars(select(Subject).where(Subject.subject_key == "HCM-1")).one()
    dose = session.scalars(select(Dose).where(Dose.record_id == "HCM-R1")).one()
    return (subject.full_name, subject.province_code, subject.verification_category, dose.facility_code,
            dose.subject_id == subject.id)  # fmt: skip


def test_an_area_scoped_upload_cannot_touch_another_provinces_person(
    session_factory: Factory, make_xlsx: Callable[..., Path]
) -> None:
    """The probe's case: a Hà Nội account without a facility code, reusing a Saigon person's keys."""
    _saigon_person(session_factory, make_xlsx)
    with session_factory.begin() as session:
        session.add(Facility(code="FAKE", name="Cơ sở bịa", province_code="01"))
        before = _saigon_state(session)
    probe = record(subject_id="HCM-1", record_id="HCM-R1", full_name="Tên Bị Đổi", facility_code="FAKE")
    new_key_same_dose = record(subject_id="HN-1", record_id="HCM-R1", facility_code="FAKE")
    same_key_new_dose = record(subject_id="HCM-1", record_id="HN-R1", facility_code="FAKE")
    for number, row in enumerate([probe, new_key_same_dose, same_key_new_dose]):
        report = import_records(session_factory, make_xlsx([row], name=f"probe{number}.xlsx"), actor="hn",
                                scope=ImportScope(area_code="01"), today=TODAY)  # fmt: skip
        assert report.ok and (report.accepted, report.rejected) == (0, 1)
        assert (report.subjects_updated, report.doses_updated, report.subjects_created) == (0, 0, 0)
        (error,) = report.errors
        assert error.row == 2 and "ngoài phạm vi" in error.message_vi
    with session_factory() as session:
        assert _saigon_state(session) == before
        assert set(session.scalars(select(AuditEvent.action).where(AuditEvent.actor == "hn"))) == {"import"}


def test_a_facility_cannot_create_or_move_people_outside_its_area(
    session_factory: Factory, make_xlsx: Callable[..., Path]
) -> None:
    scope = ImportScope(facility_code="CS01", area_code="01")
    first = import_records(session_factory, make_xlsx([record()]), actor="cs01", scope=scope, today=TODAY)
    assert first.accepted == 1
    rows = [record(**SAIGON), record(subject_id="S2", record_id="R2", **SAIGON)]
    report = import_records(session_factory, make_xlsx(rows, name="moved.xlsx"), actor="cs01", scope=scope,
                            today=TODAY)  # fmt: skip
    assert (report.accepted, report.rejected) == (0, 2)
    assert {error.column for error in report.errors} == {"ward_code"}
    assert "Thành phố Hà Nội" in report.errors[0].message_vi
    with session_factory() as session:
        assert session.scalars(select(Subject.province_code)).all() == ["01"]


def test_a_station_updates_its_communes_people_only(session_factory: Factory, make_xlsx: Callable[..., Path]) -> None:
    """Seed 000, step 4: the station re-imports the corrected list of its commune (any facility's people)."""
    with session_factory.begin() as session:
        session.add_all([Facility(code="CS01", name="Trạm Y tế Phúc Xá", province_code="01", ward_code="00001"),
                         Facility(code="CS02", name="Bệnh viện", province_code="01")])  # fmt: skip
    rows = [record(), record(subject_id="S2", record_id="R2", ward_code="00004", facility_code="CS02")]
    import_records(session_factory, make_xlsx(rows), actor="cs01", today=TODAY)
    station = ImportScope(area_code="00001")
    corrected = [
        record(id_number="001085012346", full_name="Nguyễn Văn Ân"),  # its commune: corrected
        record(subject_id="S2", record_id="R2", ward_code="00001", facility_code="CS02"),  # Trúc Bạch's person
        record(subject_id="S3", record_id="R3", facility_code="CS99"),  # a facility nobody registered
    ]
    report = import_records(session_factory, make_xlsx(corrected, name="fixed.xlsx"), actor="station",
                            scope=station, today=TODAY)  # fmt: skip
    assert (report.accepted, report.subjects_updated) == (1, 1)
    assert [(error.row, error.column) for error in report.errors] == [(3, "record_id"), (4, "facility_code")]
    with session_factory() as session:
        names = {key: name for key, name in session.execute(select(Subject.subject_key, Subject.full_name))}
        assert names == {"S1": "Nguyễn Văn Ân", "S2": "Nguyễn Văn An"}
        wards = session.scalars(select(Subject.ward_code).order_by(Subject.subject_key)).all()
        assert wards == ["00001", "00004"]

"""A small registry with one case of each thing the reports count (see the comments per subject).

A module of its own (not conftest) so that tests import it by a name no other test folder uses."""

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session, sessionmaker

from tiemchung.health.registry.models import Dose, Facility, ImportBatch, Subject

AS_OF = date(2023, 1, 31)


@dataclass(frozen=True)
class RegistryIds:
    doses: dict[str, int]
    subjects: dict[str, int]


def _subject(key: str, category: str | None, province: str | None, birth: str, reasons: str = "") -> Subject:
    return Subject(
        subject_key=key,
        full_name_raw="Nguyễn Văn A",
        full_name="Nguyễn Văn A",
        name_canonical="nguyễn văn a",
        name_folded="nguyen van a",
        birth_date=birth,
        birth_year=int(birth[:4]),
        verification_category=category,
        verification_reasons=reasons,
        province_code=province,
    )


def _dose(record: str, subject: Subject, kind: str, day: date, facility: str, **extra: object) -> Dose:
    return Dose(
        record_id=record,
        subject=subject,
        vaccine=str(extra.pop("vaccine", "AstraZeneca")),
        dose_kind=kind,
        vaccination_date=day,
        facility_code=facility,
        **extra,
    )


def build_registry(session_factory: sessionmaker[Session]) -> RegistryIds:
    """Facilities in Hà Nội (01), Hồ Chí Minh (79) and one with an unknown province code (99).

    s1 adult, verified: doses 1, 2 (in a late-entry batch of group 2), booster 1, and booster 2 after AS_OF.
    s2 teen (birth year only), mismatch NAME;BIRTH_DATE: doses 1 and 2 only 9 days apart.
    s3 child, verified without ID: dose 1 entered late in group 1.
    s4 adult, unverifiable, no province, vaccinated at the unknown-province facility.
    s5 not answered yet: a dose dated before the birth date.
    s6 foreigner: dose 1 entered twice on the same day at two facilities (a simple duplicate).
    s7 adult, verified: an additional dose and a booster of one vaccine family on the same day (for review).
    """
    with session_factory() as session, session.begin():
        session.add_all(
            [
                Facility(
                    code="F01",
                    name="Trạm Y tế phường Phúc Xá",
                    province_code="01",
                    district_code="001",
                    ward_code="00001",
                ),
                Facility(code="F79", name="Bệnh viện Quận 1", province_code="79"),
                Facility(code="F99", name="Đội tiêm lưu động", province_code="99"),
            ]
        )
        batch = ImportBatch(file_name="nhap-bu.xlsx", file_sha256="0" * 64, uploaded_by="t", reason_group="2")
        s1 = _subject("s1", "VERIFIED", "01", "1980-05-10")
        s2 = _subject("s2", "MISMATCH", "01", "2008", reasons="NAME;BIRTH_DATE")
        s3 = _subject("s3", "NO_ID_VERIFIED", "79", "2016-12-31")
        s4 = _subject("s4", "NO_ID_UNVERIFIABLE", None, "1990-01-01")
        s5 = _subject("s5", None, "79", "2025-01-01")
        s6 = _subject("s6", "FOREIGN_PASSPORT", "79", "1970-01-01")
        s7 = _subject("s7", "VERIFIED", "01", "1985-02-02")
        doses = {
            "s1d1": _dose("s1d1", s1, "1", date(2021, 8, 1), "F01"),
            "s1d2": _dose("s1d2", s1, "2", date(2021, 9, 1), "F01"),
            "s1b1": _dose("s1b1", s1, "booster_1", date(2022, 3, 1), "F01"),
            "s1b2": _dose("s1b2", s1, "booster_2", date(2023, 3, 1), "F01"),
            "s2d1": _dose("s2d1", s2, "1", date(2022, 6, 1), "F01", vaccine="Pfizer"),
            "s2d2": _dose("s2d2", s2, "2", date(2022, 6, 10), "F01", vaccine="Pfizer"),
            "s3d1": _dose("s3d1", s3, "1", date(2022, 12, 30), "F79", vaccine="Pfizer", reason_group="1"),
            "s4d1": _dose("s4d1", s4, "1", date(2022, 1, 5), "F99"),
            "s5d1": _dose("s5d1", s5, "1", date(2022, 1, 1), "F79"),
            "s6d1": _dose("s6d1", s6, "1", date(2021, 10, 1), "F79", lot_number="A1"),
            "s6d1x": _dose("s6d1x", s6, "1", date(2021, 10, 1), "F01"),
            "s7ad": _dose("s7ad", s7, "additional", date(2022, 4, 1), "F01", vaccine="Pfizer"),
            "s7b1": _dose("s7b1", s7, "booster_1", date(2022, 4, 1), "F79", vaccine="Comirnaty"),
        }
        session.add_all([batch, *doses.values()])
        session.flush()
        doses["s1d2"].import_batch_id = batch.id
        session.flush()
        return RegistryIds(
            doses={key: dose.id for key, dose in doses.items()},
            subjects={s.subject_key: s.id for s in (s1, s2, s3, s4, s5, s6, s7)},
        )

"""A country with data in every province, for the dashboard and report pages in Chromium (and their screenshots).

Per province a few districts, each with a facility and subjects whose verification results, doses (2021–2023) and
register answers vary with the province, so that the map's colours and the trend differ; reported figures for
appendix 1 a little above what was entered. Random with a fixed seed: the same world every run.
"""

import random
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from tiemchung.health.reconciliation.layout import CELL_KEYS
from tiemchung.health.reconciliation.reported import ReportedFigures, store_reported
from tiemchung.health.registry.models import Dose, Facility, Subject
from tiemchung.health.verification.models import VerificationRecord
from tiemchung.reference import admin

AS_OF = date(2023, 1, 31)
CATEGORIES = ("VERIFIED", "MISMATCH", "NO_ID_VERIFIED", "NO_ID_UNVERIFIABLE")
START = date(2021, 3, 1)


def build_country(session_factory: sessionmaker[Session], *, subjects_per_district: int = 12) -> None:
    rng = random.Random(2023)
    with session_factory() as session, session.begin():
        entered: dict[str, dict[tuple[str, str], int]] = {}
        answers: list[tuple[Subject, str]] = []
        for index, province in enumerate(admin.provinces()):
            quality = 0.45 + 0.5 * rng.random()  # the province's share of verified subjects
            cells = entered.setdefault(province.code, {})
            for district in admin.districts(province.code)[:3]:
                ward = admin.wards(district.code)[0]
                facility = f"F{district.code}"
                session.add(Facility(code=facility, name=f"Trạm Y tế {ward.name}", province_code=province.code,
                                     district_code=district.code, ward_code=ward.code))  # fmt: skip
                for number in range(subjects_per_district + index % 5):
                    answers.append(_subject(session, rng, f"{district.code}-{number}", ward, facility, quality, cells))
        session.flush()
        for subject, category in answers:
            answered = datetime(2022, 9, 1, tzinfo=UTC) + timedelta(days=rng.randint(0, 150))
            session.add(VerificationRecord(subject_id=subject.id, category=category, source="batch",
                                           answered_at=answered))  # fmt: skip
        figures = ReportedFigures()
        for code, cells in entered.items():
            if code in ("96", "95"):
                continue  # two provinces have not reported: grey on the gap map
            figures.cells[code] = {
                key: int(cells.get(key, 0) * (1 + rng.choice((0, 0.02, 0.05, 0.15)))) for key in CELL_KEYS
            }
        store_reported(session, figures, AS_OF, "test")


def _subject(
    session: Session,
    rng: random.Random,
    key: str,
    ward: admin.Ward,
    facility: str,
    quality: float,
    cells: dict[tuple[str, str], int],
) -> tuple[Subject, str]:
    birth = date(rng.randint(1950, 2004), rng.randint(1, 12), rng.randint(1, 28))
    roll = rng.random()
    category = "VERIFIED" if roll < quality else rng.choice(CATEGORIES[1:])
    subject = Subject(
        subject_key=key, full_name_raw="Nguyễn Văn An", full_name="Nguyễn Văn An", name_canonical="nguyễn văn an",
        name_folded="nguyen van an", birth_date=birth.isoformat(), birth_year=birth.year,
        verification_category=category, province_code=ward.province_code, district_code=ward.district_code,
        ward_code=ward.code,
    )  # fmt: skip
    session.add(subject)
    day = START + timedelta(days=int(rng.triangular(0, 500, 150)))
    for kind in ("1", "2", "booster_1")[: rng.randint(1, 3)]:
        session.add(Dose(record_id=f"{key}-{kind}", subject=subject, vaccine="Pfizer", dose_kind=kind,
                         vaccination_date=day, facility_code=facility))  # fmt: skip
        cells[("18+", kind)] = cells.get(("18+", kind), 0) + 1
        day += timedelta(days=rng.randint(30, 120))
    return subject, category

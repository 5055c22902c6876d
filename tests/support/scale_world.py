"""A commune at its real scale, for the pages' tests and benchmarks: a generated district of about 110,000 people
(≈ 88,000 subjects, 250,000 doses), whose busiest commune has a cleaning worklist of more than 2,000 lines, and one
account per role over it (a district-scoped and a province-scoped 'province' account among them).

The data is the synthetic generator's (`tiemchung.synth`), loaded by the bulk loader, with the facilities the demo
registers. The register's answers are the generator's truth (the categories the register would give), written in
bulk: what the pages show does not depend on how the answers were found, and the engine is tested on its own.
Built once per test session (about a minute on two cores); `build_scale_world` serves benchmarks too.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from tests.support.live_server import live_server
from tiemchung.demo.pipeline import register_facilities
from tiemchung.health.cleaning import workflow
from tiemchung.health.registry.bulk import load_parquet
from tiemchung.health.registry.db import create_schema, make_engine, make_session_factory
from tiemchung.health.registry.models import Facility, Role, Subject, User, Village
from tiemchung.health.verification.models import VerificationRecord
from tiemchung.health.web.app import create_app
from tiemchung.health.web.security import hash_password
from tiemchung.health.web.settings import Settings
from tiemchung.synth import generate

PEOPLE = 110_000
SEED = 11  # puts the district in Hồ Chí Minh City (district 771), 11 wards
PASSWORD = "mat-khau-quy-mo-thuc"  # the accounts' password (tests.support.browser.log_in takes it)
VILLAGES = ("Khu phố 1", "Khu phố 2", "Khu phố 3", "Khu phố 4", "Khu phố 5", "Khu phố 6")
LISTED = workflow.LISTED_CATEGORIES
ANSWER_CHUNK = 5_000
FULL_NAMES = {"station": "Lê Thị Hồng", "village": "Phạm Văn Tú", "police": "Đỗ Minh Quân", "facility": "Trần Thu Hà",
              "district": "Vũ Đức Anh", "province": "Hoàng Thị Lan", "ministry": "Ngô Quốc Bảo",
              "admin": "Quản trị hệ thống"}  # fmt: skip


@dataclass
class ScaleWorld:
    """What the tests need to know about the generated district and its accounts."""

    database_url: str
    session_factory: sessionmaker[Session]
    province_code: str
    district_code: str
    ward_code: str
    worklist_id: int
    worklist_lines: int
    district_subjects: int
    facility_code: str
    usernames: dict[str, str] = field(default_factory=dict)  # role label -> username
    village_ids: list[int] = field(default_factory=list)
    password: str = PASSWORD

    def settings(self, keys_dir: Path) -> Settings:
        return Settings(database_url=self.database_url, secret_key="scale-world", keys_dir=keys_dir)


def build_scale_world(directory: Path, *, people: int = PEOPLE, seed: int = SEED) -> ScaleWorld:
    """Generate, load and prepare the district in `directory` (an SQLite registry)."""
    directory.mkdir(parents=True, exist_ok=True)
    manifest = generate(directory / "synth", people=people, seed=seed, progress=False, scale="district",
                        xlsx_max_rows=0)  # fmt: skip
    database_url = f"sqlite:///{directory / 'registry.sqlite'}"
    engine = make_engine(database_url)
    create_schema(engine)
    report = load_parquet(engine, directory / "synth" / "records.parquet", actor="scale-world")
    assert report.file_error is None and report.subjects > 0, report.file_error
    factory = make_session_factory(engine)
    register_facilities(factory)
    answer_as_the_truth_says(factory, directory / "synth" / "truth_subjects.parquet")
    with factory() as session:
        ward_code = _busiest_ward(session, manifest.district_code or "")
        world = ScaleWorld(
            database_url=database_url,
            session_factory=factory,
            province_code=manifest.province_codes[0],
            district_code=manifest.district_code or "",
            ward_code=ward_code,
            worklist_id=0,
            worklist_lines=0,
            district_subjects=session.scalar(
                select(func.count()).where(Subject.district_code == manifest.district_code)
            )
            or 0,
            facility_code=_facility_of(session, ward_code),
        )
        _add_accounts(session, world)
        session.commit()
        station = session.scalars(select(User).where(User.username == world.usernames["station"])).one()
        outcome, worklist = workflow.build_worklist(session, station, title="Danh sách làm sạch quy mô thực")
        assert worklist is not None, outcome
        session.commit()
        world.worklist_id, world.worklist_lines = worklist.id, len(worklist.lines)
    return world


def answer_as_the_truth_says(factory: sessionmaker[Session], truth_path: Path) -> None:
    """Each subject's latest answer and its history row, as the register would answer (the generator's truth)."""
    truth = pq.read_table(
        truth_path, columns=["subject_id", "expected_category", "expected_reasons", "expected_matched_person_id"]
    ).to_pylist()
    answered_at = datetime(2022, 6, 15, 3, 0, tzinfo=UTC)
    with factory() as session:
        ids = {key: id_ for key, id_ in session.execute(select(Subject.subject_key, Subject.id))}
        for start in range(0, len(truth), ANSWER_CHUNK):
            rows = [row for row in truth[start : start + ANSWER_CHUNK] if row["subject_id"] in ids]
            session.execute(
                update(Subject),
                [
                    {
                        "id": ids[row["subject_id"]],
                        "verification_category": row["expected_category"],
                        "verification_reasons": row["expected_reasons"] or "",
                        "matched_person_id": row["expected_matched_person_id"] or None,
                        "verified_at": answered_at,
                    }
                    for row in rows
                ],
            )
            session.execute(
                insert(VerificationRecord),
                [
                    {
                        "subject_id": ids[row["subject_id"]],
                        "batch_job_id": "scale-world",
                        "category": row["expected_category"],
                        "reasons": row["expected_reasons"] or "",
                        "matched_person_id": row["expected_matched_person_id"] or None,
                        "answered_at": answered_at,
                        "source": "batch",
                    }
                    for row in rows
                ],
            )
        session.commit()


def _busiest_ward(session: Session, district_code: str) -> str:
    listed = func.count()
    ward = session.execute(
        select(Subject.ward_code, listed)
        .where(Subject.district_code == district_code, Subject.verification_category.in_(LISTED))
        .group_by(Subject.ward_code)
        .order_by(listed.desc())
        .limit(1)
    ).one()
    return str(ward[0])


def _facility_of(session: Session, ward_code: str) -> str:
    """The commune's own station when it has one, else the facility that gave the commune's people most doses."""
    station = session.scalar(select(Facility.code).where(Facility.ward_code == ward_code).order_by(Facility.code))
    if station:
        return station
    busiest = session.execute(
        select(Facility.code)
        .join(Subject, Subject.district_code == Facility.district_code)
        .where(Subject.ward_code == ward_code)
        .limit(1)
    ).scalar_one()
    return str(busiest)


def _add_accounts(session: Session, world: ScaleWorld) -> None:
    password_hash = hash_password(PASSWORD)
    villages = [Village(ward_code=world.ward_code, name=name) for name in VILLAGES]
    session.add_all(villages)
    session.flush()
    world.village_ids = [village.id for village in villages]
    accounts: list[tuple[str, Role, str, dict[str, object]]] = [
        ("station", Role.HEALTH_STATION, world.ward_code, {}),
        ("village", Role.VILLAGE_TEAM, world.ward_code, {"village_id": villages[0].id}),
        ("police", Role.COMMUNE_POLICE, world.ward_code, {}),
        ("facility", Role.FACILITY, world.province_code, {"facility_code": world.facility_code}),
        ("district", Role.PROVINCE, world.district_code, {}),
        ("province", Role.PROVINCE, world.province_code, {}),
        ("ministry", Role.MINISTRY, "", {}),
        ("admin", Role.ADMIN, "", {}),
    ]
    for label, role, area, extra in accounts:
        username = f"qm-{label}"
        session.add(User(username=username, full_name=FULL_NAMES[label], password_hash=password_hash,
                         role=role.value, area_code=area, failed_logins=0, **extra))  # fmt: skip
        world.usernames[label] = username


@contextmanager
def serve(world: ScaleWorld, keys_dir: Path) -> Iterator[str]:
    """The web platform over the world's registry on a free local port, for a browser; yields its base URL."""
    with live_server(create_app(world.settings(keys_dir), session_factory=world.session_factory)) as url:
        yield url

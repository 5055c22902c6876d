"""The demo's stages: each one is the platform's real code path, called in the order a ministry would run it.

synthetic province → registry import (the messy workbook) → register service → batch verification →
facilities sign their days → certificates → cleaning worklists → reported figures and report files.
"""

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from tiemchung import reference
from tiemchung.health.certificates.issuance import certifiable_doses, issue_certificate
from tiemchung.health.certificates.keys import KeyLayout, init_keys, load_signer
from tiemchung.health.certificates.signing import (
    new_facility_key,
    public_key_pem,
    sign_facility_day,
    write_facility_key,
)
from tiemchung.health.cleaning.workflow import LISTED_CATEGORIES
from tiemchung.health.cleaning.workflow import build_worklist as build
from tiemchung.health.duplicates.detect import find_pairs
from tiemchung.health.duplicates.review import store_pairs
from tiemchung.health.reconciliation import xlsx
from tiemchung.health.reconciliation.reported import read_synth_aggregates, store_reported
from tiemchung.health.reconciliation.service import ReportContext, appendix1, unit_report
from tiemchung.health.reconciliation.sources import RegistrySource
from tiemchung.health.reconciliation.unit_report import read_synth_gaps, store_unit_reports
from tiemchung.health.reconciliation.verification_report import build_verification_report
from tiemchung.health.registry.db import transaction
from tiemchung.health.registry.importer import import_records as run_import
from tiemchung.health.registry.models import Dose, Facility, Role, Subject, User
from tiemchung.health.verification.client import RegisterClient
from tiemchung.health.verification.store import verify_registry_batch
from tiemchung.health.web.users import seed_demo_users
from tiemchung.synth import generate

Progress = Callable[[str, int, int], None]
DEMO_AS_OF = date(2023, 1, 31)  # the cut-off date of seed 001's reconciliation


@dataclass
class DemoState:
    """What the stages produced, for the summary printed at the end."""

    people: int = 0
    subjects: int = 0
    doses: int = 0
    rejected_rows: int = 0
    categories: dict[str, int] = field(default_factory=dict)
    worklist_lines: int = 0
    duplicate_pairs: int = 0  # pairs of records of one person, waiting in the stations' queue
    certificates: int = 0
    refused_certificates: int = 0
    facility_passphrase: str = ""  # opens every demo facility's signing key (typed on the signing page)
    ward_code: str = ""
    accounts: list[tuple[str, str, str]] = field(default_factory=list)
    report_files: list[Path] = field(default_factory=list)


def generate_province(data_dir: Path, *, people: int, province_code: str, seed: int) -> int:

    manifest = generate(data_dir, people=people, seed=seed, province_codes=[province_code], progress=True)
    return manifest.people


def register_facilities(session_factory: sessionmaker[Session]) -> int:
    """The facilities that sent doses, placed where their subjects live: a commune's station serves one ward,
    a district centre several. (A real deployment has the facility list from the ministry's own register.)"""
    from collections import Counter, defaultdict

    with transaction(session_factory) as session:
        known = set(session.scalars(select(Facility.code)))
        wards: dict[str, Counter[tuple[str, str | None, str]]] = defaultdict(Counter)
        places = session.execute(
            select(Dose.facility_code, Subject.province_code, Subject.district_code, Subject.ward_code)
            .join(Subject, Subject.id == Dose.subject_id)
            .where(Subject.ward_code.is_not(None), Subject.province_code.is_not(None))
        )
        for facility_code, province_code, district_code, ward_code in places:
            wards[facility_code][(str(province_code), district_code, str(ward_code))] += 1
        for code, counts in wards.items():
            if code in known:
                continue
            (province_code, district_code, ward_code), _ = counts.most_common(1)[0]
            ward, district = reference.ward(ward_code), reference.district(district_code or "")
            if len(counts) == 1 or district is None:
                name = f"Trạm Y tế {ward.full_name if ward else ward_code}"
            else:
                name = f"Trung tâm Y tế {district.full_name}"
            is_station = name.startswith("Trạm")
            session.add(Facility(code=code, name=name, province_code=province_code, district_code=district_code,
                                 ward_code=ward_code if is_station else None))  # fmt: skip
    return len(wards)


def import_records(session_factory: sessionmaker[Session], data_dir: Path, state: DemoState) -> None:
    from rich.progress import Progress as RichProgress

    source = data_dir / "records.xlsx"
    with RichProgress(transient=True) as bar:
        task = bar.add_task("Đang nhập các dòng của tệp Excel", total=None)
        report = run_import(
            session_factory,
            source,
            actor="demo",
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    if report.file_error:
        raise DemoError(f"Không nhập được {source.name}: {report.file_error}")
    state.rejected_rows = report.rejected
    with session_factory() as session:
        state.subjects = session.scalar(select(func.count()).select_from(Subject)) or 0
        state.doses = session.scalar(select(func.count()).select_from(Dose)) or 0


def verify_everyone(
    session_factory: sessionmaker[Session], register_url: str, api_key: str, workdir: Path, progress: Progress
) -> None:

    with RegisterClient(register_url, api_key) as client:
        report = verify_registry_batch(session_factory, client, workdir, poll_interval=0.5, progress=progress)
    if report.status is not None and report.status.status != "done":
        raise DemoError(f"Lô xác minh không hoàn thành: {report.status.error_vi}")


def count_categories(session_factory: sessionmaker[Session], state: DemoState) -> None:
    with session_factory() as session:
        rows = session.execute(
            select(Subject.verification_category, func.count()).group_by(Subject.verification_category)
        )
        state.categories = {category or "—": count for category, count in rows}


def sign_facility_days(session_factory: sessionmaker[Session], keys_dir: Path, state: DemoState) -> int:
    """Each facility gets a signing key (stored as the web expects it, encrypted with the facility's passphrase)
    and signs the days it entered doses (the seeds' daily signature), all but its latest one when it has several:
    that day waits on the page "Ký số trong ngày" for the demo's facility account to sign in the browser."""

    layout = KeyLayout(keys_dir)
    state.facility_passphrase = state.facility_passphrase or secrets.token_urlsafe(12)
    signed = 0
    with transaction(session_factory) as session:
        days = session.execute(select(Dose.facility_code, Dose.vaccination_date).distinct()).all()
        keys = {}
        for facility in session.scalars(select(Facility)):
            key = new_facility_key()
            facility.public_key_pem = public_key_pem(key)
            write_facility_key(layout, facility.code, key, state.facility_passphrase.encode())
            keys[facility.code] = key
        latest: dict[str, date] = {}
        counts: dict[str, int] = {}
        for facility_code, day in days:
            latest[facility_code] = max(day, latest.get(facility_code, day))
            counts[facility_code] = counts.get(facility_code, 0) + 1
        for facility_code, day in days:
            left_for_the_web = counts[facility_code] > 1 and day == latest[facility_code]
            if facility_code in keys and not left_for_the_web:
                signed += sign_facility_day(session, facility_code, day, keys[facility_code], signer="demo").ok
    return signed


def issue_certificates(session_factory: sessionmaker[Session], keys_dir: Path, state: DemoState) -> None:
    """A certificate for every signed dose of a subject who may have one; the others are refused with a reason."""

    passphrase = passphrase_path(keys_dir).read_bytes().strip()
    certificate_keys = KeyLayout(keys_dir).certificates
    if certificate_keys.exists():
        signer = load_signer(certificate_keys, passphrase)
    else:
        signer = init_keys(certificate_keys, passphrase)
    with transaction(session_factory) as session:
        for subject_id, dose_id in certifiable_doses(session):
            result = issue_certificate(session, subject_id, dose_id, signer=signer, issued_by="demo")
            if result.ok:
                state.certificates += 1
            else:
                state.refused_certificates += 1


def busiest_ward(session_factory: sessionmaker[Session]) -> str:
    """The commune with the most subjects to clean: the demo's accounts act there."""

    with session_factory() as session:
        ward = session.scalar(
            select(Subject.ward_code)
            .where(Subject.verification_category.in_(LISTED_CATEGORIES), Subject.ward_code.is_not(None))
            .group_by(Subject.ward_code)
            .order_by(func.count().desc(), Subject.ward_code)
            .limit(1)
        )
    if ward is None:
        raise DemoError("Không có xã nào có đối tượng cần làm sạch: hãy tăng --people.")
    return ward


def create_accounts(session_factory: sessionmaker[Session], state: DemoState, password: str | None) -> None:

    with transaction(session_factory) as session:
        facility_code = session.scalar(select(Facility.code).where(Facility.ward_code == state.ward_code))
        if facility_code is None:
            # No station of its own: the facility that vaccinated most of the commune's people (a district centre).
            facility_code = session.scalar(
                select(Dose.facility_code)
                .join(Subject, Subject.id == Dose.subject_id)
                .join(Facility, Facility.code == Dose.facility_code)
                .where(Subject.ward_code == state.ward_code)
                .group_by(Dose.facility_code)
                .order_by(func.count().desc(), Dose.facility_code)
                .limit(1)
            )
        state.accounts = seed_demo_users(session, state.ward_code, facility_code=facility_code, password=password)


def build_worklist(session_factory: sessionmaker[Session], state: DemoState) -> None:

    with transaction(session_factory) as session:
        station = session.scalar(
            select(User).where(User.role == Role.HEALTH_STATION.value, User.area_code == state.ward_code)
        )
        if station is None:
            raise DemoError("Thiếu tài khoản Trạm Y tế của xã thử nghiệm.")
        outcome, _worklist = build(session, station, title="Danh sách làm sạch (dữ liệu thử nghiệm)")
        state.worklist_lines = outcome.changed


def write_reports(
    session_factory: sessionmaker[Session], engine: Engine, data_dir: Path, reports_dir: Path, state: DemoState
) -> None:
    """Store the synthetic province's reported figures, then write each report in the ministry's layout."""

    with transaction(session_factory) as session:
        store_reported(session, read_synth_aggregates(data_dir / "aggregates.parquet"), DEMO_AS_OF, "synth")
        store_unit_reports(session, read_synth_gaps(data_dir / "gaps.parquet"), DEMO_AS_OF, "synth")
    context = ReportContext(source=RegistrySource(engine), session_factory=session_factory)
    reports_dir.mkdir(parents=True, exist_ok=True)
    workbooks = {
        "bao-cao-xac-minh.xlsx": xlsx.verification_workbook(build_verification_report(context.source), DEMO_AS_OF),
        "phu-luc-1.xlsx": xlsx.appendix1_workbook(appendix1(context, DEMO_AS_OF)),
        "phu-luc-2.xlsx": xlsx.unit_workbook(unit_report(context, DEMO_AS_OF)),
    }
    for name, workbook in workbooks.items():
        (reports_dir / name).write_bytes(xlsx.to_bytes(workbook))
        state.report_files.append(reports_dir / name)


def passphrase_path(keys_dir: Path) -> Path:
    """The file of the demo's certificate-key passphrase: random, kept beside the keys (outside the repository),
    never in the database; the demo's web server reads it (Settings.key_passphrase_file)."""
    path = keys_dir / "passphrase"
    if not path.exists():
        keys_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(24))
        path.chmod(0o600)
    return path


class DemoError(Exception):
    """A stage that cannot go on; the message is for the person running the demo, in Vietnamese."""


def find_duplicates(session_factory: sessionmaker[Session], state: DemoState) -> None:
    """The records of one person registered at several facilities (the generator registers some people again), found
    after the register's answers (a shared register person is certain evidence) and stored for the stations' queue."""
    with transaction(session_factory) as session:
        stored = store_pairs(session, find_pairs(session))
    state.duplicate_pairs = stored.new + stored.kept

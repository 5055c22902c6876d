"""A built report is kept until the data changes, and every change counts: not only new doses, answers and imports
(their highest ids), but a merge, a cleaning correction, a duplicate marked, a facility moved or a reported figure
replaced, which add no row (they used to leave the report stale for up to the cache's five minutes)."""

import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from tests.support.reconciliation_world import RegistryIds
from tiemchung.health.duplicates.models import SubjectMerge
from tiemchung.health.reconciliation.models import UnitReport
from tiemchung.health.registry.models import Dose, Facility, Role, Subject, User
from tiemchung.health.web.app import create_app
from tiemchung.health.web.security import hash_password
from tiemchung.health.web.settings import Settings

PASSWORD = "mat-khau-dai-du-manh-2023"
Change = Callable[[Session, RegistryIds], None]


def _correct_identity(session: Session, ids: RegistryIds) -> None:
    session.execute(update(Subject).where(Subject.id == ids.subjects["s2"]).values(verification_category="VERIFIED",
                                                                                  verification_reasons=""))  # fmt: skip


def _merge(session: Session, ids: RegistryIds) -> None:
    session.add(SubjectMerge(survivor_id=ids.subjects["s1"], merged_id=ids.subjects["s7"], evidence="same_id",
                             merged_by="t"))  # fmt: skip


def _mark_duplicate(session: Session, ids: RegistryIds) -> None:
    session.execute(update(Dose).where(Dose.id == ids.doses["s6d1x"]).values(duplicate_of_id=ids.doses["s6d1"]))


def _move_facility(session: Session, ids: RegistryIds) -> None:
    session.execute(update(Facility).where(Facility.code == "F99").values(province_code="48"))


CHANGES: dict[str, tuple[str, Change]] = {
    "a cleaning correction": ("verification", _correct_identity),
    "a merge of two records": ("verification", _merge),
    "a duplicate marked": ("appendix1", _mark_duplicate),
    "a facility moved": ("appendix1", _move_facility),
}


def _client(session_factory: sessionmaker[Session], tmp_path: Path) -> TestClient:
    app = create_app(Settings(secret_key="test-secret", keys_dir=tmp_path / "keys"), session_factory=session_factory)
    client = TestClient(app, follow_redirects=False)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token is not None
    answer = client.post("/login", data={"username": "bo", "password": PASSWORD, "csrf_token": token.group(1)})
    assert answer.status_code == 303
    return client


@pytest.fixture
def ministry(session_factory: sessionmaker[Session], registry: RegistryIds, tmp_path: Path) -> TestClient:
    with session_factory.begin() as session:
        session.add(User(username="bo", full_name="bo", password_hash=hash_password(PASSWORD),
                         role=Role.MINISTRY.value, area_code=""))  # fmt: skip
    return _client(session_factory, tmp_path)


def _sections(client: TestClient, report: str) -> Any:
    answer = client.get(f"/api/v1/reports/{report}?as_of=2023-01-31")
    assert answer.status_code == 200
    return answer.json()["sections"]


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_change_that_adds_no_watched_row_shows_in_the_next_report(
    change: str,
    ministry: TestClient,
    session_factory: sessionmaker[Session],
    registry: RegistryIds,
    tmp_path: Path,
) -> None:
    report, make_change = CHANGES[change]
    before = _sections(ministry, report)
    assert _sections(ministry, report) == before  # built once, then kept
    with session_factory.begin() as session:
        make_change(session, registry)
    after = _sections(ministry, report)
    assert after != before, change
    assert after == _sections(_client(session_factory, tmp_path / "fresh"), report)  # as a report built afresh


def test_a_replaced_unit_answer_shows_in_the_next_appendix_2(
    ministry: TestClient, session_factory: sessionmaker[Session], registry: RegistryIds
) -> None:
    with session_factory.begin() as session:
        session.add(UnitReport(unit_code="F01", reason_group="1", doses_not_entered=5, as_of=date(2023, 1, 31)))
    before = _sections(ministry, "units")
    with session_factory.begin() as session:
        session.execute(update(UnitReport).values(doses_not_entered=7))  # the unit sent a corrected workbook
    assert _sections(ministry, "units") != before

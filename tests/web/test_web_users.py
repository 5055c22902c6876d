"""Accounts carry the area their role needs (issue 16 item 1, issue 15): one validation for the CLI, the admin page
and the demo."""

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from tiemchung.cli import app as cli_app
from tiemchung.health.registry.db import create_schema, make_engine, make_session_factory
from tiemchung.health.registry.models import Facility, Role, User
from tiemchung.health.web.users import NewUser, check, create_user, seed_demo_users

PASSWORD = "mat-khau-dai-du-10"


def _facility(session: Session, code: str = "F1", ward: tuple[str, str, str] = ("01", "001", "00001")) -> Facility:
    facility = Facility(code=code, name=f"Trạm {code}", province_code=ward[0], district_code=ward[1], ward_code=ward[2])
    session.add(facility)
    session.flush()
    return facility


@pytest.mark.parametrize(
    ("role", "area", "facility", "field"),
    [
        (Role.FACILITY, "01", None, "facility_code"),  # the account of issue 16 item 1
        (Role.FACILITY, "01", "NO-SUCH", "facility_code"),
        (Role.FACILITY, "79", "F1", "facility_code"),  # facility of Hà Nội, account for Hồ Chí Minh
        (Role.FACILITY, "", "F1", "area_code"),
        (Role.HEALTH_STATION, "99999", None, "area_code"),  # no such commune
        (Role.HEALTH_STATION, "01", None, "area_code"),  # a province for a commune role
        (Role.VILLAGE_TEAM, "", None, "area_code"),
        (Role.COMMUNE_POLICE, "0000a", None, "area_code"),
        (Role.PROVINCE, "99", None, "area_code"),
        (Role.PROVINCE, "00001", None, "area_code"),
        (Role.PROVINCE, "999", None, "area_code"),
        (Role.MINISTRY, "01", None, "area_code"),
        (Role.HEALTH_STATION, "00001", "F1", "facility_code"),
        ("superuser", "", None, "role"),
    ],
)
def test_accounts_without_the_area_their_role_needs_are_refused(
    session: Session, role: str, area: str, facility: str | None, field: str
) -> None:
    _facility(session)
    errors = check(session, NewUser("moi", str(role), area, PASSWORD, "", facility))
    assert field in errors, errors
    assert errors[field] and errors[field][0].isupper()


@pytest.mark.parametrize(
    ("role", "area", "facility"),
    [
        (Role.FACILITY, "01", "F1"),
        (Role.FACILITY, "001", "F1"),
        (Role.FACILITY, "00001", "F1"),
        (Role.HEALTH_STATION, "00001", None),
        (Role.PROVINCE, "01", None),
        (Role.PROVINCE, "021", None),  # a district health centre
        (Role.MINISTRY, "", None),
    ],
)
def test_real_areas_are_accepted(session: Session, role: Role, area: str, facility: str | None) -> None:
    _facility(session)
    assert create_user(session, NewUser("moi", role.value, area, PASSWORD, "", facility)).ok


def test_the_command_line_refuses_a_facility_account_without_a_facility(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.sqlite'}"
    create_schema(make_engine(url))
    runner = CliRunner()
    base = ["users", "add", "--username", "cs", "--role", "facility", "--area", "01", "--database", url]
    refused = runner.invoke(cli_app, base)
    assert refused.exit_code == 1
    assert "phải gắn với một cơ sở" in refused.output
    with make_session_factory(make_engine(url))() as session:
        assert session.scalar(select(User)) is None
        _facility(session)
        session.commit()
    assert runner.invoke(cli_app, [*base, "--facility", "F1"]).exit_code == 0


def test_demo_accounts_never_include_a_facility_account_without_a_facility(session: Session) -> None:
    created = seed_demo_users(session, "00001", password="mat-khau-demo-1")
    assert Role.FACILITY.value not in {role for _name, _password, role in created}
    _facility(session, "F9", ("01", "002", "00037"))
    again = seed_demo_users(session, "00001", facility_code="F9", password="mat-khau-demo-1")
    assert [role for _name, _password, role in again] == [Role.FACILITY.value]
    account = session.scalars(select(User).where(User.role == Role.FACILITY.value)).one()
    assert (account.facility_code, account.area_code) == ("F9", "01")

"""A small world for the web tests: one user per role in a home commune, the same in another province,
subjects and a worklist on both sides, and a logged-in TestClient per user.

With `scoped=True` (the attack suite's matrix), two more sides and accounts scoped at every level: a commune of
another district of the home province (district 021, Bắc Từ Liêm) and a commune of province 02 (Hà Giang: the
province an account of district 021 got by taking the code's first two digits), with a district-scoped department
account, a district-scoped and a commune-scoped facility account. Each side's people have their own names
(`MARKERS`), so a page that shows someone of another side can be caught by its text."""

import re
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.cleaning_factories import HOME_WARD, OTHER_WARD, PASSWORD, add_subject, add_user, add_village
from tiemchung.health.cleaning import workflow
from tiemchung.health.registry.models import Facility, Role, User
from tiemchung.health.web.app import create_app
from tiemchung.health.web.settings import Settings

AREA_BY_ROLE = {
    Role.FACILITY: lambda ward: ward[0],
    Role.HEALTH_STATION: lambda ward: ward[2],
    Role.VILLAGE_TEAM: lambda ward: ward[2],
    Role.COMMUNE_POLICE: lambda ward: ward[2],
    Role.PROVINCE: lambda ward: ward[0],
    Role.MINISTRY: lambda ward: "",
    Role.ADMIN: lambda ward: "",
}


NEIGHBOUR_WARD = ("01", "021", "00595")  # Phường Thượng Cát, Quận Bắc Từ Liêm, Hà Nội
PREFIX_WARD = ("02", "024", "00688")  # Phường Quang Trung, Thành phố Hà Giang
SIDES = {"home": HOME_WARD, "other": OTHER_WARD, "neighbour": NEIGHBOUR_WARD, "prefix": PREFIX_WARD}
# Text that shows a side's people on a page: their name and subject keys. (Facilities are not personal data: a
# page may list the facilities of a province to a district's account.)
NAMES = {
    "home": "Nguyễn Văn An",
    "other": "Nguyễn Văn Chiến",
    "neighbour": "Nguyễn Văn Bắc",
    "prefix": "Nguyễn Văn Dũng",
}
MARKERS = {side: (name, f"{side}-1", f"{side}-2") for side, name in NAMES.items()}
# username -> (role, area code) of the accounts the scoped world adds.
SCOPED_ACCOUNTS = {
    "province_district": (Role.PROVINCE, NEIGHBOUR_WARD[1]),
    "facility_district": (Role.FACILITY, NEIGHBOUR_WARD[1]),
    "facility_ward": (Role.FACILITY, HOME_WARD[2]),
}


@dataclass
class World:
    app: FastAPI
    ids: dict[str, dict[str, int]] = field(default_factory=dict)  # "home"/"other" -> {"subject_id": .., ...}

    def client(self, username: str) -> TestClient:
        client = TestClient(self.app, follow_redirects=False)
        page = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token is not None
        answer = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token.group(1)})
        assert answer.status_code == 303, answer.text
        home = client.get("/subjects") if username != "admin" else client.get("/login")
        found = re.search(r'"X-CSRF-Token": "([^"]+)"', home.text)
        client.headers["X-CSRF-Token"] = found.group(1) if found else ""
        return client


def build_world(session_factory: sessionmaker[Session], keys_dir: Path, *, scoped: bool = False) -> World:
    app = create_app(Settings(secret_key="test-secret", keys_dir=keys_dir), session_factory=session_factory)
    world = World(app)
    with session_factory() as session:
        for side in ("home", "other", "neighbour", "prefix") if scoped else ("home", "other"):
            world.ids[side] = _populate(session, side, SIDES[side])
        if scoped:
            for username, (role, area) in SCOPED_ACCOUNTS.items():
                facility = {"facility_district": "F-neighbour", "facility_ward": "F-home"}.get(username)
                add_user(session, username, role, area, facility_code=facility)
        session.commit()
    return world


def _populate(session: Session, side: str, ward: tuple[str, str, str]) -> dict[str, int]:
    facility = Facility(
        code=f"F-{side}", name=f"Cơ sở {side}", province_code=ward[0], district_code=ward[1], ward_code=ward[2]
    )
    session.add(facility)
    village = add_village(session, f"Thôn {side}", ward[2])
    session.flush()
    for role in Role:
        if side != "home" and role in (Role.MINISTRY, Role.ADMIN):
            continue
        if side in ("neighbour", "prefix") and role != Role.HEALTH_STATION:
            continue
        extra: dict[str, object] = {}
        if role == Role.FACILITY:
            extra["facility_code"] = facility.code
        if role == Role.VILLAGE_TEAM:
            extra["village_id"] = village.id
        add_user(session, _username(role, side), role, AREA_BY_ROLE[role](ward), **extra)
    subject = add_subject(session, f"{side}-1", ward=ward, **_named(NAMES[side]))
    add_subject(session, f"{side}-2", ward=ward, verification_category="MISMATCH", verification_reasons="NAME",
                **_named(NAMES[side]))  # fmt: skip
    station_user = session.scalars(select(User).where(User.username == _username(Role.HEALTH_STATION, side))).one()
    _outcome, worklist = workflow.build_worklist(session, station_user)
    assert worklist is not None
    return {
        "subject_id": subject.id,
        "worklist_id": worklist.id,
        "line_id": worklist.lines[0].id,
        "village_id": village.id,
        "user_id": station_user.id,
    }


def _named(full_name: str) -> dict[str, str]:
    from tiemchung.identity.names import fold_name

    return {"full_name": full_name, "full_name_raw": full_name, "name_canonical": full_name.lower(),
            "name_folded": fold_name(full_name)}  # fmt: skip


def _username(role: Role, side: str) -> str:
    return role.value if side == "home" else f"{role.value}_{side}"

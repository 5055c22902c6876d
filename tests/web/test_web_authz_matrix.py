"""Every endpoint × every role × own area / other area, generated from the app's routes.

A route without a `require_roles` rule fails here, so a new page cannot ship without deciding who may use it.
"""

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.support.routes import allowed_roles
from tests.support.web_world import World, build_world
from tiemchung.registry.models import Dose, Role
from tiemchung.web.app import route_modules

PUBLIC = {
    ("GET", "/login"),
    ("POST", "/login"),
    ("POST", "/api/v1/session"),
    # Offline certificate checking is for anyone holding a QR code (border officers, employers).
    ("GET", "/verify"),
    ("POST", "/verify"),
    ("GET", "/certificates/trust-list.json"),
    ("GET", "/certificates/revocation-list.json"),
    # FHIR clients read the server's capabilities before they log in.
    ("GET", "/fhir/metadata"),
}
SESSION_ENDING = {("POST", "/logout"), ("DELETE", "/api/v1/session")}
PATH_PARAMETERS = {"subject_id", "worklist_id", "line_id", "user_id", "dose_id"}
# Path parameters that name nothing inside an area (a facility's public record, a ministry-only export job).
FIXED_PARAMETERS = {"code": "F-home", "job_id": "no-such-export-job-0000", "kind": "Patient"}
IDENTITY = {"full_name": "Nguyễn Văn Bình", "birth_date": "01/05/1980", "sex": "Nam", "id_number": "", "note": "x"}
DOSE = {"vaccine": "Pfizer", "vaccination_date": "2022-01-10", "dose_kind": "1", "lot_number": "L1"}
# A valid body per mutating route, so that the area check (inside the endpoint) is reached for the other area.
BODIES: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {
    ("POST", "/cleaning/worklists"): ("form", {"title": "t"}),
    ("POST", "/cleaning/worklists/{worklist_id}/assign"): ("form", {"village_id": "{village_id}", "line_ids": []}),
    ("POST", "/cleaning/lines/{line_id}/family"): ("form", {**IDENTITY, "outcome": "corrected"}),
    ("POST", "/cleaning/worklists/{worklist_id}/send-to-police"): ("form", {}),
    ("POST", "/cleaning/lines/{line_id}/police"): ("form", {**IDENTITY, "decision": "confirmed"}),
    ("POST", "/cleaning/lines/{line_id}/send-back"): ("form", {"note": "x"}),
    ("POST", "/cleaning/worklists/{worklist_id}/sign"): ("form", {}),
    ("POST", "/cleaning/worklists/{worklist_id}/confirm"): ("form", {}),
    ("POST", "/cleaning/worklists/{worklist_id}/reopen"): ("form", {"note": "x"}),
    ("POST", "/cleaning/worklists/{worklist_id}/apply"): ("form", {}),
    ("POST", "/subjects/{subject_id}/doses"): ("form", DOSE),
    ("POST", "/admin/users"): ("form", {"username": "new-user", "role": "ministry"}),
    ("POST", "/api/v1/subjects/{subject_id}/doses"): ("json", DOSE),
    ("POST", "/api/v1/cleaning/worklists"): ("json", {"title": "t"}),
    ("POST", "/api/v1/cleaning/worklists/{worklist_id}/assign"): (
        "json",
        {"village_id": "{village_id}", "line_ids": []},
    ),
    ("POST", "/api/v1/cleaning/lines/{line_id}/family"): ("json", {**IDENTITY, "outcome": "corrected"}),
    ("POST", "/api/v1/cleaning/worklists/{worklist_id}/send-to-police"): ("json", {}),
    ("POST", "/api/v1/cleaning/lines/{line_id}/police"): ("json", {**IDENTITY, "decision": "confirmed"}),
    ("POST", "/api/v1/cleaning/lines/{line_id}/send-back"): ("json", {"note": "x"}),
    ("POST", "/api/v1/cleaning/worklists/{worklist_id}/sign"): ("json", {}),
    ("POST", "/api/v1/cleaning/worklists/{worklist_id}/confirm"): ("json", {}),
    ("POST", "/api/v1/cleaning/worklists/{worklist_id}/reopen"): ("json", {"note": "x"}),
    ("POST", "/api/v1/cleaning/worklists/{worklist_id}/apply"): ("json", {}),
    ("POST", "/subjects/{subject_id}/certificates/revoke"): ("form", {"uvci": "x", "reason": "y"}),
    ("POST", "/api/v1/subjects/{subject_id}/certificates/revoke"): ("json", {"uvci": "x", "reason": "y"}),
}
QUERIES = {("GET", "/api/v1/subjects"): {"q": "nguyen van an"}, ("GET", "/subjects"): {"q": "nguyen van an"}}


def all_routes() -> list[tuple[str, APIRoute]]:
    return [
        (method, route)
        for module in route_modules()
        for route in module.router.routes
        if isinstance(route, APIRoute)
        for method in sorted(route.methods)
    ]


def test_every_route_states_its_roles() -> None:
    missing = [
        f"{method} {route.path}"
        for method, route in all_routes()
        if (method, route.path) not in PUBLIC and allowed_roles(route) is None
    ]
    assert not missing, f"routes without require_roles(...): {missing}"
    unknown = {
        name
        for _method, route in all_routes()
        for name in route.param_convertors
        if name not in PATH_PARAMETERS | FIXED_PARAMETERS.keys()
    }
    assert not unknown, f"add own/other-area values for path parameters {unknown} to this test"


def _fill(template: str, ids: dict[str, int]) -> str:
    for name, value in {**FIXED_PARAMETERS, **ids}.items():
        template = template.replace("{" + name + "}", str(value))
    return template


def _call(world_client: Any, method: str, route: APIRoute, ids: dict[str, int]) -> int:
    kind, body = BODIES.get((method, route.path), ("none", {}))
    filled = {key: (_fill(value, ids) if isinstance(value, str) else value) for key, value in body.items()}
    if "village_id" in filled:
        filled["village_id"] = int(filled["village_id"])
    arguments: dict[str, Any] = {"params": QUERIES.get((method, route.path), {})}
    if kind == "form":
        arguments["data"] = filled
    elif kind == "json":
        arguments["json"] = filled
    response = world_client.request(method, _fill(route.path, ids), **arguments)
    assert response.status_code < 500, f"{method} {route.path}: {response.status_code} {response.text[:300]}"
    return response.status_code


@pytest.fixture
def world(session_factory: sessionmaker[Session], tmp_path: Path) -> World:
    world = build_world(session_factory, tmp_path / "keys")
    with session_factory() as session:
        for side, ids in world.ids.items():
            dose = Dose(
                record_id=f"R-{side}",
                subject_id=ids["subject_id"],
                vaccine="Pfizer",
                vaccination_date=date(2021, 9, 1),
                dose_kind="1",
                facility_code=f"F-{side}",
            )
            session.add(dose)
            session.flush()
            ids["dose_id"] = dose.id
        session.commit()
    return world


def test_roles_and_areas(world: World) -> None:
    clients = {role: world.client(role.value) for role in Role}
    failures = []
    for method, route in all_routes():
        if (method, route.path) in PUBLIC | SESSION_ENDING:
            continue
        roles = allowed_roles(route) or frozenset()
        has_area = bool(set(route.param_convertors) & PATH_PARAMETERS)
        for role, client in clients.items():
            own = _call(client, method, route, world.ids["home"])
            if role not in roles:
                if own != 403:
                    failures.append(f"{role} got {own} on {method} {route.path} (expected 403)")
                continue
            if own in (401, 403):
                failures.append(f"{role} refused ({own}) on {method} {route.path} in its own area")
            if has_area:
                other = _call(client, method, route, world.ids["other"])
                national = role in (Role.MINISTRY, Role.ADMIN)
                if national == (other == 403):
                    failures.append(f"{role} got {other} on {method} {route.path} in another province")
    assert not failures, "\n".join(failures)


def test_lists_never_show_another_communes_people(world: World) -> None:
    client = world.client(Role.HEALTH_STATION.value)
    worklists = client.get("/api/v1/cleaning/worklists").json()
    assert [item["id"] for item in worklists] == [world.ids["home"]["worklist_id"]]
    found = client.get("/api/v1/subjects", params={"q": "nguyen van an"}).json()
    assert {item["ward_code"] for item in found} == {"00001"}


def test_supervisors_see_masked_id_numbers(world: World) -> None:
    subject_id = world.ids["home"]["subject_id"]
    with world.app.state.session_factory() as session:
        from tiemchung.registry.models import Subject

        subject = session.get(Subject, subject_id)
        assert subject is not None
        subject.id_number = "001080000123"
        session.commit()
    assert world.client("province").get(f"/api/v1/subjects/{subject_id}").json()["id_number"] == "•••••••••123"
    assert world.client("health_station").get(f"/api/v1/subjects/{subject_id}").json()["id_number"] == "001080000123"


def test_public_routes_answer_without_logging_in(world: World) -> None:
    anonymous = TestClient(world.app, follow_redirects=False)
    for method, path in sorted(PUBLIC):
        if method == "GET":
            assert anonymous.get(path).status_code == 200, path

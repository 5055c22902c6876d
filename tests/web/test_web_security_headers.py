"""Security headers on every answer (issue 16 item 13), and every page of every role in Chromium without a single
console error: a Content Security Policy violation (an inline script, an `onclick=`, htmx's own inline style)
is a console error there, so a page that breaks the policy fails this test."""

import re
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.certificates_world import certificate_world, serve
from tests.support.routes import allowed_roles
from tests.support.web_world import World
from tiemchung.health.certificates.models import Certificate
from tiemchung.health.registry.models import Role
from tiemchung.health.web.app import route_modules
from tiemchung.health.web.security_headers import CONTENT_SECURITY_POLICY

DOWNLOADS = (".json", ".xlsx", ".csv", "/pdf", "/imports/errors")  # files, not pages


@pytest.fixture
def world(session_factory: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    world = certificate_world(session_factory, tmp_path, monkeypatch)
    ministry = world.client("ministry")
    assert ministry.post(f"/subjects/{world.ids['home']['subject_id']}/certificates").status_code == 303
    return world


def test_every_answer_carries_the_security_headers(world: World) -> None:
    anonymous = TestClient(world.app, follow_redirects=False)
    facility = world.client("facility")
    answers = [
        anonymous.get("/login"),
        anonymous.get("/verify"),
        anonymous.get("/subjects"),  # a redirect to the log-in page
        anonymous.get("/api/v1/subjects", params={"q": "x"}),  # 401
        facility.get("/subjects", params={"q": "nguyen"}),
        facility.get(f"/subjects/{world.ids['home']['subject_id']}"),
        facility.get("/api/v1/subjects", params={"q": "nguyen"}),
        facility.get("/no-such-page"),
    ]
    for answer in answers:
        assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, answer.url
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "same-origin"
        assert answer.headers["cache-control"] == "no-store", answer.url
    static = anonymous.get("/static/app.css")
    assert static.headers["x-content-type-options"] == "nosniff" and "no-store" not in static.headers.get(
        "cache-control", ""
    )


def test_no_page_loads_anything_from_another_site(world: World) -> None:
    """Swagger UI came from a CDN: production networks have no internet, and the CSP refuses it. Not served."""
    anonymous = TestClient(world.app, follow_redirects=False)
    assert anonymous.get("/docs").status_code == 404 and anonymous.get("/redoc").status_code == 404
    assert anonymous.get("/openapi.json").json()["info"]["title"] == "tiemchung"
    for path in ("/login", "/verify"):
        assert not re.search(r'(src|href)="(https?:)?//', anonymous.get(path).text)


def _all_routes() -> list[tuple[str, APIRoute]]:
    return [
        (method, route)
        for module in route_modules()
        for route in module.router.routes
        if isinstance(route, APIRoute)
        for method in sorted(route.methods)
    ]


def _page_urls(world: World, role: Role) -> list[str]:
    with world.app.state.session_factory() as session:
        uvci = session.scalars(select(Certificate.uvci)).first()
    ids = {name: str(value) for name, value in world.ids["home"].items()}
    urls = []
    for method, route in _all_routes():
        assert isinstance(route, APIRoute)
        if method != "GET" or route.path.startswith(("/api/", "/fhir/")) or route.path.endswith(DOWNLOADS):
            continue
        if any(parameter.field_info.is_required() for parameter in route.dependant.query_params):
            continue  # a fragment or a file that needs its job or file name (htmx polling, downloads)
        roles = allowed_roles(route)
        if roles is not None and role not in roles:
            continue
        url = re.sub(r"\{(\w+)\}", lambda match: ids[match.group(1)], route.path)
        urls.append(url + (f"?uvci={quote(uvci or '', safe='')}" if url.endswith("/print") else ""))
    return urls


@pytest.mark.browser
@pytest.mark.slow
def test_every_page_of_every_role_runs_without_a_console_error(world: World, browser_page) -> None:  # type: ignore[no-untyped-def]
    from tests.support.browser import log_in

    page = browser_page
    errors: list[str] = []
    page.on("console", lambda message: errors.append(f"{page.url}: {message.text}") if message.type == "error" else 0)
    page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
    with serve(world) as base:
        visited = 0
        for role in Role:
            if role != Role.ADMIN:
                log_in(page, base, role.value)
            else:
                _log_in_admin(page, base)
            for url in _page_urls(world, role):
                answer = page.goto(base + url)
                assert answer is not None and answer.status < 400, (role, url, answer.status if answer else None)
                visited += 1
            page.context.clear_cookies()  # the next role logs in afresh
        for url in ("/login", "/verify"):
            page.goto(base + url)
    assert visited > 40
    assert errors == []


def _log_in_admin(page, base: str) -> None:  # type: ignore[no-untyped-def]
    from tests.support.cleaning_factories import PASSWORD

    page.goto(f"{base}/login")
    page.get_by_label("Tên đăng nhập").fill("admin")
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_load_state()

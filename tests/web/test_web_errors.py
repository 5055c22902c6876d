"""The shapes of error answers: a fragment for htmx's message area, a small page without htmx, JSON for the API.

The browser side (htmx really showing them) is `test_web_browser_errors.py`.
"""

from pathlib import Path

import pytest
from fastapi import Depends
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy.orm import Session, sessionmaker

from tests.support.web_world import World, build_world
from tiemchung.health.registry.models import Role
from tiemchung.health.web.csrf import REFUSED
from tiemchung.health.web.deps import OUTSIDE_AREA, require_roles
from tiemchung.health.web.errors import HTMX_ERROR_HEADERS, NOT_FOUND, SERVER_ERROR

HTMX = {"HX-Request": "true"}


@pytest.fixture
def world(session_factory: sessionmaker[Session], tmp_path: Path) -> World:
    return build_world(session_factory, tmp_path / "keys")


def is_fragment(answer: Response, message: str) -> bool:
    """A message for `#error-area`: retargeted there, the address kept, no page around it."""
    headers = {name: answer.headers.get(name) for name in HTMX_ERROR_HEADERS}
    return headers == HTMX_ERROR_HEADERS and message in answer.text and "<html" not in answer.text


def is_page(answer: Response, message: str) -> bool:
    return (
        answer.headers["content-type"].startswith("text/html")
        and "<html" in answer.text
        and message in answer.text
        and "hx-retarget" not in answer.headers
    )


def test_a_route_refusal_is_a_fragment_for_htmx_a_page_without_it_and_json_for_the_api(world: World) -> None:
    client = world.client("facility")
    other = world.ids["other"]["subject_id"]

    assert client.get(f"/subjects/{other}", headers=HTMX).status_code == 403
    assert is_fragment(client.get(f"/subjects/{other}", headers=HTMX), OUTSIDE_AREA)
    plain = client.get(f"/subjects/{other}")
    assert plain.status_code == 403 and is_page(plain, OUTSIDE_AREA)
    api = client.get(f"/api/v1/subjects/{other}")
    assert api.status_code == 403 and api.json() == {"detail": OUTSIDE_AREA}


def test_a_refused_value_says_which_field_in_vietnamese_and_the_api_keeps_fastapis_list(world: World) -> None:
    client = world.client("facility")

    # The search reads what is typed itself (a wrong birth year is said next to its box, tests/web/
    # test_web_people_pages.py); a page number only links make is refused by its type.
    answer = client.get("/subjects", params={"q": "nguyen", "page": "2a"}, headers=HTMX)
    assert answer.status_code == 422
    assert is_fragment(answer, "Dữ liệu gửi lên chưa hợp lệ: Trang phải là một số.")
    too_far = client.get("/subjects", params={"q": "nguyen", "page": "0"})
    assert too_far.status_code == 422 and is_page(too_far, "Trang phải từ 1 trở lên")
    missing = client.post(f"/subjects/{world.ids['home']['subject_id']}/doses", data={"vaccine": "Pfizer"})
    assert missing.status_code == 422
    assert is_page(missing, "Ngày tiêm chưa được điền") and "Chưa có gì được lưu." in missing.text
    api = client.get("/api/v1/subjects", params={"q": "nguyen", "page": "2a"})
    assert api.status_code == 422 and api.json()["detail"][0]["loc"] == ["query", "page"]


def test_a_csrf_refusal_and_an_unknown_page_are_shown_too(world: World) -> None:
    client = world.client("health_station")

    forged = {**HTMX, "X-CSRF-Token": "forged"}
    assert is_fragment(client.post("/cleaning/worklists", data={"title": "x"}, headers=forged), REFUSED)
    client.headers.pop("X-CSRF-Token")
    plain = client.post("/cleaning/worklists", data={"title": "x"})
    assert plain.status_code == 403 and is_page(plain, REFUSED)
    assert client.post("/api/v1/cleaning/worklists", json={}).json() == {"detail": REFUSED}

    assert is_fragment(client.get("/no-such-page", headers=HTMX), NOT_FOUND)
    assert is_page(client.get("/no-such-page"), NOT_FOUND)


def test_a_server_error_is_shown_without_its_stack_trace(world: World) -> None:
    def broken(_user: object = Depends(require_roles(Role.FACILITY))) -> None:
        raise RuntimeError("a bug")

    world.app.add_api_route("/broken", broken)
    client = world.client("facility")
    client = TestClient(world.app, cookies=client.cookies, raise_server_exceptions=False)

    htmx = client.get("/broken", headers=HTMX)
    assert htmx.status_code == 500 and is_fragment(htmx, SERVER_ERROR) and "a bug" not in htmx.text
    plain = client.get("/broken")
    assert plain.status_code == 500 and is_page(plain, SERVER_ERROR) and "a bug" not in plain.text


def test_pages_rendered_with_an_error_status_stay_whole_pages_for_htmx(world: World) -> None:
    client = TestClient(world.app)
    token = client.get("/login").text.split('name="csrf_token" value="')[1].split('"')[0]
    refused = client.post("/login", data={"username": "facility", "password": "x", "csrf_token": token}, headers=HTMX)
    assert refused.status_code == 401
    assert "hx-retarget" not in refused.headers and "<form" in refused.text and "không đúng" in refused.text


def test_htmx_reloading_a_page_missing_from_its_history_cache_gets_the_page(world: World) -> None:
    client = world.client("facility")
    restore = client.get("/no-such-page", headers={**HTMX, "HX-History-Restore-Request": "true"})
    assert restore.status_code == 404 and is_page(restore, NOT_FOUND)


def test_the_search_gives_its_results_alone_only_to_its_own_swap(world: World) -> None:
    """The back button after a search: htmx reloads a page missing from its history cache with HX-Request, and
    a boosted link sends it too; both must get the whole page, or the page becomes the results table alone."""
    client = world.client("facility")
    search = {"q": "nguyen"}

    assert "<html" not in client.get("/subjects", params=search, headers=HTMX).text
    restored = client.get("/subjects", params=search, headers={**HTMX, "HX-History-Restore-Request": "true"})
    boosted = client.get("/subjects", params=search, headers={**HTMX, "HX-Boosted": "true"})
    assert "<html" in restored.text and "<html" in boosted.text

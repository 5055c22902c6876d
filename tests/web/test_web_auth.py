"""Log-in, lock-out, CSRF, log-out, demo accounts."""

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.cleaning_factories import PASSWORD, add_user
from tiemchung.health.registry.models import AuditEvent, Facility, Role, User
from tiemchung.health.web.app import create_app
from tiemchung.health.web.settings import Settings
from tiemchung.health.web.users import seed_demo_users


def make_client(session_factory: sessionmaker[Session], tmp_path: Path) -> TestClient:
    app = create_app(Settings(secret_key="k", keys_dir=tmp_path), session_factory=session_factory)
    return TestClient(app, follow_redirects=False)


def form_token(client: TestClient) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert found is not None
    return found.group(1)


def log_in(client: TestClient, username: str, password: str) -> int:
    data = {"username": username, "password": password, "csrf_token": form_token(client), "next": "/subjects"}
    return client.post("/login", data=data).status_code


def test_pages_redirect_to_log_in_and_the_api_answers_401(session_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    client = make_client(session_factory, tmp_path)
    assert client.get("/cleaning").headers["location"] == "/login?next=%2Fcleaning"
    assert client.get("/api/v1/cleaning/worklists").status_code == 401


def test_five_failures_lock_the_account_for_fifteen_minutes(session_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        add_user(session, "tram", Role.HEALTH_STATION, "00001")
        session.commit()
    client = make_client(session_factory, tmp_path)
    assert [log_in(client, "tram", "sai-mat-khau") for _ in range(5)] == [401] * 5
    assert log_in(client, "tram", PASSWORD) == 401, "the right password must not open a locked account"
    assert (
        "tạm khóa"
        in client.post("/login", data={"username": "tram", "password": PASSWORD, "csrf_token": form_token(client)}).text
    )
    with session_factory() as session:
        user = session.scalars(select(User).where(User.username == "tram")).one()
        assert user.locked_until is not None
        user.locked_until = datetime.now(UTC) - timedelta(seconds=1)  # the 15 minutes have passed
        session.commit()
    assert log_in(client, "tram", PASSWORD) == 303
    with session_factory() as session:
        actions = session.scalars(select(AuditEvent.action).where(AuditEvent.actor == "tram")).all()
        assert "lockout" in actions and "login" in actions


def test_unknown_user_gets_the_same_answer(session_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    client = make_client(session_factory, tmp_path)
    answer = client.post("/login", data={"username": "ai-do", "password": "x", "csrf_token": form_token(client)})
    assert answer.status_code == 401 and "Tên đăng nhập hoặc mật khẩu không đúng" in answer.text


def test_mutations_need_the_csrf_token(session_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        add_user(session, "tram", Role.HEALTH_STATION, "00001")
        session.commit()
    client = make_client(session_factory, tmp_path)
    assert client.post("/login", data={"username": "tram", "password": PASSWORD}).status_code == 403
    assert log_in(client, "tram", PASSWORD) == 303
    assert client.post("/cleaning/worklists", data={"title": "x"}).status_code == 403
    assert client.post("/api/v1/cleaning/worklists", json={}, headers={"X-CSRF-Token": "forged"}).status_code == 403
    token = re.search(r'"X-CSRF-Token": "([^"]+)"', client.get("/cleaning").text)
    assert token is not None
    answer = client.post("/api/v1/cleaning/worklists", json={}, headers={"X-CSRF-Token": token.group(1)})
    assert answer.status_code == 409, "past CSRF and the role check: nothing to list in an empty commune"
    form = client.post("/cleaning/worklists", data={"title": "x", "csrf_token": token.group(1)})
    assert form.status_code == 303


def test_api_log_in_gives_the_token_and_log_out_ends_the_session(session_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        add_user(session, "tram", Role.HEALTH_STATION, "00001")
        session.commit()
    client = make_client(session_factory, tmp_path)
    info = client.post("/api/v1/session", json={"username": "tram", "password": PASSWORD}).json()
    assert info["role"] == "health_station"
    headers = {"X-CSRF-Token": info["csrf_token"]}
    assert client.get("/api/v1/cleaning/worklists").status_code == 200
    assert client.delete("/api/v1/session", headers=headers).status_code == 204
    assert client.get("/api/v1/cleaning/worklists").status_code == 401


def test_after_log_in_only_local_paths(session_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with session_factory() as session:
        add_user(session, "tram", Role.HEALTH_STATION, "00001")
        session.commit()
    client = make_client(session_factory, tmp_path)
    data = {"username": "tram", "password": PASSWORD, "csrf_token": form_token(client), "next": "//evil.example"}
    assert client.post("/login", data=data).headers["location"] == "/"


def test_demo_accounts_one_per_role(session: Session) -> None:
    session.add(Facility(code="F1", name="Trạm Y tế Phúc Xá", province_code="01", ward_code="00001"))
    created = seed_demo_users(session, "00001", facility_code="F1", password="mat-khau-demo-1")
    session.commit()
    assert sorted(role for _name, _password, role in created) == sorted(role.value for role in Role)
    users = {user.role: user for user in session.scalars(select(User))}
    assert users["health_station"].area_code == "00001" and users["province"].area_code == "01"
    assert users["village_team"].village_id is not None
    assert seed_demo_users(session, "00001") == [], "existing accounts are kept, not duplicated"

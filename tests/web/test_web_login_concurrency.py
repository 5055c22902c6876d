"""The log-in lock-out under parallel requests, unknown user names, and the per-address throttle (issue 16 item 4).

Real concurrency: threads against the app served by uvicorn, on SQLite and PostgreSQL. What is counted is the
argon2 verifications against the account's real hash: never more than the limit, however many requests race.
"""

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.support.cleaning_factories import PASSWORD, add_user
from tests.support.live_server import live_server
from tiemchung.health.registry.models import Role
from tiemchung.health.web import security
from tiemchung.health.web.app import create_app
from tiemchung.health.web.settings import Settings

PARALLEL = 20


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every argon2 verification, as "real" (an account's hash) or "dummy" (the stand-in)."""
    seen: list[str] = []
    real_check = security.password_matches

    def counting(password_hash: str, password: str) -> bool:
        seen.append("dummy" if password_hash == security._DUMMY_HASH else "real")
        return real_check(password_hash, password)

    monkeypatch.setattr(security, "password_matches", counting)
    yield seen


def _server(session_factory: sessionmaker[Session], tmp_path: Path, **settings: int):  # type: ignore[no-untyped-def]
    with session_factory() as session:
        add_user(session, "tram", Role.HEALTH_STATION, "00001")
        session.commit()
    app = create_app(Settings(secret_key="k", keys_dir=tmp_path, **settings), session_factory=session_factory)  # type: ignore[arg-type]
    return live_server(app)


def _log_in(base: str, username: str, password: str) -> httpx.Response:
    return httpx.post(f"{base}/api/v1/session", json={"username": username, "password": password}, timeout=60)


def test_parallel_log_ins_check_no_more_passwords_than_the_limit(
    session_factory: sessionmaker[Session], tmp_path: Path, checks: list[str]
) -> None:
    with _server(session_factory, tmp_path) as base, ThreadPoolExecutor(PARALLEL) as pool:
        wrong = list(pool.map(lambda n: _log_in(base, "tram", f"sai-mat-khau-{n}"), range(PARALLEL)))
        assert {answer.status_code for answer in wrong} == {401}
        assert checks.count("real") <= 5, f"{checks.count('real')} passwords checked, the limit is 5"
        assert len(checks) == PARALLEL, "every answer costs one argon2 verification"
        # Before the fix the 11th-16th requests of such a burst got in with the right password.
        assert _log_in(base, "tram", PASSWORD).status_code == 401, "locked: even the right password is refused"
        assert checks.count("real") <= 5


def test_unknown_and_known_names_answer_alike(
    session_factory: sessionmaker[Session], tmp_path: Path, checks: list[str]
) -> None:
    with _server(session_factory, tmp_path) as base:
        known = [_log_in(base, "tram", "sai-mat-khau").json()["detail"] for _ in range(6)]
        unknown = [_log_in(base, "khong-co-ai", "sai-mat-khau").json()["detail"] for _ in range(6)]
        assert known == unknown
        assert "tạm khóa" in known[-1] and "tạm khóa" in known[4] and "tạm khóa" not in known[3]
        assert len(checks) == 12, "locked or unknown, every answer costs one argon2 verification"


def test_one_address_is_throttled_across_user_names(
    session_factory: sessionmaker[Session], tmp_path: Path, checks: list[str]
) -> None:
    with _server(session_factory, tmp_path, max_failed_logins_per_address=3) as base:
        assert _log_in(base, "tram", PASSWORD).status_code == 200, "a success gives its place back"
        for name in ("an", "binh", "chi"):
            assert _log_in(base, name, "doan-mo").json()["detail"] == security.WRONG_CREDENTIALS
        refused = _log_in(base, "tram", PASSWORD)
        assert refused.status_code == 401 and "tạm khóa" in refused.json()["detail"]

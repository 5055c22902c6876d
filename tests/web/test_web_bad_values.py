"""Values the database refuses are bad input (422 with a reason), never a 500. Found by the API fuzzer."""

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.support.web_world import build_world
from tiemchung.health.web.app import INVALID_VALUE


def test_a_nul_character_in_a_login_is_refused_as_bad_input(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    world = build_world(session_factory, tmp_path / "keys")
    client = TestClient(world.app)

    response = client.post("/api/v1/session", json={"username": "\u0000", "password": "x"})

    if session_factory.kw["bind"].dialect.name == "postgresql":  # PostgreSQL text cannot hold NUL
        assert response.status_code == 422, response.text
        assert response.json()["detail"] == INVALID_VALUE
    else:  # SQLite stores it: simply no such user
        assert response.status_code == 401, response.text

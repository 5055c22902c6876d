"""Request bodies are never read whole before authentication, and each endpoint caps its body (issue 16, item 6).

The probe sent 1 GiB to an API POST without a session: the CSRF check read it into memory first. Here a real server
(uvicorn on a free port) gets bodies declared far larger than they are: the answer must come at once, before the
client has sent them, and a large upload made as a plain form (the token in the body) stays out of memory.
"""

import http.client
import re
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy.orm import Session, sessionmaker

from tests.support.cleaning_factories import PASSWORD, add_user
from tests.support.ports import free_port
from tiemchung.health.registry.models import Facility, Role
from tiemchung.health.web.app import create_app
from tiemchung.health.web.settings import Settings

GIB = 1024 * 1024 * 1024


@pytest.fixture
def server(session_factory: sessionmaker[Session], tmp_path: Path) -> Iterator[str]:
    with session_factory.begin() as session:
        session.add(Facility(code="CS01", name="Trạm Y tế Phúc Xá", province_code="01", ward_code="00001"))
        session.flush()
        add_user(session, "coso", Role.FACILITY, "01", facility_code="CS01")
    app = create_app(Settings(secret_key="limits", keys_dir=tmp_path / "keys"), session_factory=session_factory)
    app.state.imports_dir = tmp_path / "imports"
    app.state.import_upload_limit = 64 * 1024 * 1024
    uvicorn_server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=uvicorn_server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uvicorn_server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"127.0.0.1:{uvicorn_server.config.port}"
    uvicorn_server.should_exit = True
    thread.join(timeout=10)


def _declared_but_not_sent(host: str, path: str, length: int, headers: dict[str, str]) -> tuple[int, float]:
    """Send only the headers of a body of `length` bytes and a first kilobyte; the answer's status and delay."""
    connection = http.client.HTTPConnection(host, timeout=10)
    connection.putrequest("POST", path)
    for name, value in {**headers, "Content-Length": str(length)}.items():
        connection.putheader(name, value)
    connection.endheaders()
    started = time.monotonic()
    connection.send(b"x" * 1024)
    response = connection.getresponse()
    return response.status, time.monotonic() - started


def _logged_in(host: str) -> httpx.Client:
    client = httpx.Client(base_url=f"http://{host}", follow_redirects=False)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token is not None
    answer = client.post("/login", data={"username": "coso", "password": PASSWORD, "csrf_token": token[1]})
    assert answer.status_code == 303
    return client


def test_a_gigabyte_without_a_session_is_refused_before_it_is_read(server: str) -> None:
    cases = [
        ("/api/v1/imports", 60 * 1024 * 1024, 401),  # within the upload limit: not logged in
        ("/api/v1/cleaning/worklists", 512 * 1024, 401),
        ("/imports", 60 * 1024 * 1024, 403),  # a page's form without a session: no CSRF token can match
        ("/api/v1/imports", GIB, 413),  # over the endpoint's limit
        ("/api/v1/cleaning/worklists", GIB, 413),
    ]
    for path, length, expected in cases:
        status, seconds = _declared_but_not_sent(server, path, length, {"Content-Type": "application/json"})
        assert (status, path, length) == (expected, path, length) and seconds < 2


def test_each_endpoint_caps_its_body(server: str) -> None:
    client = _logged_in(server)
    cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/imports").text)
    assert token is not None
    headers = {"Cookie": cookie, "X-CSRF-Token": token[1], "Content-Type": "application/json"}
    status, seconds = _declared_but_not_sent(server, "/api/v1/cleaning/worklists", 2 * 1024 * 1024, headers)
    assert status == 413 and seconds < 2
    status, seconds = _declared_but_not_sent(server, "/imports", 65 * 1024 * 1024, headers)
    assert status == 413 and seconds < 2

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is counted as the body streams in
        for _ in range(3 * 1024):
            yield b"y" * 1024

    streamed = client.post("/api/v1/cleaning/worklists", content=chunks(), headers=headers)
    assert streamed.status_code == 413 and "quá lớn" in streamed.json()["detail"]


def test_a_large_plain_form_upload_is_spooled_not_held(server: str, tmp_path: Path) -> None:
    """Without JavaScript the upload form carries its CSRF token in the body: the body goes to disk to find it."""
    client = _logged_in(server)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/imports").text)
    assert token is not None
    big = tmp_path / "lon.csv"
    big.write_bytes(b"subject_id,record_id\n" + b"S1,R1\n" * (40 * 1024 * 1024 // 6))
    tracemalloc.start()
    try:
        with big.open("rb") as handle:
            answer = client.post("/imports", data={"csrf_token": token[1]}, files={"file": ("lon.csv", handle)})
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert answer.status_code == 303, answer.text
    assert peak < 16 * 1024 * 1024, f"peak {peak // 2**20} MB for a {big.stat().st_size // 2**20} MB upload"

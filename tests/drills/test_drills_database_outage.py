"""Drill: the database drops every connection of the app while it is serving writes (what a PostgreSQL restart
looks like to the application). Requests fail with a clear 503, the app recovers by itself, no acknowledged write
is lost.

The machine's PostgreSQL server is shared, so the drill does not restart it: it terminates every backend of the
app's own database, several times, with `pg_terminate_backend`.
"""

import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from drill_server import Server, add_facility_user, logged_in_client, record_rows, write_records_xlsx
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from tiemchung.registry.db import create_schema, make_engine, make_session_factory
from tiemchung.registry.importer import import_records
from tiemchung.registry.models import Dose, Subject
from tiemchung.web.app import DATABASE_UNAVAILABLE, create_app
from tiemchung.web.settings import Settings

# A crash in a writer thread must fail the drill, not pass as a warning.
pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
SUBJECTS = 20
WRITERS = 3
OUTAGES = 5
SECONDS_BETWEEN_OUTAGES = 1.0
DOSE = {"vaccine": "Pfizer", "vaccination_date": "2022-01-10", "dose_kind": "booster_1", "lot_number": "FK1234"}
TERMINATE = (
    "select count(pg_terminate_backend(pid)) from pg_stat_activity where datname = :name and pid <> pg_backend_pid()"
)


@pytest.fixture
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database of this drill only, with the schema: its backends are the app's alone."""
    name = f"drill_outage_{uuid.uuid4().hex[:8]}"
    admin = make_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'create database "{name}"'))
    url = make_url(postgres_server_url).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    create_schema(engine)
    engine.dispose()
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'drop database if exists "{name}" with (force)'))
    admin.dispose()


@dataclass
class WriteLog:
    """What the writers saw: the doses acknowledged (2xx), and every refused answer."""

    acknowledged: list[int] = field(default_factory=list)
    refused: list[httpx.Response] = field(default_factory=list)
    transport_errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _writer(server: Server, subject_ids: list[int], stop: threading.Event, log: WriteLog) -> None:
    client, token = logged_in_client(server, timeout=30)
    turn = 0
    try:
        while not stop.is_set():
            subject_id = subject_ids[turn % len(subject_ids)]
            turn += 1
            try:
                answer = client.post(f"/api/v1/subjects/{subject_id}/doses", json=DOSE, headers={"X-CSRF-Token": token})
            except httpx.TransportError as error:  # must not happen: the server itself stays up
                with log.lock:
                    log.transport_errors.append(repr(error))
                continue
            with log.lock:
                if answer.is_success:
                    log.acknowledged.append(int(answer.json()["dose"]["id"]))
                else:
                    log.refused.append(answer)
    finally:
        client.close()


def _terminate_app_connections(url: str) -> int:
    """Close every connection of the app's database from the server side, as a restart of PostgreSQL does."""
    name = make_url(url).database
    admin = make_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        terminated = int(connection.scalar(text(TERMINATE), {"name": name}) or 0)
    admin.dispose()
    return terminated


@pytest.mark.slow
@pytest.mark.postgres
def test_dropped_database_connections_give_a_clear_503_then_recover_without_lost_writes(
    postgres_url: str, tmp_path: Path
) -> None:
    engine = make_engine(postgres_url)
    session_factory = make_session_factory(engine)
    add_facility_user(session_factory)
    records = write_records_xlsx(tmp_path / "records.xlsx", record_rows(SUBJECTS))
    assert import_records(session_factory, records, actor="cs01", facility_code="CS01").ok
    with session_factory() as session:
        subject_ids = list(session.scalars(select(Subject.id)))
        doses_before = set(session.scalars(select(Dose.id)))
    server = Server(postgres_url, tmp_path).start()
    stop, log = threading.Event(), WriteLog()
    writers = [threading.Thread(target=_writer, args=(server, subject_ids, stop, log)) for _ in range(WRITERS)]
    try:
        for writer in writers:
            writer.start()
        terminated = []
        for _ in range(OUTAGES):
            time.sleep(SECONDS_BETWEEN_OUTAGES)
            terminated.append(_terminate_app_connections(postgres_url))
        acknowledged_at_last_outage = len(log.acknowledged)
        time.sleep(SECONDS_BETWEEN_OUTAGES)
        stop.set()
        for writer in writers:
            writer.join(timeout=60)
        recovered, token = logged_in_client(server)
        answer = recovered.post(f"/api/v1/subjects/{subject_ids[0]}/doses", json=DOSE, headers={"X-CSRF-Token": token})
        recovered.close()
        assert answer.status_code == 201, answer.text
        log.acknowledged.append(int(answer.json()["dose"]["id"]))
    finally:
        stop.set()
        server.stop()
    print(f"terminated backends per outage {terminated}; acknowledged {len(log.acknowledged)}; refused "
          f"{[response.status_code for response in log.refused]}")  # fmt: skip
    assert sum(terminated) >= OUTAGES, "the outages hit no connection of the app"
    assert not log.transport_errors, log.transport_errors
    assert len(log.acknowledged) > acknowledged_at_last_outage, "no write succeeded after the last outage"
    for refused in log.refused:
        assert refused.status_code == 503, refused.text
        assert refused.json() == {"detail": DATABASE_UNAVAILABLE}
        assert refused.headers.get("retry-after")
    assert "Traceback" not in server.log.read_text(), server.log.read_text()
    with session_factory() as session:
        stored = set(session.scalars(select(Dose.id))) - doses_before
    assert set(log.acknowledged) <= stored, "an acknowledged write is missing"
    engine.dispose()


@pytest.fixture
def unreachable_app(tmp_path: Path) -> TestClient:
    """The app with a database that refuses every connection (nothing listens on port 1)."""
    url = "postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2"
    app = create_app(Settings(database_url=url, secret_key="drill", keys_dir=tmp_path / "keys"))
    return TestClient(app, follow_redirects=False, raise_server_exceptions=False)


def test_an_unreachable_database_is_a_503_with_a_vietnamese_message_for_the_api(unreachable_app: TestClient) -> None:
    answer = unreachable_app.post("/api/v1/session", json={"username": "cs01", "password": "x"})
    assert answer.status_code == 503
    assert answer.json() == {"detail": DATABASE_UNAVAILABLE}
    assert answer.headers["retry-after"] == "5"


def test_an_unreachable_database_is_a_503_page_for_the_pages(unreachable_app: TestClient) -> None:
    login_page = unreachable_app.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', login_page.text)
    assert token is not None
    answer = unreachable_app.post("/login", data={"username": "cs01", "password": "x", "csrf_token": token[1]})
    assert answer.status_code == 503
    assert answer.headers["content-type"].startswith("text/html")
    assert "Cơ sở dữ liệu tạm thời không truy cập được" in answer.text and "Traceback" not in answer.text

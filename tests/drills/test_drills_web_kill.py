"""Drill: the web process is killed (SIGKILL) while it imports an upload; the registry is unchanged; the re-upload
works. On SQLite and PostgreSQL, with the real server (`tiemchung serve`) as a subprocess."""

import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine, make_url

from tests.support.drill_server import (
    Server,
    add_facility_user,
    logged_in_client,
    record_rows,
    upload,
    write_records_xlsx,
)
from tiemchung.registry.db import create_schema, make_engine, make_session_factory
from tiemchung.registry.models import AuditEvent, Dose, ImportBatch, Subject

# A crash in a helper thread (the uploader) must fail the drill, not pass as a warning.
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")]
# Enough rows that the import takes a few seconds on a busy 2-core machine, so the kill lands inside it.
ROWS = 3_000
IMPORT_SECONDS_LIMIT = 45
# Once the import transaction is seen, let it write a few batches before the kill.
INSIDE_IMPORT_SECONDS = 0.5


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty registry database that only this test uses (its own SQLite file, or a fresh PostgreSQL database)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'registry.sqlite'}"
    else:
        server_url: str = request.getfixturevalue("postgres_server_url")
        url = _fresh_postgres_database(server_url, "drill_kill")
    engine = make_engine(url)
    create_schema(engine)
    engine.dispose()
    yield url
    if request.param == "postgresql":
        _drop_postgres_database(url)


def _fresh_postgres_database(server_url: str, prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = make_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'create database "{name}"'))
    admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def _drop_postgres_database(url: str) -> None:
    parsed = make_url(url)
    admin = make_engine(parsed.set(database="postgres").render_as_string(hide_password=False))
    with admin.execution_options(isolation_level="AUTOCOMMIT").connect() as connection:
        connection.execute(text(f'drop database if exists "{parsed.database}" with (force)'))
    admin.dispose()


def _counts(engine: Engine) -> tuple[int, ...]:
    with make_session_factory(engine)() as session:
        return tuple(
            session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Subject, Dose, ImportBatch, AuditEvent)
        )


def _write_transaction_open(url: str) -> bool:
    """Whether some connection holds an open transaction that has written (the import, once it has started)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        # SQLite has one writer at a time: taking the write lock without waiting fails while the import holds it.
        probe = sqlite3.connect(str(parsed.database), timeout=0, isolation_level=None)
        try:
            probe.execute("begin immediate")
            probe.execute("rollback")
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            probe.close()
    engine = make_engine(url)
    query = "select count(*) from pg_stat_activity where datname = current_database() and backend_xid is not null"
    with engine.connect() as connection:
        writing = bool(connection.scalar(text(query)))
    engine.dispose()
    return writing


def test_killing_the_web_process_during_an_import_leaves_the_registry_unchanged(
    database_url: str, tmp_path: Path
) -> None:
    engine = make_engine(database_url)
    add_facility_user(make_session_factory(engine))
    records = write_records_xlsx(tmp_path / "records.xlsx", record_rows(ROWS))
    server = Server(database_url, tmp_path).start()
    try:
        client, token = logged_in_client(server)
        before = _counts(engine)  # after the log-in, which is audited
        outcome: list[object] = []
        uploader = threading.Thread(target=lambda: outcome.append(_try_upload(client, token, records)))
        uploader.start()
        _wait_for_the_import(database_url, uploader)
        time.sleep(INSIDE_IMPORT_SECONDS)
        assert _write_transaction_open(database_url), "the import finished before the kill: make ROWS larger"
        assert server.kill() < 0
        uploader.join(timeout=30)
        client.close()
        assert outcome and isinstance(outcome[0], httpx.TransportError), f"the upload was answered: {outcome}"
        assert _counts(engine) == before, "a killed import left rows behind"
        assert before[:3] == (0, 0, 0)

        server.start()
        client, token = logged_in_client(server)
        answer = upload(client, token, records)
        assert answer.status_code == 200, answer.text[:2000]
        client.close()
        assert _counts(engine)[:3] == (ROWS, ROWS, 1)
    finally:
        server.stop()
        engine.dispose()


def _try_upload(client: httpx.Client, token: str, path: Path) -> httpx.Response | httpx.TransportError:
    try:
        return upload(client, token, path)
    except httpx.TransportError as error:  # the expected end: the server died under the request
        return error


def _wait_for_the_import(url: str, uploader: threading.Thread) -> None:
    deadline = time.monotonic() + IMPORT_SECONDS_LIMIT
    while not _write_transaction_open(url):
        assert uploader.is_alive(), "the upload ended before any import transaction was seen"
        assert time.monotonic() < deadline, "no import transaction within the time limit"
        time.sleep(0.05)

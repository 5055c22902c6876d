"""Drill: the web process is killed (SIGKILL) while it imports an upload; after the restart the registry holds the
whole file or none of it; the re-upload works. On SQLite and PostgreSQL, with the real server (`tiemchung serve`)
as a subprocess."""

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

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
from tiemchung.health.registry.db import create_schema, make_engine, make_session_factory
from tiemchung.health.registry.models import AuditEvent, Dose, ImportBatch, Subject

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


def test_killing_the_web_process_during_an_import_ends_all_or_nothing_after_the_restart(
    database_url: str, tmp_path: Path
) -> None:
    """The upload is answered at once and imported by a background job (web/import_jobs.py). Killed while the job
    reads the file, the restarted server marks the import failed and nothing was written; killed while it applies
    the staged rows, the restarted server finishes it. Either way the registry never keeps half a file, and a new
    upload of the same file works."""
    engine = make_engine(database_url)
    add_facility_user(make_session_factory(engine))
    records = write_records_xlsx(tmp_path / "records.xlsx", record_rows(ROWS))
    server = Server(database_url, tmp_path).start()
    try:
        client, token = logged_in_client(server)
        assert upload(client, token, records).status_code == 303  # to the page that follows the job
        _wait_for_the_job(engine, ("reading", "applying"))
        time.sleep(INSIDE_IMPORT_SECONDS)
        assert _batch_status(engine) in ("reading", "applying"), "the import finished before the kill: more ROWS"
        assert server.kill() < 0
        client.close()

        server.start()  # its start-up resumes or fails the import the killed process left
        status = _wait_for_the_job(engine, ("done", "failed"))
        expected = (ROWS, ROWS) if status == "done" else (0, 0)
        assert _counts(engine)[:2] == expected, f"an import {status} after the restart left half a file"
        client, token = logged_in_client(server)
        assert upload(client, token, records).status_code == 303  # to the page that follows the job
        _wait_for_the_job(engine, ("done",), newest=True)
        client.close()
        assert _counts(engine)[:2] == (ROWS, ROWS)
    finally:
        server.stop()
        engine.dispose()


def _batch_status(engine: Engine, *, newest: bool = False) -> str:
    with make_session_factory(engine)() as session:
        order = ImportBatch.id.desc() if newest else ImportBatch.id
        return str(session.scalars(select(ImportBatch.status).order_by(order).limit(1)).one())


def _wait_for_the_job(engine: Engine, states: tuple[str, ...], *, newest: bool = False) -> str:
    deadline = time.monotonic() + IMPORT_SECONDS_LIMIT
    while (status := _batch_status(engine, newest=newest)) not in states:
        assert time.monotonic() < deadline, f"the import stayed '{status}', never {states}"
        time.sleep(0.05)
    return status

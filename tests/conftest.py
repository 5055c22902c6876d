"""Shared fixtures: the registry database on SQLite and PostgreSQL, and the rule for optional services.

On CI (CI=true) a test that needs PostgreSQL, the browser or Spark fails when the service is missing;
on a user's machine it skips with the reason printed. On CI any other skip fails too, unless allowed
(tests/support/ci_skips.py).
"""

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from tests.support.ci_skips import pytest_make_collect_report, pytest_runtest_makereport  # noqa: F401 (hooks)
from tests.support.services import unavailable
from tiemchung.health.registry.db import create_schema, import_all_models, make_engine, make_session_factory

POSTGRES_URL = os.environ.get("TIEMCHUNG_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    try:
        admin = make_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text("select 1"))
    except Exception as error:  # any connection failure means "no PostgreSQL here"
        unavailable(f"PostgreSQL not reachable at {POSTGRES_URL}: {type(error).__name__}")
    name = f"tiemchung_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'create database "{name}"'))
    yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'drop database if exists "{name}" with (force)'))
    admin.dispose()


@pytest.fixture(scope="session")
def postgres_engine(postgres_server_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_server_url)
    create_schema(engine)
    yield engine
    engine.dispose()


def _truncate_all(engine: Engine) -> None:
    tables = ", ".join(f'"{t.name}"' for t in import_all_models().sorted_tables)
    if tables:
        with engine.begin() as connection:
            # The audit log refuses TRUNCATE (a trigger): tests empty it as the superuser, with triggers off.
            connection.execute(text("set local session_replication_role = replica"))
            connection.execute(text(f"truncate {tables} restart identity cascade"))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """The registry database, empty, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        sqlite_engine = make_engine(f"sqlite:///{tmp_path / 'registry.sqlite'}")
        create_schema(sqlite_engine)
        yield sqlite_engine
        sqlite_engine.dispose()
        return
    pg_engine: Engine = request.getfixturevalue("postgres_engine")
    _truncate_all(pg_engine)
    yield pg_engine
    _truncate_all(pg_engine)


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as db_session:
        yield db_session


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = "/usr/bin/chromium"
    if not Path(path).exists():
        unavailable("Debian's chromium is not installed (/usr/bin/chromium); apt-get install chromium")
    return path

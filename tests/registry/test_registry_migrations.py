"""`alembic upgrade head` on an empty database gives exactly the models' schema, audit triggers included."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DatabaseError

from tiemchung.registry.db import import_all_models, make_engine
from tiemchung.registry.migrate import ensure_schema, upgrade


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a database with no tables at all."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrated.sqlite'}"
        return
    server = request.getfixturevalue("postgres_server_url")
    admin = make_engine(server, isolation_level="AUTOCOMMIT")
    name = f"tiemchung_migration_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'create database "{name}"'))
    yield make_url(server).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'drop database if exists "{name}" with (force)'))
    admin.dispose()


def test_upgrade_head_gives_the_models_schema(empty_database: str) -> None:
    upgrade(empty_database)
    engine = make_engine(empty_database)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, import_all_models())
    assert differences == [], "run `tiemchung db regenerate-initial` and commit 0001_initial"
    with engine.begin() as connection:
        connection.execute(text("insert into audit_events (actor, actor_role, action, entity, entity_id, reason, "
                                "detail) values ('t', '', 'read', 'subject', '1', '', '{}')"))  # fmt: skip
    for statement in ("update audit_events set actor = 'someone else'", "delete from audit_events"):
        with pytest.raises(DatabaseError, match="append-only"), engine.begin() as connection:
            connection.execute(text(statement))
    engine.dispose()


def test_ensure_schema_migrates_only_new_databases(empty_database: str) -> None:
    ensure_schema(empty_database)
    ensure_schema(empty_database)  # a second time: already there, nothing to do
    engine = make_engine(empty_database)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {"alembic_version", "subjects", "doses", "audit_events"} <= tables

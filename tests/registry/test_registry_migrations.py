"""`alembic upgrade head` on an empty database gives exactly the models' schema, triggers included; upgrading a
registry that has doses gives it a summary of them."""

import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DatabaseError

from tiemchung.health.reconciliation import summary
from tiemchung.health.registry.db import create_schema, import_all_models, make_engine, make_session_factory
from tiemchung.health.registry.migrate import ensure_schema, upgrade
from tiemchung.health.registry.models import Dose, Facility, Subject

NAME_SEARCH_OBJECTS = ("subjects_name_fts", "ix_subjects_name_folded_words")


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
        # The name search's full-text index is DDL of its own (tiemchung.health.registry.name_search), not a model.
        opts = {"compare_type": True, "include_name": lambda name, *_: not (name or "").startswith(NAME_SEARCH_OBJECTS)}
        context = MigrationContext.configure(connection, opts=opts)
        differences = compare_metadata(context, import_all_models())
    assert differences == [], "add a revision: `tiemchung db revision -m ...` against a database at head"
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


def _triggers(url: str) -> dict[str, str]:
    """Every trigger and trigger function the database holds, by name, as the engine stores their text."""
    engine = make_engine(url)
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            rows = connection.execute(text("select name, sql from sqlite_master where type = 'trigger'"))
        else:
            rows = connection.execute(
                text(
                    "select tgname, pg_get_triggerdef(oid) from pg_trigger where not tgisinternal union all "
                    "select proname, prosrc from pg_proc where pronamespace = 'public'::regnamespace"
                )
            )
        found = {name: definition for name, definition in rows}
    engine.dispose()
    return found


def test_the_migrations_install_the_triggers_the_models_install(empty_database: str) -> None:
    """0002 holds the summary's trigger text as it was generated; a change to the age or province rules since
    then needs a new revision, and this test says so."""
    upgrade(empty_database)
    migrated = _triggers(empty_database)
    engine = make_engine(empty_database)
    if engine.dialect.name == "sqlite":  # PostgreSQL's text replaces its triggers; SQLite's keeps existing ones
        with engine.begin() as connection:
            for name in [name for name in migrated if name.startswith("entered_dose_counts")]:
                connection.execute(text(f"drop trigger {name}"))
    create_schema(engine)  # installs the triggers from tiemchung.health.reconciliation.summary
    engine.dispose()
    assert _triggers(empty_database) == migrated, "the summary's triggers changed: add a revision that replaces them"


def test_upgrading_a_registry_with_doses_counts_them_into_the_summary(empty_database: str) -> None:
    upgrade(empty_database, "0001_initial")
    engine = make_engine(empty_database)
    with make_session_factory(engine).begin() as session:
        session.add(Facility(code="F1", name="F1", province_code="01"))
        person = Subject(subject_key="a", full_name_raw="A", full_name="A", name_canonical="a", name_folded="a",
                         birth_date="2010-02-01", province_code="79")  # fmt: skip
        session.add_all(
            Dose(
                record_id=f"r{n}",
                subject=person,
                vaccine="Pfizer",
                dose_kind="1",
                vaccination_date=date(2022, 1, n),
                facility_code=code,
            )
            for n, code in ((1, "F1"), (2, "F1"), (3, "F2"))
        )
    upgrade(empty_database)
    assert summary.differences(engine) == []
    with engine.connect() as connection:
        counted = connection.execute(text("select province_code, sum(doses) from entered_dose_counts group by 1"))
        assert sorted(counted) == [("01", 2), ("79", 1)]
    engine.dispose()

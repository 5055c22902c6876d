"""The audit log cannot be rewritten by the application and any tampering shows (issue 16 item 9).

Append-only: UPDATE, DELETE, TRUNCATE (PostgreSQL) and REPLACE INTO (SQLite) are refused; a restricted application
role can neither TRUNCATE nor ALTER. Tamper-evident: `tiemchung audit verify` recomputes the hash chain and names the
first broken link, also after a backup and restore.
"""

import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DatabaseError, ProgrammingError
from typer.testing import CliRunner

from tiemchung.cli import app as cli_app
from tiemchung.health.registry import audit
from tiemchung.health.registry.backup import backup, restore
from tiemchung.health.registry.db import create_schema, make_engine, make_session_factory, transaction
from tiemchung.health.registry.models import AuditChainLink


def _record(engine: Engine, count: int, actor: str = "tram") -> None:
    with transaction(make_session_factory(engine)) as session:
        for number in range(count):
            audit.record(session, actor=actor, action="read", entity="subject", entity_id=number, subject_id=number,
                         reason="Tra cứu", detail={"page": "Hồ sơ", "n": number})  # fmt: skip


def _verify(engine: Engine) -> audit.ChainReport:
    with engine.connect() as connection:
        return audit.verify_chain(connection)


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def test_concurrent_writers_form_one_chain(engine: Engine) -> None:
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: _record(engine, 5, actor=f"user{n}"), range(16)))
    report = _verify(engine)
    assert report.ok, report.problem
    assert report.links == 80
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(AuditChainLink)) == 80


def test_the_application_cannot_rewrite_an_event(engine: Engine) -> None:
    _record(engine, 3)
    statements = ["update audit_events set actor = 'ai-do' where id = 2", "delete from audit_events where id = 2"]
    if engine.dialect.name == "sqlite":
        # REPLACE rewrote any row before (its implicit delete fires no DELETE trigger).
        statements.append(
            "replace into audit_events (id, at, actor, actor_role, action, entity, entity_id, reason, detail) "
            "values (2, '2021-01-01 00:00:00', 'ai-do', '', 'read', 'subject', '2', '', '{}')"
        )
        statements.append("insert or replace into audit_chain (position, event_id, hash) values (1, 1, 'x')")
    else:
        statements += ["truncate audit_events cascade", "truncate audit_chain", "delete from audit_chain"]
    for statement in statements:
        with pytest.raises(DatabaseError, match="append-only"), engine.begin() as connection:
            connection.execute(text(statement))
    assert _verify(engine).ok


def test_tampering_by_the_tables_owner_is_detected(engine: Engine, tmp_path: Path) -> None:
    _record(engine, 5)
    runner = CliRunner()
    whole = runner.invoke(cli_app, ["audit", "verify", "--database", _url(engine)])
    assert whole.exit_code == 0, whole.output
    assert "nguyên vẹn: 5 sự kiện" in whole.output
    with engine.begin() as connection:  # the owner switches the guard off, rewrites, switches it on
        if engine.dialect.name == "sqlite":
            connection.execute(text("drop trigger audit_events_no_update"))
        else:
            connection.execute(text("alter table audit_events disable trigger audit_events_append_only"))
        connection.execute(text("update audit_events set actor = 'ai-do' where id = 3"))
    broken = runner.invoke(cli_app, ["audit", "verify", "--database", _url(engine)])
    assert broken.exit_code == 1
    assert "Chuỗi băm bị đứt tại mắt xích số 3 (sự kiện #3): nội dung sự kiện đã bị sửa" in broken.output
    assert "2 mắt xích đầu tiên vẫn nguyên vẹn" in broken.output


def test_events_inserted_around_the_application_are_detected(engine: Engine) -> None:
    _record(engine, 2)
    with engine.begin() as connection:
        connection.execute(
            text("insert into audit_events (id, at, actor, actor_role, action, entity, entity_id, reason, detail) "
                 "values (3, '2021-01-01 00:00:00', 'ai-do', '', 'read', 'subject', '1', '', '{}')")
        )  # fmt: skip
    report = _verify(engine)
    assert not report.ok and "1 sự kiện không nằm trong chuỗi băm" in report.problem


def test_backup_and_restore_keep_the_chain(engine: Engine, tmp_path: Path) -> None:
    _record(engine, 4)
    backup(engine, tmp_path / "backup")
    target = make_engine(f"sqlite:///{tmp_path / 'restored.sqlite'}")
    create_schema(target)
    restore(target, tmp_path / "backup")
    assert _verify(target).links == 4 and _verify(target).ok
    _record(target, 1)  # the chain goes on after the restore
    assert _verify(target).links == 5 and _verify(target).ok


@pytest.mark.postgres
def test_a_restricted_application_role_cannot_truncate_or_alter(postgres_server_url: str) -> None:
    """The owner/application split of docs/operations.md, with its GRANTs verbatim."""
    database = f"tiemchung_roles_{uuid.uuid4().hex[:8]}"
    role = f"tiemchung_app_{uuid.uuid4().hex[:8]}"
    admin = make_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'create database "{database}"'))
        connection.execute(text(f"create role {role} login"))
    owner_url = make_url(postgres_server_url).set(database=database)
    owner = make_engine(owner_url.render_as_string(hide_password=False))
    try:
        create_schema(owner)
        with owner.begin() as connection:
            for grant in application_role_grants(role):
                connection.execute(text(grant))
        app = make_engine(owner_url.set(username=role).render_as_string(hide_password=False))
        _record(app, 2)  # the application's normal work goes through
        assert _verify(app).ok
        refused = [
            "truncate audit_events cascade",
            "alter table audit_events disable trigger audit_events_append_only",
            "update audit_events set actor = 'x'",
            "delete from audit_events",
            "truncate audit_chain",
            "delete from audit_chain",
            "drop trigger audit_events_no_truncate on audit_events",
        ]
        for statement in refused:
            with pytest.raises((ProgrammingError, DatabaseError)), app.begin() as connection:
                connection.execute(text(statement))
        app.dispose()
    finally:
        owner.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'drop database if exists "{database}" with (force)'))
            connection.execute(text(f"drop role if exists {role}"))
        admin.dispose()


def application_role_grants(role: str) -> list[str]:
    """The GRANTs of docs/operations.md ("Vai trò cơ sở dữ liệu"), for the role name given."""
    return [
        f"grant usage on schema public to {role}",
        f"grant select, insert, update, delete on all tables in schema public to {role}",
        f"revoke update, delete on audit_events, audit_chain from {role}",
        f"grant usage, select on all sequences in schema public to {role}",
    ]


def test_the_upgrade_links_the_events_already_there(tmp_path: Path) -> None:
    from tiemchung.health.registry.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    upgrade(url, "0007_security_login_throttle")
    engine = make_engine(url)
    with engine.begin() as connection:
        for number in (1, 2, 3):
            connection.execute(
                text("insert into audit_events (actor, actor_role, action, entity, entity_id, reason, detail) "
                     "values ('tram', '', 'read', 'subject', :n, '', '{}')"),
                {"n": str(number)},
            )  # fmt: skip
    upgrade(url)
    assert _verify(engine).links == 3 and _verify(engine).ok
    _record(engine, 1)
    assert _verify(engine).links == 4 and _verify(engine).ok
    with pytest.raises(DatabaseError, match="append-only"), engine.begin() as connection:
        connection.execute(
            text("replace into audit_events (id, at, actor, actor_role, action, entity, entity_id, reason, detail) "
                 "values (1, '2021-01-01 00:00:00', 'ai-do', '', 'read', 'subject', '1', '', '{}')")
        )  # fmt: skip
    engine.dispose()

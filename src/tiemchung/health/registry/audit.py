"""The audit log: every read or change of a person's data leaves an event that cannot be altered unseen.

Two defences (issue 16 item 9):

- Append-only, enforced by the database: triggers refuse UPDATE, DELETE and (PostgreSQL) TRUNCATE of the events;
  on SQLite an INSERT may only add after the last event, so `REPLACE INTO` cannot rewrite a row. The owner of the
  tables can still drop a trigger: the application connects with a role that owns nothing (docs/operations.md).
- Tamper-evident for anyone: a hash chain. Each event gets a link in `audit_chain` whose hash covers the previous
  link's hash and the event's content; `tiemchung audit verify` recomputes it and names the first broken link.

The links are made when the transaction that recorded the events commits (`before_commit`), under a lock held only
for that commit (PostgreSQL: a transaction-scoped advisory lock; SQLite: the write lock the transaction already
holds), so concurrent writers form one chain and a long transaction (an import) never makes others wait for its
lock. The chain's order is the order of commits, not of event ids.
"""

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DDL, bindparam, event, func, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from tiemchung.health.registry.db import sqlite_datetime, write_rows
from tiemchung.health.registry.models import AuditChainLink, AuditEvent

GENESIS = "0" * 64
CHAIN_LOCK_KEY = 727_001  # PostgreSQL advisory lock of the chain (any constant the application does not use elsewhere)
_PENDING = "audit_event_ids"
_CONTENT = "audit_event_content"  # id -> the event as hashed, for events written by record_many (no reading back)
_CHUNK = 5_000  # events read back a statement (under SQLite's bound-parameter limit)

SQLITE_APPEND_ONLY = (
    "CREATE TRIGGER IF NOT EXISTS audit_events_no_update BEFORE UPDATE ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_events_no_delete BEFORE DELETE ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END",
)
POSTGRES_APPEND_ONLY = (
    "CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'audit_events is append-only'; END $$",
    "DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events",
    "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events "
    "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()",
)
# Added with the chain (migration 0008_security_audit_chain): keep these texts identical to the migration's.
SQLITE_CHAIN_GUARDS = (
    # REPLACE INTO deletes the old row without firing DELETE triggers (unless recursive_triggers is on): refuse any
    # INSERT that does not come after the last event, so that no row can be replaced. (In a BEFORE INSERT trigger
    # an id SQLite is about to choose reads as -1.)
    "CREATE TRIGGER IF NOT EXISTS audit_events_insert_at_end BEFORE INSERT ON audit_events "
    "WHEN NEW.id <> -1 AND NEW.id <= (SELECT coalesce(max(id), 0) FROM audit_events) "
    "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_chain_no_update BEFORE UPDATE ON audit_chain "
    "BEGIN SELECT RAISE(ABORT, 'audit_chain is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_chain_no_delete BEFORE DELETE ON audit_chain "
    "BEGIN SELECT RAISE(ABORT, 'audit_chain is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_chain_insert_at_end BEFORE INSERT ON audit_chain "
    "WHEN NEW.position <= (SELECT coalesce(max(position), 0) FROM audit_chain) "
    "BEGIN SELECT RAISE(ABORT, 'audit_chain is append-only'); END",
)
POSTGRES_CHAIN_GUARDS = (
    "DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events",
    "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()",
    "DROP TRIGGER IF EXISTS audit_chain_append_only ON audit_chain",
    "CREATE TRIGGER audit_chain_append_only BEFORE UPDATE OR DELETE ON audit_chain "
    "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()",
    "DROP TRIGGER IF EXISTS audit_chain_no_truncate ON audit_chain",
    "CREATE TRIGGER audit_chain_no_truncate BEFORE TRUNCATE ON audit_chain "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()",
)


def _listen(table: Any, statements: Iterable[str], dialect: str) -> None:
    for statement in statements:
        event.listen(table, "after_create", DDL(statement).execute_if(dialect=dialect))


_listen(AuditEvent.__table__, SQLITE_APPEND_ONLY, "sqlite")
_listen(AuditEvent.__table__, POSTGRES_APPEND_ONLY, "postgresql")
_listen(AuditChainLink.__table__, SQLITE_CHAIN_GUARDS, "sqlite")
_listen(AuditChainLink.__table__, POSTGRES_CHAIN_GUARDS, "postgresql")


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: object = "",
    subject_id: int | None = None,
    actor_role: str = "",
    reason: str = "",
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an audit event to the session's transaction: it commits or rolls back with the change it records."""
    audit_event = AuditEvent(
        actor=actor,
        actor_role=actor_role,
        action=action,
        entity=entity,
        entity_id=str(entity_id),
        subject_id=subject_id,
        reason=reason,
        detail=detail or {},
    )
    session.add(audit_event)
    return audit_event


_EVENT_COLUMNS = ("actor", "actor_role", "action", "entity", "entity_id", "subject_id", "reason", "detail")


def record_many(session: Session, events: list[dict[str, Any]]) -> None:
    """Many events at once (an import's rows, a batch of answers), chained at commit like the others.

    Set-based (issue 21): PostgreSQL takes their ids from the sequence in one query and `COPY`s them; SQLite
    inserts them by one executemany and, holding the write lock from that insert to the commit, knows they got the
    last ids. No ORM or per-row SQLAlchemy work: 10,000 events are a few statements."""
    if not events:
        return
    connection = session.connection()
    at = datetime.now(UTC)
    stored_at = at if connection.dialect.name == "postgresql" else sqlite_datetime(at)
    contents = [
        {
            "at": at,
            "actor": event["actor"],
            "actor_role": event.get("actor_role", ""),
            "action": event["action"],
            "entity": event["entity"],
            "entity_id": str(event.get("entity_id", "")),
            "subject_id": event.get("subject_id"),
            "reason": event.get("reason", ""),
            "detail": event.get("detail") or {},
        }
        for event in events
    ]
    rows = [(stored_at, *(content[name] for name in _EVENT_COLUMNS[:-1]), json.dumps(content["detail"]))
            for content in contents]  # fmt: skip
    if connection.dialect.name == "postgresql":
        ids = list(
            connection.execute(
                text("SELECT nextval(pg_get_serial_sequence('audit_events', 'id')) FROM generate_series(1, :n)"),
                {"n": len(rows)},
            ).scalars()
        )
        write_rows(
            connection,
            "audit_events",
            ("id", "at", *_EVENT_COLUMNS),
            [(i, *row) for i, row in zip(ids, rows, strict=True)],
        )
    else:
        write_rows(connection, "audit_events", ("at", *_EVENT_COLUMNS), rows)
        last = connection.execute(text("SELECT max(id) FROM audit_events")).scalar_one()
        ids = list(range(last - len(rows) + 1, last + 1))
    session.info.setdefault(_PENDING, []).extend(ids)
    known = session.info.setdefault(_CONTENT, {})
    for event_id, content in zip(ids, contents, strict=True):
        known[event_id] = {"id": event_id, **content}


def record_subject_read(session: Session, *, actor: str, actor_role: str, subject_id: int, reason: str) -> AuditEvent:
    """A person's record was shown to someone: the event the law asks for on every read."""
    return record(
        session,
        actor=actor,
        actor_role=actor_role,
        action="read",
        entity="subject",
        entity_id=subject_id,
        subject_id=subject_id,
        reason=reason,
    )


def record_subject_reads(
    session: Session, *, actor: str, actor_role: str, subject_ids: Iterable[int], reason: str
) -> None:
    """Many records shown at once (a page of a list): one read event per person, written in one statement (the ORM
    sends one INSERT per event here, because each returns its database-made time), chained like the others."""
    rows = [
        {
            "actor": actor,
            "actor_role": actor_role,
            "action": "read",
            "entity": "subject",
            "entity_id": str(subject_id),
            "subject_id": subject_id,
            "reason": reason,
            "detail": {},
        }
        for subject_id in subject_ids
    ]
    record_many(session, rows)


@event.listens_for(Session, "after_flush")
def _note_new_events(session: Session, _context: Any) -> None:
    ids = [instance.id for instance in session.new if isinstance(instance, AuditEvent)]
    if ids:
        session.info.setdefault(_PENDING, []).extend(ids)


@event.listens_for(Session, "before_commit")
def _chain_new_events(session: Session) -> None:
    session.flush()
    ids = session.info.pop(_PENDING, None)
    known = session.info.pop(_CONTENT, None)
    if ids:
        link_events(session.connection(), sorted(ids), known)


@event.listens_for(Session, "after_rollback")
def _forget_new_events(session: Session) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_CONTENT, None)


def link_events(connection: Connection, event_ids: list[int], known: dict[int, dict[str, Any]] | None = None) -> None:
    """Append the events to the chain, in the given order, under the chain's lock (held until commit).

    `known` holds the content of events this transaction wrote in bulk (`record_many`), hashed as written; the
    others are read back by plain SQL (the hash reads the time as text or datetime, and the detail decoded,
    whichever the driver gives). The links are written by `COPY` / executemany."""
    known = known or {}
    if connection.dialect.name == "postgresql":
        connection.execute(text("select pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK_KEY})
    last = connection.execute(
        select(AuditChainLink.position, AuditChainLink.hash).order_by(AuditChainLink.position.desc()).limit(1)
    ).first()
    position, previous = (last.position, last.hash) if last else (0, GENESIS)
    for start in range(0, len(event_ids), _CHUNK):
        chunk = event_ids[start : start + _CHUNK]
        unknown = sorted(event_id for event_id in chunk if event_id not in known)
        rows = {**known, **{row["id"]: row for row in _events(connection, unknown)}} if unknown else known
        links = []
        for event_id in chunk:
            position += 1
            previous = link_hash(previous, rows[event_id])
            links.append((position, event_id, previous))
        write_rows(connection, "audit_chain", ("position", "event_id", "hash"), links)


def _events(connection: Connection, event_ids: list[int]) -> list[dict[str, Any]]:
    """The events of `event_ids` (sorted): by their id range when they are (nearly) contiguous, as a batch's are,
    which spares SQLAlchemy expanding thousands of parameters; by an IN list otherwise."""
    columns = "id, at, actor, actor_role, action, entity, entity_id, subject_id, reason, detail"
    if not event_ids:
        return []
    low, high = event_ids[0], event_ids[-1]
    if high - low < 2 * len(event_ids):
        query = text(f"SELECT {columns} FROM audit_events WHERE id BETWEEN :low AND :high")
        result = connection.execute(query, {"low": low, "high": high})
    else:
        query = text(f"SELECT {columns} FROM audit_events WHERE id IN :ids").bindparams(
            bindparam("ids", expanding=True)
        )
        result = connection.execute(query, {"ids": event_ids})
    wanted = set(event_ids)
    events = []
    for row in result.mappings():
        if row["id"] in wanted:
            event = dict(row)
            if isinstance(event["detail"], str):  # SQLite keeps JSON as text; psycopg decodes it
                event["detail"] = json.loads(event["detail"])
            events.append(event)
    return events


def link_hash(previous: str, row: Any) -> str:
    """SHA-256 of the previous link's hash and the event's content, in one text form on every engine."""
    content = [
        row["id"],
        _portable_time(row["at"]),
        row["actor"],
        row["actor_role"],
        row["action"],
        row["entity"],
        row["entity_id"],
        row["subject_id"],
        row["reason"],
        row["detail"],
    ]
    text_form = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{previous}\n{text_form}".encode()).hexdigest()


def _portable_time(moment: datetime | str | None) -> str | None:
    """UTC ISO text: SQLite gives naive datetimes (written in UTC), PostgreSQL aware ones."""
    if moment is None:
        return None
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat()


@dataclass(frozen=True)
class ChainReport:
    links: int
    last_hash: str
    problem: str = ""  # Vietnamese, the first broken link; empty when the chain is whole

    @property
    def ok(self) -> bool:
        return not self.problem


def verify_chain(connection: Connection) -> ChainReport:
    """Recompute the chain from the first link; stop at the first link that does not hold."""
    previous, expected_position = GENESIS, 1
    for link, row in _links_with_events(connection):
        where = f"mắt xích số {link.position:,} (sự kiện #{link.event_id})".replace(",", ".")
        if link.position != expected_position:
            return ChainReport(expected_position - 1, previous, f"Thiếu mắt xích số {expected_position}: {where} "
                               "đứng ngay sau mắt xích trước nó, các mắt xích ở giữa đã bị xóa.")  # fmt: skip
        if row is None:
            return ChainReport(link.position - 1, previous, f"Sự kiện của {where} không còn trong nhật ký: đã bị xóa.")
        if link_hash(previous, row) != link.hash:
            return ChainReport(
                link.position - 1, previous, f"Chuỗi băm bị đứt tại {where}: nội dung sự kiện đã bị sửa sau khi ghi."
            )
        previous, expected_position = link.hash, expected_position + 1
    links = expected_position - 1
    unlinked = connection.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.id.not_in(select(AuditChainLink.event_id)))
    )
    if unlinked:
        return ChainReport(links, previous, f"{unlinked} sự kiện không nằm trong chuỗi băm: đã được chèn trực tiếp "
                           "vào cơ sở dữ liệu, không qua ứng dụng.")  # fmt: skip
    return ChainReport(links, previous)


def _links_with_events(connection: Connection) -> Iterator[tuple[Any, Any]]:
    links = AuditChainLink.__table__
    events = AuditEvent.__table__
    query = (
        select(links.c.position, links.c.event_id, links.c.hash, events)
        .select_from(links.outerjoin(events, events.c.id == links.c.event_id))
        .order_by(links.c.position)
    )
    for row in connection.execution_options(yield_per=_CHUNK).execute(query).mappings():
        link = _Link(row["position"], row["event_id"], row["hash"])
        yield link, (row if row["id"] is not None else None)


@dataclass(frozen=True)
class _Link:
    position: int
    event_id: int
    hash: str

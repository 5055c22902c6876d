"""The audit log: every read or change of a person's data leaves an event that cannot be altered.

Append-only is enforced by the database itself (triggers), so that not even a bug in this code, or a
person with the application's credentials, can rewrite history without dropping the trigger first.
"""

from collections.abc import Iterable
from typing import Any

from sqlalchemy import DDL, event, insert
from sqlalchemy.orm import Session

from tiemchung.registry.models import AuditEvent

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

for _statement in SQLITE_APPEND_ONLY:
    event.listen(AuditEvent.__table__, "after_create", DDL(_statement).execute_if(dialect="sqlite"))
for _statement in POSTGRES_APPEND_ONLY:
    event.listen(AuditEvent.__table__, "after_create", DDL(_statement).execute_if(dialect="postgresql"))


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
    sends one INSERT per event here, because each returns its database-made time)."""
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
    if rows:
        session.execute(insert(AuditEvent), rows)

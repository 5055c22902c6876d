"""The audit log's hash chain (audit_chain) and the guards it needs (issue 16 item 9).

Creates `audit_chain`, links every existing event in id order (the chain starts from what is there at upgrade
time), and adds the triggers: PostgreSQL refuses TRUNCATE of both tables and UPDATE/DELETE of the links; SQLite
refuses an INSERT that does not come after the last row (`REPLACE INTO` rewrote any event) and UPDATE/DELETE of the
links. Trigger texts are kept literally (registry/audit.py holds the same for new databases).

Revision ID: 0008_security_audit_chain
Revises: 0007_security_login_throttle
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_security_audit_chain"
down_revision: str | Sequence[str] | None = "0007_security_login_throttle"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_GUARDS = (
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
POSTGRES_GUARDS = (
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
DROP_GUARDS = {
    "sqlite": (
        "DROP TRIGGER IF EXISTS audit_events_insert_at_end",
        "DROP TRIGGER IF EXISTS audit_chain_no_update",
        "DROP TRIGGER IF EXISTS audit_chain_no_delete",
        "DROP TRIGGER IF EXISTS audit_chain_insert_at_end",
    ),
    "postgresql": ("DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events",),
}


def upgrade() -> None:
    op.create_table(
        "audit_chain",
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["audit_events.id"], name=op.f("fk_audit_chain_event_id_audit_events")),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_audit_chain")),
        sa.UniqueConstraint("event_id", name=op.f("uq_audit_chain_event_id")),
    )
    connection = op.get_bind()
    # local: a migration loads the application's code only when it runs (Alembic imports every revision to
    # build the chain, and the audit module imports the models of the newest revision)
    from tiemchung.health.registry.audit import link_events

    # The events recorded before this revision, in id order (ids only: the links read them in chunks).
    event_ids = list(connection.scalars(sa.text("select id from audit_events order by id")))
    if event_ids:
        link_events(connection, event_ids)
    for statement in SQLITE_GUARDS if connection.dialect.name == "sqlite" else POSTGRES_GUARDS:
        op.execute(statement)


def downgrade() -> None:
    for statement in DROP_GUARDS[op.get_bind().dialect.name]:
        op.execute(statement)
    op.drop_table("audit_chain")

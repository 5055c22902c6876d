"""The idempotency keys of dose entries (dose_entry_keys): a retried entry returns the dose already stored.

A new table, so no existing row is rewritten and `doses` (its triggers, its size) is left alone; existing doses have
no key. See `tiemchung.health.registry.models.DoseEntryKey` for why a table rather than columns on `doses`.

Revision ID: 0003_dose_entry_keys
Revises: 0002_entered_dose_counts
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_dose_entry_keys"
down_revision: str | Sequence[str] | None = "0002_entered_dose_counts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dose_entry_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("request_sha256", sa.String(length=64), nullable=False),
        sa.Column("dose_id", sa.Integer(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.ForeignKeyConstraint(["dose_id"], ["doses.id"], name=op.f("fk_dose_entry_keys_dose_id_doses")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_dose_entry_keys_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dose_entry_keys")),
        sa.UniqueConstraint("user_id", "key", name=op.f("uq_dose_entry_keys_user_id_key")),
    )
    op.create_index(op.f("ix_dose_entry_keys_dose_id"), "dose_entry_keys", ["dose_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_dose_entry_keys_dose_id"), table_name="dose_entry_keys")
    op.drop_table("dose_entry_keys")

"""Duplicate pairs (duplicate_pairs): the records the detection found or a citizen showed, and the decisions.

A new table: the queue of the station's and province's pages reads it, and a pair decided "not the same person"
stays decided (never proposed again). See tiemchung.health.duplicates.models.DuplicatePair.

Revision ID: 0012_duplicates_pairs
Revises: 0009_subjects_search
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_duplicates_pairs"
down_revision: str | Sequence[str] | None = "0011_reconciliation_local"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "duplicate_pairs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("first_id", sa.Integer(), nullable=False),
        sa.Column("second_id", sa.Integer(), nullable=False),
        sa.Column("evidence", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("note", sa.String(length=255), nullable=False),
        sa.Column(
            "found_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.Column("requested_by", sa.String(length=64), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["first_id"], ["subjects.id"], name=op.f("fk_duplicate_pairs_first_id_subjects")),
        sa.ForeignKeyConstraint(["second_id"], ["subjects.id"], name=op.f("fk_duplicate_pairs_second_id_subjects")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duplicate_pairs")),
        sa.UniqueConstraint("first_id", "second_id", name=op.f("uq_duplicate_pairs_first_id_second_id")),
    )
    with op.batch_alter_table("duplicate_pairs", schema=None) as batch_op:
        batch_op.create_index("ix_duplicate_pairs_state_first", ["state", "first_id"], unique=False)
        batch_op.create_index("ix_duplicate_pairs_second_id", ["second_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("duplicate_pairs", schema=None) as batch_op:
        batch_op.drop_index("ix_duplicate_pairs_second_id")
        batch_op.drop_index("ix_duplicate_pairs_state_first")

    op.drop_table("duplicate_pairs")

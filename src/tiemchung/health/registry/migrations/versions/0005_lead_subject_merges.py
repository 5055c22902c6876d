"""Subject merges (subject_merges): a record found to be the same person as another points to it, reversibly.

A new table, so no existing row is rewritten; `subjects` and `doses` keep their layout (a merge moves doses by
updating their subject, which the summary's triggers already follow). See tiemchung.health.duplicates.models.

Revision ID: 0005_subject_merges
Revises: 0004_dose_entry_keys_created_at
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_subject_merges"
down_revision: str | Sequence[str] | None = "0004_dose_entry_keys_created_at"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "subject_merges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("survivor_id", sa.Integer(), nullable=False),
        sa.Column("merged_id", sa.Integer(), nullable=False),
        sa.Column("evidence", sa.String(length=64), nullable=False),
        sa.Column("moved_dose_ids", sa.JSON(), nullable=False),
        sa.Column("merged_by", sa.String(length=64), nullable=False),
        sa.Column(
            "merged_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.Column("unmerged_by", sa.String(length=64), nullable=True),
        sa.Column("unmerged_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["merged_id"], ["subjects.id"], name=op.f("fk_subject_merges_merged_id_subjects")),
        sa.ForeignKeyConstraint(["survivor_id"], ["subjects.id"], name=op.f("fk_subject_merges_survivor_id_subjects")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subject_merges")),
    )
    with op.batch_alter_table("subject_merges", schema=None) as batch_op:
        batch_op.create_index("ix_subject_merges_merged_active", ["merged_id", "unmerged_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_subject_merges_survivor_id"), ["survivor_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("subject_merges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subject_merges_survivor_id"))
        batch_op.drop_index("ix_subject_merges_merged_active")

    op.drop_table("subject_merges")

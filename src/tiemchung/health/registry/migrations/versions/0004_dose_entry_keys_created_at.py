"""An index on dose_entry_keys.created_at, for pruning the old idempotency keys (`tiemchung db prune-entry-keys`).

Only an index: no row is rewritten. Building it locks writes to `dose_entry_keys` (dose entries made through the web
wait) for as long as it takes: seconds for a few million keys; `doses` is not touched.

Revision ID: 0004_dose_entry_keys_created_at
Revises: 0003_dose_entry_keys
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004_dose_entry_keys_created_at"
down_revision: str | Sequence[str] | None = "0003_dose_entry_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(op.f("ix_dose_entry_keys_created_at"), "dose_entry_keys", ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_dose_entry_keys_created_at"), table_name="dose_entry_keys")

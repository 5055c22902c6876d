"""The login_throttle table: failed log-ins of unknown user names and per client address (issue 16 item 4).

A new table; no existing row is touched.

Revision ID: 0007_security_login_throttle
Revises: 0006_imports_staging
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_security_login_throttle"
down_revision: str | Sequence[str] | None = "0006_imports_staging"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttle")),
    )


def downgrade() -> None:
    op.drop_table("login_throttle")

"""Imports in the background (engineer `imports`): the staging tables of an import and its progress columns.

`import_rows` holds the parsed rows of a file being imported, `import_row_errors` why rows were rejected; the
batch gets its scope (`area_code`), its progress (`rows_expected`, `rows_applied`) and the reason a file was refused
(`error_message`). New tables and added columns with defaults: no existing row is rewritten.

Revision ID: 0006_imports_staging
Revises: 0005_subject_merges
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_imports_staging"
down_revision: str | Sequence[str] | None = "0005_subject_merges"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("import_batches", sa.Column("area_code", sa.String(length=5), nullable=False, server_default=""))
    op.add_column("import_batches", sa.Column("rows_expected", sa.Integer(), nullable=True))
    op.add_column("import_batches", sa.Column("rows_applied", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("import_batches", sa.Column("error_message", sa.Text(), nullable=False, server_default=""))
    op.create_table(
        "import_rows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("import_batch_id", sa.Integer(), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("subject_key", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("compared", sa.Text(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["import_batch_id"], ["import_batches.id"], name=op.f("fk_import_rows_import_batch_id_import_batches")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_rows")),
    )
    op.create_index("ix_import_rows_batch_row", "import_rows", ["import_batch_id", "row"], unique=False)
    op.create_index("ix_import_rows_batch_subject", "import_rows", ["import_batch_id", "subject_key"], unique=False)
    op.create_index("ix_import_rows_batch_record", "import_rows", ["import_batch_id", "record_id"], unique=False)
    op.create_table(
        "import_row_errors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("import_batch_id", sa.Integer(), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("column", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["import_batch_id"],
            ["import_batches.id"],
            name=op.f("fk_import_row_errors_import_batch_id_import_batches"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_row_errors")),
    )
    op.create_index("ix_import_row_errors_batch_row", "import_row_errors", ["import_batch_id", "row"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_import_row_errors_batch_row", table_name="import_row_errors")
    op.drop_table("import_row_errors")
    op.drop_index("ix_import_rows_batch_record", table_name="import_rows")
    op.drop_index("ix_import_rows_batch_subject", table_name="import_rows")
    op.drop_index("ix_import_rows_batch_row", table_name="import_rows")
    op.drop_table("import_rows")
    with op.batch_alter_table("import_batches") as batch:
        batch.drop_column("error_message")
        batch.drop_column("rows_applied")
        batch.drop_column("rows_expected")
        batch.drop_column("area_code")

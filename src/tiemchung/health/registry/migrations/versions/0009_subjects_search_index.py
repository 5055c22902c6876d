"""Subject search at scale: a full-text index of the folded names, an index on the ID number as typed,
and one on (district, folded name) for a district's people in name order.

SQLite gets an FTS5 table holding only the index of `subjects.name_folded`, its triggers, and its first build from
the subjects already there; PostgreSQL a GIN index on `to_tsvector('simple', name_folded)`. The DDL is the text of
`tiemchung.health.registry.name_search` when this revision was written. Building the index reads every subject once
(about a minute per 10 million on PostgreSQL; writes to `subjects` wait meanwhile).

Revision ID: 0009_subjects_search
Revises: 0008_security_audit_chain
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009_subjects_search"
down_revision: str | Sequence[str] | None = "0008_security_audit_chain"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS subjects_name_fts USING fts5(name_folded, content='subjects', "
    "content_rowid='id', tokenize='ascii', prefix='2 3')",
    "CREATE TRIGGER IF NOT EXISTS subjects_name_fts_insert AFTER INSERT ON subjects BEGIN "
    "INSERT INTO subjects_name_fts(rowid, name_folded) VALUES (NEW.id, NEW.name_folded); END",
    "CREATE TRIGGER IF NOT EXISTS subjects_name_fts_delete AFTER DELETE ON subjects BEGIN "
    "INSERT INTO subjects_name_fts(subjects_name_fts, rowid, name_folded) "
    "VALUES ('delete', OLD.id, OLD.name_folded); END",
    "CREATE TRIGGER IF NOT EXISTS subjects_name_fts_update AFTER UPDATE OF name_folded ON subjects BEGIN "
    "INSERT INTO subjects_name_fts(subjects_name_fts, rowid, name_folded) VALUES ('delete', OLD.id, OLD.name_folded); "
    "INSERT INTO subjects_name_fts(rowid, name_folded) VALUES (NEW.id, NEW.name_folded); END",
    "INSERT INTO subjects_name_fts(subjects_name_fts) VALUES ('rebuild')",
)
POSTGRES = (
    "CREATE INDEX IF NOT EXISTS ix_subjects_name_folded_words ON subjects "
    "USING gin (to_tsvector('simple', name_folded))",
)


def upgrade() -> None:
    op.create_index(op.f("ix_subjects_id_number_raw"), "subjects", ["id_number_raw"], unique=False)
    op.create_index("ix_subjects_district_name", "subjects", ["district_code", "name_folded"], unique=False)
    for statement in SQLITE if op.get_context().dialect.name == "sqlite" else POSTGRES:
        op.execute(statement)


def downgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS subjects_name_fts_{name}")
        op.execute("DROP TABLE IF EXISTS subjects_name_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_subjects_name_folded_words")
    op.drop_index("ix_subjects_district_name", table_name="subjects")
    op.drop_index(op.f("ix_subjects_id_number_raw"), table_name="subjects")

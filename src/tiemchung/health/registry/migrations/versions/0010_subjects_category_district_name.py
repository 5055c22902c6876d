"""A district's people of one verification result, in name order, from one index; a commune's names in its index.

`(verification_category, district_code, name_folded)` replaces the index on `verification_category` alone (its
first column serves every query that one served): the search "this district's MISMATCH people" reads its page and
its count (up to 1,001) from the index instead of walking the district's names and reading each row for its result
(p95 703 ms at a million subjects, benchmarks/bench_pages.py). Replacing rather than adding keeps the import's work
per subject as it was: one index on the result, only wider. Building it reads every subject once.

`(ward_code, verification_category, name_folded)` replaces `(ward_code, verification_category)` the same way: a
commune's name search checks the commune's names in the index and reads only the rows that match (151 ms → 4–9 ms
for a commune of 7,000 people in a registry of a million, where each row read was a random page).

Revision ID: 0010_subjects_category_district
Revises: 0011_reconciliation_local
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010_subjects_category_district"  # at most 32 characters (alembic_version)
down_revision: str | Sequence[str] | None = "0009_subjects_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_subjects_category_district_name",
        "subjects",
        ["verification_category", "district_code", "name_folded"],
        unique=False,
    )
    op.drop_index(op.f("ix_subjects_verification_category"), table_name="subjects")
    op.create_index(
        "ix_subjects_ward_category_name",
        "subjects",
        ["ward_code", "verification_category", "name_folded"],
        unique=False,
    )
    op.drop_index("ix_subjects_ward_category", table_name="subjects")


def downgrade() -> None:
    op.create_index("ix_subjects_ward_category", "subjects", ["ward_code", "verification_category"], unique=False)
    op.drop_index("ix_subjects_ward_category_name", table_name="subjects")
    op.create_index(op.f("ix_subjects_verification_category"), "subjects", ["verification_category"], unique=False)
    op.drop_index("ix_subjects_category_district_name", table_name="subjects")

"""The verification report of a district from two indexes, without reading the district's rows.

`queries.verification_counts` counts a district's subjects by (result, mismatch reasons, province) and their doses
that are not duplicates. It read each subject's row for its result, reasons and province, and each dose's row for
`duplicate_of_id`: 777 ms of SQL for district 771 of the scale world (91,652 subjects, 257,000 doses) on SQLite.
`(district_code, verification_category, verification_reasons, province_code, ward_code)` on subjects and
`(subject_id, duplicate_of_id)` on doses make both reads index-only (316 ms); the dashboard's count of a district's
people by ward and result (`queries.verification_by_unit`) reads the same subjects' index (221 → 45 ms).
The doses' index replaces the one on `subject_id` alone (its first column serves every query that one served), so
an import writes no more index entries per dose than before; the subjects' index is one more per subject.
Nothing is stored that could disagree with the rows: the reports stay consistent by construction.

Revision ID: 0013_reconciliation_cold_indexes
Revises: 0012_duplicates_pairs
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013_reconciliation_cold_indexes"  # at most 32 characters (alembic_version)
down_revision: str | Sequence[str] | None = "0012_duplicates_pairs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SUBJECT_COLUMNS = ["district_code", "verification_category", "verification_reasons", "province_code", "ward_code"]


def upgrade() -> None:
    op.create_index("ix_subjects_district_category_reasons", "subjects", SUBJECT_COLUMNS, unique=False)
    op.create_index("ix_doses_subject_duplicate", "doses", ["subject_id", "duplicate_of_id"], unique=False)
    op.drop_index(op.f("ix_doses_subject_id"), table_name="doses")


def downgrade() -> None:
    op.create_index(op.f("ix_doses_subject_id"), "doses", ["subject_id"], unique=False)
    op.drop_index("ix_doses_subject_duplicate", table_name="doses")
    op.drop_index("ix_subjects_district_category_reasons", table_name="subjects")

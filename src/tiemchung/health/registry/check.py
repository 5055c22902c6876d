"""`tiemchung check`: what a records file holds and what an import would do with it, without a database."""

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from tiemchung.health.registry.records import RecordFileError, RowError, SubjectIdentity, read_records


@dataclass(slots=True)
class CheckSummary:
    file_name: str
    rows: int = 0
    accepted: int = 0
    rejected: int = 0
    subjects: int = 0
    doses_by_vaccine: Counter[str] = field(default_factory=Counter)
    doses_by_kind: Counter[str] = field(default_factory=Counter)
    rejection_reasons: Counter[str] = field(default_factory=Counter)  # by column
    repairs: Counter[str] = field(default_factory=Counter)  # by finding code
    repair_examples: dict[str, str] = field(default_factory=dict)  # code -> the first message met
    id_statuses: Counter[str] = field(default_factory=Counter)
    disagreeing_subjects: int = 0
    errors: list[RowError] = field(default_factory=list)
    file_error: str | None = None


PROGRESS_EVERY = 2_000


def check_file(
    path: Path, *, today: date | None = None, progress: Callable[[int, int | None], None] | None = None
) -> CheckSummary:
    """Parse every row as the importer would; count, classify, and collect the row errors."""
    summary = CheckSummary(path.name)
    first_identity: dict[str, SubjectIdentity] = {}
    disagreeing: set[str] = set()
    try:
        for record in read_records(path, today=today):
            summary.rows += 1
            if progress is not None and summary.rows % PROGRESS_EVERY == 0:
                progress(summary.rows, None)
            for repair in record.repairs:
                summary.repairs[repair.code] += 1
                summary.repair_examples.setdefault(repair.code, repair.message_vi)
            if not record.accepted or record.subject is None or record.dose is None:
                summary.rejected += 1
                summary.errors.extend(record.errors)
                for error in record.errors:
                    summary.rejection_reasons[error.column_vi or "Cả dòng"] += 1
                continue
            summary.accepted += 1
            summary.doses_by_vaccine[record.dose.vaccine] += 1
            summary.doses_by_kind[record.dose.dose_kind] += 1
            key = record.subject.subject_key
            if key not in first_identity:
                summary.id_statuses[record.subject.id_status] += 1
            first = first_identity.setdefault(key, record.subject)
            if first.disagreements(record.subject):
                disagreeing.add(key)
    except RecordFileError as error:
        summary.file_error = error.message_vi
    summary.subjects = len(first_identity)
    summary.disagreeing_subjects = len(disagreeing)
    return summary

"""Storing the register's answers on the health side, and the batch path for the whole registry.

`apply_result` is the one way an answer reaches a subject: it appends to the history (`verification_results`),
copies the latest answer onto `Subject`, and writes an audit event, all in the caller's transaction. An answer
already applied (same request, or same subject in the same batch job) is skipped, so retries and re-runs after a
crash never apply one answer twice.

The batch path (`verify_registry_batch`) exports the subjects needing verification to a subjects file, submits it to
the register service, waits, downloads the section-3 results and applies them in chunks. Re-running it after a crash
resubmits the same file under the same idempotency key (derived from the file's content), so the register
continues the same job instead of starting another, and the results already applied are skipped.
"""

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, sessionmaker

from tiemchung.health.registry import audit
from tiemchung.health.registry.db import transaction
from tiemchung.health.registry.models import Subject
from tiemchung.health.verification.client import BatchStatus, RegisterClient
from tiemchung.health.verification.models import ResultSource, VerificationRecord
from tiemchung.interchange.results import RESULT_COLUMNS, SUBJECT_COLUMNS, SubjectQuery, VerificationResult

AUDIT_ACTOR = "he-thong-xac-minh"  # the verification system itself, not a person
APPLY_CHUNK = 1_000
Progress = Callable[[str, int, int], None]  # (stage in Vietnamese, done, total)


def subject_query(subject: Subject) -> SubjectQuery:
    """What the register is asked about `subject`: the registry's values, as the facility typed them where the
    registry could not repair them (an invalid ID is sent as typed, so the register classifies it)."""
    return SubjectQuery(
        subject_id=subject.subject_key,
        full_name=subject.full_name or subject.full_name_raw,
        birth_date=subject.birth_date or subject.birth_date_raw,
        sex=subject.sex or "",
        id_number=subject.id_number or subject.id_number_raw or None,
        passport_number=subject.passport_number,
        nationality=subject.nationality,
        province_code=subject.province_code,
        district_code=subject.district_code,
        ward_code=subject.ward_code,
        address=subject.address,
    )


def apply_result(
    session: Session,
    subject: Subject,
    result: VerificationResult,
    *,
    source: ResultSource | str,
    request_id: int | None = None,
    batch_job_id: str | None = None,
    answered_at: datetime | None = None,
) -> VerificationRecord | None:
    """Store `result` for `subject` (history, latest fields, audit); None when this answer was already applied."""
    if _already_applied(session, subject.id, request_id, batch_job_id):
        return None
    answered_at = answered_at or datetime.now(UTC)
    reasons = ";".join(reason.value for reason in result.reasons)
    record = VerificationRecord(
        subject_id=subject.id,
        request_id=request_id,
        batch_job_id=batch_job_id,
        category=result.category.value,
        reasons=reasons,
        matched_person_id=result.matched_person_id,
        match_probability=result.match_probability,
        answered_at=answered_at,
        source=ResultSource(source).value,
    )
    session.add(record)
    subject.verification_category = result.category.value
    subject.verification_reasons = reasons
    subject.matched_person_id = result.matched_person_id
    subject.match_probability = result.match_probability
    subject.verified_at = answered_at
    audit.record(
        session,
        actor=AUDIT_ACTOR,
        action="verification_result",
        entity="subject",
        entity_id=subject.id,
        subject_id=subject.id,
        reason=f"Kết quả xác minh CSDL dân cư: {result.category.label_vi}",
        detail={"category": result.category.value, "reasons": reasons, "source": record.source},
    )
    return record


def _already_applied(session: Session, subject_id: int, request_id: int | None, batch_job_id: str | None) -> bool:
    if request_id is not None:
        query: Select[int] = select(VerificationRecord.id).where(VerificationRecord.request_id == request_id)
    elif batch_job_id is not None:
        query = select(VerificationRecord.id).where(
            VerificationRecord.subject_id == subject_id, VerificationRecord.batch_job_id == batch_job_id
        )
    else:
        return False
    return session.scalar(query.limit(1)) is not None


# --- the batch path --------------------------------------------------------------------------------------------


@dataclass
class BatchReport:
    job_id: str = ""
    exported: int = 0
    applied: int = 0
    already_applied: int = 0
    unknown_subjects: list[str] = field(default_factory=list)
    status: BatchStatus | None = None


def export_subjects(
    session: Session, out: Path, *, only_unverified: bool = True, progress: Progress | None = None
) -> int:
    """Write the subjects needing verification (all subjects when `only_unverified` is False) to a Parquet
    subjects file (`SUBJECT_COLUMNS`); return how many."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    query = select(Subject).order_by(Subject.id)
    if only_unverified:
        query = query.where(Subject.verification_category.is_(None))
    schema = pa.schema([(name, pa.string()) for name in SUBJECT_COLUMNS])
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    exported = 0
    partial = out.with_name(out.name + ".partial")
    with pq.ParquetWriter(partial, schema) as writer:
        for chunk in _chunks(session, query):
            rows = [subject_query(subject) for subject in chunk]
            columns = {name: [getattr(row, name) for row in rows] for name in SUBJECT_COLUMNS}
            writer.write_table(pa.table(columns, schema=schema))
            exported += len(rows)
            if progress is not None:
                progress("Xuất danh sách đối tượng", exported, total)
    partial.replace(out)
    return exported


def apply_results_file(
    session_factory: sessionmaker[Session], results: Path, *, batch_job_id: str, progress: Progress | None = None
) -> BatchReport:
    """Apply a section-3 results file (CSV or Parquet) to the registry, one transaction per chunk."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    if results.suffix.lower() == ".csv":
        # Declared as text so that nothing (a subject key of digits, a person ID) loses its leading zeros.
        text_columns = pacsv.ConvertOptions(column_types={name: pa.string() for name in RESULT_COLUMNS})
        table = pacsv.read_csv(results, convert_options=text_columns)
    else:
        table = pq.read_table(results)
    rows = table.to_pylist()
    report = BatchReport(job_id=batch_job_id)
    for start in range(0, len(rows), APPLY_CHUNK):
        chunk = [VerificationResult.from_row(row) for row in rows[start : start + APPLY_CHUNK]]
        with transaction(session_factory) as session:
            _apply_chunk(session, chunk, batch_job_id, report)
        if progress is not None:
            progress("Cập nhật kết quả", min(start + APPLY_CHUNK, len(rows)), len(rows))
    return report


def _apply_chunk(session: Session, results: list[VerificationResult], job_id: str, report: BatchReport) -> None:
    keys = [result.subject_id for result in results]
    subjects = {s.subject_key: s for s in session.scalars(select(Subject).where(Subject.subject_key.in_(keys)))}
    for result in results:
        subject = subjects.get(result.subject_id)
        if subject is None:  # deleted or merged since the export: nothing to attach the answer to
            report.unknown_subjects.append(result.subject_id)
        elif apply_result(session, subject, result, source=ResultSource.BATCH, batch_job_id=job_id) is None:
            report.already_applied += 1
        else:
            report.applied += 1


def verify_registry_batch(
    session_factory: sessionmaker[Session],
    client: RegisterClient,
    workdir: Path,
    *,
    only_unverified: bool = True,
    poll_interval: float = 2.0,
    progress: Progress | None = None,
) -> BatchReport:
    """Verify the registry's subjects in one batch job of the register service, end to end."""
    workdir.mkdir(parents=True, exist_ok=True)
    subjects_file = workdir / "subjects.parquet"
    with session_factory() as session:
        exported = export_subjects(session, subjects_file, only_unverified=only_unverified, progress=progress)
    if exported == 0:
        return BatchReport()
    idempotency_key = "batch-" + hashlib.sha256(subjects_file.read_bytes()).hexdigest()[:48]
    job_id = client.submit_batch(subjects_file, idempotency_key=idempotency_key)

    def on_poll(status: BatchStatus) -> None:
        if progress is not None and status.subjects:
            done = min(status.subjects, status.chunks_done * _chunk_size(status))
            progress("CSDL dân cư đang xác minh", done, status.subjects)

    status = client.wait(job_id, interval=poll_interval, progress=on_poll)
    if status.status != "done":
        return BatchReport(job_id=job_id, exported=exported, status=status)
    results_file = client.download(job_id, workdir / f"results-{job_id}.parquet")
    report = apply_results_file(session_factory, results_file, batch_job_id=job_id, progress=progress)
    report.exported = exported
    report.status = status
    return report


def _chunk_size(status: BatchStatus) -> int:
    if not status.subjects or not status.chunks:
        return 0
    return -(-status.subjects // status.chunks)


def _chunks(session: Session, query: Select[Subject]) -> Iterator[list[Subject]]:
    """The query's subjects in chunks, keyset-paginated by id (bounded memory on millions of subjects)."""
    last_id = 0
    while True:
        chunk = list(session.scalars(query.where(Subject.id > last_id).limit(APPLY_CHUNK)))
        if not chunk:
            return
        yield chunk
        last_id = chunk[-1].id
        session.expunge_all()

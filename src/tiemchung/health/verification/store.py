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
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, func, select, text
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session, sessionmaker

from tiemchung.health.registry import audit
from tiemchung.health.registry.db import sqlite_datetime, transaction, write_rows
from tiemchung.health.registry.models import Subject
from tiemchung.health.verification.client import BatchStatus, RegisterClient
from tiemchung.health.verification.models import ResultSource, VerificationRecord
from tiemchung.interchange.results import (
    RESULT_COLUMNS,
    SUBJECT_COLUMNS,
    Category,
    SubjectQuery,
    VerificationResult,
)

if TYPE_CHECKING:
    import pyarrow as pa

AUDIT_ACTOR = "he-thong-xac-minh"  # the verification system itself, not a person
APPLY_CHUNK = 10_000  # answers a transaction (~0.2 s of write lock at 50k a second)
EXPORT_CHUNK = 10_000
_IN_LIST = 5_000  # keys an IN list (SQLite's bound-parameter limit)
Progress = Callable[[str, int, int], None]  # (stage in Vietnamese, done, total)


def subject_query(subject: "Subject | Row[Any]") -> SubjectQuery:
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

    query = select(*_EXPORTED).order_by(Subject.id)  # columns, not ORM objects: 200k subjects in seconds
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
    """Apply a section-3 results file (CSV or Parquet) to the registry, one transaction per chunk.

    Set-based (issue 21): a chunk is a handful of statements whatever its size (the keys resolved by `IN` lists, the
    history and the audit events inserted in bulk, the subjects updated by one `UPDATE ... FROM` on PostgreSQL or
    one executemany on SQLite), not one ORM object and three statements per answer, which wrote ~1,000 answers a
    second on SQLite. What it stores is what `apply_result` stores."""
    table = _read_results(results)
    report = BatchReport(job_id=batch_job_id)
    total = table.num_rows
    for start in range(0, total, APPLY_CHUNK):
        answers = _answers(table.slice(start, APPLY_CHUNK))
        with transaction(session_factory) as session:
            _apply_answers(session, answers, batch_job_id, report)
        if progress is not None:
            progress("Cập nhật kết quả", min(start + APPLY_CHUNK, total), total)
    return report


def _read_results(results: Path) -> "pa.Table":
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    if results.suffix.lower() == ".csv":
        # Declared as text so that nothing (a subject key of digits, a person ID) loses its leading zeros.
        text_columns = pacsv.ConvertOptions(column_types={name: pa.string() for name in RESULT_COLUMNS})
        return pacsv.read_csv(results, convert_options=text_columns)
    return pq.read_table(results)


@dataclass(frozen=True, slots=True)
class _Answer:
    subject_key: str
    category: Category
    reasons: str
    matched_person_id: str | None
    match_probability: float | None


def _answers(table: "pa.Table") -> list[_Answer]:
    """The rows of a results table, read as `VerificationResult.from_row` reads them (empty cells are absent; the
    category and reasons checked and put in order), without building a result object per row."""
    columns = table.to_pydict()
    absent = [None] * table.num_rows
    keys, categories, reasons, persons, probabilities = (
        columns.get(name, absent)
        for name in ("subject_id", "category", "reasons", "matched_person_id", "match_probability")
    )
    answers = []
    rows = zip(keys, categories, reasons, persons, probabilities, strict=True)
    for key, category, reason, person, probability in rows:
        category_value, reasons_value = _kind(_text(category), _text(reason))
        probability_text = _text(probability)
        answers.append(
            _Answer(
                _text(key),
                category_value,
                reasons_value,
                _text(person) or None,
                float(probability_text) if probability_text else None,
            )
        )
    return answers


@lru_cache(maxsize=1024)
def _kind(category: str, reasons: str) -> tuple[Category, str]:
    """(category, reasons as stored) of a category and reasons text; few distinct pairs, so cached."""
    result = VerificationResult.from_row({"subject_id": "", "category": category, "reasons": reasons})
    return result.category, ";".join(reason.value for reason in result.reasons)


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):  # NaN: an empty cell
        return ""
    return str(value).strip()


def _apply_answers(session: Session, answers: list[_Answer], job_id: str, report: BatchReport) -> None:
    ids = _subject_ids(session, list({answer.subject_key for answer in answers}))
    done_before = _applied_in_job(session, job_id, list(ids.values()))
    fresh: dict[int, _Answer] = {}
    for answer in answers:
        subject_id = ids.get(answer.subject_key)
        if subject_id is None:  # deleted or merged since the export: nothing to attach the answer to
            report.unknown_subjects.append(answer.subject_key)
        elif subject_id in done_before or subject_id in fresh:  # a re-run after a crash, or twice in the file
            report.already_applied += 1
        else:
            fresh[subject_id] = answer
    if not fresh:
        return
    answered_at = datetime.now(UTC)
    if session.get_bind().dialect.name == "postgresql":
        _store_postgresql(session, fresh, job_id, answered_at)
    else:
        _store_sqlite(session, fresh, job_id, answered_at)
    audit.record_many(session, [_audit_event(subject_id, answer) for subject_id, answer in fresh.items()])
    report.applied += len(fresh)


def _subject_ids(session: Session, keys: list[str]) -> dict[str, int]:
    return dict(_select_in(session, "SELECT subject_key, id FROM subjects WHERE subject_key", keys))


def _applied_in_job(session: Session, job_id: str, subject_ids: list[int]) -> set[int]:
    query = "SELECT subject_id, 1 FROM verification_results WHERE batch_job_id = {job} AND subject_id"
    found = _select_in(session, query, subject_ids, job_id)
    return {subject_id for subject_id, _ in found}


def _select_in(session: Session, query: str, values: list[Any], *before: Any) -> list[tuple[Any, Any]]:
    """Pairs of `query` + "IN values", run by the driver (`= ANY(array)` on PostgreSQL, `IN` lists of at most
    `_IN_LIST` on SQLite): SQLAlchemy's expanding of thousands of parameters cost more than the query itself.
    `{job}` in the query is the place of the one parameter in `before`."""
    connection = session.connection()
    raw = connection.connection.driver_connection
    assert raw is not None
    if connection.dialect.name == "postgresql":
        with raw.cursor() as cursor:
            cursor.execute(query.format(job="%s") + " = ANY(%s)", (*before, values))
            return list(cursor.fetchall())
    found: list[tuple[Any, Any]] = []
    for start in range(0, len(values), _IN_LIST):
        part = values[start : start + _IN_LIST]
        sql = query.format(job="?") + f" IN ({', '.join('?' * len(part))})"
        found.extend(raw.execute(sql, (*before, *part)).fetchall())
    return found


def _store_sqlite(session: Session, fresh: dict[int, _Answer], job_id: str, answered_at: datetime) -> None:
    """SQLite: the history and the subjects' latest answer by two executemany (one C loop each in sqlite3)."""
    connection = session.connection()
    at = sqlite_datetime(answered_at)
    history = [
        (subject_id, job_id, answer.category.value, answer.reasons, answer.matched_person_id,
         answer.match_probability, at, ResultSource.BATCH.value)
        for subject_id, answer in fresh.items()
    ]  # fmt: skip
    write_rows(connection, "verification_results", _HISTORY_COLUMNS, history)
    raw = connection.connection.driver_connection
    assert raw is not None
    raw.executemany(
        "UPDATE subjects SET verification_category = ?, verification_reasons = ?, matched_person_id = ?, "
        "match_probability = ?, verified_at = ? WHERE id = ?",
        [
            (answer.category.value, answer.reasons, answer.matched_person_id, answer.match_probability, at, subject_id)
            for subject_id, answer in fresh.items()
        ],
    )


_HISTORY_COLUMNS = ("subject_id", "batch_job_id", "category", "reasons", "matched_person_id", "match_probability",
                    "answered_at", "source")  # fmt: skip
_ANSWERS_IN = "verification_answers_in"


def _store_postgresql(session: Session, fresh: dict[int, _Answer], job_id: str, answered_at: datetime) -> None:
    """PostgreSQL: the chunk is copied (COPY) into a temporary table dropped at commit, then one INSERT ... SELECT
    writes the history and one UPDATE ... FROM the subjects' latest answer."""
    connection = session.connection()
    connection.execute(
        text(
            f"CREATE TEMPORARY TABLE {_ANSWERS_IN} (subject_id integer PRIMARY KEY, category text, reasons text, "
            "matched_person_id text, match_probability double precision) ON COMMIT DROP"
        )
    )
    write_rows(
        connection,
        _ANSWERS_IN,
        ("subject_id", "category", "reasons", "matched_person_id", "match_probability"),
        (
            (subject_id, answer.category.value, answer.reasons, answer.matched_person_id, answer.match_probability)
            for subject_id, answer in fresh.items()
        ),
    )
    values = {"job": job_id, "answered_at": answered_at, "source": ResultSource.BATCH.value}
    connection.execute(
        text(
            f"INSERT INTO verification_results ({', '.join(_HISTORY_COLUMNS)}) SELECT subject_id, :job, category, "
            f"reasons, matched_person_id, match_probability, :answered_at, :source FROM {_ANSWERS_IN}"
        ),
        values,
    )
    connection.execute(
        text(
            "UPDATE subjects SET verification_category = a.category, verification_reasons = a.reasons, "
            "matched_person_id = a.matched_person_id, match_probability = a.match_probability, "
            f"verified_at = :answered_at FROM {_ANSWERS_IN} a WHERE subjects.id = a.subject_id"
        ),
        values,
    )
    connection.execute(text(f"DROP TABLE {_ANSWERS_IN}"))


def _audit_event(subject_id: int, answer: _Answer) -> dict[str, Any]:
    """The event `apply_result` records, as a row for `audit.record_many`."""
    return {
        "actor": AUDIT_ACTOR,
        "actor_role": "",
        "action": "verification_result",
        "entity": "subject",
        "entity_id": str(subject_id),
        "subject_id": subject_id,
        "reason": f"Kết quả xác minh CSDL dân cư: {answer.category.label_vi}",
        "detail": {"category": answer.category.value, "reasons": answer.reasons, "source": ResultSource.BATCH.value},
    }


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


# What `subject_query` reads of a subject.
_EXPORTED = tuple(
    Subject.__table__.c[name]
    for name in ("id", "subject_key", "full_name", "full_name_raw", "birth_date", "birth_date_raw", "sex",
                 "id_number", "id_number_raw", "passport_number", "nationality", "province_code", "district_code",
                 "ward_code", "address")
)  # fmt: skip


def _chunks(session: Session, query: Select[Any]) -> Iterator[list[Row[Any]]]:
    """The query's rows in chunks, keyset-paginated by subject id (bounded memory on millions of subjects)."""
    last_id = 0
    while True:
        chunk = list(session.execute(query.where(Subject.id > last_id).limit(EXPORT_CHUNK)))
        if not chunk:
            return
        yield chunk
        last_id = chunk[-1].id

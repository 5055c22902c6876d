"""`import_records`: a vaccination-records file into the registry, all-or-nothing, idempotently, without blocking.

An import runs in two phases, each in short transactions, so that it never holds the database's write lock for
long (SQLite has a single one: a whole-file transaction made every other user's write wait and fail while a
200,000-row file was imported):

1. **Reading**: rows are parsed and the accepted ones staged in `import_rows` (rejected ones go to
   `import_row_errors`), 2,000 rows a transaction. Nothing of the registry changes. A file found unusable half-way
   (damaged, too long) fails the batch here: the registry is as before.
2. **Applying**: once the whole file has been read, the staged rows are written to the registry in chunks of 2,000
   rows, each chunk one transaction that also records its progress. The file is then known good, so the import is
   completed: a crash or a kill in this phase leaves the batch `applying`, and `resume_imports` (run when the web
   starts, and by `tiemchung db resume-imports`) applies its remaining rows. So, from a user's point of view, a file
   is imported entirely or not at all, while other users' reads and writes go on between the chunks.

Writes are Core `INSERT ... ON CONFLICT DO UPDATE` keyed by `subject_id` / `record_id`, so re-importing a file or
a corrected version of it updates rows and never duplicates them. A scoped import (`ImportScope`: the uploader's
facility and area) never touches a subject or dose outside its scope: such rows are rejected with a reason. Rows of
one subject that disagree on identity become `Finding` rows instead of silent overwrites.
"""

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Table, delete, func, insert, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from tiemchung.health.registry import audit
from tiemchung.health.registry.audit import record as audit_record
from tiemchung.health.registry.db import transaction, write_rows
from tiemchung.health.registry.import_scope import ImportScope
from tiemchung.health.registry.models import (
    Dose,
    Facility,
    Finding,
    ImportBatch,
    ImportRow,
    ImportRowError,
    Subject,
)
from tiemchung.health.registry.records import DoseEntry, RecordRow, RowError, RowParser, SubjectIdentity, disagreements
from tiemchung.interchange.columns import header_label
from tiemchung.interchange.sources import FileProblem, open_source

BATCH_ROWS = 2_000
Progress = Callable[[int, int | None], None]
# Called in each applying chunk's transaction with the subjects that need a verification (created, or whose
# identity changed); the web and the command line pass the verification queue's `enqueue`.
VerifyHook = Callable[[Session, list[int]], object]

SUBJECT_FIELDS = (
    "full_name_raw", "full_name", "name_canonical", "name_folded", "birth_date_raw", "birth_date", "birth_year",
    "sex", "id_number_raw", "id_number", "id_kind", "id_status", "identity_findings", "passport_number",
    "nationality", "phone", "province_code", "district_code", "ward_code", "address",
)  # fmt: skip
DOSE_FIELDS = ("vaccine", "lot_number", "vaccination_date", "dose_kind", "facility_code")
CLEARED_VERIFICATION = {
    "verification_category": None,
    "verification_reasons": "",
    "matched_person_id": None,
    "match_probability": None,
    "verified_at": None,
}
CLEARED_SIGNATURE = {"signed_at": None, "signed_by": None, "signature": None}
COUNTS = ("subjects_created", "subjects_updated", "doses_created", "doses_updated", "findings", "repairs")
INTERRUPTED = "Máy chủ dừng khi đang đọc tệp: chưa có dòng nào được ghi. Hãy nhập lại tệp."


class Status:
    QUEUED = "queued"
    READING = "reading"
    APPLYING = "applying"
    DONE = "done"
    FAILED = "failed"


@dataclass(slots=True)
class ImportReport:
    batch_id: int | None
    file_name: str
    rows_total: int = 0
    accepted: int = 0
    rejected: int = 0
    subjects_created: int = 0
    subjects_updated: int = 0
    doses_created: int = 0
    doses_updated: int = 0
    findings: int = 0
    repairs: int = 0
    errors: list[RowError] = field(default_factory=list)
    file_error: str | None = None

    @property
    def ok(self) -> bool:
        return self.file_error is None

    def counts(self) -> dict[str, int]:
        names = ("rows_total", "accepted", "rejected", *COUNTS)
        return {name: getattr(self, name) for name in names}


def import_records(
    session_factory: sessionmaker[Session],
    path: Path,
    *,
    actor: str,
    facility_code: str | None = None,
    scope: ImportScope | None = None,
    reason_group: str | None = None,
    progress: Progress | None = None,
    today: date | None = None,
    verify: VerifyHook | None = None,
) -> ImportReport:
    """Import a records file (.xlsx / .csv) now; never raises on bad data: `report.file_error` says what was wrong.

    `facility_code` alone is the scope of `tiemchung import --facility`; the web passes the account's `scope`."""
    scope = scope or ImportScope(facility_code=facility_code)
    batch_id = start_batch(session_factory, path.name, actor=actor, scope=scope, reason_group=reason_group)
    return run_import(session_factory, batch_id, path, progress=progress, today=today, verify=verify)


def start_batch(
    session_factory: sessionmaker[Session],
    file_name: str,
    *,
    actor: str,
    scope: ImportScope,
    reason_group: str | None = None,
) -> int:
    """Register an import (status `queued`), so that it can be shown while it waits and runs; returns its id."""
    with transaction(session_factory) as session:
        batch = ImportBatch(file_name=file_name[:255], file_sha256="", facility_code=scope.facility_code,
                            area_code=scope.area_code, uploaded_by=actor, reason_group=reason_group,
                            status=Status.QUEUED, summary={})  # fmt: skip
        session.add(batch)
        session.flush()
        return batch.id


@dataclass(slots=True)
class _Job:
    """What one import carries from phase to phase; nothing per row is kept in memory."""

    batch_id: int
    actor: str
    reason_group: str | None
    scope: ImportScope
    verify: VerifyHook | None
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))


def run_import(
    session_factory: sessionmaker[Session],
    batch_id: int,
    path: Path,
    *,
    progress: Progress | None = None,
    today: date | None = None,
    verify: VerifyHook | None = None,
) -> ImportReport:
    """Read and apply the file of a queued batch (the background job of the web, or `import_records`)."""
    job = _load_job(session_factory, batch_id, verify)
    problem = _reason_group_problem(job.reason_group)
    source = open_source(path) if problem is None else FileProblem(problem)
    if isinstance(source, FileProblem):
        return _fail(session_factory, job, source.message_vi)
    _set(session_factory, batch_id, status=Status.READING, file_sha256=file_sha256(path),
         rows_expected=source.declared_rows)  # fmt: skip
    parser = RowParser(facility_code=job.scope.facility_code, today=today)
    pending: list[RecordRow] = []
    read = 0
    for raw in source.rows():
        pending.append(parser.parse(raw))
        if len(pending) >= BATCH_ROWS:
            read += _stage(session_factory, job, pending)
            pending = []
            if progress is not None:
                progress(read, source.declared_rows)
    read += _stage(session_factory, job, pending)
    if source.problem is not None:
        return _fail(session_factory, job, f"{source.problem.message_vi} Chưa có dòng nào được ghi.")
    _reject_repeated_records(session_factory, job)
    _set(session_factory, batch_id, status=Status.APPLYING)
    _apply_staged(session_factory, job)
    if progress is not None:
        progress(read, read)
    return report_of(session_factory, batch_id)


def resume_imports(session_factory: sessionmaker[Session], verify: VerifyHook | None = None) -> list[int]:
    """After a crash or a restart: finish the imports that were applying (their file was read whole and is good),
    and fail those still queued or reading (nothing of them was written; the file must be sent again)."""
    with session_factory() as session:
        unfinished = session.execute(
            select(ImportBatch.id, ImportBatch.status).where(
                ImportBatch.status.in_((Status.QUEUED, Status.READING, Status.APPLYING))
            )
        ).all()
    for batch_id, _status in unfinished:
        resume_import(session_factory, batch_id, verify)
    return [batch_id for batch_id, _ in unfinished]


def resume_import(
    session_factory: sessionmaker[Session], batch_id: int, verify: VerifyHook | None = None
) -> ImportReport:
    """One interrupted import: finished when it was applying, failed when it was still queued or reading."""
    with session_factory() as session:
        status = session.scalar(select(ImportBatch.status).where(ImportBatch.id == batch_id))
    if status in (Status.QUEUED, Status.READING, Status.APPLYING):
        job = _load_job(session_factory, batch_id, verify)
        if status == Status.APPLYING:
            _apply_staged(session_factory, job)
        else:
            _fail(session_factory, job, INTERRUPTED)
    return report_of(session_factory, batch_id)


def report_of(session_factory: sessionmaker[Session], batch_id: int) -> ImportReport:
    """The report of a batch as stored (for the result page, the API, and the error workbook)."""
    with session_factory() as session:
        batch = session.get(ImportBatch, batch_id)
        assert batch is not None, batch_id
        errors = [
            RowError(row, column, value, message)
            for row, column, value, message in session.execute(
                select(ImportRowError.row, ImportRowError.column, ImportRowError.value, ImportRowError.message)
                .where(ImportRowError.import_batch_id == batch_id)
                .order_by(ImportRowError.row, ImportRowError.id)
            )
        ]
    report = ImportReport(batch_id=batch.id, file_name=batch.file_name, errors=errors)
    if batch.status == Status.FAILED:
        report.file_error = batch.error_message
        return report
    report.rows_total, report.accepted, report.rejected = batch.rows_total, batch.rows_accepted, batch.rows_rejected
    for name in COUNTS:
        setattr(report, name, int((batch.summary or {}).get(name, 0)))
    return report


def _load_job(session_factory: sessionmaker[Session], batch_id: int, verify: VerifyHook | None) -> _Job:
    with session_factory() as session:
        batch = session.get(ImportBatch, batch_id)
        assert batch is not None, batch_id
        scope = ImportScope(facility_code=batch.facility_code, area_code=batch.area_code or "")
        job = _Job(batch.id, batch.uploaded_by, batch.reason_group, scope, verify)
        job.counts.update({name: int((batch.summary or {}).get(name, 0)) for name in COUNTS})
        return job


def _set(session_factory: sessionmaker[Session], batch_id: int, **values: Any) -> None:
    with transaction(session_factory) as session:
        session.execute(update(ImportBatch).where(ImportBatch.id == batch_id).values(**values))


def fail_batch(session_factory: sessionmaker[Session], batch_id: int, message_vi: str) -> None:
    """Mark a batch failed with its reason before it ran (the upload was refused, the job crashed)."""
    _set(session_factory, batch_id, status=Status.FAILED, error_message=message_vi, finished_at=datetime.now(UTC))


def _fail(session_factory: sessionmaker[Session], job: _Job, message_vi: str) -> ImportReport:
    """The file cannot be used: nothing of it reached the registry; forget what was staged, say why."""
    _delete_staged(session_factory, job.batch_id, errors_too=True)
    _set(session_factory, job.batch_id, status=Status.FAILED, error_message=message_vi,
         finished_at=datetime.now(UTC))  # fmt: skip
    return report_of(session_factory, job.batch_id)


def _delete_staged(session_factory: sessionmaker[Session], batch_id: int, *, errors_too: bool = False) -> None:
    """In chunks, each its own short transaction (a million staged rows must not hold the write lock)."""
    tables = (ImportRow, ImportRowError) if errors_too else (ImportRow,)
    for table in tables:
        while True:
            with transaction(session_factory) as session:
                ids = list(session.scalars(select(table.id).where(table.import_batch_id == batch_id).limit(10_000)))
                if not ids:
                    break
                session.execute(delete(table).where(table.id.in_(ids)))


def _reason_group_problem(reason_group: str | None) -> str | None:
    if reason_group is None:
        return None
    from tiemchung.reference import ReasonGroup

    try:
        ReasonGroup(reason_group)
    except ValueError:
        allowed = ", ".join(str(group.value) for group in ReasonGroup)
        return f"Nhóm lý do không hợp lệ: {reason_group} (dùng một trong: {allowed})."
    return None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------------- reading


def _stage(session_factory: sessionmaker[Session], job: _Job, rows: list[RecordRow]) -> int:
    """Stage the accepted rows and store the errors of the rejected ones: one short transaction."""
    if not rows:
        return 0
    staged = [_staged_values(job.batch_id, row) for row in rows if row.accepted]
    errors = [error for row in rows for error in row.errors]
    rejected = sum(1 for row in rows if not row.accepted)
    job.counts["repairs"] += sum(len(row.repairs) for row in rows)
    with transaction(session_factory) as session:
        if staged:
            write_rows(session.connection(), "import_rows", _STAGED_COLUMNS, staged)
        _store_errors(session, job.batch_id, errors)
        session.execute(
            update(ImportBatch)
            .where(ImportBatch.id == job.batch_id)
            .values(
                rows_total=ImportBatch.rows_total + len(rows),
                rows_rejected=ImportBatch.rows_rejected + rejected,
                summary=dict(job.counts),
            )
        )
    return len(rows)


_STAGED_COLUMNS = ("import_batch_id", "row", "subject_key", "record_id", "compared", "payload", "state")
_SUBJECT_NAMES = tuple(field.name for field in fields(SubjectIdentity))
_DOSE_NAMES = tuple(field.name for field in fields(DoseEntry))


def _staged_values(batch_id: int, row: RecordRow) -> tuple[Any, ...]:
    """The `import_rows` row of an accepted row (`_STAGED_COLUMNS`), its JSON made here: staged by COPY on
    PostgreSQL and one executemany on SQLite, without SQLAlchemy's per-row work (issue 21)."""
    subject, dose = row.subject, row.dose
    assert subject is not None and dose is not None
    subject_values = {name: getattr(subject, name) for name in _SUBJECT_NAMES}  # shallow: asdict deep-copies
    dose_values = {name: getattr(dose, name) for name in _DOSE_NAMES}
    dose_values["vaccination_date"] = dose.vaccination_date.isoformat()
    payload = {"subject": subject_values, "dose": dose_values, "record_id": row.raw.get("record_id", "")}
    compared = json.dumps(subject.compared(), ensure_ascii=False)
    return (batch_id, row.row, subject.subject_key, dose.record_id, compared, json.dumps(payload), "staged")


def _store_errors(session: Session, batch_id: int, errors: Sequence[RowError]) -> None:
    if errors:
        session.execute(
            insert(ImportRowError),
            [
                {
                    "import_batch_id": batch_id,
                    "row": error.row,
                    "column": error.column,
                    "value": error.value[:128],
                    "message": error.message_vi,
                }
                for error in errors
            ],
        )


def _reject_repeated_records(session_factory: sessionmaker[Session], job: _Job) -> None:
    """A record_id twice in one file is ambiguous: the first row counts, the later ones are rejected."""
    first = (
        select(ImportRow.record_id, func.min(ImportRow.row).label("first_row"))
        .where(ImportRow.import_batch_id == job.batch_id)
        .group_by(ImportRow.record_id)
        .having(func.count() > 1)
        .subquery()
    )
    with transaction(session_factory) as session:
        repeated = session.execute(
            select(ImportRow.id, ImportRow.row, ImportRow.record_id, first.c.first_row)
            .join(first, first.c.record_id == ImportRow.record_id)
            .where(ImportRow.import_batch_id == job.batch_id, ImportRow.row > first.c.first_row)
        ).all()
        if not repeated:
            return
        errors = [RowError(row, "record_id", record_id, f"Mã mũi tiêm trùng với dòng {first_row} của cùng tệp.")
                  for _, row, record_id, first_row in repeated]  # fmt: skip
        _store_errors(session, job.batch_id, errors)
        _mark(session, [row_id for row_id, *_ in repeated], "duplicate")
        session.execute(
            update(ImportBatch)
            .where(ImportBatch.id == job.batch_id)
            .values(rows_rejected=ImportBatch.rows_rejected + len(repeated))
        )


def _mark(session: Session, row_ids: Iterable[int], state: str) -> None:
    ids = list(row_ids)
    for start in range(0, len(ids), 5_000):  # SQLite's bound-parameter limit
        session.execute(update(ImportRow).where(ImportRow.id.in_(ids[start : start + 5_000])).values(state=state))


# ---------------------------------------------------------------------------------------------------- applying


@dataclass(slots=True)
class _Staged:
    id: int
    row: int
    subject: SubjectIdentity
    dose: DoseEntry
    raw_record_id: str
    state: str = "applied"  # or "rejected" (this row only) / "refused" (the subject: all its rows)


def _apply_staged(session_factory: sessionmaker[Session], job: _Job) -> None:
    """Apply the staged rows in row order, one chunk a transaction, then close the batch."""
    while rows := _next_chunk(session_factory, job.batch_id):
        with transaction(session_factory) as session:
            _apply_chunk(session, rows, job)
    _finish(session_factory, job)
    _delete_staged(session_factory, job.batch_id)


def _next_chunk(session_factory: sessionmaker[Session], batch_id: int) -> list[_Staged]:
    """The next staged rows in row order, read by plain SQL and decoded here (no ORM loading per row)."""
    with session_factory() as session:
        found = session.connection().execute(
            text(
                "SELECT id, row, payload FROM import_rows WHERE import_batch_id = :batch AND state = 'staged' "
                "ORDER BY row LIMIT :limit"
            ),
            {"batch": batch_id, "limit": BATCH_ROWS},
        )
        return [_staged(row_id, row, _json(payload)) for row_id, row, payload in found]


def _json(value: Any) -> Any:
    """A JSON column read by plain SQL: text on SQLite, already decoded by psycopg."""
    return json.loads(value) if isinstance(value, str) else value


def _staged(row_id: int, row: int, payload: dict[str, Any]) -> _Staged:
    subject = dict(payload["subject"])
    subject["identity_findings"] = tuple(subject["identity_findings"])
    dose = dict(payload["dose"])
    dose["vaccination_date"] = date.fromisoformat(dose["vaccination_date"])
    return _Staged(row_id, row, SubjectIdentity(**subject), DoseEntry(**dose), payload.get("record_id", ""))


def _apply_chunk(session: Session, rows: list[_Staged], job: _Job) -> None:
    errors: list[RowError] = []
    _check_doses(session, rows, job.scope, errors)
    subject_ids = _store_subjects(session, [row for row in rows if row.state == "applied"], job, errors)
    applied = [row for row in rows if row.state == "applied"]
    _store_doses(session, applied, subject_ids, job)
    if job.verify is not None:
        job.verify(session, _unverified(session, set(subject_ids.values())))
    _store_errors(session, job.batch_id, errors)
    for state in ("applied", "rejected", "refused"):
        _mark(session, [row.id for row in rows if row.state == state], state)
    session.execute(
        update(ImportBatch)
        .where(ImportBatch.id == job.batch_id)
        .values(
            rows_applied=ImportBatch.rows_applied + len(rows),
            rows_accepted=ImportBatch.rows_accepted + len(applied),
            rows_rejected=ImportBatch.rows_rejected + len(rows) - len(applied),
            summary=dict(job.counts),
        )
    )


def _unverified(session: Session, subject_ids: set[int]) -> list[int]:
    if not subject_ids:
        return []
    return sorted(
        session.scalars(select(Subject.id).where(Subject.id.in_(subject_ids), Subject.verification_category.is_(None)))
    )


_FOREIGN_DOSE = (
    "Mã mũi tiêm này đã thuộc một mũi tiêm ngoài phạm vi của bạn (cơ sở tiêm chủng hoặc địa bàn khác): "
    "dòng này không được ghi."
)
_FOREIGN_SUBJECT = (
    "Mã đối tượng này đã thuộc một người ngoài phạm vi của bạn (cơ sở tiêm chủng hoặc địa bàn khác): "
    "dòng này không được ghi. Hãy dùng mã đối tượng của cơ sở mình."
)
_UNKNOWN_FACILITY = "Mã cơ sở tiêm chủng chưa có trong danh mục cơ sở tiêm chủng."
_OUTSIDE_AREA = "Nơi thường trú nằm ngoài địa bàn bạn phụ trách ({area}): dòng này không được ghi."
_SUBJECT_REFUSED = "Dòng {first} của cùng đối tượng đã bị từ chối vì đối tượng nằm ngoài phạm vi của bạn."


def _check_doses(session: Session, rows: list[_Staged], scope: ImportScope, errors: list[RowError]) -> None:
    """Reject the rows whose record_id names a stored dose outside the scope, or a facility nobody registered
    (an area-scoped import without a facility of its own: a station's)."""
    if scope.unscoped:
        return
    stored = session.execute(
        select(Dose.record_id, Dose.facility_code, Subject.province_code, Subject.district_code, Subject.ward_code)
        .join(Subject, Subject.id == Dose.subject_id)
        .where(Dose.record_id.in_({row.dose.record_id for row in rows}))
    ).all()
    foreign = {record_id for record_id, *owner in stored if not scope.owns(*owner)}
    known: set[str] | None = None
    if scope.facility_code is None:
        codes = {row.dose.facility_code for row in rows}
        known = set(session.scalars(select(Facility.code).where(Facility.code.in_(codes))))
    for row in rows:
        if row.dose.record_id in foreign:
            row.state = "rejected"
            errors.append(RowError(row.row, "record_id", row.dose.record_id, _FOREIGN_DOSE))
        elif known is not None and row.dose.facility_code not in known:
            row.state = "rejected"
            errors.append(RowError(row.row, "facility_code", row.dose.facility_code, _UNKNOWN_FACILITY))


def _store_subjects(session: Session, rows: list[_Staged], job: _Job, errors: list[RowError]) -> dict[str, int]:
    """Insert new subjects, update changed ones, record disagreements; returns subject_key -> id of the rows kept.

    A subject's identity is taken from its first row in the file; a subject outside the scope (stored under the key
    for another facility or area, or living outside the area) is refused with all its rows."""
    keys = {row.subject.subject_key for row in rows}
    earlier = _earlier_rows(session, job.batch_id, keys)
    firsts: dict[str, _Staged] = {}
    for row in rows:
        key = row.subject.subject_key
        if key in earlier:
            first_row, state, _ = earlier[key]
            if state == "refused":
                row.state = "refused"
                errors.append(RowError(row.row, "subject_id", key, _SUBJECT_REFUSED.format(first=first_row)))
        else:
            firsts.setdefault(key, row)
    existing = _existing_subjects(session, list(firsts))
    for key, row in list(firsts.items()):
        problem = _subject_scope_problem(existing.get(key), row.subject, job.scope)
        if problem is not None:
            del firsts[key]
            for other in rows:
                if other.subject.subject_key == key and other.state == "applied":
                    other.state = "refused"
                    errors.append(RowError(other.row, problem[0], problem[1], problem[2]))
    changed = {key: row for key, row in firsts.items() if _differs(existing.get(key), row.subject)}
    if changed:
        _upsert(session, Subject.__table__, [_subject_values(row) for row in changed.values()], "subject_key",
                [*SUBJECT_FIELDS, *CLEARED_VERIFICATION, "updated_at"])  # fmt: skip
    kept = {row.subject.subject_key for row in rows if row.state == "applied"}
    ids = _subject_ids(session, list(kept))
    _audit_subject_changes(session, changed, existing, ids, job)
    compared = {key: json.loads(value) for key, (_, _, value) in earlier.items()}
    compared.update({key: list(row.subject.compared()) for key, row in firsts.items()})
    for row in rows:
        if row.state == "applied" and firsts.get(row.subject.subject_key) is not row:
            _record_disagreement(session, row, ids[row.subject.subject_key], compared[row.subject.subject_key], job)
    return ids


def _earlier_rows(session: Session, batch_id: int, keys: set[str]) -> dict[str, tuple[int, str, str]]:
    """subject_key -> (row, state, compared) of the subject's first row applied or refused in an earlier chunk."""
    found: dict[str, tuple[int, str, str]] = {}
    result = session.execute(
        select(ImportRow.subject_key, ImportRow.row, ImportRow.state, ImportRow.compared)
        .where(
            ImportRow.import_batch_id == batch_id,
            ImportRow.subject_key.in_(keys),
            ImportRow.state.in_(("applied", "refused")),
        )
        .order_by(ImportRow.row)
    )
    for key, row, state, compared in result:
        found.setdefault(key, (row, state, compared))
    return found


def _subject_scope_problem(
    stored: dict[str, Any] | None, identity: SubjectIdentity, scope: ImportScope
) -> tuple[str, str, str] | None:
    """(column, value, message) when the row may not write this subject, else None."""
    if scope.unscoped:
        return None
    if stored is not None and not scope.owns(
        stored["facility_code"], stored["province_code"], stored["district_code"], stored["ward_code"]
    ):
        return "subject_id", identity.subject_key, _FOREIGN_SUBJECT
    if not scope.covers(identity.province_code, identity.district_code, identity.ward_code):
        return "ward_code", identity.ward_code, _OUTSIDE_AREA.format(area=scope.area_label())
    return None


def _existing_subjects(session: Session, keys: list[str]) -> dict[str, dict[str, Any]]:
    if not keys:
        return {}
    columns = [Subject.__table__.c[name] for name in ("id", "subject_key", "facility_code", *SUBJECT_FIELDS)]
    result = session.execute(select(*columns).where(Subject.subject_key.in_(keys)))
    return {row.subject_key: dict(row._mapping) for row in result}


def _differs(current: dict[str, Any] | None, identity: SubjectIdentity) -> bool:
    if current is None:
        return True
    return any(_comparable(current[name]) != _comparable(getattr(identity, name)) for name in SUBJECT_FIELDS)


def _comparable(value: Any) -> Any:
    """JSON columns come back as lists of dicts; the identity holds tuples."""
    return list(value) if isinstance(value, tuple | list) else value


def _subject_values(row: _Staged) -> dict[str, Any]:
    identity = row.subject
    values: dict[str, Any] = {name: getattr(identity, name) for name in SUBJECT_FIELDS}
    values["identity_findings"] = list(identity.identity_findings)
    values.update(CLEARED_VERIFICATION)
    values["subject_key"] = identity.subject_key
    values["facility_code"] = row.dose.facility_code
    values["updated_at"] = datetime.now(UTC)
    return values


def _subject_ids(session: Session, keys: list[str]) -> dict[str, int]:
    if not keys:
        return {}
    result = session.execute(select(Subject.subject_key, Subject.id).where(Subject.subject_key.in_(keys)))
    return {key: subject_id for key, subject_id in result}


def _audit_subject_changes(
    session: Session,
    changed: dict[str, _Staged],
    existing: dict[str, dict[str, Any]],
    ids: dict[str, int],
    job: _Job,
) -> None:
    """One audit event per subject created or changed, with old -> new values of what changed."""
    events = []
    for key, row in changed.items():
        before = existing.get(key)
        detail: dict[str, Any] = {"import_batch_id": job.batch_id, "row": row.row}
        if before is None:
            action = "create"
            job.counts["subjects_created"] += 1
        else:
            action = "update"
            detail["changes"] = _changes(before, row.subject)
            job.counts["subjects_updated"] += 1
        events.append(
            {
                "actor": job.actor,
                "actor_role": "",
                "action": action,
                "entity": "subject",
                "entity_id": str(ids[key]),
                "subject_id": ids[key],
                "reason": "Nhập tệp",
                "detail": detail,
            }
        )
    if events:
        audit.record_many(session, events)


def _changes(before: dict[str, Any], identity: SubjectIdentity) -> dict[str, list[Any]]:
    return {
        name: [before[name], _comparable(getattr(identity, name))]
        for name in SUBJECT_FIELDS
        if _comparable(before[name]) != _comparable(getattr(identity, name))
    }


def _record_disagreement(session: Session, row: _Staged, subject_id: int, first: list[Any], job: _Job) -> None:
    differences = disagreements(tuple(first), row.subject)
    if not differences:
        return
    labels = ", ".join(_FIELD_LABELS[name] for name in differences)
    session.add(
        Finding(
            code="SUBJECT_ROWS_DISAGREE",
            message=f"Dòng {row.row} khác các dòng trước của đối tượng {row.subject.subject_key} về: {labels}.",
            subject_id=subject_id,
            import_batch_id=job.batch_id,
            detail={
                "row": row.row,
                "record_id": row.raw_record_id,
                "differences": {name: list(pair) for name, pair in differences.items()},
            },
        )
    )
    job.counts["findings"] += 1


_FIELD_LABELS = {
    "name_canonical": header_label("full_name"),
    "birth_date": header_label("birth_date"),
    "sex": header_label("sex"),
    "id_number": header_label("id_number"),
    "passport_number": header_label("passport_number"),
    "nationality": header_label("nationality"),
}


def _store_doses(session: Session, rows: list[_Staged], subject_ids: dict[str, int], job: _Job) -> None:
    if not rows:
        return
    values = [_dose_values(row, subject_ids, job) for row in rows]
    existing = _existing_doses(session, [value["record_id"] for value in values])
    changed = []
    for value in values:
        before = existing.get(value["record_id"])
        if before is None:
            job.counts["doses_created"] += 1
            changed.append(value)
        elif any(before[name] != value[name] for name in (*DOSE_FIELDS, "subject_id")):
            job.counts["doses_updated"] += 1
            changed.append({**value, **CLEARED_SIGNATURE})
    if changed:
        session.flush()
        _upsert(session, Dose.__table__, changed, "record_id",
                [*DOSE_FIELDS, "subject_id", "import_batch_id", *CLEARED_SIGNATURE])  # fmt: skip


def _dose_values(row: _Staged, subject_ids: dict[str, int], job: _Job) -> dict[str, Any]:
    dose = row.dose
    return {
        "record_id": dose.record_id,
        "subject_id": subject_ids[row.subject.subject_key],
        "vaccine": dose.vaccine,
        "lot_number": dose.lot_number,
        "vaccination_date": dose.vaccination_date,
        "dose_kind": dose.dose_kind,
        "facility_code": dose.facility_code,
        "entered_by": job.actor,
        "import_batch_id": job.batch_id,
        "reason_group": job.reason_group,
        **CLEARED_SIGNATURE,
    }


def _existing_doses(session: Session, record_ids: list[str]) -> dict[str, dict[str, Any]]:
    columns = [Dose.__table__.c[name] for name in ("record_id", "subject_id", *DOSE_FIELDS)]
    result = session.execute(select(*columns).where(Dose.record_id.in_(record_ids)))
    return {row.record_id: dict(row._mapping) for row in result}


def _finish(session_factory: sessionmaker[Session], job: _Job) -> None:
    with transaction(session_factory) as session:
        batch = session.get(ImportBatch, job.batch_id)
        assert batch is not None
        batch.status = Status.DONE
        batch.rows_rejected = batch.rows_total - batch.rows_accepted
        batch.summary = dict(job.counts)
        batch.finished_at = datetime.now(UTC)
        counts = {"rows_total": batch.rows_total, "accepted": batch.rows_accepted, "rejected": batch.rows_rejected,
                  **job.counts}  # fmt: skip
        audit_record(session, actor=job.actor, action="import", entity="import_batch", entity_id=batch.id,
                     reason=f"Nhập tệp {batch.file_name}", detail=counts)  # fmt: skip


def _upsert(session: Session, table: Any, rows: list[dict[str, Any]], key: str, update: list[str]) -> None:
    """INSERT ... ON CONFLICT (key) DO UPDATE, in the dialect of the session's database.

    Doses on PostgreSQL go as one array per column into one `INSERT ... SELECT FROM unnest(...)`: one statement
    per batch, so the summary of entered doses (a statement-level trigger on doses) is updated once per batch,
    where an executemany (psycopg sends one statement per row) would run it per row. A batch's keys are unique.
    """
    statement = _dialect_insert(session, table)
    postgres = session.get_bind().dialect.name == "postgresql" and table is Dose.__table__
    if postgres:
        statement = statement.from_select(list(rows[0]), _unnest(table, rows))
    excluded = statement.excluded
    set_ = {name: (func.now() if name == "updated_at" else excluded[name]) for name in update}
    upsert = statement.on_conflict_do_update(index_elements=[key], set_=set_)
    session.execute(upsert) if postgres else session.execute(upsert, rows)


def _unnest(table: Table, rows: list[dict[str, Any]]) -> Any:
    from sqlalchemy import bindparam
    from sqlalchemy.dialects.postgresql import ARRAY

    names = list(rows[0])
    arrays = (bindparam(name, [row[name] for row in rows], type_=ARRAY(table.c[name].type)) for name in names)
    columns = func.unnest(*arrays).table_valued(*names).render_derived()
    return select(*(columns.c[name] for name in names))


def _dialect_insert(session: Session, table: Table) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)

"""`import_records`: a vaccination-records file into the registry, atomically and idempotently.

The whole file is one database transaction: a crash, a kill or a file that turns out to be unusable half-way leaves
the registry exactly as it was. Inside it, rows are parsed and written in batches (bounded memory), with Core
`INSERT ... ON CONFLICT DO UPDATE` keyed by `subject_id` / `record_id`, so re-importing a file or a corrected version
of it updates rows and never duplicates them. Rejected rows are reported, one error per problem, and never stop the
accepted ones. Rows of one subject that disagree on identity become `Finding` rows instead of silent overwrites.
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session, sessionmaker

from tiemchung.registry import audit
from tiemchung.registry.audit import record as audit_record
from tiemchung.registry.columns import header_label
from tiemchung.registry.db import transaction
from tiemchung.registry.models import Dose, Finding, ImportBatch, Subject
from tiemchung.registry.records import RecordRow, RowError, RowParser, SubjectIdentity, disagreements
from tiemchung.registry.sources import FileProblem, RecordSource, open_source

BATCH_ROWS = 2_000
Progress = Callable[[int, int | None], None]

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
        names = ("rows_total", "accepted", "rejected", "subjects_created", "subjects_updated", "doses_created",
                 "doses_updated", "findings", "repairs")  # fmt: skip
        return {name: getattr(self, name) for name in names}


class _AbortImport(Exception):
    """Rolls the import's transaction back when the file turns out to be unusable after rows were written."""


@dataclass(slots=True)
class _ImportState:
    """What one import remembers across batches: small per subject / per record, nothing per cell."""

    batch_id: int
    actor: str
    reason_group: str | None
    report: ImportReport
    facility_code: str | None = None
    # subject_key -> (subject id, compared identity fields of its first row in this file)
    first_identity: dict[str, tuple[int, tuple[Any, ...]]] = field(default_factory=dict)
    record_rows: dict[str, int] = field(default_factory=dict)


def import_records(
    session_factory: sessionmaker[Session],
    path: Path,
    *,
    actor: str,
    facility_code: str | None = None,
    reason_group: str | None = None,
    progress: Progress | None = None,
    today: date | None = None,
) -> ImportReport:
    """Import a records file (.xlsx / .csv); never raises on bad data: `report.file_error` says what was wrong."""
    report = ImportReport(batch_id=None, file_name=path.name)
    group_problem = _reason_group_problem(reason_group)
    source = open_source(path) if group_problem is None else FileProblem(group_problem)
    if isinstance(source, FileProblem):
        report.file_error = source.message_vi
        return report
    parser = RowParser(facility_code=facility_code, today=today)
    try:
        with transaction(session_factory) as session:
            batch = _start_batch(session, path, actor, facility_code, reason_group)
            state = _ImportState(batch.id, actor, reason_group, report, facility_code)
            _import_rows(session, source, parser, state, progress)
            if source.problem is not None:
                raise _AbortImport(source.problem.message_vi)
            _finish_batch(session, batch, state)
    except _AbortImport as abort:
        return _aborted(path, str(abort))
    return report


def _aborted(path: Path, message_vi: str) -> ImportReport:
    return ImportReport(batch_id=None, file_name=path.name, file_error=f"{message_vi} Chưa có dòng nào được ghi.")


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


def _start_batch(
    session: Session, path: Path, actor: str, facility_code: str | None, reason_group: str | None
) -> ImportBatch:
    batch = ImportBatch(
        file_name=path.name,
        file_sha256=file_sha256(path),
        facility_code=facility_code,
        uploaded_by=actor,
        reason_group=reason_group,
        status="running",
        summary={},
    )
    session.add(batch)
    session.flush()
    return batch


def _finish_batch(session: Session, batch: ImportBatch, state: _ImportState) -> None:
    report = state.report
    report.batch_id = batch.id
    report.rejected = report.rows_total - report.accepted
    batch.status = "done"
    batch.rows_total = report.rows_total
    batch.rows_accepted = report.accepted
    batch.rows_rejected = report.rejected
    batch.summary = report.counts()
    batch.finished_at = datetime.now(UTC)
    audit_record(
        session,
        actor=state.actor,
        action="import",
        entity="import_batch",
        entity_id=batch.id,
        reason=f"Nhập tệp {batch.file_name}",
        detail=report.counts(),
    )


def _import_rows(
    session: Session, source: RecordSource, parser: RowParser, state: _ImportState, progress: Progress | None
) -> None:
    pending: list[RecordRow] = []
    for raw in source.rows():
        pending.append(parser.parse(raw))
        if len(pending) >= BATCH_ROWS:
            _apply(session, pending, state)
            pending = []
            if progress is not None:
                progress(state.report.rows_total, source.declared_rows)
    _apply(session, pending, state)
    if progress is not None:
        progress(state.report.rows_total, state.report.rows_total)


def _apply(session: Session, rows: list[RecordRow], state: _ImportState) -> None:
    report = state.report
    report.rows_total += len(rows)
    accepted = [row for row in rows if row.accepted and not _duplicate_record(row, state)]
    if state.facility_code is not None:
        accepted = _own_keys_only(session, accepted, state.facility_code)
    for row in rows:
        report.errors.extend(row.errors)
        report.repairs += len(row.repairs)
    if not accepted:
        return
    report.accepted += len(accepted)
    subject_ids = _store_subjects(session, accepted, state)
    _store_doses(session, accepted, subject_ids, state)


def _own_keys_only(session: Session, rows: list[RecordRow], facility_code: str) -> list[RecordRow]:
    """A facility's upload may not change another facility's subjects or doses through a colliding key."""
    subject_keys = {row.subject.subject_key for row in rows if row.subject is not None}
    record_ids = {row.dose.record_id for row in rows if row.dose is not None}
    foreign_subjects = set(
        session.scalars(
            select(Subject.subject_key).where(
                Subject.subject_key.in_(subject_keys), Subject.facility_code != facility_code
            )
        )
    )
    foreign_doses = set(
        session.scalars(
            select(Dose.record_id).where(Dose.record_id.in_(record_ids), Dose.facility_code != facility_code)
        )
    )
    kept = []
    for row in rows:
        assert row.subject is not None and row.dose is not None
        if row.subject.subject_key in foreign_subjects:
            row.errors.append(
                RowError(row.row, "subject_id", row.subject.subject_key, _FOREIGN_KEY.format("đối tượng"))
            )
        elif row.dose.record_id in foreign_doses:
            row.errors.append(RowError(row.row, "record_id", row.dose.record_id, _FOREIGN_KEY.format("mũi tiêm")))
        else:
            kept.append(row)
    return kept


_FOREIGN_KEY = "Mã {} này đã thuộc cơ sở tiêm chủng khác: hãy dùng mã của cơ sở mình."


def _duplicate_record(row: RecordRow, state: _ImportState) -> bool:
    """A record_id twice in one file is ambiguous: keep the first row, reject the later one."""
    assert row.dose is not None
    first = state.record_rows.setdefault(row.dose.record_id, row.row)
    if first == row.row:
        return False
    row.errors.append(
        RowError(row.row, "record_id", row.dose.record_id, f"Mã mũi tiêm trùng với dòng {first} của cùng tệp.")
    )
    return True


def _store_subjects(session: Session, rows: list[RecordRow], state: _ImportState) -> dict[str, int]:
    """Insert new subjects, update changed ones, record disagreements; returns subject_key -> id."""
    firsts: dict[str, RecordRow] = {}
    for row in rows:
        assert row.subject is not None
        key = row.subject.subject_key
        if key not in state.first_identity and key not in firsts:
            firsts[key] = row
    existing = _existing_subjects(session, list(firsts))
    changed = {key: row for key, row in firsts.items() if _differs(existing.get(key), row.subject)}
    if changed:
        _upsert(session, Subject.__table__, [_subject_values(row) for row in changed.values()], "subject_key",
                [*SUBJECT_FIELDS, *CLEARED_VERIFICATION, "updated_at"])  # fmt: skip
    ids = _subject_ids(session, list(firsts)) if changed else {key: existing[key]["id"] for key in firsts}
    _audit_subject_changes(session, changed, existing, ids, state)
    for key, row in firsts.items():
        assert row.subject is not None
        state.first_identity[key] = (ids[key], row.subject.compared())
    for row in rows:
        _record_disagreement(session, row, state)
    return {key: state.first_identity[key][0] for key in {row.subject.subject_key for row in rows if row.subject}}


def _existing_subjects(session: Session, keys: list[str]) -> dict[str, dict[str, Any]]:
    if not keys:
        return {}
    columns = [Subject.__table__.c[name] for name in ("id", "subject_key", *SUBJECT_FIELDS)]
    result = session.execute(select(*columns).where(Subject.subject_key.in_(keys)))
    return {row.subject_key: dict(row._mapping) for row in result}


def _differs(current: dict[str, Any] | None, identity: SubjectIdentity | None) -> bool:
    assert identity is not None
    if current is None:
        return True
    return any(_comparable(current[name]) != _comparable(getattr(identity, name)) for name in SUBJECT_FIELDS)


def _comparable(value: Any) -> Any:
    """JSON columns come back as lists of dicts; the identity holds tuples."""
    return list(value) if isinstance(value, tuple | list) else value


def _subject_values(row: RecordRow) -> dict[str, Any]:
    identity = row.subject
    assert identity is not None and row.dose is not None
    values: dict[str, Any] = {name: getattr(identity, name) for name in SUBJECT_FIELDS}
    values["identity_findings"] = list(identity.identity_findings)
    values.update(CLEARED_VERIFICATION)
    values["subject_key"] = identity.subject_key
    values["facility_code"] = row.dose.facility_code
    values["updated_at"] = datetime.now(UTC)
    return values


def _subject_ids(session: Session, keys: list[str]) -> dict[str, int]:
    result = session.execute(select(Subject.subject_key, Subject.id).where(Subject.subject_key.in_(keys)))
    return {key: subject_id for key, subject_id in result}


def _audit_subject_changes(
    session: Session,
    changed: dict[str, RecordRow],
    existing: dict[str, dict[str, Any]],
    ids: dict[str, int],
    state: _ImportState,
) -> None:
    """One audit event per subject created or changed, with old -> new values of what changed."""
    events = []
    for key, row in changed.items():
        before = existing.get(key)
        assert row.subject is not None
        detail: dict[str, Any] = {"import_batch_id": state.batch_id, "row": row.row}
        if before is None:
            action = "create"
            state.report.subjects_created += 1
        else:
            action = "update"
            detail["changes"] = _changes(before, row.subject)
            state.report.subjects_updated += 1
        events.append(
            {
                "actor": state.actor,
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


def _record_disagreement(session: Session, row: RecordRow, state: _ImportState) -> None:
    identity = row.subject
    assert identity is not None
    subject_id, first = state.first_identity[identity.subject_key]
    differences = disagreements(first, identity)
    if not differences:
        return
    labels = ", ".join(_FIELD_LABELS[name] for name in differences)
    session.add(
        Finding(
            code="SUBJECT_ROWS_DISAGREE",
            message=f"Dòng {row.row} khác các dòng trước của đối tượng {identity.subject_key} về: {labels}.",
            subject_id=subject_id,
            import_batch_id=state.batch_id,
            detail={
                "row": row.row,
                "record_id": row.raw.get("record_id", ""),
                "differences": {name: list(pair) for name, pair in differences.items()},
            },
        )
    )
    state.report.findings += 1


_FIELD_LABELS = {
    "name_canonical": header_label("full_name"),
    "birth_date": header_label("birth_date"),
    "sex": header_label("sex"),
    "id_number": header_label("id_number"),
    "passport_number": header_label("passport_number"),
    "nationality": header_label("nationality"),
}


def _store_doses(session: Session, rows: list[RecordRow], subject_ids: dict[str, int], state: _ImportState) -> None:
    values = [_dose_values(row, subject_ids, state) for row in rows]
    existing = _existing_doses(session, [value["record_id"] for value in values])
    changed = []
    for value in values:
        before = existing.get(value["record_id"])
        if before is None:
            state.report.doses_created += 1
            changed.append(value)
        elif any(before[name] != value[name] for name in (*DOSE_FIELDS, "subject_id")):
            state.report.doses_updated += 1
            changed.append({**value, **CLEARED_SIGNATURE})
    if changed:
        session.flush()
        _upsert(session, Dose.__table__, changed, "record_id",
                [*DOSE_FIELDS, "subject_id", "import_batch_id", *CLEARED_SIGNATURE])  # fmt: skip


def _dose_values(row: RecordRow, subject_ids: dict[str, int], state: _ImportState) -> dict[str, Any]:
    dose, identity = row.dose, row.subject
    assert dose is not None and identity is not None
    return {
        "record_id": dose.record_id,
        "subject_id": subject_ids[identity.subject_key],
        "vaccine": dose.vaccine,
        "lot_number": dose.lot_number,
        "vaccination_date": dose.vaccination_date,
        "dose_kind": dose.dose_kind,
        "facility_code": dose.facility_code,
        "entered_by": state.actor,
        "import_batch_id": state.batch_id,
        "reason_group": state.reason_group,
        **CLEARED_SIGNATURE,
    }


def _existing_doses(session: Session, record_ids: list[str]) -> dict[str, dict[str, Any]]:
    columns = [Dose.__table__.c[name] for name in ("record_id", "subject_id", *DOSE_FIELDS)]
    result = session.execute(select(*columns).where(Dose.record_id.in_(record_ids)))
    return {row.record_id: dict(row._mapping) for row in result}


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

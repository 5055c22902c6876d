"""A subject's record with doses and verification history, dose entry: shared by pages and API.

Every function is restricted to the user's area and writes its reads to the audit log; bad input gives a
Vietnamese reason, never an exception.

A dose entry may carry an idempotency key (the API's `Idempotency-Key`, the dose forms' hidden token): the key is
stored with the dose in the same transaction, and the same request sent again with the same key (after a 503 or a
lost answer, when nobody knows whether the first one was committed) gets the dose already stored, never a second.
"""

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from fastapi import HTTPException
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tiemchung import identity
from tiemchung.health.registry.audit import record, record_subject_read
from tiemchung.health.registry.models import Dose, DoseEntryKey, Subject, User
from tiemchung.health.registry.records import FIRST_VACCINATION_DATE
from tiemchung.health.verification.models import RequestStatus, VerificationRecord, VerificationRequest
from tiemchung.health.web.access import area_clause
from tiemchung.health.web.deps import ensure_in_area
from tiemchung.reference.vaccines import DoseKind, vaccine_by_name


def load_subject(session: Session, user: User, subject_id: int, *, reason: str = "Xem hồ sơ đối tượng") -> Subject:
    """The subject, after the area check; the read is written to the audit log."""
    subject = session.get(Subject, subject_id)
    if subject is None:
        raise HTTPException(status_code=404, detail="Không tìm thấy đối tượng.")
    ensure_in_area(
        user, province_code=subject.province_code, district_code=subject.district_code, ward_code=subject.ward_code
    )
    record_subject_read(session, actor=user.username, actor_role=user.role, subject_id=subject.id, reason=reason)
    return subject


def verification_history(session: Session, subject_id: int) -> list[VerificationRecord]:
    query = select(VerificationRecord).where(VerificationRecord.subject_id == subject_id)
    return list(session.scalars(query.order_by(VerificationRecord.id.desc())))


def verification_pending(session: Session, subject_id: int) -> VerificationRequest | None:
    """The subject's verification waiting in the queue ("xác minh lại", a new dose, an import), if any."""
    query = select(VerificationRequest).where(
        VerificationRequest.subject_id == subject_id, VerificationRequest.status.in_(PENDING_STATES)
    )
    return session.scalar(query.order_by(VerificationRequest.id.desc()).limit(1))


def typed_birth_date(stored: str | None) -> str:
    """A stored birth date as a person types it: "1985-03-02" as "02/03/1985", a year as the year."""
    if stored and len(stored) == 10:
        return f"{stored[8:10]}/{stored[5:7]}/{stored[:4]}"
    return stored or ""


@dataclass
class DoseEntry:
    vaccine: str
    vaccination_date: str
    dose_kind: str
    lot_number: str = ""


PENDING_STATES = (RequestStatus.QUEUED.value, RequestStatus.SENT.value)
ENTRY_KEY_MALFORMED = (
    "Idempotency-Key không hợp lệ: cần 1–64 ký tự, chỉ gồm chữ cái không dấu, chữ số và các dấu . _ : - "
    "(ví dụ một UUID). Chưa có gì được lưu."
)
ENTRY_KEY_REUSED = (
    "Khóa chống nhập trùng (Idempotency-Key) này đã được dùng cho một yêu cầu có nội dung khác; không có gì được lưu "
    "thêm. Mỗi mũi tiêm mới cần một khóa mới."
)
ENTERED_BEFORE = "Mũi tiêm này đã được lưu ở lần gửi trước; không nhập thêm lần nữa."


class EntryKeyReused(Exception):
    """The key came before with another request (another subject, vaccine, date...): refused, nothing stored."""

    def __init__(self) -> None:
        super().__init__(ENTRY_KEY_REUSED)
        self.message = ENTRY_KEY_REUSED


@dataclass(frozen=True)
class EntryKey:
    """A client's idempotency key for one dose entry, with the digest of the request it came with."""

    value: str
    request_sha256: str

    @classmethod
    def of(cls, value: str, action: str, request: dict[str, Any]) -> "EntryKey":
        """The key of `request` sent to `action` (the endpoint: a key is bound to one kind of entry as well)."""
        text = json.dumps({"action": action, **request}, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return cls(value, hashlib.sha256(text.encode()).hexdigest())


def entered_before(session: Session, user: User, key: EntryKey | None) -> Dose | None:
    """The dose `user` already entered with this key, or None; `EntryKeyReused` if the key came with another request.

    Keys are looked up per user: the same key from two users is two different keys.
    """
    if key is None:
        return None
    query = select(DoseEntryKey).where(DoseEntryKey.user_id == user.id, DoseEntryKey.key == key.value)
    stored = session.scalar(query)
    if stored is None:
        return None
    if stored.request_sha256 != key.request_sha256:
        raise EntryKeyReused
    return session.get(Dose, stored.dose_id)


@dataclass
class EntryOutcome:
    ok: bool
    message: str
    dose: Dose | None = None
    errors: dict[str, str] = field(default_factory=dict)  # form field -> message
    # The dose was entered before with the same key (a retry): nothing new was written; the caller answers with it.
    replayed: bool = False


def check_dose(entry: DoseEntry, birth: identity.PartialDate | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """The dose's stored values, or each field's problem (a vaccination before the person's birth included)."""
    errors: dict[str, str] = {}
    vaccine = vaccine_by_name(entry.vaccine)
    if vaccine is None:
        errors["vaccine"] = "Tên vắc xin không thuộc danh mục được cấp phép."
    if entry.dose_kind not in {kind.value for kind in DoseKind}:
        errors["dose_kind"] = "Mũi tiêm không hợp lệ."
    when = _vaccination_date(entry.vaccination_date, birth, errors)
    if len(entry.lot_number) > 64:
        errors["lot_number"] = "Số lô tối đa 64 ký tự."
    values = {"vaccine": vaccine.key if vaccine else "", "vaccination_date": when, "dose_kind": entry.dose_kind}
    return values, errors


def _vaccination_date(text: str, birth: identity.PartialDate | None, errors: dict[str, str]) -> date | None:
    """A whole date (the form's date box sends yyyy-mm-dd; dd/mm/yyyy typed by hand is read too)."""
    if not text.strip():
        errors["vaccination_date"] = "Cần có ngày tiêm."
        return None
    check = identity.parse_date(text.strip(), not_before=birth, year_placeholder=False)
    parsed = check.value
    if parsed is None or parsed.month is None or parsed.day is None:
        errors["vaccination_date"] = next(
            (finding.message for finding in check.findings if finding.severity == "error"),
            "Ngày tiêm phải có đủ ngày, tháng, năm (dd/mm/yyyy).",
        )
        return None
    when = date(parsed.year, parsed.month, parsed.day)
    if not FIRST_VACCINATION_DATE <= when <= date.today():
        errors["vaccination_date"] = f"Ngày tiêm phải từ {FIRST_VACCINATION_DATE:%d/%m/%Y} đến hôm nay."
        return None
    return when


def subject_birth(subject: Subject) -> identity.PartialDate | None:
    return identity.PartialDate.from_iso(subject.birth_date) if subject.birth_date else None


def add_dose(
    session: Session, user: User, subject: Subject, entry: DoseEntry, key: EntryKey | None = None
) -> EntryOutcome:
    """A facility enters a dose given today (or recently) to a subject; the caller re-verifies and commits.

    With a key: a dose already entered with it is returned (`replayed`), and the key is stored with a new dose. The
    unique (user, key) settles two concurrent requests with one key: the loser's INSERT of the key waits for the
    winner's transaction, fails when it commits, and the loser returns the winner's dose. `EntryKeyReused` when the
    key came with another request.
    """
    if not user.facility_code:
        return EntryOutcome(False, "Tài khoản chưa được gắn với cơ sở tiêm chủng.")
    if (previous := entered_before(session, user, key)) is not None:
        return EntryOutcome(True, ENTERED_BEFORE, previous, replayed=True)
    values, errors = check_dose(entry, subject_birth(subject))
    if errors:
        return EntryOutcome(False, " ".join(errors.values()), errors=errors)
    dose = Dose(
        record_id=f"web-{uuid.uuid4().hex}",
        subject_id=subject.id,
        vaccine=values["vaccine"],
        lot_number=entry.lot_number.strip() or None,
        vaccination_date=values["vaccination_date"],
        dose_kind=values["dose_kind"],
        facility_code=user.facility_code,
        entered_by=user.username,
    )
    if key is None:
        session.add(dose)
        session.flush()
    elif (winner := _store_with_key(session, user, dose, key)) is not None:
        return EntryOutcome(True, ENTERED_BEFORE, winner, replayed=True)
    record(
        session,
        actor=user.username,
        actor_role=user.role,
        action="create",
        entity="dose",
        entity_id=dose.id,
        subject_id=subject.id,
        reason="Nhập mũi tiêm",
    )
    return EntryOutcome(True, "Đã lưu mũi tiêm.", dose)


def _store_with_key(session: Session, user: User, dose: Dose, key: EntryKey) -> Dose | None:
    """Insert the dose and its key; None when done, or the dose of a concurrent request that stored the key first.

    In a savepoint, so that losing the race undoes only this dose and the transaction stays usable. The caller's
    transaction has already written (the audit of the subject's read), so on SQLite, whose driver begins a
    transaction only at the first write, the savepoint sits inside it as well.
    """
    try:
        with session.begin_nested():
            session.add(dose)
            session.flush()
            stored = DoseEntryKey(user_id=user.id, key=key.value, request_sha256=key.request_sha256, dose_id=dose.id)
            session.add(stored)
            session.flush()
    except IntegrityError:
        if (winner := entered_before(session, user, key)) is None:
            raise  # not the key: a real constraint error, a bug
        return winner
    return None


def verification_list(session: Session, user: User, category: str, *, limit: int = 500) -> list[Subject]:
    """The subjects of the user's area with the given latest verification category ("lập danh sách xác minh")."""
    in_area = area_clause(user, Subject.province_code, Subject.district_code, Subject.ward_code)
    column = Subject.verification_category
    condition = column.is_(None) if category == "NOT_YET" else column == category
    query = select(Subject).where(in_area, condition).order_by(Subject.ward_code, Subject.name_folded).limit(limit)
    subjects = list(session.scalars(query))
    record(
        session,
        actor=user.username,
        actor_role=user.role,
        action="list",
        entity="subject",
        reason=f"Danh sách kết quả xác minh {category}",
        detail={"results": [subject.id for subject in subjects]},
    )
    return subjects

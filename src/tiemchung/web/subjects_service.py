"""Subject search, a subject's record with doses and verification history, dose entry: shared by pages and API.

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
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tiemchung.cleaning.identity_input import IdentityInput
from tiemchung.registry.audit import record, record_subject_read
from tiemchung.registry.models import Dose, DoseEntryKey, Subject, User
from tiemchung.verification.models import VerificationRecord
from tiemchung.web.access import area_clause
from tiemchung.web.deps import ensure_in_area

SEARCH_LIMIT = 50


@dataclass(frozen=True)
class SearchResult:
    subjects: list[Subject]
    message: str = ""


def search(session: Session, user: User, text: str, birth_year: int | None = None) -> SearchResult:
    """By ID number (9–12 digits, spaces and dots ignored), or by name without diacritics (plus birth year)."""
    from tiemchung import identity

    query_text = text.strip()
    digits = query_text.replace(" ", "").replace(".", "")
    in_area = area_clause(user, Subject.province_code, Subject.district_code, Subject.ward_code)
    if digits.isdigit() and 8 <= len(digits) <= 12:
        condition = or_(Subject.id_number == digits, Subject.id_number_raw == query_text)
    elif len(query_text) >= 2:
        condition = Subject.name_folded == identity.fold_name(query_text)
        if birth_year is not None:
            condition = condition & (Subject.birth_year == birth_year)
    else:
        return SearchResult([], "Nhập số CCCD/CMND, hoặc họ tên (có thể không dấu) và năm sinh.")
    subjects = list(session.scalars(select(Subject).where(in_area, condition).order_by(Subject.id).limit(SEARCH_LIMIT)))
    record(
        session,
        actor=user.username,
        actor_role=user.role,
        action="search",
        entity="subject",
        reason="Tra cứu đối tượng",
        detail={"results": [subject.id for subject in subjects]},
    )
    return SearchResult(subjects, "" if subjects else "Không tìm thấy đối tượng nào trên địa bàn của bạn.")


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


@dataclass
class DoseEntry:
    vaccine: str
    vaccination_date: str
    dose_kind: str
    lot_number: str = ""


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
    problems: list[str] = field(default_factory=list)
    # The dose was entered before with the same key (a retry): nothing new was written; the caller answers with it.
    replayed: bool = False


def _check_dose(entry: DoseEntry) -> tuple[dict[str, Any], list[str]]:
    from tiemchung.reference.vaccines import DoseKind, vaccine_by_name

    problems = []
    vaccine = vaccine_by_name(entry.vaccine)
    if vaccine is None:
        problems.append("Tên vắc xin không thuộc danh mục được cấp phép.")
    if entry.dose_kind not in {kind.value for kind in DoseKind}:
        problems.append("Mũi tiêm không hợp lệ.")
    try:
        when = date.fromisoformat(entry.vaccination_date)
    except ValueError:
        when = None
        problems.append("Ngày tiêm phải theo dạng yyyy-mm-dd.")
    if when is not None and not date(2021, 3, 1) <= when <= date.today():
        problems.append("Ngày tiêm phải từ 01/03/2021 đến hôm nay.")
    if len(entry.lot_number) > 64:
        problems.append("Số lô tối đa 64 ký tự.")
    values = {"vaccine": vaccine.key if vaccine else "", "vaccination_date": when, "dose_kind": entry.dose_kind}
    return values, problems


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
    values, problems = _check_dose(entry)
    if problems:
        return EntryOutcome(False, " ".join(problems), problems=problems)
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


@dataclass
class NewSubject:
    identity: IdentityInput
    province_code: str
    district_code: str
    ward_code: str
    phone: str = ""


def create_subject(session: Session, user: User, new: NewSubject) -> tuple[Subject | None, str]:
    """A person not yet in the registry, entered at the facility (stored as an import would store them)."""
    from tiemchung import identity

    checked = new.identity.validated()
    missing = [key for key in ("full_name", "birth_date", "sex") if key not in checked.values]
    if checked.problems or missing:
        return None, " ".join(checked.problems) or "Cần có họ tên, ngày sinh và giới tính."
    if not (len(new.ward_code) == 5 and new.ward_code.isdigit() and new.district_code.isdigit()):
        return None, "Mã xã (5 chữ số) và mã huyện (3 chữ số) không hợp lệ."
    name = checked.values["full_name"]
    subject = Subject(
        subject_key=f"{user.facility_code or 'web'}-{uuid.uuid4().hex[:16]}",
        facility_code=user.facility_code,
        full_name_raw=name,
        full_name=identity.display_name(name),
        name_canonical=identity.canonical_name(name),
        name_folded=identity.fold_name(name),
        birth_date_raw=checked.values["birth_date"],
        birth_date=checked.values["birth_date"],
        birth_year=int(checked.values["birth_date"][:4]),
        sex=checked.values["sex"],
        province_code=new.province_code,
        district_code=new.district_code,
        ward_code=new.ward_code,
        phone=new.phone.strip() or None,
    )
    if number := checked.values.get("id_number"):
        check = identity.check_id_number(number)
        subject.id_number_raw = number
        subject.id_number = check.value if check.valid_format else None
        subject.id_kind = str(getattr(check.kind, "value", check.kind))
        subject.id_status = str(getattr(check.status, "value", check.status))
    session.add(subject)
    session.flush()
    record(
        session,
        actor=user.username,
        actor_role=user.role,
        action="create",
        entity="subject",
        entity_id=subject.id,
        subject_id=subject.id,
        reason="Nhập đối tượng mới tại cơ sở tiêm",
    )
    return subject, ""


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

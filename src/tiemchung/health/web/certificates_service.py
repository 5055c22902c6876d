"""What the certificate pages and the certificate API both do: keys from the one layout, issue, revoke, the
doses of a subject with the reason each one has no certificate, and a facility signing its day.

Routes call these and only render or serialise the answer, so a page and its API endpoint cannot drift apart.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from fastapi import HTTPException, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from tiemchung.health.certificates.issuance import (
    certifiable_doses,
    dose_refusal,
    issue_certificate,
    subject_certificates,
)
from tiemchung.health.certificates.keys import (
    DocumentSigner,
    KeyLayout,
    KeyMaterialError,
    TrustList,
    load_signer,
    passphrase_from,
)
from tiemchung.health.certificates.models import Certificate
from tiemchung.health.certificates.revocation import RevocationResult, revoke
from tiemchung.health.certificates.signing import (
    SigningResult,
    UnsignedDay,
    load_facility_key,
    sign_facility_day,
    unsigned_doses,
    unsigned_doses_report,
)
from tiemchung.health.registry.audit import record
from tiemchung.health.registry.models import Dose, Facility, Role, Subject, User
from tiemchung.health.web import access
from tiemchung.health.web.settings import Settings

VIETNAM = timezone(timedelta(hours=7))  # no daylight saving time: a fixed offset is exact
NO_SIGNER = (
    "Chưa cấu hình khóa ký chứng nhận: cần thư mục khóa <TIEMCHUNG_KEYS_DIR>/certificates (lệnh "
    "`tiemchung cert keys init`) và mật khẩu khóa (TIEMCHUNG_KEY_PASSPHRASE hoặc TIEMCHUNG_KEY_PASSPHRASE_FILE)."
)
NO_FACILITY = "Tài khoản cơ sở tiêm chủng này chưa được gắn mã cơ sở: hãy nhờ quản trị viên bổ sung."


def key_layout(settings: Settings) -> KeyLayout:
    return KeyLayout(settings.keys_dir)


def trust_list(settings: Settings) -> TrustList:
    return key_layout(settings).load_trust_list()


def document_signer(request: Request) -> DocumentSigner | None:
    """The DSC, decrypted once per process; None when the keys or their passphrase are missing."""
    cached: DocumentSigner | None = getattr(request.app.state, "certificate_signer", None)
    if cached is None:
        settings: Settings = request.app.state.settings
        try:
            cached = load_signer(key_layout(settings).certificates, passphrase_from(settings.key_passphrase_file))
        except (KeyMaterialError, OSError):
            return None
        request.app.state.certificate_signer = cached
    return cached


def vietnam_today() -> date:
    return datetime.now(VIETNAM).date()


# --- a subject's certificates -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DoseStatus:
    """One dose of a person and where it stands: its active certificate, or why it has none (Vietnamese)."""

    dose: Dose
    certificate: Certificate | None
    refusal_vi: str

    @property
    def ready(self) -> bool:
        """No certificate yet, and nothing stands in the way: the next issuance signs it."""
        return self.certificate is None and self.refusal_vi == READY_VI


def dose_statuses(session: Session, subject: Subject) -> list[DoseStatus]:
    certificates = subject_certificates(session, subject.id)
    active = {row.dose_id: row for row in certificates if row.revoked_at is None}
    statuses = []
    for dose in sorted(subject.doses, key=lambda dose: (dose.vaccination_date, dose.id)):
        certificate = active.get(dose.id)
        refusal = "" if certificate else dose_refusal(session, subject, dose)
        statuses.append(DoseStatus(dose, certificate, refusal or ("" if certificate else READY_VI)))
    return statuses


READY_VI = "Đủ điều kiện: chờ Cục Y tế dự phòng ký cấp."


def certificate_of(session: Session, subject_id: int, uvci: str) -> Certificate | None:
    query = select(Certificate).where(Certificate.subject_id == subject_id, Certificate.uvci == uvci)
    return session.scalar(query)


@dataclass(frozen=True)
class IssueOutcome:
    ok: bool
    issued: list[Certificate]
    messages: list[str]


def issue_for_subject(session: Session, user: User, subject: Subject, signer: DocumentSigner | None) -> IssueOutcome:
    """Sign a certificate for every certifiable dose of the subject (the caller commits)."""
    if signer is None:
        return IssueOutcome(False, [], [NO_SIGNER])
    issued, messages = [], []
    for _subject_id, dose_id in certifiable_doses(session, subject_key=subject.subject_key):
        result = issue_certificate(session, subject.id, dose_id, signer=signer, issued_by=user.username)
        messages.append(result.reason_vi)
        if result.ok and result.certificate is not None:
            issued.append(result.certificate)
    return IssueOutcome(True, issued, messages or ["Không có mũi tiêm nào đủ điều kiện cấp mới."])


def revoke_for_subject(session: Session, user: User, subject: Subject, uvci: str, reason: str) -> RevocationResult:
    if certificate_of(session, subject.id, uvci) is None:
        return RevocationResult(False, "Không có chứng nhận này trong hồ sơ đối tượng.")
    return revoke(session, uvci, reason, revoked_by=user.username)


# --- the facilities' daily signatures ---------------------------------------------------------------------


def facility_of(session: Session, user: User) -> Facility:
    """The facility a facility account signs for; 403 when the account has none (never every facility)."""
    facility = session.get(Facility, user.facility_code) if user.facility_code else None
    if facility is None:
        raise HTTPException(status_code=403, detail=NO_FACILITY)
    return facility


def unsigned_days_for(session: Session, user: User) -> list[UnsignedDay]:
    """The unsigned-doses report as the user may see it: a facility its own, others their area's facilities."""
    if user.role == Role.FACILITY:
        return unsigned_doses_report(session, facility_code=facility_of(session, user).code)
    rows = unsigned_doses_report(session)
    if not user.area_code:
        return rows
    facilities = session.scalars(select(Facility).where(Facility.code.in_({row.facility_code for row in rows})))
    visible = {facility.code for facility in facilities if _covers_facility(user, facility)}
    return [row for row in rows if row.facility_code in visible]


def _covers_facility(user: User, facility: Facility) -> bool:
    places = {"province_code": facility.province_code, "district_code": facility.district_code}
    return access.covers(user, **places, ward_code=facility.ward_code)


@dataclass(frozen=True)
class SigningDay:
    """What the facility's signing page shows: the days waiting, the chosen day and its unsigned doses."""

    facility: Facility
    days: list[UnsignedDay]
    day: date | None
    doses: list[tuple[Dose, Subject | None]]  # None: the person lives outside the account's area (not shown)
    today: date

    @property
    def late(self) -> bool:
        return self.day is not None and self.day < self.today


def signing_day(session: Session, user: User, chosen: date | None) -> SigningDay:
    """The facility's days with unsigned doses; the chosen one (default: today, else the latest) with its doses."""
    facility = facility_of(session, user)
    days = unsigned_doses_report(session, facility_code=facility.code)
    today = vietnam_today()
    waiting = {row.day for row in days}
    day = chosen if chosen in waiting else (today if today in waiting else max(waiting, default=None))
    doses = unsigned_doses(session, facility.code, day) if day else []
    # The facility signs every dose it entered, but shows a person only inside the account's area, as every page does.
    shown = [(dose, subject if _covers_subject(user, subject) else None) for dose, subject in doses]
    return SigningDay(facility, days, day, shown, today)


def _covers_subject(user: User, subject: Subject) -> bool:
    places = {"province_code": subject.province_code, "district_code": subject.district_code}
    return access.covers(user, **places, ward_code=subject.ward_code)


def sign_day(session: Session, user: User, settings: Settings, day: date, passphrase: str) -> SigningResult:
    """Sign the facility's unsigned doses of `day` with its key, opened by the passphrase its staff typed.

    The passphrase lives only in this call: it is not stored, logged or put in the session. Every attempt,
    refused or not, is in the audit log (a guessed passphrase leaves a trail). The caller commits.
    """
    facility = facility_of(session, user)
    try:
        key = load_facility_key(key_layout(settings), facility.code, passphrase.encode())
    except KeyMaterialError as problem:
        result = SigningResult(False, str(problem))
    else:
        result = sign_facility_day(session, facility.code, day, key, signer=user.full_name or user.username)
    detail = {"day": day.isoformat(), "ok": result.ok, "doses": result.signature.dose_count if result.signature else 0}
    record(session, actor=user.username, actor_role=user.role, action="sign" if result.ok else "sign_refused",
           entity="daily_signature", entity_id=facility.code, reason=result.reason_vi, detail=detail)  # fmt: skip
    return result

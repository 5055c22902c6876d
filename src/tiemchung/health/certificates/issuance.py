"""Central issuance of EU DCC vaccination certificates (Cục Y tế dự phòng signs, per Decision 5772/QĐ-BYT).

Who may get one (seed 000, "Quy định đối với nhập dữ liệu, ký xác nhận"): a Vietnamese citizen only when the
population register confirmed them (VERIFIED, or NO_ID_VERIFIED once the ID number is filled in); a foreigner
by passport, without the register (the facility answers for it). The primary series must be complete
(Decision 5772/QĐ-BYT), and the dose signed by its facility and unchanged since. One certificate per dose:
a booster gets a new certificate with the EU 2021/2301 numbering.
No ID number goes into the QR code.
"""

import secrets
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import cbor2
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tiemchung.health.certificates import hcert
from tiemchung.health.certificates.keys import DocumentSigner
from tiemchung.health.certificates.models import Certificate
from tiemchung.health.certificates.signing import dose_signature_is_valid
from tiemchung.health.registry.audit import record
from tiemchung.health.registry.models import Dose, Subject
from tiemchung.identity.icao import icao_name
from tiemchung.reference.vaccines import DoseKind, Vaccine, dcc_dose_numbers, vaccine_by_name

SCHEMA_VERSION = "1.3.0"
DISEASE_COVID_19 = "840539006"  # SNOMED CT, the EU value set disease-agent-targeted
COUNTRY = "VN"
ISSUER_NAME = "Cục Y tế dự phòng - Bộ Y tế Việt Nam"
UVCI_ISSUER = "CYTDP"  # the issuing entity part of the UVCI opaque string
VALIDITY_MONTHS = 12
CERTIFIABLE_CATEGORIES = {"VERIFIED", "NO_ID_VERIFIED"}


@dataclass(frozen=True)
class Eligibility:
    ok: bool
    reason_vi: str


def is_foreigner(subject: Subject) -> bool:
    return (subject.nationality or COUNTRY).upper() != COUNTRY


def eligibility(subject: Subject) -> Eligibility:
    """Whether the person may get a certificate, and if not, why (for the facility and the person)."""
    if not subject.full_name.strip() or not subject.birth_date:
        return Eligibility(False, "Thiếu họ tên hoặc ngày sinh.")
    if is_foreigner(subject):
        if not (subject.passport_number or "").strip():
            return Eligibility(False, "Người nước ngoài cần có số hộ chiếu để được cấp chứng nhận.")
        return Eligibility(True, "Người nước ngoài, định danh bằng hộ chiếu (cơ sở tiêm chịu trách nhiệm).")
    category = subject.verification_category
    if category not in CERTIFIABLE_CATEGORIES:
        return Eligibility(False, _REFUSALS_VI.get(category or "", _NOT_VERIFIED_VI))
    if not subject.id_number:
        return Eligibility(False, "Đã xác minh nhưng chưa cập nhật số định danh cá nhân vào hồ sơ tiêm.")
    return Eligibility(True, "Đã xác minh đúng với CSDL quốc gia về dân cư.")


_NOT_VERIFIED_VI = "Chưa xác minh với CSDL quốc gia về dân cư."
_REFUSALS_VI = {
    "MISMATCH": "Thông tin sai so với CSDL quốc gia về dân cư (số định danh, họ tên, ngày sinh hoặc giới tính): "
    "cần làm sạch dữ liệu trước khi cấp.",
    "NO_ID_UNVERIFIABLE": "Không có số CCCD/CMND hợp lệ và CSDL dân cư không xác định được người này.",
    "FOREIGN_PASSPORT": "Hồ sơ ghi là người nước ngoài nhưng quốc tịch là Việt Nam: cần sửa quốc tịch.",
}


@dataclass(frozen=True)
class IssueResult:
    ok: bool
    reason_vi: str
    certificate: Certificate | None = None


def issue_certificate(
    session: Session,
    subject_id: int,
    dose_id: int,
    *,
    signer: DocumentSigner,
    now: datetime | None = None,
    issued_by: str = "system",
) -> IssueResult:
    """Sign a certificate for one dose (in the caller's transaction); returns the existing one if already issued."""
    subject, dose = session.get(Subject, subject_id), session.get(Dose, dose_id)
    if subject is None or dose is None or dose.subject_id != subject.id:
        return IssueResult(False, "Không tìm thấy đối tượng hoặc mũi tiêm tương ứng.")
    existing = _active_certificate(session, dose.id)
    if existing is not None:
        return IssueResult(True, "Mũi tiêm này đã có chứng nhận còn hiệu lực.", existing)
    refusal = dose_refusal(session, subject, dose)
    if refusal:
        return IssueResult(False, refusal)
    vaccine, kind = vaccine_by_name(dose.vaccine), DoseKind(dose.dose_kind)
    assert vaccine is not None  # checked by dose_refusal
    moment = (now or datetime.now(UTC)).replace(microsecond=0)
    expires = min(_add_months(moment, VALIDITY_MONTHS), signer.not_valid_after)
    if expires <= moment:
        return IssueResult(False, "Khóa ký (DSC) đã hết hiệu lực: cần tạo khóa mới.")
    dose_number, total = dose_numbers(session, dose, kind, vaccine)
    uvci = hcert.make_uvci(f"{UVCI_ISSUER}/{secrets.token_hex(13).upper()}")
    dcc = build_dcc(subject, dose, vaccine, dose_number=dose_number, total=total, uvci=uvci)
    claims = hcert.cwt_claims(dcc, issuer=COUNTRY, issued_at=moment, expires_at=expires)
    hc1 = hcert.to_hc1(hcert.sign_cose(cbor2.dumps(claims), signer))
    certificate = Certificate(
        uvci=uvci,
        subject_id=subject.id,
        dose_id=dose.id,
        dose_number=dose_number,
        total_doses=total,
        issuer_country=COUNTRY,
        issued_at=moment,
        expires_at=expires,
        kid=signer.kid.hex(),
        issued_by=issued_by,
        hc1=hc1,
    )
    session.add(certificate)
    session.flush()
    record(session, actor=issued_by, action="issue", entity="certificate", entity_id=certificate.id,
           subject_id=subject.id, detail={"uvci": uvci, "dose_id": dose.id})  # fmt: skip
    return IssueResult(True, f"Đã cấp chứng nhận {uvci}.", certificate)


def dose_refusal(session: Session, subject: Subject, dose: Dose) -> str:
    """Why this dose cannot be certified now, in Vietnamese; empty when it can (the pages show it per dose)."""
    refusal = _refusal(session, subject, dose)
    if refusal:
        return refusal
    vaccine = vaccine_by_name(dose.vaccine)
    assert vaccine is not None  # checked by _refusal
    dose_number, total = dose_numbers(session, dose, DoseKind(dose.dose_kind), vaccine)
    if dose_number < total:
        # Decision 5772/QĐ-BYT: the certificate is for people who completed the primary series.
        return f"Chưa tiêm đủ liều cơ bản (mũi {dose_number}/{total}): chưa cấp chứng nhận."
    return ""


def _refusal(session: Session, subject: Subject, dose: Dose) -> str:
    allowed = eligibility(subject)
    if not allowed.ok:
        return allowed.reason_vi
    if dose.duplicate_of_id is not None:
        return "Mũi tiêm này trùng với một mũi đã ghi nhận; không cấp chứng nhận cho bản trùng."
    if vaccine_by_name(dose.vaccine) is None:
        return f"Không nhận ra vắc xin '{dose.vaccine}'."
    if dose.dose_kind not in {kind.value for kind in DoseKind}:
        return f"Không nhận ra loại mũi tiêm '{dose.dose_kind}'."
    if dose.signed_at is None:
        return "Cơ sở tiêm chưa ký số mũi tiêm này."
    if not dose_signature_is_valid(session, dose):
        return "Chữ ký số của cơ sở tiêm không khớp với dữ liệu hiện tại: dữ liệu đã bị sửa sau khi ký."
    return ""


def _active_certificate(session: Session, dose_id: int) -> Certificate | None:
    query = select(Certificate).where(Certificate.dose_id == dose_id, Certificate.revoked_at.is_(None))
    return session.scalars(query.order_by(Certificate.id.desc())).first()


def dose_numbers(session: Session, dose: Dose, kind: DoseKind, vaccine: Vaccine) -> tuple[int, int]:
    """(dn, sd) per EU Decision 2021/2301: the dose's place in the person's series, never below its dose kind.

    A primary dose k of an n-dose series is k/n; but the person's earlier doses count too (duplicates excluded):
    a second facility that registered the person anew typed its dose as "mũi 1", and once the records are merged
    that dose is 2/2, not 1/2. Past the primary series (an additional dose, a booster, or a primary dose typed for
    what was a booster) the count completes the series: n/n (2 AstraZeneca + a Pfizer booster: 3/3).
    """
    kind_number, series = dcc_dose_numbers(kind, vaccine)
    # Never below what the dose kind implies: earlier doses may be missing here (given abroad, not entered).
    counted = max(doses_so_far(session, dose), kind_number)
    if kind in (DoseKind.PRIMARY_1, DoseKind.PRIMARY_2, DoseKind.PRIMARY_3) and counted <= series:
        return counted, series
    return counted, counted


def doses_so_far(session: Session, dose: Dose) -> int:
    """The person's doses up to this one (this one included), by vaccination date; duplicates excluded."""
    count = session.scalar(
        select(func.count())
        .select_from(Dose)
        .where(
            Dose.subject_id == dose.subject_id,
            Dose.duplicate_of_id.is_(None),
            (Dose.vaccination_date < dose.vaccination_date)
            | ((Dose.vaccination_date == dose.vaccination_date) & (Dose.id <= dose.id)),
        )
    )
    return int(count or 0)


def build_dcc(subject: Subject, dose: Dose, vaccine: Vaccine, *, dose_number: int, total: int, uvci: str) -> dict:
    """The DCC JSON (schema 1.3.0): names, birth date and the vaccination entry; no ID or passport number."""
    surname, forenames = split_name(subject.full_name)
    name: dict[str, str] = {"fn": surname, "fnt": icao_name(surname)}
    if forenames:
        name |= {"gn": forenames, "gnt": icao_name(forenames)}
    entry = {
        "tg": DISEASE_COVID_19,
        "vp": vaccine.prophylaxis,
        "mp": vaccine.medicinal_product,
        "ma": vaccine.manufacturer,
        "dn": dose_number,
        "sd": total,
        "dt": dose.vaccination_date.isoformat(),
        "co": COUNTRY,
        "is": ISSUER_NAME,
        "ci": uvci,
    }
    return {"ver": SCHEMA_VERSION, "nam": name, "dob": subject.birth_date or "", "v": [entry]}


def split_name(full_name: str) -> tuple[str, str]:
    """(surname, forenames): the first word is the family name, the rest the given names (Vietnamese order).

    Foreigners' names are split the same way; the import format has no separate family-name column.
    """
    words = unicodedata.normalize("NFC", full_name).split()
    return (words[0], " ".join(words[1:])) if words else ("", "")


def _add_months(moment: datetime, months: int) -> datetime:
    """The same day `months` later (the last day of the month when it has fewer days: 29/02 → 28/02)."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    first_of_next = date(year + month // 12, month % 12 + 1, 1)
    last_day = (first_of_next - timedelta(days=1)).day
    return moment.replace(year=year, month=month, day=min(moment.day, last_day))


def certifiable_doses(session: Session, *, subject_key: str | None = None) -> list[tuple[int, int]]:
    """(subject id, dose id) of signed, non-duplicate doses without an active certificate, oldest first."""
    active = select(Certificate.dose_id).where(Certificate.revoked_at.is_(None))
    query = (
        select(Dose.subject_id, Dose.id)
        .join(Subject, Subject.id == Dose.subject_id)
        .where(Dose.signed_at.is_not(None), Dose.duplicate_of_id.is_(None), Dose.id.not_in(active))
        .order_by(Dose.vaccination_date, Dose.id)
    )
    if subject_key is not None:
        query = query.where(Subject.subject_key == subject_key)
    return [(subject_id, dose_id) for subject_id, dose_id in session.execute(query)]


def certifiable_doses_of(session: Session, subject_ids: Sequence[int]) -> list[tuple[int, int]]:
    """(subject id, dose id) of the records' doses that can be certified now and have no active certificate."""
    active = select(Certificate.dose_id).where(Certificate.revoked_at.is_(None))
    query = (
        select(Dose)
        .where(Dose.subject_id.in_(subject_ids), Dose.duplicate_of_id.is_(None), Dose.id.not_in(active))
        .order_by(Dose.vaccination_date, Dose.id)
    )
    ready = []
    for dose in session.scalars(query):
        subject = session.get(Subject, dose.subject_id)
        if subject is not None and not dose_refusal(session, subject, dose):
            ready.append((subject.id, dose.id))
    return ready


def subject_certificates(session: Session, subject_id: int) -> list[Certificate]:
    query = select(Certificate).where(Certificate.subject_id == subject_id).order_by(Certificate.issued_at)
    return list(session.scalars(query))

"""Certificates after doses moved between records (a merge of one person's records, or its undoing).

A certificate says who (the record's name and birth date) and which dose of the series ("2/2", booster "3/3").
When doses move, some certificates no longer say the truth: a moved dose's certificate names the record it left,
and the series numbers of the record that received (or lost) doses change. Each such certificate is revoked (the
published revocation list, which verifiers read, carries it) and the record's certifiable doses are issued again
with the whole series; a certificate that is still right stays as it is.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from tiemchung.health.certificates.issuance import certifiable_doses_of, dose_numbers, issue_certificate
from tiemchung.health.certificates.keys import DocumentSigner
from tiemchung.health.certificates.models import Certificate
from tiemchung.health.certificates.revocation import revoke
from tiemchung.health.registry.models import Dose
from tiemchung.reference.vaccines import DoseKind, vaccine_by_name


@dataclass
class SeriesChange:
    """What happened to the certificates of the records whose doses moved."""

    revoked: list[str] = field(default_factory=list)  # UVCIs
    issued: list[Certificate] = field(default_factory=list)
    waiting: int = 0  # doses to issue again once the central signing key is configured

    @property
    def message_vi(self) -> str:
        parts = []
        if self.revoked:
            parts.append(f"Đã thu hồi {len(self.revoked)} chứng nhận cũ")
        if self.issued:
            parts.append(f"cấp lại {len(self.issued)} chứng nhận theo đủ các mũi")
        if self.waiting:
            parts.append(f"{self.waiting} mũi chờ Cục Y tế dự phòng ký cấp lại")
        text = ", ".join(parts)
        return f"{text[0].upper()}{text[1:]}." if text else ""


def stale_certificates(session: Session, subject_ids: Sequence[int]) -> list[Certificate]:
    """Active certificates of these records, or of their doses, that no longer say what they should."""
    doses_here = select(Dose.id).where(Dose.subject_id.in_(subject_ids))
    query = select(Certificate).where(
        Certificate.revoked_at.is_(None),
        or_(Certificate.subject_id.in_(subject_ids), Certificate.dose_id.in_(doses_here)),
    )
    found = session.scalars(query.order_by(Certificate.id))
    return [certificate for certificate in found if _stale(session, certificate)]


def _stale(session: Session, certificate: Certificate) -> bool:
    dose = session.get(Dose, certificate.dose_id)
    vaccine = vaccine_by_name(dose.vaccine) if dose else None
    if dose is None or vaccine is None or dose.dose_kind not in {kind.value for kind in DoseKind}:
        return True
    if dose.subject_id != certificate.subject_id:  # the dose moved: the certificate names the other record
        return True
    expected = dose_numbers(session, dose, DoseKind(dose.dose_kind), vaccine)
    return (certificate.dose_number, certificate.total_doses) != expected


def renew_series(
    session: Session,
    subject_ids: Sequence[int],
    *,
    signer: DocumentSigner | None,
    actor: str,
    reason: str,
    now: datetime | None = None,
) -> SeriesChange:
    """Revoke the certificates the move made wrong; issue every certifiable dose of the records again.

    Without the central signing key (`signer` None) the wrong ones are revoked all the same (a certificate naming the
    wrong record or series must not stay valid) and their doses wait, shown as ready, for the central issuance.
    In the caller's transaction.
    """
    change = SeriesChange()
    for certificate in stale_certificates(session, subject_ids):
        result = revoke(session, certificate.uvci, reason, revoked_by=actor)
        if result.ok:
            change.revoked.append(certificate.uvci)
    session.flush()
    ready = certifiable_doses_of(session, subject_ids)
    if signer is None:
        change.waiting = len(ready) if change.revoked else 0
        return change
    for subject_id, dose_id in ready:
        issued = issue_certificate(session, subject_id, dose_id, signer=signer, now=now, issued_by=actor)
        if issued.ok and issued.certificate is not None:
            change.issued.append(issued.certificate)
    return change

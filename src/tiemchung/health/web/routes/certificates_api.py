"""The certificates in the JSON API `/api/v1`: a subject's certificates and the reason each dose has none, central
issuance and revocation (ministry), the unsigned-doses report, and a facility signing its day.

The same service calls as the pages (`tiemchung.health.web.certificates_service`); refusals are 4xx with a Vietnamese
`detail`, as everywhere in the API.
"""

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from tiemchung.health.certificates.issuance import eligibility, subject_certificates
from tiemchung.health.certificates.models import Certificate
from tiemchung.health.registry.models import Role, User
from tiemchung.health.web import certificates_service as certificates
from tiemchung.health.web import subjects_service as service
from tiemchung.health.web.access import PERSON_READERS
from tiemchung.health.web.deps import RowId, SessionDep, get_settings, released, require_roles
from tiemchung.health.web.settings import Settings

router = APIRouter(
    prefix="/api/v1",
    tags=["chứng nhận tiêm chủng"],
    responses={401: {"description": "Chưa đăng nhập"}, 403: {"description": "Không có quyền"}},
)
SettingsDep = Annotated[Settings, Depends(get_settings)]
Reader = Annotated[User, Depends(require_roles(*PERSON_READERS))]
Issuer = Annotated[User, Depends(require_roles(Role.MINISTRY))]
ReportReader = Annotated[User, Depends(require_roles(Role.FACILITY, Role.PROVINCE, Role.MINISTRY))]
FacilityUser = Annotated[User, Depends(require_roles(Role.FACILITY))]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "Không tìm thấy"}}


class CertificateOut(BaseModel):
    uvci: str
    dose_id: int
    dose_number: int
    total_doses: int
    issued_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    revocation_reason: str | None
    hc1: str = Field(description="Nội dung mã QR (HC1:...), không chứa số CCCD hay hộ chiếu")


def _certificate_out(certificate: Certificate) -> CertificateOut:
    return CertificateOut.model_validate(certificate, from_attributes=True)


class DoseCertificateStatus(BaseModel):
    dose_id: int
    vaccination_date: date
    vaccine: str
    dose_kind: str
    uvci: str | None = Field(description="Chứng nhận còn hiệu lực của mũi tiêm, nếu có")
    reason: str = Field(description="Vì sao mũi tiêm chưa có chứng nhận (rỗng khi đã có)")


class SubjectCertificates(BaseModel):
    eligible: bool
    eligibility: str
    doses: list[DoseCertificateStatus]
    certificates: list[CertificateOut]


class IssueOut(BaseModel):
    issued: list[CertificateOut]
    messages: list[str]


class RevokeIn(BaseModel):
    uvci: str = Field(max_length=200)
    reason: str = Field(min_length=1, max_length=500)


class Message(BaseModel):
    message: str


class UnsignedDayOut(BaseModel):
    facility_code: str
    facility_name: str
    day: date
    entered: int
    unsigned: int


class SignDayIn(BaseModel):
    day: date
    passphrase: str = Field(min_length=1, max_length=200, description="Mật khẩu khóa ký của cơ sở; không được lưu")


class SignDayOut(BaseModel):
    message: str
    signed: int


@router.get("/subjects/{subject_id}/certificates", responses=NOT_FOUND)
def list_certificates(subject_id: RowId, user: Reader, session: SessionDep) -> SubjectCertificates:
    """Chứng nhận của một đối tượng và tình trạng từng mũi tiêm (lý do chưa cấp)."""
    subject = service.load_subject(session, user, subject_id, reason="Xem chứng nhận tiêm chủng")
    allowed = eligibility(subject)
    doses = [
        DoseCertificateStatus(
            dose_id=status.dose.id,
            vaccination_date=status.dose.vaccination_date,
            vaccine=status.dose.vaccine,
            dose_kind=status.dose.dose_kind,
            uvci=status.certificate.uvci if status.certificate else None,
            reason=status.refusal_vi,
        )
        for status in certificates.dose_statuses(session, subject)
    ]
    answer = SubjectCertificates(
        eligible=allowed.ok,
        eligibility=allowed.reason_vi,
        doses=doses,
        certificates=[_certificate_out(row) for row in subject_certificates(session, subject.id)],
    )
    session.commit()
    return released(session, answer)


@router.post(
    "/subjects/{subject_id}/certificates",
    # 409, not 503: retrying will not help until an operator creates the keys.
    responses={**NOT_FOUND, 409: {"description": "Chưa cấu hình khóa ký chứng nhận"}},
)
def issue(request: Request, subject_id: RowId, user: Issuer, session: SessionDep) -> IssueOut:
    """Ký cấp chứng nhận cho mọi mũi tiêm đủ điều kiện của đối tượng (Cục Y tế dự phòng)."""
    subject = service.load_subject(session, user, subject_id, reason="Cấp chứng nhận tiêm chủng")
    outcome = certificates.issue_for_subject(session, user, subject, certificates.document_signer(request))
    if not outcome.ok:
        session.rollback()
        raise HTTPException(status_code=409, detail=" ".join(outcome.messages))
    answer = IssueOut(issued=[_certificate_out(row) for row in outcome.issued], messages=outcome.messages)
    session.commit()
    return released(session, answer)


@router.post(
    "/subjects/{subject_id}/certificates/revoke",
    responses={**NOT_FOUND, 409: {"description": "Không thu hồi được (đã thu hồi, không thuộc đối tượng...)"}},
)
def revoke(subject_id: RowId, body: RevokeIn, user: Issuer, session: SessionDep) -> Message:
    """Thu hồi một chứng nhận của đối tượng (ghi người, thời điểm, lý do; công bố trong danh sách thu hồi)."""
    subject = service.load_subject(session, user, subject_id, reason="Thu hồi chứng nhận tiêm chủng")
    result = certificates.revoke_for_subject(session, user, subject, body.uvci, body.reason)
    if not result.ok:
        session.rollback()
        raise HTTPException(status_code=409, detail=result.reason_vi)
    session.commit()
    return Message(message=result.reason_vi)


@router.get("/certificates/unsigned")
def unsigned_days(user: ReportReader, session: SessionDep) -> list[UnsignedDayOut]:
    """Mũi tiêm đã nhập nhưng chưa ký số, theo cơ sở và ngày (trong phạm vi của người dùng)."""
    rows = certificates.unsigned_days_for(session, user)
    session.commit()
    return released(session, [UnsignedDayOut.model_validate(row, from_attributes=True) for row in rows])


@router.post("/certificates/sign-day", responses={409: {"description": "Không ký được (sai mật khẩu, không có mũi)"}})
def sign_day(body: SignDayIn, user: FacilityUser, session: SessionDep, settings: SettingsDep) -> SignDayOut:
    """Cơ sở tiêm ký số các mũi tiêm chưa ký của một ngày bằng khóa của cơ sở (mở bằng mật khẩu gửi kèm)."""
    result = certificates.sign_day(session, user, settings, body.day, body.passphrase)
    session.commit()  # the signatures, or only the audit event of a refused attempt
    if not result.ok:
        raise HTTPException(status_code=409, detail=result.reason_vi)
    return SignDayOut(message=result.reason_vi, signed=result.signature.dose_count if result.signature else 0)

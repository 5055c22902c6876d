"""The JSON API `/api/v1`: the same actions as the pages, for other systems and scripts (OpenAPI at /openapi.json).

Authentication is the same signed session as the pages (`POST /api/v1/session`); every change needs the
`X-CSRF-Token` header that the log-in answer gives. Refusals are 403/404/422 with a Vietnamese `detail`.
"""

from datetime import date

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from tiemchung.registry.models import Role, Subject, User
from tiemchung.verification.results import Category, valid_idempotency_key
from tiemchung.web import dashboard
from tiemchung.web import subjects_service as service
from tiemchung.web.access import COMMUNE_ROLES, PERSON_READERS, SUPERVISOR_ROLES, mask_id_number
from tiemchung.web.deps import RowId, get_session, released, require_roles

router = APIRouter(
    prefix="/api/v1", responses={401: {"description": "Chưa đăng nhập"}, 403: {"description": "Không có quyền"}}
)
CLEANING_VIEWERS = (*COMMUNE_ROLES, *SUPERVISOR_ROLES)


class SubjectOut(BaseModel):
    id: int
    subject_key: str
    full_name: str
    birth_date: str | None
    sex: str | None
    id_number: str
    province_code: str | None
    district_code: str | None
    ward_code: str | None
    verification_category: str | None
    verification_reasons: str


def _subject_out(subject: Subject, user: User) -> SubjectOut:
    return SubjectOut(
        id=subject.id,
        subject_key=subject.subject_key,
        full_name=subject.full_name,
        birth_date=subject.birth_date,
        sex=subject.sex,
        id_number=mask_id_number(subject.id_number or subject.id_number_raw, user),
        province_code=subject.province_code,
        district_code=subject.district_code,
        ward_code=subject.ward_code,
        verification_category=subject.verification_category,
        verification_reasons=subject.verification_reasons,
    )


class DoseOut(BaseModel):
    id: int
    record_id: str
    vaccine: str
    vaccination_date: date
    dose_kind: str
    lot_number: str | None
    facility_code: str


class SubjectRecord(SubjectOut):
    doses: list[DoseOut]


class DoseIn(BaseModel):
    vaccine: str = Field(max_length=64)
    vaccination_date: str = Field(max_length=10, description="yyyy-mm-dd")
    dose_kind: str = Field(max_length=16, description="1, 2, 3, additional, booster_1, booster_2")
    lot_number: str = Field(default="", max_length=64)


class DoseEntered(BaseModel):
    dose: DoseOut
    verification_category: str | None
    verification_message: str


@router.get("/subjects", tags=["đối tượng"])
def search_subjects(
    q: str = Query(min_length=1, max_length=100),
    birth_year: int | None = Query(default=None, ge=1900, le=2100),
    user: User = Depends(require_roles(*PERSON_READERS)),
    session: Session = Depends(get_session),
) -> list[SubjectOut]:
    """Tra cứu theo số CCCD/CMND, hoặc họ tên (không dấu) và năm sinh, trong địa bàn của người dùng."""
    result = service.search(session, user, q, birth_year)
    session.commit()
    return released(session, [_subject_out(subject, user) for subject in result.subjects])


@router.get("/subjects/{subject_id}", tags=["đối tượng"], responses={404: {"description": "Không tìm thấy"}})
def get_subject(
    subject_id: RowId, user: User = Depends(require_roles(*PERSON_READERS)), session: Session = Depends(get_session)
) -> SubjectRecord:
    """Hồ sơ một đối tượng và các mũi tiêm (lượt xem được ghi nhật ký)."""
    subject = service.load_subject(session, user, subject_id)
    session.commit()
    doses = [DoseOut.model_validate(dose, from_attributes=True) for dose in subject.doses]
    return released(session, SubjectRecord(**_subject_out(subject, user).model_dump(), doses=doses))


IDEMPOTENCY_KEY = (
    "Khóa chống nhập trùng, do người gửi tự chọn (ví dụ một UUID): 1–64 ký tự chữ cái không dấu, chữ số, . _ : -. "
    "Gửi lại đúng yêu cầu với cùng khóa (sau lỗi 503 hay mất kết nối) trả về mũi tiêm đã lưu, không nhập lần hai."
)


@router.post(
    "/subjects/{subject_id}/doses",
    tags=["đối tượng"],
    status_code=201,
    responses={
        200: {
            "description": "Mũi tiêm đã được nhập trước đó với cùng Idempotency-Key và cùng nội dung: trả về mũi tiêm "
            "đã lưu, không nhập thêm (kèm header Idempotent-Replayed: true)",
            "model": DoseEntered,
        },
        404: {"description": "Không tìm thấy"},
        409: {"description": "Idempotency-Key đã được dùng cho một yêu cầu có nội dung khác"},
        422: {"description": "Dữ liệu không hợp lệ (kể cả Idempotency-Key sai dạng)"},
    },
)
def enter_dose(
    subject_id: RowId,
    body: DoseIn,
    request: Request,
    response: Response,
    idempotency_key: str | None = Header(default=None, description=IDEMPOTENCY_KEY),
    user: User = Depends(require_roles(Role.FACILITY)),
    session: Session = Depends(get_session),
) -> DoseEntered:
    """Nhập một mũi tiêm và xác minh trực tuyến đối tượng với CSDL dân cư.

    Với header `Idempotency-Key`, gửi lại là an toàn: lần gửi lại trả về mũi tiêm đã lưu (200), không nhập lần hai.
    """
    if idempotency_key is not None and not valid_idempotency_key(idempotency_key):
        raise HTTPException(status_code=422, detail=service.ENTRY_KEY_MALFORMED)
    key = None
    if idempotency_key is not None:
        key = service.EntryKey.of(idempotency_key, "api", {"subject_id": subject_id, **body.model_dump()})
    subject = service.load_subject(session, user, subject_id, reason="Nhập mũi tiêm")
    entry = service.DoseEntry(body.vaccine, body.vaccination_date, body.dose_kind, body.lot_number)
    try:
        outcome = service.add_dose(session, user, subject, entry, key)
    except service.EntryKeyReused as reused:
        session.rollback()
        raise HTTPException(status_code=409, detail=reused.message) from None
    if not outcome.ok or outcome.dose is None:
        session.rollback()
        raise HTTPException(status_code=422, detail=outcome.message)
    if outcome.replayed:  # a retry: the dose is already stored, verified when it was entered
        category, message = subject.verification_category, outcome.message
        if category:
            label = Category(category).label_vi if category in Category else category
            message += f" Kết quả xác minh hiện tại: {label}."
        answer = DoseEntered(
            dose=DoseOut.model_validate(outcome.dose, from_attributes=True),
            verification_category=category,
            verification_message=message,
        )
        session.commit()  # the audit of the subject's read
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
        return released(session, answer)
    verified = request.app.state.verifier(session, subject.id)
    session.commit()
    return released(
        session,
        DoseEntered(
            dose=DoseOut.model_validate(outcome.dose, from_attributes=True),
            verification_category=verified.result.category.value if verified.result else None,
            verification_message=verified.message,
        ),
    )


class StatusOut(BaseModel):
    level: str
    categories: list[str]
    rows: dict[str, list[int]]


@router.get("/dashboard/verification", tags=["tổng quan"])
def verification_dashboard(
    user: User = Depends(require_roles(*PERSON_READERS)), session: Session = Depends(get_session)
) -> StatusOut:
    """Số đối tượng theo kết quả xác minh, theo đơn vị hành chính cấp dưới của địa bàn."""
    table = dashboard.verification_status(session, user)
    return released(
        session, StatusOut(level=table.level_label, categories=list(dashboard.CATEGORY_ORDER), rows=dict(table.rows))
    )

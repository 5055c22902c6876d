"""JSON API `/api/v1` for people and doses: the same service calls as the pages (search, a person's record, dose
entry on a person or by the form's rules, "xác minh lại", the direct edit of an identity)."""

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field

from tiemchung.health.registry.editing import IdentityChanges, edit_subject_identity
from tiemchung.health.registry.models import Dose, Role, Subject, User
from tiemchung.health.verification import queue
from tiemchung.health.web import person_form
from tiemchung.health.web import subjects_service as service
from tiemchung.health.web.access import IDENTITY_EDITORS, PERSON_READERS, mask_id_number
from tiemchung.health.web.deps import RowId, SessionDep, released, require_roles
from tiemchung.health.web.subject_search import PAGE_SIZE, SearchQuery, search
from tiemchung.interchange.results import Category, valid_idempotency_key

router = APIRouter(
    prefix="/api/v1",
    tags=["đối tượng"],
    responses={401: {"description": "Chưa đăng nhập"}, 403: {"description": "Không có quyền"}},
)
PersonReader = Annotated[User, Depends(require_roles(*PERSON_READERS))]
FacilityUser = Annotated[User, Depends(require_roles(Role.FACILITY))]
IdentityEditor = Annotated[User, Depends(require_roles(*IDENTITY_EDITORS))]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "Không tìm thấy"}}
IDEMPOTENCY_KEY = (
    "Khóa chống nhập trùng, do người gửi tự chọn (ví dụ một UUID): 1–64 ký tự chữ cái không dấu, chữ số, . _ : -. "
    "Gửi lại đúng yêu cầu với cùng khóa (sau lỗi 503 hay mất kết nối) trả về mũi tiêm đã lưu, không nhập lần hai."
)
IdempotencyKey = Annotated[str | None, Header(description=IDEMPOTENCY_KEY)]
ENTRY_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Mũi tiêm đã được nhập trước đó với cùng Idempotency-Key và cùng nội dung: trả về mũi tiêm "
        "đã lưu, không nhập thêm (kèm header Idempotent-Replayed: true)"
    },
    404: {"description": "Không tìm thấy"},
    409: {"description": "Idempotency-Key đã được dùng cho một yêu cầu có nội dung khác"},
    422: {"description": "Dữ liệu không hợp lệ (kể cả Idempotency-Key sai dạng)"},
}


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

    def entry(self) -> service.DoseEntry:
        return service.DoseEntry(self.vaccine, self.vaccination_date, self.dose_kind, self.lot_number)


class DoseEntered(BaseModel):
    dose: DoseOut
    subject_id: int
    verification_category: str | None
    verification_message: str


class SearchPage(BaseModel):
    subjects: list[SubjectOut]
    total: int = Field(description=f"số người phù hợp (đếm đến {1000:,}; hơn nữa là 1001)")
    page: int
    page_size: int = PAGE_SIZE
    errors: dict[str, str] = Field(default_factory=dict, description="ô nhập sai (đã bỏ qua khi tìm)")


@router.get("/subjects")
def search_subjects(
    user: PersonReader,
    session: SessionDep,
    q: Annotated[str, Query(max_length=100)] = "",
    birth_year: Annotated[str, Query(max_length=10)] = "",
    province_code: Annotated[str, Query(max_length=2)] = "",
    district_code: Annotated[str, Query(max_length=3)] = "",
    ward_code: Annotated[str, Query(max_length=5)] = "",
    state: Annotated[str, Query(max_length=32, description="VERIFIED, MISMATCH, ..., NOT_YET")] = "",
    page: Annotated[int, Query(ge=1, le=1_000)] = 1,
) -> SearchPage:
    """Tra cứu theo số CCCD/CMND hoặc một phần họ tên (có thể không dấu), lọc theo năm sinh, địa bàn, kết quả
    xác minh; mỗi trang 50 người, trong địa bàn của người dùng."""
    result = search(session, user, SearchQuery(q, birth_year, province_code, district_code, ward_code, state, page))
    session.commit()
    answer = SearchPage(
        subjects=[_subject_out(subject, user) for subject in result.subjects],
        total=result.total,
        page=result.page,
        errors=result.errors,
    )
    return released(session, answer)


@router.get("/subjects/{subject_id}", responses=NOT_FOUND)
def get_subject(subject_id: RowId, user: PersonReader, session: SessionDep) -> SubjectRecord:
    """Hồ sơ một đối tượng và các mũi tiêm (lượt xem được ghi nhật ký)."""
    subject = service.load_subject(session, user, subject_id)
    session.commit()
    doses = [DoseOut.model_validate(dose, from_attributes=True) for dose in subject.doses]
    return released(session, SubjectRecord(**_subject_out(subject, user).model_dump(), doses=doses))


def _entry_key(idempotency_key: str | None, action: str, request: dict[str, object]) -> service.EntryKey | None:
    if idempotency_key is None:
        return None
    if not valid_idempotency_key(idempotency_key):
        raise HTTPException(status_code=422, detail=service.ENTRY_KEY_MALFORMED)
    return service.EntryKey.of(idempotency_key, action, request)


def _replayed(subject: Subject, dose: Dose, message: str, response: Response) -> DoseEntered:
    """A retry: the dose is already stored, verified when it was entered."""
    category = subject.verification_category
    if category:
        label = Category(category).label_vi if category in Category else category
        message += f" Kết quả xác minh hiện tại: {label}."
    response.status_code = 200
    response.headers["Idempotent-Replayed"] = "true"
    dose_out = DoseOut.model_validate(dose, from_attributes=True)
    return DoseEntered(
        dose=dose_out, subject_id=subject.id, verification_category=category, verification_message=message
    )


def _entered(request: Request, session: SessionDep, subject: Subject, dose: Dose, message: str) -> DoseEntered:
    verified = request.app.state.verifier(session, subject.id)
    session.commit()
    return DoseEntered(
        dose=DoseOut.model_validate(dose, from_attributes=True),
        subject_id=subject.id,
        verification_category=verified.result.category.value if verified.result else None,
        verification_message=f"{message} {verified.message}".strip() if message else verified.message,
    )


@router.post("/subjects/{subject_id}/doses", status_code=201, responses=ENTRY_RESPONSES)
def enter_dose(
    subject_id: RowId,
    body: DoseIn,
    request: Request,
    response: Response,
    user: FacilityUser,
    session: SessionDep,
    idempotency_key: IdempotencyKey = None,
) -> DoseEntered:
    """Nhập một mũi tiêm và xác minh trực tuyến đối tượng với CSDL dân cư.

    Với header `Idempotency-Key`, gửi lại là an toàn: lần gửi lại trả về mũi tiêm đã lưu (200), không nhập lần hai.
    """
    key = _entry_key(idempotency_key, "api", {"subject_id": subject_id, **body.model_dump()})
    subject = service.load_subject(session, user, subject_id, reason="Nhập mũi tiêm")
    try:
        outcome = service.add_dose(session, user, subject, body.entry(), key)
    except service.EntryKeyReused as reused:
        session.rollback()
        raise HTTPException(status_code=409, detail=reused.message) from None
    if not outcome.ok or outcome.dose is None:
        session.rollback()
        raise HTTPException(status_code=422, detail=outcome.message)
    if outcome.replayed:
        answer = _replayed(subject, outcome.dose, outcome.message, response)
        session.commit()  # the audit of the subject's read
        return released(session, answer)
    return released(session, _entered(request, session, subject, outcome.dose, ""))


class PersonIn(BaseModel):
    full_name: str = Field(default="", max_length=255)
    birth_date: str = Field(default="", max_length=32, description="dd/mm/yyyy, yyyy-mm-dd hoặc năm")
    sex: str = Field(default="", max_length=8, description="Nam/Nữ, M/F")
    id_number: str = Field(default="", max_length=20)
    nationality: str = Field(default="VN", max_length=64, description="mã ISO (VN, KR...) hoặc tên nước")
    passport_number: str = Field(default="", max_length=32)
    phone: str = Field(default="", max_length=32)
    province_code: str = Field(default="", max_length=2)
    district_code: str = Field(default="", max_length=3)
    ward_code: str = Field(default="", max_length=5)


class PersonDoseIn(BaseModel):
    person: PersonIn
    dose: DoseIn
    subject_id: int | None = Field(
        default=None, ge=1, le=2_147_483_647, description="người đã chọn trong danh sách có thể trùng (409 trước đó)"
    )
    new_person: bool = Field(default=False, description="true: người mới dù có người trùng họ tên và ngày sinh")


class Candidates(BaseModel):
    detail: str
    candidates: list[SubjectOut]


@router.post(
    "/doses",
    status_code=201,
    responses={**ENTRY_RESPONSES, 300: {"description": "Có thể người này đã có trong sổ: chọn", "model": Candidates}},
)
def enter_dose_for_person(
    body: PersonDoseIn,
    request: Request,
    response: Response,
    user: FacilityUser,
    session: SessionDep,
    idempotency_key: IdempotencyKey = None,
) -> DoseEntered | Candidates:
    """Nhập mũi tiêm theo thông tin người được tiêm, như biểu mẫu "Nhập mũi tiêm": người đã có số CCCD/CMND trong sổ
    được thêm mũi tiêm; có người trùng họ tên và ngày sinh thì trả về 300 với danh sách để chọn (`subject_id`) hoặc
    xác nhận người mới (`new_person`); người mới phải cư trú tại một xã/phường có thật trong địa bàn."""
    key = _entry_key(idempotency_key, "api-person", body.model_dump())
    person = person_form.PersonFields(**body.person.model_dump())
    choice = str(body.subject_id) if body.subject_id else person_form.NEW_PERSON if body.new_person else ""
    try:
        outcome = person_form.enter_for_person(session, user, person, body.dose.entry(), choice, key)
    except service.EntryKeyReused as reused:
        session.rollback()
        raise HTTPException(status_code=409, detail=reused.message) from None
    if outcome.status == "refused":
        session.rollback()
        raise HTTPException(status_code=422, detail=outcome.errors)
    if outcome.status == "choose":
        session.rollback()
        response.status_code = 300
        detail = (
            " ".join(outcome.errors.values()) or "Có thể người này đã có trong sổ: chọn subject_id hoặc new_person."
        )
        candidates = [_subject_out(subject, user) for subject in outcome.matches.people]
        return released(session, Candidates(detail=detail, candidates=candidates))
    assert outcome.subject is not None
    if outcome.status == "replayed":
        answer = _replayed(outcome.subject, outcome.dose, outcome.message, response)
        session.rollback()
        return released(session, answer)
    return released(session, _entered(request, session, outcome.subject, outcome.dose, outcome.message))


class VerifyQueued(BaseModel):
    queued: bool
    message: str


@router.post("/subjects/{subject_id}/verify", responses=NOT_FOUND)
def reverify(subject_id: RowId, user: PersonReader, session: SessionDep) -> VerifyQueued:
    """Xác minh lại: đưa đối tượng vào hàng đợi xác minh với CSDL dân cư."""
    subject = service.load_subject(session, user, subject_id, reason="Xác minh lại")
    queued = queue.enqueue(session, [subject.id], reason="api-reverify") > 0
    session.commit()
    message = "Đã đưa vào hàng đợi xác minh." if queued else "Đã có trong hàng đợi xác minh."
    return released(session, VerifyQueued(queued=queued, message=message))


class IdentityEdit(BaseModel):
    """Chỉ các trường được gửi mới thay đổi; chuỗi rỗng xoá số giấy tờ, số điện thoại."""

    full_name: str | None = Field(default=None, max_length=255)
    birth_date: str | None = Field(default=None, max_length=32)
    sex: str | None = Field(default=None, max_length=8)
    id_number: str | None = Field(default=None, max_length=20)
    passport_number: str | None = Field(default=None, max_length=32)
    nationality: str | None = Field(default=None, max_length=64)
    phone: str | None = Field(default=None, max_length=32)
    reason: str = Field(max_length=255, description="lý do chỉnh sửa (ghi nhật ký)")


class IdentityEdited(BaseModel):
    changed: list[str]
    warnings: list[str]
    verification_message: str


@router.post("/subjects/{subject_id}/identity", responses=NOT_FOUND)
def edit_identity(
    subject_id: RowId, body: IdentityEdit, request: Request, user: IdentityEditor, session: SessionDep
) -> IdentityEdited:
    """Chỉnh sửa trực tiếp thông tin cá nhân (theo cùng quy tắc khi nhập tệp); hồ sơ được xác minh lại."""
    subject = service.load_subject(session, user, subject_id, reason="Chỉnh sửa trực tiếp")
    changes = IdentityChanges(**body.model_dump(exclude={"reason"}))
    result = edit_subject_identity(
        session, subject.id, changes, actor=user.username, actor_role=user.role, reason=body.reason
    )
    if not result.ok:
        session.rollback()
        raise HTTPException(status_code=422, detail=" ".join(result.errors))
    message = request.app.state.verifier(session, subject.id).message if result.reverify else ""
    session.commit()
    answer = IdentityEdited(changed=sorted(result.changes), warnings=result.warnings, verification_message=message)
    return released(session, answer)

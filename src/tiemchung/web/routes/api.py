"""The JSON API `/api/v1`: the same actions as the pages, for other systems and scripts (OpenAPI at /openapi.json).

Authentication is the same signed session as the pages (`POST /api/v1/session`); every change needs the
`X-CSRF-Token` header that the log-in answer gives. Refusals are 403/404/422 with a Vietnamese `detail`.
"""

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from tiemchung.cleaning import signing, workflow
from tiemchung.cleaning.identity_input import IdentityInput
from tiemchung.cleaning.models import CleaningLine, CleaningWorklist
from tiemchung.registry.models import Role, Subject, User
from tiemchung.verification.results import Category, valid_idempotency_key
from tiemchung.web import dashboard
from tiemchung.web import subjects_service as service
from tiemchung.web.access import COMMUNE_ROLES, PERSON_READERS, SUPERVISOR_ROLES, mask_id_number
from tiemchung.web.cleaning_views import audit_list_read, load_line, load_worklist, progress, worklists_in_area
from tiemchung.web.deps import MAX_KEY, RowId, get_session, get_settings, released, require_roles
from tiemchung.web.settings import Settings

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


@router.get("/cleaning/progress", tags=["làm sạch dữ liệu"])
def cleaning_progress(
    user: User = Depends(require_roles(*CLEANING_VIEWERS)), session: Session = Depends(get_session)
) -> StatusOut:
    """Tiến độ làm sạch: số dòng theo bước, theo đơn vị hành chính cấp dưới."""
    figures = progress(session, user)
    return released(session, StatusOut(level=figures.level_label, categories=figures.states, rows=dict(figures.rows)))


class LineOut(BaseModel):
    id: int
    subject_id: int
    problem: str
    register_reasons: str
    state: str
    village_id: int | None
    listed: dict[str, str | None]
    candidate_person_id: str | None
    candidate_probability: float | None
    family_outcome: str | None
    family: dict[str, str]
    police_decision: str | None
    police: dict[str, str]
    result_category: str | None


class WorklistOut(BaseModel):
    id: int
    ward_code: str
    title: str
    state: str
    signature_valid: bool | None = None
    signature_message: str = ""
    lines: list[LineOut] = []


def _masked(values: dict[str, str | None], user: User) -> dict[str, str | None]:
    return {key: mask_id_number(value, user) if key == "id_number" else value for key, value in values.items()}


def _line_out(line: CleaningLine, user: User) -> LineOut:
    return LineOut(
        id=line.id,
        subject_id=line.subject_id,
        problem=line.problem,
        register_reasons=line.register_reasons,
        state=line.state,
        village_id=line.village_id,
        listed=_masked(line.listed, user),
        candidate_person_id=mask_id_number(line.candidate_person_id, user) or None,
        candidate_probability=line.candidate_probability,
        family_outcome=line.family_outcome,
        family={key: str(value) for key, value in _masked(line.family, user).items()},
        police_decision=line.police_decision,
        police={key: str(value) for key, value in _masked(line.police, user).items()},
        result_category=line.result_category,
    )


def _worklist_out(session: Session, worklist: CleaningWorklist, user: User, *, with_lines: bool) -> WorklistOut:
    verdict = signing.check(session, worklist) if worklist.state in ("signed", "applied") else None
    return WorklistOut(
        id=worklist.id,
        ward_code=worklist.ward_code,
        title=worklist.title,
        state=worklist.state,
        signature_valid=verdict.valid if verdict else None,
        signature_message=verdict.message if verdict else "",
        lines=[_line_out(line, user) for line in worklist.lines] if with_lines else [],
    )


def _answer(outcome: workflow.Outcome) -> dict[str, object]:
    if not outcome.ok:
        raise HTTPException(status_code=409, detail=outcome.message)
    return {"message": outcome.message, "changed": outcome.changed}


CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": "Không thực hiện được ở bước hiện tại"},
    404: {"description": "Không tìm thấy"},
}


@router.get("/cleaning/worklists", tags=["làm sạch dữ liệu"])
def list_worklists(
    user: User = Depends(require_roles(*CLEANING_VIEWERS)), session: Session = Depends(get_session)
) -> list[WorklistOut]:
    return released(
        session,
        [_worklist_out(session, worklist, user, with_lines=False) for worklist in worklists_in_area(session, user)],
    )


class NewWorklist(BaseModel):
    title: str = Field(default="", max_length=255)


@router.post("/cleaning/worklists", tags=["làm sạch dữ liệu"], status_code=201, responses=CONFLICT)
def create_worklist(
    body: NewWorklist, user: User = Depends(require_roles(Role.HEALTH_STATION)), session: Session = Depends(get_session)
) -> WorklistOut:
    """Bước 1: lập danh sách đối tượng sai thông tin của xã/phường."""
    outcome, worklist = workflow.build_worklist(session, user, title=body.title)
    if worklist is None:
        raise HTTPException(status_code=409, detail=outcome.message)
    audit_list_read(session, user, worklist)
    session.commit()
    return released(session, _worklist_out(session, worklist, user, with_lines=True))


@router.get("/cleaning/worklists/{worklist_id}", tags=["làm sạch dữ liệu"], responses=CONFLICT)
def get_worklist(
    worklist_id: RowId, user: User = Depends(require_roles(*CLEANING_VIEWERS)), session: Session = Depends(get_session)
) -> WorklistOut:
    worklist = load_worklist(session, user, worklist_id)
    audit_list_read(session, user, worklist)
    session.commit()
    return released(session, _worklist_out(session, worklist, user, with_lines=True))


class Assignment(BaseModel):
    village_id: int = Field(ge=1, le=MAX_KEY)
    line_ids: list[int] = Field(max_length=10_000)


@router.post("/cleaning/worklists/{worklist_id}/assign", tags=["làm sạch dữ liệu"], responses=CONFLICT)
def assign(
    worklist_id: RowId,
    body: Assignment,
    user: User = Depends(require_roles(Role.HEALTH_STATION)),
    session: Session = Depends(get_session),
) -> dict[str, object]:
    """Bước 2: giao các dòng cho tổ công tác thôn/ấp."""
    worklist = load_worklist(session, user, worklist_id)
    answer = _answer(workflow.assign(session, user, worklist, body.line_ids, body.village_id))
    session.commit()
    return released(session, answer)


class IdentityIn(BaseModel):
    full_name: str = Field(default="", max_length=255)
    birth_date: str = Field(default="", max_length=10)
    sex: str = Field(default="", max_length=3)
    id_number: str = Field(default="", max_length=20)
    note: str = Field(default="", max_length=1000)

    def identity(self) -> IdentityInput:
        return IdentityInput(self.full_name, self.birth_date, self.sex, self.id_number)


class FamilyAnswer(IdentityIn):
    outcome: str = Field(max_length=32, description="corrected, confirmed_as_is, moved_away, deceased, not_resident")


@router.post("/cleaning/lines/{line_id}/family", tags=["làm sạch dữ liệu"], responses=CONFLICT)
def family_answer(
    line_id: RowId,
    body: FamilyAnswer,
    user: User = Depends(require_roles(Role.VILLAGE_TEAM)),
    session: Session = Depends(get_session),
) -> dict[str, object]:
    """Bước 2: tổ thôn ghi nhận thông tin từ gia đình."""
    line = load_line(session, user, line_id)
    answer = _answer(workflow.record_family_answer(session, user, line, body.outcome, body.identity(), body.note))
    session.commit()
    return released(session, answer)


@router.post("/cleaning/worklists/{worklist_id}/send-to-police", tags=["làm sạch dữ liệu"], responses=CONFLICT)
def send_to_police(
    worklist_id: RowId,
    user: User = Depends(require_roles(Role.HEALTH_STATION)),
    session: Session = Depends(get_session),
) -> dict[str, object]:
    worklist = load_worklist(session, user, worklist_id)
    answer = _answer(workflow.send_to_police(session, user, worklist))
    session.commit()
    return released(session, answer)


class PoliceAnswer(IdentityIn):
    decision: str = Field(max_length=16, description="confirmed, corrected")


@router.post("/cleaning/lines/{line_id}/police", tags=["làm sạch dữ liệu"], responses=CONFLICT)
def police_decision(
    line_id: RowId,
    body: PoliceAnswer,
    user: User = Depends(require_roles(Role.COMMUNE_POLICE)),
    session: Session = Depends(get_session),
) -> dict[str, object]:
    """Bước 3: Công an xã đối chiếu, xác thực từng dòng."""
    line = load_line(session, user, line_id)
    answer = _answer(workflow.police_decide(session, user, line, body.decision, body.identity(), body.note))
    session.commit()
    return released(session, answer)


class Note(BaseModel):
    note: str = Field(max_length=1000)


@router.post("/cleaning/lines/{line_id}/send-back", tags=["làm sạch dữ liệu"], responses=CONFLICT)
def send_back(
    line_id: RowId,
    body: Note,
    user: User = Depends(require_roles(Role.HEALTH_STATION, Role.COMMUNE_POLICE)),
    session: Session = Depends(get_session),
) -> dict[str, object]:
    line = load_line(session, user, line_id)
    answer = _answer(workflow.send_back(session, user, line, body.note))
    session.commit()
    return released(session, answer)


@router.post("/cleaning/worklists/{worklist_id}/sign", tags=["làm sạch dữ liệu"], responses=CONFLICT)
def sign(
    worklist_id: RowId,
    user: User = Depends(require_roles(Role.COMMUNE_POLICE)),
    session: Session = Depends(get_session),
    settings: Settings = Depends(get_settings),
) -> dict[str, object]:
    """Bước 3: Công an xã ký số danh sách và bàn giao cho Trạm Y tế."""
    worklist = load_worklist(session, user, worklist_id)
    answer = _answer(workflow.sign_worklist(session, user, worklist, settings.keys_dir))
    session.commit()
    return released(session, answer)


@router.post("/cleaning/worklists/{worklist_id}/apply", tags=["làm sạch dữ liệu"], responses=CONFLICT)
def apply(
    worklist_id: RowId,
    request: Request,
    user: User = Depends(require_roles(Role.HEALTH_STATION)),
    session: Session = Depends(get_session),
) -> dict[str, object]:
    """Bước 4: cập nhật thông tin đối tượng và xác minh lại trực tuyến."""
    worklist = load_worklist(session, user, worklist_id)
    answer = _answer(workflow.apply_worklist(session, user, worklist, request.app.state.verifier))
    session.commit()
    return released(session, answer)

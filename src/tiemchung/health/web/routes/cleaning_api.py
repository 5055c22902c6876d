"""The cleaning workflow in the JSON API `/api/v1/cleaning/...`: the same actions as the pages
(`web.cleaning_actions`), answered in JSON; a refused step is a 409 with the Vietnamese reason."""

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from tiemchung.health.cleaning import signing
from tiemchung.health.cleaning.models import CleaningLine, CleaningWorklist
from tiemchung.health.registry.models import User
from tiemchung.health.web import cleaning_actions as actions
from tiemchung.health.web.access import mask_id_number
from tiemchung.health.web.cleaning_views import (
    AppSettings,
    LineFilter,
    Police,
    Station,
    StationOrPolice,
    Viewer,
    VillageTeam,
    audit_list_read,
    load_worklist,
    progress,
    worklists_in_area,
)
from tiemchung.health.web.deps import MAX_KEY, RowId, SessionDep, released
from tiemchung.identity import IdentityInput

router = APIRouter(
    prefix="/api/v1/cleaning",
    tags=["làm sạch dữ liệu"],
    responses={
        401: {"description": "Chưa đăng nhập"},
        403: {"description": "Không có quyền"},
        404: {"description": "Không tìm thấy"},
        409: {"description": "Không thực hiện được ở bước hiện tại"},
    },
)


class ProgressOut(BaseModel):
    level: str
    categories: list[str]
    rows: dict[str, list[int]]


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


class Answer(BaseModel):
    message: str
    changed: int


class NewWorklist(BaseModel):
    title: str = Field(default="", max_length=255)


class Assignment(BaseModel):
    village_id: int = Field(ge=1, le=MAX_KEY)
    line_ids: list[int] = Field(default=[], max_length=10_000)
    matching: LineFilter | None = Field(default=None, description="Giao mọi dòng khớp bộ lọc này (thay cho line_ids)")


class Confirmation(BaseModel):
    line_ids: list[int] = Field(default=[], max_length=10_000)
    matching: LineFilter | None = Field(default=None, description="Xác thực mọi dòng khớp bộ lọc này")


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


class PoliceAnswer(IdentityIn):
    decision: str = Field(max_length=16, description="confirmed, corrected")


class Note(BaseModel):
    note: str = Field(max_length=1000)


def _masked(values: dict[str, Any], user: User) -> dict[str, Any]:
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


def _answer(session: Session, outcome: actions.Outcome) -> Answer:
    if not outcome.ok:
        raise HTTPException(status_code=409, detail=outcome.message)
    return released(session, Answer(message=outcome.message, changed=outcome.changed))


@router.get("/progress")
def cleaning_progress(user: Viewer, session: SessionDep) -> ProgressOut:
    """Tiến độ làm sạch: số dòng theo bước, theo đơn vị hành chính cấp dưới."""
    figures = progress(session, user)
    return released(session, ProgressOut(level=figures.level_label, categories=figures.states, rows=dict(figures.rows)))


@router.get("/worklists")
def list_worklists(user: Viewer, session: SessionDep) -> list[WorklistOut]:
    worklists = worklists_in_area(session, user)
    return released(session, [_worklist_out(session, worklist, user, with_lines=False) for worklist in worklists])


@router.post("/worklists", status_code=201)
def create_worklist(body: NewWorklist, user: Station, session: SessionDep) -> WorklistOut:
    """Bước 1: lập danh sách đối tượng sai thông tin của xã/phường."""
    outcome, worklist = actions.create_worklist(session, user, body.title)
    if worklist is None:
        raise HTTPException(status_code=409, detail=outcome.message)
    audit_list_read(session, user, worklist)
    session.commit()
    return released(session, _worklist_out(session, worklist, user, with_lines=True))


@router.get("/worklists/{worklist_id}")
def get_worklist(worklist_id: RowId, user: Viewer, session: SessionDep) -> WorklistOut:
    worklist = load_worklist(session, user, worklist_id)
    audit_list_read(session, user, worklist)
    session.commit()
    return released(session, _worklist_out(session, worklist, user, with_lines=True))


@router.post("/worklists/{worklist_id}/assign")
def assign(worklist_id: RowId, body: Assignment, user: Station, session: SessionDep) -> Answer:
    """Bước 2: giao các dòng (hoặc mọi dòng khớp bộ lọc) cho tổ công tác thôn/ấp."""
    return _answer(session, actions.assign(session, user, worklist_id, body.village_id, body.line_ids, body.matching))


@router.post("/lines/{line_id}/family")
def family_answer(line_id: RowId, body: FamilyAnswer, user: VillageTeam, session: SessionDep) -> Answer:
    """Bước 2: tổ thôn ghi nhận thông tin từ gia đình."""
    outcome, _line = actions.record_family_answer(session, user, line_id, body.outcome, body.identity(), body.note)
    return _answer(session, outcome)


@router.post("/worklists/{worklist_id}/send-to-police")
def send_to_police(worklist_id: RowId, user: Station, session: SessionDep) -> Answer:
    return _answer(session, actions.send_to_police(session, user, worklist_id))


@router.post("/lines/{line_id}/police")
def police_decision(line_id: RowId, body: PoliceAnswer, user: Police, session: SessionDep) -> Answer:
    """Bước 3: Công an xã đối chiếu, xác thực từng dòng."""
    outcome, _line = actions.police_decide(session, user, line_id, body.decision, body.identity(), body.note)
    return _answer(session, outcome)


@router.post("/worklists/{worklist_id}/confirm")
def confirm_lines(worklist_id: RowId, body: Confirmation, user: Police, session: SessionDep) -> Answer:
    """Bước 3: Công an xã xác thực đúng nhiều dòng một lúc."""
    return _answer(session, actions.confirm_many(session, user, worklist_id, body.line_ids, body.matching))


@router.post("/lines/{line_id}/send-back")
def send_back(line_id: RowId, body: Note, user: StationOrPolice, session: SessionDep) -> Answer:
    outcome, _line = actions.send_back(session, user, line_id, body.note)
    return _answer(session, outcome)


@router.post("/worklists/{worklist_id}/sign")
def sign(worklist_id: RowId, user: Police, session: SessionDep, settings: AppSettings) -> Answer:
    """Bước 3: Công an xã ký số danh sách và bàn giao cho Trạm Y tế."""
    return _answer(session, actions.sign(session, user, worklist_id, settings.keys_dir))


@router.post("/worklists/{worklist_id}/reopen")
def reopen(worklist_id: RowId, body: Note, user: Station, session: SessionDep) -> Answer:
    """Trạm Y tế trả danh sách đã ký về Công an xã (ghi lý do)."""
    return _answer(session, actions.reopen(session, user, worklist_id, body.note))


@router.post("/worklists/{worklist_id}/apply")
def apply(worklist_id: RowId, request: Request, user: Station, session: SessionDep) -> Answer:
    """Bước 4: cập nhật thông tin đối tượng và xác minh lại trực tuyến."""
    return _answer(session, actions.apply(session, user, worklist_id, request.app.state.verifier))

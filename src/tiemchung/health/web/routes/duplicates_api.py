"""Duplicate records in the JSON API `/api/v1`: the queue, a group side by side, and the decisions (merge, not the
same person, unmerge, a citizen's request), by the same service calls as the pages (`web.duplicates_service`).

A refused decision is 409 with the reason in Vietnamese (`detail`); a record outside the account's area is 403.
"""

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from tiemchung.health.registry.models import Subject, User
from tiemchung.health.web import access
from tiemchung.health.web import duplicates_service as duplicates
from tiemchung.health.web.certificates_service import document_signer
from tiemchung.health.web.deps import MAX_KEY, RowId, SessionDep, released, require_roles

router = APIRouter(
    prefix="/api/v1",
    tags=["hồ sơ trùng"],
    responses={401: {"description": "Chưa đăng nhập"}, 403: {"description": "Không có quyền"}},
)
Decider = Annotated[User, Depends(require_roles(*duplicates.DECIDERS))]
Refresher = Annotated[User, Depends(require_roles(*duplicates.REFRESHERS))]
REFUSED: dict[int | str, dict[str, Any]] = {409: {"description": "Không thực hiện được (lý do trong detail)"}}
Key = Annotated[int, Field(ge=0, le=MAX_KEY)]


class RecordOut(BaseModel):
    id: int
    subject_key: str
    full_name: str
    birth_date: str | None
    id_number: str = Field(description="Số CCCD/CMND (chỉ 3 số cuối với tài khoản giám sát)")
    ward_code: str | None
    verification_category: str | None
    verification_label: str
    doses: int


def _record(subject: Subject, user: User, doses: int) -> RecordOut:
    return RecordOut(
        id=subject.id,
        subject_key=subject.subject_key,
        full_name=subject.full_name,
        birth_date=subject.birth_date,
        id_number=access.mask_id_number(subject.id_number or subject.id_number_raw, user),
        ward_code=subject.ward_code,
        verification_category=subject.verification_category,
        verification_label=duplicates.verdict_label(subject.verification_category),
        doses=doses,
    )


class GroupOut(BaseModel):
    subject_ids: list[int]
    evidence: str
    evidence_label: str
    certain: bool
    requested: bool = Field(description="Người dân đề nghị gộp mũi tiêm")
    records: list[RecordOut]


class QueueOut(BaseModel):
    total: int
    page: int
    pages: int
    groups: list[GroupOut]


@router.get("/duplicates", response_model=QueueOut)
def queue(
    user: Decider,
    session: SessionDep,
    kind: Annotated[str, Query(max_length=64, description="requested, certain, probable, hoặc loại bằng chứng")] = "",
    q: Annotated[str, Query(max_length=100)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> QueueOut:
    """The open groups of the account's area (both records inside it), citizens' requests first."""
    result = duplicates.queue(session, user, kind=kind, text=q, page=page)
    groups = [
        GroupOut(subject_ids=group.subject_ids, evidence=group.evidence.value, evidence_label=group.evidence_vi,
                 certain=group.certain, requested=group.requested,
                 records=[_record(member, user, group.doses.get(member.id, 0)) for member in group.members])
        for group in result.groups
    ]  # fmt: skip
    answer = QueueOut(total=result.total, page=result.page, pages=result.pages, groups=groups)
    session.commit()
    return released(session, answer)


class RefreshOut(BaseModel):
    new: int
    kept: int
    closed: int


@router.post("/duplicates/refresh", response_model=RefreshOut)
def refresh(user: Refresher, session: SessionDep) -> RefreshOut:
    """Run the detection again over the registry (decisions already taken are kept)."""
    stored = duplicates.refresh(session, user)
    session.commit()
    return released(session, RefreshOut(new=stored.new, kept=stored.kept, closed=stored.closed))


class FieldOut(BaseModel):
    label: str
    values: list[str]
    differs: bool


class DoseOut(BaseModel):
    vaccination_date: date
    vaccine: str
    dose: str
    facility: str


class MergeOut(BaseModel):
    merge_id: int
    other_id: int
    survivor: bool = Field(description="true: the other record was merged into this one")


class ComparisonOut(BaseModel):
    subject_id: int
    records: list[RecordOut]
    fields: list[FieldOut]
    doses: dict[int, list[DoseOut]]
    evidence: list[str]
    requested: bool
    merges: list[MergeOut]


@router.get("/subjects/{subject_id}/duplicates", response_model=ComparisonOut)
def comparison(subject_id: RowId, user: Decider, session: SessionDep) -> ComparisonOut:
    """The subject's open group record beside record (`differs` marks the fields that differ)."""
    view = duplicates.comparison(session, user, subject_id)
    answer = ComparisonOut(
        subject_id=view.subject.id,
        records=[_record(member, user, len(member.doses)) for member in view.members],
        fields=[FieldOut(label=row.label, values=row.values, differs=row.differs) for row in view.rows],
        doses={member_id: [DoseOut(vaccination_date=date.fromisoformat(dose["date"]), vaccine=dose["vaccine"],
                                   dose=dose["kind"], facility=dose["facility"]) for dose in rows]
               for member_id, rows in view.doses.items()},
        evidence=view.evidence,
        requested=view.requested,
        merges=[MergeOut(merge_id=item.merge.id, other_id=item.other.id, survivor=item.survivor)
                for item in view.merges],
    )  # fmt: skip
    session.commit()
    return released(session, answer)


class OutcomeOut(BaseModel):
    message: str
    survivor_id: int | None
    merge_ids: list[int]
    revoked_certificates: list[str] = Field(description="UVCI các chứng nhận đã thu hồi")
    issued_certificates: list[str] = Field(description="UVCI các chứng nhận cấp lại")


def _answer(session: Session, outcome: duplicates.Outcome) -> OutcomeOut:
    if not outcome.ok:
        session.rollback()
        raise HTTPException(status_code=409, detail=outcome.message)
    series = outcome.certificates
    answer = OutcomeOut(
        message=outcome.message,
        survivor_id=outcome.survivor_id,
        merge_ids=outcome.merge_ids,
        revoked_certificates=list(series.revoked) if series else [],
        issued_certificates=[certificate.uvci for certificate in series.issued] if series else [],
    )
    session.commit()
    return released(session, answer)


class MergeIn(BaseModel):
    subject_ids: list[Key] = Field(default_factory=list, max_length=50, description="Các hồ sơ gộp cùng hồ sơ này")


@router.post("/subjects/{subject_id}/duplicates/merge", response_model=OutcomeOut, responses=REFUSED)
def merge(request: Request, subject_id: RowId, body: MergeIn, user: Decider, session: SessionDep) -> OutcomeOut:
    """Gộp: the records (of the subject's open group) become one; certificates re-issued with the whole series."""
    signer = document_signer(request)
    return _answer(session, duplicates.merge_group(session, user, subject_id, body.subject_ids, signer))


class DistinctIn(BaseModel):
    other_ids: list[Key] = Field(default_factory=list, max_length=50, description="Rỗng: mọi hồ sơ cùng nhóm")
    note: str = Field(default="", max_length=255)


@router.post("/subjects/{subject_id}/duplicates/distinct", response_model=OutcomeOut, responses=REFUSED)
def distinct(subject_id: RowId, body: DistinctIn, user: Decider, session: SessionDep) -> OutcomeOut:
    """Không phải cùng một người: remembered; the pairs leave the queue and are never proposed again."""
    return _answer(session, duplicates.not_same_person(session, user, subject_id, body.other_ids, body.note))


class RequestIn(BaseModel):
    other_id: Key = 0
    note: str = Field(default="", max_length=255)


@router.post("/subjects/{subject_id}/duplicates/request", response_model=OutcomeOut, responses=REFUSED)
def request_merge(subject_id: RowId, body: RequestIn, user: Decider, session: SessionDep) -> OutcomeOut:
    """A citizen's request at the station ("gộp mũi tiêm"): the pair joins the queue."""
    return _answer(session, duplicates.request_merge(session, user, subject_id, body.other_id, body.note))


class UnmergeIn(BaseModel):
    merge_id: Key = 0
    note: str = Field(default="", max_length=255)


@router.post("/subjects/{subject_id}/unmerge", response_model=OutcomeOut, responses=REFUSED)
def unmerge(request: Request, subject_id: RowId, body: UnmergeIn, user: Decider, session: SessionDep) -> OutcomeOut:
    """Tách: undo a merge of this record; both are remembered as two people; certificates re-issued for both."""
    signer = document_signer(request)
    return _answer(session, duplicates.unmerge_record(session, user, subject_id, body.merge_id, signer, body.note))

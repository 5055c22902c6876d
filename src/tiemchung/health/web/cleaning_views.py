"""The read side of the cleaning pages and API: loading with area checks, the filtered and paged worklist, audit of
reads, progress figures, and a line's history in words."""

from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, HTTPException, Query
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from tiemchung.health.cleaning.models import (
    CleaningLine,
    CleaningLineEvent,
    CleaningWorklist,
    FamilyOutcome,
    LineState,
    PoliceDecision,
    Problem,
)
from tiemchung.health.registry.audit import record_subject_reads
from tiemchung.health.registry.models import Role, Subject, User, Village
from tiemchung.health.web.access import COMMUNE_ROLES, SUPERVISOR_ROLES, area_clause, area_level
from tiemchung.health.web.dashboard import unit_name
from tiemchung.health.web.deps import ensure_in_area, get_settings, require_roles
from tiemchung.health.web.formatting import vn_date, vn_datetime
from tiemchung.health.web.settings import Settings
from tiemchung.identity import fold_name
from tiemchung.interchange.results import Category

NOT_FOUND = "Không tìm thấy."
PAGE_SIZE = 50
# A village team reads on a phone, where a line is a card with its form: 20 cards keep a page a few screens long.
PAGE_SIZE_ON_A_PHONE = 20

# The dependencies every cleaning route states, once.
AppSettings = Annotated[Settings, Depends(get_settings)]
Viewer = Annotated[User, Depends(require_roles(*COMMUNE_ROLES, *SUPERVISOR_ROLES))]
Station = Annotated[User, Depends(require_roles(Role.HEALTH_STATION))]
VillageTeam = Annotated[User, Depends(require_roles(Role.VILLAGE_TEAM))]
Police = Annotated[User, Depends(require_roles(Role.COMMUNE_POLICE))]
StationOrPolice = Annotated[User, Depends(require_roles(Role.HEALTH_STATION, Role.COMMUNE_POLICE))]


def load_worklist(session: Session, user: User, worklist_id: int) -> CleaningWorklist:
    worklist = session.get(CleaningWorklist, worklist_id)
    if worklist is None:
        raise HTTPException(status_code=404, detail=NOT_FOUND)
    ensure_in_area(
        user,
        province_code=worklist.province_code,
        district_code=worklist.district_code,
        ward_code=worklist.ward_code,
    )
    return worklist


def load_line(session: Session, user: User, line_id: int) -> CleaningLine:
    line = session.get(CleaningLine, line_id)
    if line is None:
        raise HTTPException(status_code=404, detail=NOT_FOUND)
    load_worklist(session, user, line.worklist_id)
    return line


def audit_lines_read(session: Session, user: User, lines: list[CleaningLine], reason: str) -> None:
    """The lines shown are people's records: one read event per person shown (the page's, not the whole list's)."""
    subject_ids = [line.subject_id for line in lines]
    record_subject_reads(session, actor=user.username, actor_role=user.role, subject_ids=subject_ids, reason=reason)


def audit_list_read(session: Session, user: User, worklist: CleaningWorklist) -> None:
    audit_lines_read(session, user, worklist.lines, f"Xem danh sách làm sạch số {worklist.id}")


# The worklist, filtered and paged --------------------------------------------------------------------------------

NO_VILLAGE = "none"


class LineFilter(BaseModel):
    """What the person narrowed the list to; the same filter selects the lines of a "select all" action."""

    state: LineState | None = None
    village: str = Field(default="", pattern=r"^(|none|\d{1,9})$")
    problem: Problem | None = None
    q: str = Field(default="", max_length=100)
    page: int = Field(default=1, ge=1, le=10_000)

    @field_validator("state", "problem", mode="before")
    @classmethod
    def _empty_is_any(cls, value: object) -> object:
        """A filter form sends "Tất cả" as an empty value."""
        return value or None

    @classmethod
    def from_form(cls, values: dict[str, Any]) -> "LineFilter":
        return cls.model_validate({key: value for key, value in values.items() if key in cls.model_fields and value})

    def query_string(self, **changes: Any) -> str:
        values = {**self.model_dump(exclude_defaults=True), **changes}
        return urlencode({key: str(value) for key, value in values.items() if value not in ("", None, 1)})

    @property
    def active(self) -> bool:
        return bool(self.state or self.village or self.problem or self.q)


LineFilterQuery = Annotated[LineFilter, Query()]


def _scope(user: User) -> LineFilter:
    """The lines a user works on: a village team only its own village's."""
    if user.role == Role.VILLAGE_TEAM and user.village_id is not None:
        return LineFilter(village=str(user.village_id))
    return LineFilter()


def filtered_lines(worklist_id: int, wanted: LineFilter) -> Select[CleaningLine]:
    query = select(CleaningLine).where(CleaningLine.worklist_id == worklist_id)
    if wanted.state:
        query = query.where(CleaningLine.state == wanted.state.value)
    if wanted.village == NO_VILLAGE:
        query = query.where(CleaningLine.village_id.is_(None))
    elif wanted.village:
        query = query.where(CleaningLine.village_id == int(wanted.village))
    if wanted.problem:
        query = query.where(CleaningLine.problem == wanted.problem.value)
    if wanted.q.strip():
        folded = fold_name(wanted.q)
        query = query.join(Subject, Subject.id == CleaningLine.subject_id).where(
            Subject.name_folded.contains(folded, autoescape=True)
        )
    return query


def matching_line_ids(session: Session, worklist_id: int, wanted: LineFilter) -> list[int]:
    query = filtered_lines(worklist_id, wanted).with_only_columns(CleaningLine.id)
    return list(session.scalars(query))


@dataclass(frozen=True)
class WorklistPage:
    lines: list[CleaningLine]
    matching: int  # lines matching the filter, over all pages
    total: int
    page: int
    pages: int
    state_counts: dict[str, int]
    villages: list[Village]
    filter: LineFilter
    size: int = PAGE_SIZE

    @property
    def first_shown(self) -> int:
        return (self.page - 1) * self.size + 1 if self.lines else 0

    @property
    def last_shown(self) -> int:
        return self.first_shown + len(self.lines) - 1 if self.lines else 0

    @property
    def village_names(self) -> dict[int, str]:
        return {village.id: village.name for village in self.villages}


def worklist_page(session: Session, user: User, worklist: CleaningWorklist, wanted: LineFilter) -> WorklistPage:
    """One page of the list as `user` sees it: four queries whatever the size (counts per state, the matching
    count, the page, the villages)."""
    scope = _scope(user)
    if scope.village:
        wanted = wanted.model_copy(update={"village": scope.village})
    size = PAGE_SIZE_ON_A_PHONE if user.role == Role.VILLAGE_TEAM else PAGE_SIZE
    counted = filtered_lines(worklist.id, scope).with_only_columns(CleaningLine.state, func.count())
    counts = dict(session.execute(counted.group_by(CleaningLine.state)).all())
    query = filtered_lines(worklist.id, wanted)
    matching = session.scalar(query.with_only_columns(func.count()).order_by(None)) or 0
    pages = max(1, -(-matching // size))
    page = min(wanted.page, pages)
    lines = list(session.scalars(query.order_by(CleaningLine.id).offset((page - 1) * size).limit(size)))
    villages = session.scalars(select(Village).where(Village.ward_code == worklist.ward_code).order_by(Village.name))
    return WorklistPage(
        lines=lines,
        matching=matching,
        total=sum(counts.values()),
        page=page,
        pages=pages,
        state_counts=counts,
        villages=list(villages),
        filter=wanted.model_copy(update={"page": page}),
        size=size,
    )


def villages_of(session: Session, ward_code: str) -> dict[int, str]:
    return dict(session.execute(select(Village.id, Village.name).where(Village.ward_code == ward_code)).all())


# The list of lists ----------------------------------------------------------------------------------------------


def worklists_in_area(session: Session, user: User) -> list[CleaningWorklist]:
    query = select(CleaningWorklist).where(
        area_clause(user, CleaningWorklist.province_code, CleaningWorklist.district_code, CleaningWorklist.ward_code)
    )
    return list(session.scalars(query.order_by(CleaningWorklist.id.desc()).limit(200)))


def line_counts(session: Session, worklists: list[CleaningWorklist]) -> dict[int, int]:
    """Lines per worklist in one query (counting `worklist.lines` loaded every line of every list)."""
    ids = [worklist.id for worklist in worklists]
    query = select(CleaningLine.worklist_id, func.count()).where(CleaningLine.worklist_id.in_(ids))
    return dict(session.execute(query.group_by(CleaningLine.worklist_id)).all())


@dataclass(frozen=True)
class TeamWork:
    """What waits for a village team: lines to review per list."""

    rows: list[tuple[CleaningWorklist, int]]

    @property
    def total(self) -> int:
        return sum(count for _worklist, count in self.rows)


def team_work(session: Session, user: User) -> TeamWork:
    query = (
        select(CleaningWorklist, func.count(CleaningLine.id))
        .join(CleaningLine, CleaningLine.worklist_id == CleaningWorklist.id)
        .where(CleaningWorklist.ward_code == user.area_code, CleaningLine.state == LineState.ASSIGNED.value)
        .group_by(CleaningWorklist.id)
        .order_by(CleaningWorklist.id.desc())
    )
    if user.village_id is not None:
        query = query.where(CleaningLine.village_id == user.village_id)
    return TeamWork([(worklist, count) for worklist, count in session.execute(query)])


# Progress ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    level_label: str
    states: list[str]
    rows: list[tuple[str, list[int]]]

    @property
    def series(self) -> list[str]:
        return [LineState(state).label_vi for state in self.states]

    @property
    def named_rows(self) -> list[tuple[str, list[int]]]:
        return [(unit_name(code), values) for code, values in self.rows]


def progress(session: Session, user: User) -> Progress:
    """Lines per state, per unit one level below the user's area (wards for a commune user)."""
    level = area_level(user.area_code or "")
    column, label = {
        "national": (CleaningWorklist.province_code, "Tỉnh/thành phố"),
        "province": (CleaningWorklist.district_code, "Quận/huyện"),
    }.get(level, (CleaningWorklist.ward_code, "Xã/phường"))
    states = [state.value for state in LineState]
    query = (
        select(column, CleaningLine.state, func.count())
        .join(CleaningWorklist, CleaningLine.worklist_id == CleaningWorklist.id)
        .where(
            area_clause(
                user, CleaningWorklist.province_code, CleaningWorklist.district_code, CleaningWorklist.ward_code
            )
        )
        .group_by(column, CleaningLine.state)
    )
    counts: dict[str, list[int]] = {}
    for unit, state, count in session.execute(query):
        counts.setdefault(unit, [0] * len(states))[states.index(state)] += count
    return Progress(label, states, sorted(counts.items()))


# A line's history in words -------------------------------------------------------------------------------------

ACTION_LABELS = {
    "list": "Trạm Y tế lập danh sách",
    "assign": "Giao tổ thôn",
    "family_answer": "Tổ thôn ghi nhận thông tin từ gia đình",
    "send_to_police": "Chuyển Công an xã/phường",
    "police_decision": "Công an đối chiếu, xác thực",
    "send_back": "Trả lại tổ thôn",
    "sign": "Công an ký số danh sách",
    "reopen": "Trạm Y tế trả lại Công an",
    "apply": "Cập nhật và xác minh lại",
}
IDENTITY_LABELS = {"full_name": "Họ và tên", "birth_date": "Ngày sinh", "sex": "Giới tính", "id_number": "Số CCCD/CMND"}
SEX_LABELS = {"M": "Nam", "F": "Nữ"}


def identity_value(key: str, value: object) -> str:
    text = str(value or "")
    if key == "sex":
        return SEX_LABELS.get(text, text)
    if key == "birth_date":
        return vn_date(text[:10])  # also drops a time part ("1900-01-01 00:00:00")
    return text


@dataclass(frozen=True)
class HistoryEntry:
    at: str
    actor: str
    action: str
    from_state: str
    to_state: str
    note: str
    facts: list[str] = field(default_factory=list)


def history(events: list[CleaningLineEvent], show_id: Any) -> list[HistoryEntry]:
    """Each event as a sentence's parts: the action, the states and the data in words, ID numbers as `show_id` shows
    them to the reader."""
    return [
        HistoryEntry(
            at=vn_datetime(event.at),
            actor=f"{event.actor} ({Role(event.actor_role).label_vi})"
            if event.actor_role in set(Role)
            else event.actor,
            action=ACTION_LABELS.get(event.action, event.action),
            from_state=_state_label(event.from_state) if event.action != "list" else "—",
            to_state=_state_label(event.to_state),
            note=event.note,
            facts=_facts(event.detail or {}, show_id),
        )
        for event in events
    ]


def _state_label(state: str) -> str:
    return LineState(state).label_vi if state in set(LineState) else "—"


def _facts(detail: dict[str, Any], show_id: Any) -> list[str]:
    facts = []
    if village := detail.get("village"):
        facts.append(f"Tổ thôn/ấp: {village}")
    if (outcome := detail.get("outcome")) in set(FamilyOutcome):
        facts.append(f"Kết quả rà soát: {FamilyOutcome(outcome).label_vi}")
    if (decision := detail.get("decision")) in set(PoliceDecision):
        facts.append(f"Quyết định: {PoliceDecision(decision).label_vi}")
    for key in ("family", "police"):
        for item, value in (detail.get(key) or {}).items():
            shown = show_id(value) if item == "id_number" else identity_value(item, value)
            facts.append(f"{IDENTITY_LABELS.get(item, item)}: {shown}")
    if changed := detail.get("changed"):
        facts.append("Đã cập nhật: " + ", ".join(IDENTITY_LABELS.get(item, item).lower() for item in changed))
    if (result := detail.get("result")) in set(Category):
        facts.append(f"Kết quả xác minh lại: {Category(result).label_vi}")
    return facts

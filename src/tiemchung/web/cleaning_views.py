"""What the cleaning pages and the cleaning API share: loading with area checks, audit of reads, progress figures."""

from dataclasses import dataclass

from fastapi import HTTPException
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tiemchung.cleaning.models import CleaningLine, CleaningWorklist, LineState
from tiemchung.registry.audit import record_subject_read
from tiemchung.registry.models import User
from tiemchung.web.access import area_clause, area_level
from tiemchung.web.dashboard import unit_name
from tiemchung.web.deps import ensure_in_area

NOT_FOUND = "Không tìm thấy."


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


def audit_list_read(session: Session, user: User, worklist: CleaningWorklist) -> None:
    """A worklist shows people's records: one read event per person shown."""
    for line in worklist.lines:
        record_subject_read(
            session,
            actor=user.username,
            actor_role=user.role,
            subject_id=line.subject_id,
            reason=f"Xem danh sách làm sạch số {worklist.id}",
        )


def worklists_in_area(session: Session, user: User) -> list[CleaningWorklist]:
    query = select(CleaningWorklist).where(
        area_clause(user, CleaningWorklist.province_code, CleaningWorklist.district_code, CleaningWorklist.ward_code)
    )
    return list(session.scalars(query.order_by(CleaningWorklist.id.desc()).limit(200)))


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

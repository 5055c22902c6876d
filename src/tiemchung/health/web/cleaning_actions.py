"""The cleaning actions as the pages and the JSON API both call them: one function per action, which loads what it
acts on (with the area check), runs the workflow step and commits. The routes only translate the answer (a page,
a line of a page, JSON)."""

from collections.abc import Iterable
from pathlib import Path

from sqlalchemy.orm import Session

from tiemchung.health.cleaning import workflow
from tiemchung.health.cleaning.models import CleaningLine, CleaningWorklist, LineState, PoliceDecision
from tiemchung.health.registry.models import User
from tiemchung.health.web.cleaning_views import LineFilter, load_line, load_worklist, matching_line_ids
from tiemchung.identity import IdentityInput

Outcome = workflow.Outcome


def create_worklist(session: Session, user: User, title: str) -> tuple[Outcome, CleaningWorklist | None]:
    outcome, worklist = workflow.build_worklist(session, user, title=title)
    session.commit()
    return outcome, worklist


def assign(
    session: Session,
    user: User,
    worklist_id: int,
    village_id: int,
    line_ids: Iterable[int],
    everything: LineFilter | None,
) -> Outcome:
    """Give the chosen lines (or, with `everything`, every line matching that filter) to a village team."""
    worklist = load_worklist(session, user, worklist_id)
    chosen = matching_line_ids(session, worklist.id, everything) if everything is not None else list(line_ids)
    if not chosen:
        return Outcome(False, "Chưa chọn dòng nào.")
    outcome = workflow.assign(session, user, worklist, chosen, village_id)
    session.commit()
    return outcome


def record_family_answer(
    session: Session, user: User, line_id: int, outcome: str, identity: IdentityInput, note: str
) -> tuple[Outcome, CleaningLine]:
    line = load_line(session, user, line_id)
    answer = workflow.record_family_answer(session, user, line, outcome, identity, note)
    session.commit()
    return answer, line


def send_to_police(session: Session, user: User, worklist_id: int) -> Outcome:
    worklist = load_worklist(session, user, worklist_id)
    outcome = workflow.send_to_police(session, user, worklist)
    session.commit()
    return outcome


def police_decide(
    session: Session, user: User, line_id: int, decision: str, corrections: IdentityInput, note: str
) -> tuple[Outcome, CleaningLine]:
    line = load_line(session, user, line_id)
    answer = workflow.police_decide(session, user, line, decision, corrections, note)
    session.commit()
    return answer, line


def confirm_many(
    session: Session, user: User, worklist_id: int, line_ids: Iterable[int], everything: LineFilter | None
) -> Outcome:
    """The police confirm the team's information on many lines at once (those waiting for them among the chosen)."""
    worklist = load_worklist(session, user, worklist_id)
    wanted = set(matching_line_ids(session, worklist.id, everything) if everything is not None else line_ids)
    waiting = [line for line in worklist.lines if line.id in wanted and line.state == LineState.WITH_POLICE]
    if not waiting:
        return Outcome(False, "Không có dòng nào đang chờ Công an đối chiếu trong các dòng đã chọn.")
    for line in waiting:
        answer = workflow.police_decide(session, user, line, PoliceDecision.CONFIRMED, IdentityInput(), "")
        if not answer.ok:  # refusals come before any change: nothing of this batch is committed
            session.rollback()
            return answer
    session.commit()
    return Outcome(True, f"Đã xác thực đúng {len(waiting)} dòng.", len(waiting))


def send_back(session: Session, user: User, line_id: int, note: str) -> tuple[Outcome, CleaningLine]:
    line = load_line(session, user, line_id)
    answer = workflow.send_back(session, user, line, note)
    session.commit()
    return answer, line


def sign(session: Session, user: User, worklist_id: int, keys_dir: Path) -> Outcome:
    worklist = load_worklist(session, user, worklist_id)
    outcome = workflow.sign_worklist(session, user, worklist, keys_dir)
    session.commit()
    return outcome


def reopen(session: Session, user: User, worklist_id: int, note: str) -> Outcome:
    worklist = load_worklist(session, user, worklist_id)
    outcome = workflow.reopen_signed(session, user, worklist, note)
    session.commit()
    return outcome


def apply(session: Session, user: User, worklist_id: int, verify: workflow.VerifyOne) -> Outcome:
    worklist = load_worklist(session, user, worklist_id)
    outcome = workflow.apply_worklist(session, user, worklist, verify)
    session.commit()
    return outcome

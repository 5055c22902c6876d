"""The cleaning workflow of seed 000 as state changes on worklist lines, each one checked, recorded and reversible.

Steps: the station lists the commune's wrong records (1), assigns them to village teams who record what the
family says (2), sends the list to the commune police who confirm or correct each line and sign the list (3),
and applies the signed list to the registry with an immediate re-verification (4).

Every function takes the acting user, refuses with a Vietnamese message (never an exception) when the action is
not allowed in the line's state, the user's role or area, and leaves a `CleaningLineEvent` for every change.
Callers commit.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from babel.numbers import format_decimal
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from tiemchung.health.cleaning import signing
from tiemchung.health.cleaning.models import (
    CleaningLine,
    CleaningLineEvent,
    CleaningWorklist,
    FamilyOutcome,
    LineState,
    PoliceDecision,
    Problem,
    WorklistState,
)
from tiemchung.health.registry.editing import IdentityChanges, edit_subject_identity
from tiemchung.health.registry.models import Finding, Role, Subject, User, Village
from tiemchung.identity import IdentityInput
from tiemchung.interchange.results import Category

LISTED_CATEGORIES = (Category.NO_ID_UNVERIFIABLE.value, Category.MISMATCH.value)
OUTCOMES_THAT_CHANGE_IDENTITY = frozenset({FamilyOutcome.CORRECTED, FamilyOutcome.CONFIRMED_AS_IS})


@dataclass
class Outcome:
    """The result of one workflow action: `ok`, a message for the user, and how many lines it touched."""

    ok: bool
    message: str
    changed: int = 0
    details: list[str] = field(default_factory=list)


def _count(number: int) -> str:
    """A count as every page writes numbers (Babel's `vi` locale): 1860 as "1.860"."""
    return format_decimal(number, format="#,##0", locale="vi")


def _refuse(message: str) -> Outcome:
    return Outcome(False, message)


def _event(line: CleaningLine, actor: User, action: str, to_state: LineState, note: str = "", **detail: Any) -> None:
    event = CleaningLineEvent(
        actor=actor.username,
        actor_role=actor.role,
        action=action,
        from_state=line.state,
        to_state=to_state.value,
        note=note,
        detail=detail,
    )
    # Appending to a stored line's unloaded history would first load it: one SELECT per line, 2,000 for a
    # commune's list sent to the police. Add the event beside it instead; a loaded history is kept in step.
    state = inspect(line)
    if state.persistent and "events" in state.unloaded and state.session is not None:
        event.line_id = line.id
        state.session.add(event)
    else:
        line.events.append(event)
    line.state = to_state.value


def _in_commune(actor: User, worklist: CleaningWorklist) -> bool:
    return actor.area_code == worklist.ward_code


def problem_of(subject: Subject) -> Problem:
    if subject.verification_category == Category.MISMATCH:
        return Problem.WRONG_INFO
    return Problem.NO_ID if subject.id_status in ("missing", "", None) else Problem.INVALID_ID


def _snapshot(subject: Subject) -> dict[str, Any]:
    return {
        "full_name": subject.full_name,
        "birth_date": subject.birth_date or subject.birth_date_raw,
        "sex": subject.sex,
        "id_number": subject.id_number or subject.id_number_raw,
    }


# Step 1 ---------------------------------------------------------------------------------------------------------


def build_worklist(session: Session, actor: User, *, title: str = "") -> tuple[Outcome, CleaningWorklist | None]:
    """List the commune's subjects the register could not verify, except those already on an open list."""
    if actor.role != Role.HEALTH_STATION or len(actor.area_code or "") != 5:
        return _refuse("Chỉ Trạm Y tế xã/phường được lập danh sách."), None
    already_listed = select(CleaningLine.subject_id).where(CleaningLine.state != LineState.APPLIED.value)
    subjects = session.scalars(
        select(Subject)
        .where(
            Subject.ward_code == actor.area_code,
            Subject.verification_category.in_(LISTED_CATEGORIES),
            Subject.id.not_in(already_listed),
        )
        .order_by(Subject.name_folded, Subject.id)
    ).all()
    if not subjects:
        return _refuse("Không còn đối tượng sai thông tin nào chưa có trong danh sách."), None
    worklist = CleaningWorklist(
        province_code=subjects[0].province_code or actor.area_code[:2],
        district_code=subjects[0].district_code or "",
        ward_code=actor.area_code,
        title=title or f"Danh sách làm sạch {datetime.now(UTC):%d/%m/%Y}",
        state=WorklistState.OPEN.value,
        created_by=actor.username,
    )
    session.add(worklist)
    for subject in subjects:
        line = CleaningLine(
            subject_id=subject.id,
            problem=problem_of(subject).value,
            register_reasons=subject.verification_reasons or "",
            listed=_snapshot(subject),
            candidate_person_id=subject.matched_person_id,
            candidate_probability=subject.match_probability,
            state=LineState.LISTED.value,
            family={},
            police={},
        )
        worklist.lines.append(line)
        _event(line, actor, "list", LineState.LISTED)
    session.flush()
    return Outcome(True, f"Đã lập danh sách {_count(len(subjects))} đối tượng.", len(subjects)), worklist


# Step 2 ---------------------------------------------------------------------------------------------------------


def assign(
    session: Session, actor: User, worklist: CleaningWorklist, line_ids: Iterable[int], village_id: int
) -> Outcome:
    if actor.role != Role.HEALTH_STATION or not _in_commune(actor, worklist):
        return _refuse("Chỉ Trạm Y tế của xã/phường này được giao việc cho tổ thôn.")
    village = session.get(Village, village_id)
    if village is None or village.ward_code != worklist.ward_code:
        return _refuse("Thôn/ấp không thuộc xã/phường của danh sách.")
    if worklist.state in (WorklistState.SIGNED, WorklistState.APPLIED):
        return _refuse("Danh sách đã được ký: không giao lại được.")
    wanted = set(line_ids)
    lines = [line for line in worklist.lines if line.id in wanted]
    movable = [line for line in lines if line.state in (LineState.LISTED, LineState.ASSIGNED, LineState.REVIEWED)]
    for line in movable:
        line.village_id = village.id
        _event(line, actor, "assign", LineState.ASSIGNED, village=village.name, village_id=village.id)
    skipped = len(wanted) - len(movable)
    message = f"Đã giao {_count(len(movable))} dòng cho {village.name}."
    if skipped:
        message += f" {_count(skipped)} dòng không giao được ở bước hiện tại."
    return Outcome(bool(movable), message, len(movable))


def record_family_answer(
    session: Session,
    actor: User,
    line: CleaningLine,
    outcome: str,
    identity: IdentityInput,
    note: str = "",
) -> Outcome:
    """The village team records what the family said; it may revise it until the line goes to the police."""
    worklist = line.worklist
    if actor.role != Role.VILLAGE_TEAM or not _in_commune(actor, worklist):
        return _refuse("Chỉ tổ công tác thôn/ấp của xã/phường này được ghi nhận thông tin.")
    if actor.village_id is not None and line.village_id != actor.village_id:
        return _refuse("Dòng này được giao cho thôn/ấp khác.")
    if line.state not in (LineState.ASSIGNED, LineState.REVIEWED):
        return _refuse(f"Không ghi nhận được ở bước “{LineState(line.state).label_vi}”.")
    if outcome not in set(FamilyOutcome):
        return _refuse("Kết quả rà soát không hợp lệ.")
    checked = identity.validated()
    if checked.problems:
        return _refuse(" ".join(checked.problems))
    # The form comes pre-filled with what is known: keep only what the family changed.
    changes = _differing(checked.values, line.listed)
    if outcome == FamilyOutcome.CORRECTED and not changes:
        return _refuse("Hãy nhập ít nhất một thông tin được bổ sung/điều chỉnh (khác với thông tin đang có).")
    line.family_outcome = outcome
    line.family = changes if outcome == FamilyOutcome.CORRECTED else {}
    line.family_note = note.strip()
    _event(line, actor, "family_answer", LineState.REVIEWED, note, outcome=outcome, family=line.family)
    return Outcome(True, "Đã ghi nhận thông tin rà soát.", 1)


def send_to_police(session: Session, actor: User, worklist: CleaningWorklist) -> Outcome:
    """Send every reviewed line to the commune police (again, for lines that came back)."""
    if actor.role != Role.HEALTH_STATION or not _in_commune(actor, worklist):
        return _refuse("Chỉ Trạm Y tế của xã/phường này được chuyển danh sách cho Công an.")
    if worklist.state in (WorklistState.SIGNED, WorklistState.APPLIED):
        return _refuse("Danh sách đã được ký.")
    waiting = [line for line in worklist.lines if line.state in (LineState.LISTED, LineState.ASSIGNED)]
    if waiting:
        return _refuse(f"Còn {_count(len(waiting))} dòng chưa được tổ thôn rà soát.")
    reviewed = [line for line in worklist.lines if line.state == LineState.REVIEWED]
    if not reviewed:
        return _refuse("Không có dòng nào cần chuyển.")
    for line in reviewed:
        _event(line, actor, "send_to_police", LineState.WITH_POLICE)
    worklist.state = WorklistState.WITH_POLICE.value
    worklist.sent_to_police_at = datetime.now(UTC)
    return Outcome(True, f"Đã chuyển {_count(len(reviewed))} dòng cho Công an xã/phường.", len(reviewed))


# Step 3 ---------------------------------------------------------------------------------------------------------


def police_decide(
    session: Session, actor: User, line: CleaningLine, decision: str, corrections: IdentityInput, note: str = ""
) -> Outcome:
    """The police confirm the team's information or correct it from the register, line by line."""
    if actor.role != Role.COMMUNE_POLICE or not _in_commune(actor, line.worklist):
        return _refuse("Chỉ Công an xã/phường này được đối chiếu, xác thực.")
    if line.state not in (LineState.WITH_POLICE, LineState.CONFIRMED):
        return _refuse(f"Không xác thực được ở bước “{LineState(line.state).label_vi}”.")
    if decision not in set(PoliceDecision):
        return _refuse("Quyết định không hợp lệ.")
    checked = corrections.validated()
    if checked.problems:
        return _refuse(" ".join(checked.problems))
    # The form comes pre-filled with the team's answer: keep only what the police changed.
    changes = _differing(checked.values, {**line.listed, **line.family})
    if decision == PoliceDecision.CORRECTED and not changes:
        return _refuse("Hãy nhập thông tin được điều chỉnh theo CSDL dân cư (khác với thông tin tổ thôn ghi nhận).")
    changes_identity = line.family_outcome in OUTCOMES_THAT_CHANGE_IDENTITY
    line.police_decision = decision
    line.police = {**line.family, **changes} if changes_identity else {}
    line.police_note = note.strip()
    _event(line, actor, "police_decision", LineState.CONFIRMED, note, decision=decision, police=line.police)
    return Outcome(True, "Đã xác thực dòng.", 1)


def _differing(values: dict[str, str], known: dict[str, Any]) -> dict[str, str]:
    return {key: value for key, value in values.items() if value != (known.get(key) or "")}


def send_back(session: Session, actor: User, line: CleaningLine, note: str) -> Outcome:
    """The station or the police send a line back to its village team; what was recorded stays in the history."""
    worklist = line.worklist
    allowed = {
        Role.HEALTH_STATION: (LineState.REVIEWED, LineState.WITH_POLICE),
        Role.COMMUNE_POLICE: (LineState.WITH_POLICE, LineState.CONFIRMED),
    }.get(Role(actor.role), ())
    if not _in_commune(actor, worklist) or line.state not in allowed:
        return _refuse("Không trả lại được dòng này ở bước hiện tại.")
    if not note.strip():
        return _refuse("Hãy ghi lý do trả lại.")
    line.returned_note = note.strip()
    line.police_decision = None
    _event(line, actor, "send_back", LineState.ASSIGNED, note)
    return Outcome(True, "Đã trả dòng về tổ thôn để rà soát lại.", 1)


def sign_worklist(session: Session, actor: User, worklist: CleaningWorklist, keys_dir: Path) -> Outcome:
    """The police sign the whole list (every line confirmed) and hand it back to the station."""
    if actor.role != Role.COMMUNE_POLICE or not _in_commune(actor, worklist):
        return _refuse("Chỉ Công an xã/phường này được ký danh sách.")
    if worklist.state != WorklistState.WITH_POLICE:
        return _refuse("Danh sách không ở bước chờ Công an ký.")
    pending = [line for line in worklist.lines if line.state != LineState.CONFIRMED]
    if pending:
        return _refuse(f"Còn {_count(len(pending))} dòng chưa được xác thực.")
    now = datetime.now(UTC)
    for line in worklist.lines:
        _event(line, actor, "sign", LineState.SIGNED)
    worklist.state = WorklistState.SIGNED.value
    worklist.signed_at = signing.utc_seconds(now)
    session.flush()
    signing.sign(session, worklist, actor.username, keys_dir, now)
    count = len(worklist.lines)
    return Outcome(True, f"Đã ký và bàn giao danh sách {_count(count)} dòng cho Trạm Y tế.", count)


def reopen_signed(session: Session, actor: User, worklist: CleaningWorklist, note: str) -> Outcome:
    """The station returns a signed list to the police (a line needs another look); the old signature is kept,
    marked superseded."""
    if actor.role != Role.HEALTH_STATION or not _in_commune(actor, worklist):
        return _refuse("Chỉ Trạm Y tế của xã/phường này được trả lại danh sách.")
    if worklist.state != WorklistState.SIGNED or not note.strip():
        return _refuse("Chỉ trả lại được danh sách đã ký chưa cập nhật, và phải ghi lý do.")
    signature = signing.current_signature(session, worklist)
    if signature is not None:
        signature.superseded = True
    for line in worklist.lines:
        _event(line, actor, "reopen", LineState.CONFIRMED, note)
    worklist.state = WorklistState.WITH_POLICE.value
    return Outcome(True, "Đã trả danh sách cho Công an xã/phường.", len(worklist.lines))


# Step 4 ---------------------------------------------------------------------------------------------------------

VerifyOne = Callable[[Session, int], Any]  # returns an object with `.result` (VerificationResult | None), `.message`


def apply_worklist(session: Session, actor: User, worklist: CleaningWorklist, verify: VerifyOne) -> Outcome:
    """Apply every line of a validly signed list to the registry, then re-verify the changed subjects online."""
    if actor.role != Role.HEALTH_STATION or not _in_commune(actor, worklist):
        return _refuse("Chỉ Trạm Y tế của xã/phường này được cập nhật danh sách.")
    if worklist.state != WorklistState.SIGNED:
        return _refuse("Chỉ cập nhật được danh sách đã được Công an ký.")
    signature = signing.check(session, worklist)
    if not signature.valid:
        return _refuse(f"Không cập nhật: {signature.message}")
    details = [_apply_line(session, actor, line, verify) for line in worklist.lines]
    worklist.state = WorklistState.APPLIED.value
    worklist.applied_at = datetime.now(UTC)
    verified = sum(1 for line in worklist.lines if line.result_category in (Category.VERIFIED, Category.NO_ID_VERIFIED))
    return Outcome(
        True,
        f"Đã cập nhật {_count(len(worklist.lines))} đối tượng; "
        f"{_count(verified)} đối tượng đã xác minh đúng với CSDL dân cư.",
        len(worklist.lines),
        details,
    )


def _apply_line(session: Session, actor: User, line: CleaningLine, verify: VerifyOne) -> str:
    subject = line.subject
    outcome = FamilyOutcome(line.family_outcome or FamilyOutcome.CONFIRMED_AS_IS)
    if outcome not in OUTCOMES_THAT_CHANGE_IDENTITY:
        session.add(
            Finding(
                code=f"cleaning.{outcome.value}",
                message=f"Làm sạch dữ liệu: {outcome.label_vi}.",
                subject_id=subject.id,
                detail={"worklist_id": line.worklist_id, "line_id": line.id},
            )
        )
        line.result_message = outcome.label_vi
        _event(line, actor, "apply", LineState.APPLIED, outcome=outcome.value)
        return f"{subject.full_name}: {outcome.label_vi}"
    # The one identity path (registry.editing): the import's rules, the audit of old and new values, and the old
    # verdict cleared, so that a subject whose answer is only queued is not left showing the previous one.
    police = line.police
    edited = edit_subject_identity(
        session,
        subject.id,
        IdentityChanges(police.get("full_name"), police.get("birth_date"), police.get("sex"), police.get("id_number")),
        actor=actor.username,
        actor_role=actor.role,
        reason=f"Làm sạch dữ liệu, danh sách số {line.worklist_id}, dòng {line.id}",
    )
    if not edited.ok:  # checked by the same rules when typed: only a rule changed since then refuses them now
        line.result_message = "Không cập nhật được: " + " ".join(edited.errors)
        _event(line, actor, "apply", LineState.APPLIED, changed=[], result=None)
        return f"{subject.full_name}: {line.result_message}"
    changed = sorted(edited.changes)
    session.flush()
    answer = verify(session, subject.id)
    result = getattr(answer, "result", None)
    line.result_category = result.category.value if result else None
    line.result_reasons = ";".join(reason.value for reason in result.reasons) if result else ""
    line.result_message = str(getattr(answer, "message", ""))
    _event(line, actor, "apply", LineState.APPLIED, changed=changed, result=line.result_category)
    return f"{subject.full_name}: {line.result_message}"


# Progress -------------------------------------------------------------------------------------------------------


def lines_for_team(session: Session, actor: User) -> list[CleaningLine]:
    """The lines a village team has to review (its village's, or the whole commune's when it has no village)."""
    query = (
        select(CleaningLine)
        .join(CleaningWorklist)
        .where(CleaningWorklist.ward_code == actor.area_code, CleaningLine.state == LineState.ASSIGNED.value)
    )
    if actor.village_id is not None:
        query = query.where(CleaningLine.village_id == actor.village_id)
    return list(session.scalars(query.order_by(CleaningLine.id)))

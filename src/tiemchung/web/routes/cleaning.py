"""Pages of the cleaning workflow (seed 000): lists, line actions by role, signature, apply, progress.

Every action is a plain form posted to the server (works without JavaScript; htmx boosts it), answered by a
redirect back to the list with a flash message saying what happened or why it was refused.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from tiemchung.cleaning import signing, workflow
from tiemchung.cleaning.models import FamilyOutcome, LineState, PoliceDecision, Problem, WorklistState
from tiemchung.identity import IdentityInput
from tiemchung.registry.audit import record_subject_read
from tiemchung.registry.models import Role, User, Village
from tiemchung.verification.results import Category, Reason
from tiemchung.web.access import COMMUNE_ROLES, SUPERVISOR_ROLES
from tiemchung.web.cleaning_views import audit_list_read, load_line, load_worklist, progress, worklists_in_area
from tiemchung.web.deps import MAX_KEY, RowId, flash, get_session, get_settings, render, require_roles
from tiemchung.web.nav import NavItem
from tiemchung.web.settings import Settings

router = APIRouter(include_in_schema=False)
VIEWERS = (*COMMUNE_ROLES, *SUPERVISOR_ROLES)
NAV_ITEMS = [NavItem("Làm sạch dữ liệu", "/cleaning", frozenset(VIEWERS), order=20)]
Text = Annotated[str, Form()]


def _back(worklist_id: int, outcome: workflow.Outcome, request: Request) -> Response:
    flash(request, outcome.message, "success" if outcome.ok else "error")
    return RedirectResponse(f"/cleaning/worklists/{worklist_id}", status_code=303)


@router.get("/cleaning")
def cleaning_home(
    request: Request, user: User = Depends(require_roles(*VIEWERS)), session: Session = Depends(get_session)
) -> Response:
    context = {
        "worklists": worklists_in_area(session, user),
        "progress": progress(session, user),
        "team_lines": workflow.lines_for_team(session, user) if user.role == Role.VILLAGE_TEAM else [],
        "WorklistState": WorklistState,
    }
    return render(request, "cleaning/index.html", context)


@router.post("/cleaning/worklists")
def create_worklist(
    request: Request,
    title: Text = "",
    user: User = Depends(require_roles(Role.HEALTH_STATION)),
    session: Session = Depends(get_session),
) -> Response:
    outcome, worklist = workflow.build_worklist(session, user, title=title)
    session.commit()
    if worklist is None:
        flash(request, outcome.message, "error")
        return RedirectResponse("/cleaning", status_code=303)
    return _back(worklist.id, outcome, request)


@router.get("/cleaning/worklists/{worklist_id}")
def worklist_page(
    request: Request,
    worklist_id: RowId,
    user: User = Depends(require_roles(*VIEWERS)),
    session: Session = Depends(get_session),
) -> Response:
    worklist = load_worklist(session, user, worklist_id)
    audit_list_read(session, user, worklist)
    session.commit()
    villages = session.scalars(select(Village).where(Village.ward_code == worklist.ward_code).order_by(Village.name))
    context = {
        "worklist": worklist,
        "signature": signing.check(session, worklist) if worklist.state in ("signed", "applied") else None,
        "villages": list(villages),
        "LineState": LineState,
        "WorklistState": WorklistState,
        "Problem": Problem,
        "FamilyOutcome": FamilyOutcome,
        "PoliceDecision": PoliceDecision,
        "Category": Category,
        "Reason": Reason,
    }
    return render(request, "cleaning/worklist.html", context)


@router.get("/cleaning/lines/{line_id}")
def line_page(
    request: Request,
    line_id: RowId,
    user: User = Depends(require_roles(*VIEWERS)),
    session: Session = Depends(get_session),
) -> Response:
    line = load_line(session, user, line_id)
    record_subject_read(
        session,
        actor=user.username,
        actor_role=user.role,
        subject_id=line.subject_id,
        reason=f"Xem lịch sử dòng {line.id}",
    )
    session.commit()
    return render(request, "cleaning/line.html", {"line": line, "LineState": LineState})


@router.post("/cleaning/worklists/{worklist_id}/assign")
def assign_lines(
    request: Request,
    worklist_id: RowId,
    village_id: Annotated[int, Form(ge=1, le=MAX_KEY)],
    line_ids: Annotated[list[int], Form()] = [],  # noqa: B006 - FastAPI copies form defaults
    user: User = Depends(require_roles(Role.HEALTH_STATION)),
    session: Session = Depends(get_session),
) -> Response:
    worklist = load_worklist(session, user, worklist_id)
    outcome = workflow.assign(session, user, worklist, line_ids, village_id)
    session.commit()
    return _back(worklist.id, outcome, request)


@router.post("/cleaning/lines/{line_id}/family")
def family_answer(
    request: Request,
    line_id: RowId,
    outcome: Text,
    full_name: Text = "",
    birth_date: Text = "",
    sex: Text = "",
    id_number: Text = "",
    note: Text = "",
    user: User = Depends(require_roles(Role.VILLAGE_TEAM)),
    session: Session = Depends(get_session),
) -> Response:
    line = load_line(session, user, line_id)
    answer = IdentityInput(full_name, birth_date, sex, id_number)
    result = workflow.record_family_answer(session, user, line, outcome, answer, note)
    session.commit()
    return _back(line.worklist_id, result, request)


@router.post("/cleaning/worklists/{worklist_id}/send-to-police")
def send_to_police(
    request: Request,
    worklist_id: RowId,
    user: User = Depends(require_roles(Role.HEALTH_STATION)),
    session: Session = Depends(get_session),
) -> Response:
    worklist = load_worklist(session, user, worklist_id)
    outcome = workflow.send_to_police(session, user, worklist)
    session.commit()
    return _back(worklist.id, outcome, request)


@router.post("/cleaning/lines/{line_id}/police")
def police_decision(
    request: Request,
    line_id: RowId,
    decision: Text,
    full_name: Text = "",
    birth_date: Text = "",
    sex: Text = "",
    id_number: Text = "",
    note: Text = "",
    user: User = Depends(require_roles(Role.COMMUNE_POLICE)),
    session: Session = Depends(get_session),
) -> Response:
    line = load_line(session, user, line_id)
    corrections = IdentityInput(full_name, birth_date, sex, id_number)
    outcome = workflow.police_decide(session, user, line, decision, corrections, note)
    session.commit()
    return _back(line.worklist_id, outcome, request)


@router.post("/cleaning/lines/{line_id}/send-back")
def send_back(
    request: Request,
    line_id: RowId,
    note: Text = "",
    user: User = Depends(require_roles(Role.HEALTH_STATION, Role.COMMUNE_POLICE)),
    session: Session = Depends(get_session),
) -> Response:
    line = load_line(session, user, line_id)
    outcome = workflow.send_back(session, user, line, note)
    session.commit()
    return _back(line.worklist_id, outcome, request)


@router.post("/cleaning/worklists/{worklist_id}/sign")
def sign(
    request: Request,
    worklist_id: RowId,
    user: User = Depends(require_roles(Role.COMMUNE_POLICE)),
    session: Session = Depends(get_session),
    settings: Settings = Depends(get_settings),
) -> Response:
    worklist = load_worklist(session, user, worklist_id)
    outcome = workflow.sign_worklist(session, user, worklist, settings.keys_dir)
    session.commit()
    return _back(worklist.id, outcome, request)


@router.post("/cleaning/worklists/{worklist_id}/reopen")
def reopen(
    request: Request,
    worklist_id: RowId,
    note: Text = "",
    user: User = Depends(require_roles(Role.HEALTH_STATION)),
    session: Session = Depends(get_session),
) -> Response:
    worklist = load_worklist(session, user, worklist_id)
    outcome = workflow.reopen_signed(session, user, worklist, note)
    session.commit()
    return _back(worklist.id, outcome, request)


@router.post("/cleaning/worklists/{worklist_id}/apply")
def apply(
    request: Request,
    worklist_id: RowId,
    user: User = Depends(require_roles(Role.HEALTH_STATION)),
    session: Session = Depends(get_session),
) -> Response:
    worklist = load_worklist(session, user, worklist_id)
    outcome = workflow.apply_worklist(session, user, worklist, request.app.state.verifier)
    session.commit()
    return _back(worklist.id, outcome, request)

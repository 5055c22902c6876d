"""Pages of the cleaning workflow (seed 000): lists, line actions by role, signature, apply, progress.

Every action is a plain form posted to the server, so the pages work without JavaScript (answered by a redirect
back to the list with a flash message). A line's own forms are sent by htmx and answered with that line alone,
swapped in place: a village team saving its 40th line stays where it is. The actions themselves are
`web.cleaning_actions`, which the JSON API calls too.
"""

from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from tiemchung.health.cleaning import signing
from tiemchung.health.cleaning.models import (
    CleaningLine,
    FamilyOutcome,
    LineState,
    PoliceDecision,
    Problem,
    WorklistState,
)
from tiemchung.health.registry.audit import record_subject_read
from tiemchung.health.registry.models import Role
from tiemchung.health.web import cleaning_actions as actions
from tiemchung.health.web.access import COMMUNE_ROLES, SUPERVISOR_ROLES, mask_id_number
from tiemchung.health.web.cleaning_views import (
    AppSettings,
    LineFilter,
    LineFilterQuery,
    Police,
    Station,
    StationOrPolice,
    Viewer,
    VillageTeam,
    audit_lines_read,
    history,
    identity_value,
    line_counts,
    load_line,
    load_worklist,
    progress,
    team_work,
    villages_of,
    worklist_page,
    worklists_in_area,
)
from tiemchung.health.web.deps import MAX_KEY, RowId, SessionDep, flash, render
from tiemchung.health.web.nav import NavItem
from tiemchung.identity import IdentityInput
from tiemchung.interchange.results import Category, Reason

router = APIRouter(include_in_schema=False)
NAV_ITEMS = [NavItem("Làm sạch dữ liệu", "/cleaning", frozenset((*COMMUNE_ROLES, *SUPERVISOR_ROLES)), order=20)]
Text = Annotated[str, Form(max_length=1000)]
LineIds = Annotated[list[int], Form(max_length=10_000)]


def _merged(*parts: dict[str, Any]) -> dict[str, Any]:
    """Later dictionaries win, empty values never hide a known one (for pre-filled forms)."""
    merged: dict[str, Any] = {}
    for part in parts:
        merged.update({key: value for key, value in part.items() if value})
    return merged


PAGE_HELPERS: dict[str, Any] = {
    "LineState": LineState,
    "WorklistState": WorklistState,
    "Problem": Problem,
    "FamilyOutcome": FamilyOutcome,
    "PoliceDecision": PoliceDecision,
    "Category": Category,
    "Reason": Reason,
    "show": identity_value,
    "merged": _merged,
}


def _back(request: Request, worklist_id: int, outcome: actions.Outcome, back: str = "", line_id: int = 0) -> Response:
    flash(request, outcome.message, "success" if outcome.ok else "error")
    query = LineFilter.from_form(dict(parse_qsl(back))).query_string() if back else ""
    anchor = f"#line-{line_id}" if line_id else ""
    return RedirectResponse(f"/cleaning/worklists/{worklist_id}{'?' + query if query else ''}{anchor}", 303)


def _line_answer(
    request: Request,
    session: SessionDep,
    line: CleaningLine,
    outcome: actions.Outcome,
    typed: dict[str, str],
    back: str,
) -> Response:
    """The line alone when its own form asked by htmx (swapped in place), else the list again."""
    if request.headers.get("HX-Target") != f"line-{line.id}":
        return _back(request, line.worklist_id, outcome, back, line.id)
    context = {
        **PAGE_HELPERS,
        "line": line,
        "worklist": line.worklist,
        "village_names": villages_of(session, line.worklist.ward_code),
        "back": back,
        "row_message": (outcome.ok, outcome.message),
        "typed": {} if outcome.ok else typed,
    }
    return render(request, "cleaning/_line.html", context)


@router.get("/cleaning")
def cleaning_home(request: Request, user: Viewer, session: SessionDep) -> Response:
    worklists = worklists_in_area(session, user)
    context = {
        **PAGE_HELPERS,
        "worklists": worklists,
        "line_counts": line_counts(session, worklists),
        "progress": progress(session, user),
        "team_work": team_work(session, user) if user.role == Role.VILLAGE_TEAM else None,
    }
    return render(request, "cleaning/index.html", context)


@router.post("/cleaning/worklists")
def create_worklist(request: Request, user: Station, session: SessionDep, title: Text = "") -> Response:
    outcome, worklist = actions.create_worklist(session, user, title)
    if worklist is None:
        flash(request, outcome.message, "error")
        return RedirectResponse("/cleaning", status_code=303)
    return _back(request, worklist.id, outcome)


@router.get("/cleaning/worklists/{worklist_id}")
def worklist_view(
    request: Request, worklist_id: RowId, wanted: LineFilterQuery, user: Viewer, session: SessionDep
) -> Response:
    worklist = load_worklist(session, user, worklist_id)
    page = worklist_page(session, user, worklist, wanted)
    audit_lines_read(session, user, page.lines, f"Xem danh sách làm sạch số {worklist.id}")
    signature = signing.check(session, worklist) if worklist.state in ("signed", "applied") else None
    session.commit()
    context = {
        **PAGE_HELPERS,
        "worklist": worklist,
        "page": page,
        "signature": signature,
        "village_names": page.village_names,
        "back": page.filter.query_string(),
    }
    return render(request, "cleaning/worklist.html", context)


@router.get("/cleaning/lines/{line_id}")
def line_page(request: Request, line_id: RowId, user: Viewer, session: SessionDep) -> Response:
    line = load_line(session, user, line_id)
    record_subject_read(
        session,
        actor=user.username,
        actor_role=user.role,
        subject_id=line.subject_id,
        reason=f"Xem lịch sử dòng {line.id}",
    )
    entries = history(line.events, lambda number: mask_id_number(number, user))
    session.commit()
    return render(request, "cleaning/line.html", {**PAGE_HELPERS, "line": line, "entries": entries})


def _everything(all_matching: bool, filter_query: str) -> LineFilter | None:
    return LineFilter.from_form(dict(parse_qsl(filter_query))) if all_matching else None


@router.post("/cleaning/worklists/{worklist_id}/assign")
def assign_lines(
    request: Request,
    worklist_id: RowId,
    village_id: Annotated[int, Form(ge=1, le=MAX_KEY)],
    user: Station,
    session: SessionDep,
    line_ids: LineIds = [],  # noqa: B006 - FastAPI copies form defaults
    all_matching: Annotated[bool, Form()] = False,
    matching: Text = "",
) -> Response:
    outcome = actions.assign(session, user, worklist_id, village_id, line_ids, _everything(all_matching, matching))
    return _back(request, worklist_id, outcome, matching)


@router.post("/cleaning/worklists/{worklist_id}/confirm")
def confirm_lines(
    request: Request,
    worklist_id: RowId,
    user: Police,
    session: SessionDep,
    line_ids: LineIds = [],  # noqa: B006 - FastAPI copies form defaults
    all_matching: Annotated[bool, Form()] = False,
    matching: Text = "",
) -> Response:
    outcome = actions.confirm_many(session, user, worklist_id, line_ids, _everything(all_matching, matching))
    return _back(request, worklist_id, outcome, matching)


@router.post("/cleaning/lines/{line_id}/family")
def family_answer(
    request: Request,
    line_id: RowId,
    user: VillageTeam,
    session: SessionDep,
    outcome: Text = "",
    full_name: Text = "",
    birth_date: Text = "",
    sex: Text = "",
    id_number: Text = "",
    note: Text = "",
    back: Text = "",
) -> Response:
    answer = IdentityInput(full_name, birth_date, sex, id_number)
    result, line = actions.record_family_answer(session, user, line_id, outcome, answer, note)
    typed = {"outcome": outcome, "full_name": full_name, "birth_date": birth_date, "sex": sex}
    return _line_answer(request, session, line, result, {**typed, "id_number": id_number, "note": note}, back)


@router.post("/cleaning/worklists/{worklist_id}/send-to-police")
def send_to_police(request: Request, worklist_id: RowId, user: Station, session: SessionDep) -> Response:
    return _back(request, worklist_id, actions.send_to_police(session, user, worklist_id))


@router.post("/cleaning/lines/{line_id}/police")
def police_decision(
    request: Request,
    line_id: RowId,
    user: Police,
    session: SessionDep,
    decision: Text = "",
    full_name: Text = "",
    birth_date: Text = "",
    sex: Text = "",
    id_number: Text = "",
    note: Text = "",
    back: Text = "",
) -> Response:
    corrections = IdentityInput(full_name, birth_date, sex, id_number)
    result, line = actions.police_decide(session, user, line_id, decision, corrections, note)
    typed = {"decision": decision, "full_name": full_name, "birth_date": birth_date, "sex": sex}
    return _line_answer(request, session, line, result, {**typed, "id_number": id_number, "note": note}, back)


@router.post("/cleaning/lines/{line_id}/send-back")
def send_back(
    request: Request, line_id: RowId, user: StationOrPolice, session: SessionDep, note: Text = "", back: Text = ""
) -> Response:
    result, line = actions.send_back(session, user, line_id, note)
    return _line_answer(request, session, line, result, {}, back)


@router.post("/cleaning/worklists/{worklist_id}/sign")
def sign(request: Request, worklist_id: RowId, user: Police, session: SessionDep, settings: AppSettings) -> Response:
    return _back(request, worklist_id, actions.sign(session, user, worklist_id, settings.keys_dir))


@router.post("/cleaning/worklists/{worklist_id}/reopen")
def reopen(request: Request, worklist_id: RowId, user: Station, session: SessionDep, note: Text = "") -> Response:
    return _back(request, worklist_id, actions.reopen(session, user, worklist_id, note))


@router.post("/cleaning/worklists/{worklist_id}/apply")
def apply(request: Request, worklist_id: RowId, user: Station, session: SessionDep) -> Response:
    return _back(request, worklist_id, actions.apply(session, user, worklist_id, request.app.state.verifier))

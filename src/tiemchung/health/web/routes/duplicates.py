"""Pages of duplicate records ("hồ sơ trùng"): the queue of the account's area, the side-by-side comparison, and the
decisions gộp / không phải cùng một người / tách, plus a citizen's request made at the station ("gộp mũi tiêm").

Every action is a plain form (a redirect back with a message when JavaScript is off); htmx sends it and swaps the
answer in place (the comparison, or the person's duplicates card), so nothing jumps to the top of the page. The
work is `web.duplicates_service`, which the JSON API calls too.
"""

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from tiemchung.health.registry.models import User
from tiemchung.health.web import duplicates_service as duplicates
from tiemchung.health.web.certificates_service import document_signer
from tiemchung.health.web.deps import RowId, SessionDep, flash, render, require_roles
from tiemchung.health.web.errors import is_htmx
from tiemchung.health.web.nav import NavItem
from tiemchung.health.web.subjects_service import load_subject

router = APIRouter(include_in_schema=False)
NAV_ITEMS = [NavItem("Hồ sơ trùng", "/duplicates", duplicates.DECIDERS, order=15)]
Decider = Annotated[User, Depends(require_roles(*duplicates.DECIDERS))]
Refresher = Annotated[User, Depends(require_roles(*duplicates.REFRESHERS))]
Short = Annotated[str, Query(max_length=100)]
Note = Annotated[str, Form(max_length=255)]
Ids = Annotated[list[int], Form(max_length=50)]


@router.get("/duplicates")
def queue_page(
    request: Request,
    user: Decider,
    session: SessionDep,
    kind: Short = "",
    q: Short = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    result = duplicates.queue(session, user, kind=kind, text=q, page=page)
    found_at = duplicates.last_detection(session)
    session.commit()
    swap = is_htmx(request.headers) and request.headers.get("hx-boosted") != "true"
    context = {"result": result, "kinds": duplicates.KINDS, "found_at": found_at, "page_link": _page_link(result),
               "may_refresh": user.role in duplicates.REFRESHERS}  # fmt: skip
    return render(request, "duplicates/_queue.html" if swap else "duplicates/queue.html", context)


def _page_link(result: duplicates.QueuePage) -> object:
    fields = {key: value for key, value in (("kind", result.kind), ("q", result.text)) if value}
    return lambda page: "/duplicates?" + urlencode({**fields, "page": page})


@router.post("/duplicates/refresh")
def refresh(request: Request, user: Refresher, session: SessionDep) -> Response:
    stored = duplicates.refresh(session, user)
    session.commit()
    message = (f"Đã tìm lại hồ sơ trùng: {stored.new} cặp mới; {stored.closed} cặp không còn bằng chứng đã rút khỏi "
               "danh sách; các quyết định đã có được giữ nguyên.")  # fmt: skip
    flash(request, message, "success")
    return RedirectResponse("/duplicates", status_code=303)


@router.get("/subjects/{subject_id}/duplicates")
def comparison_page(request: Request, subject_id: RowId, user: Decider, session: SessionDep) -> Response:
    view = duplicates.comparison(session, user, subject_id)
    session.commit()
    return render(request, "duplicates/compare.html", {"view": view, "outcome": None})


def _comparison_answer(
    request: Request, session: SessionDep, user: User, subject_id: int, outcome: duplicates.Outcome
) -> Response:
    """The comparison again with the outcome above it (htmx swaps it in place), or a redirect with the message."""
    if outcome.ok:
        session.commit()
    else:
        session.rollback()
    shown = outcome.survivor_id or subject_id
    if not is_htmx(request.headers):
        flash(request, outcome.message, "success" if outcome.ok else "error")
        return RedirectResponse(f"/subjects/{shown}/duplicates", status_code=303)
    view = duplicates.comparison(session, user, shown)
    session.commit()
    return render(request, "duplicates/_comparison.html", {"view": view, "outcome": outcome})


@router.post("/subjects/{subject_id}/duplicates/merge")
def merge(
    request: Request,
    subject_id: RowId,
    user: Decider,
    session: SessionDep,
    subject_ids: Ids = [],  # noqa: B006 (read, never mutated)
) -> Response:
    outcome = duplicates.merge_group(session, user, subject_id, subject_ids, document_signer(request))
    return _comparison_answer(request, session, user, subject_id, outcome)


@router.post("/subjects/{subject_id}/duplicates/distinct")
def distinct(
    request: Request,
    subject_id: RowId,
    user: Decider,
    session: SessionDep,
    other_ids: Ids = [],  # noqa: B006 (read, never mutated)
    note: Note = "",
    shown_id: Annotated[int, Form(ge=0, le=2_147_483_647)] = 0,
) -> Response:
    """One record is not the others' person (empty `other_ids`: not the person of any record of its group);
    `shown_id` is the record whose comparison the answer shows again (the page the decision was made on)."""
    outcome = duplicates.not_same_person(session, user, subject_id, other_ids, note)
    return _comparison_answer(request, session, user, shown_id or subject_id, outcome)


# --- on a person's page: the merges of the record (tách), a citizen's request (gộp mũi tiêm) ----------------


def _person_answer(
    request: Request, session: SessionDep, user: User, subject_id: int, outcome: duplicates.Outcome
) -> Response:
    if outcome.ok:
        session.commit()
    else:
        session.rollback()
    if not is_htmx(request.headers):
        flash(request, outcome.message, "success" if outcome.ok else "error")
        return RedirectResponse(f"/subjects/{subject_id}", status_code=303)
    subject = load_subject(session, user, subject_id)
    context = person_card_context(session, user, subject.id) | {"subject": subject, "outcome": outcome}
    session.commit()
    return render(request, "duplicates/_person.html", context)


def person_card_context(session: SessionDep, user: User, subject_id: int) -> dict[str, object]:
    """What the person's page shows about duplicates: the record's merges and its open pairs in the queue."""
    return {
        "merges": duplicates.merges_of(session, user, subject_id),
        "open_pairs": duplicates.open_pair_count(session, subject_id),
    }


@router.post("/subjects/{subject_id}/unmerge")
def unmerge(
    request: Request,
    subject_id: RowId,
    user: Decider,
    session: SessionDep,
    merge_id: Annotated[int, Form(ge=0, le=2_147_483_647)] = 0,
    note: Note = "",
) -> Response:
    outcome = duplicates.unmerge_record(session, user, subject_id, merge_id, document_signer(request), note)
    return _person_answer(request, session, user, subject_id, outcome)


@router.get("/subjects/{subject_id}/duplicates/search")
def search_other(request: Request, subject_id: RowId, user: Decider, session: SessionDep, q: Short = "") -> Response:
    subject = load_subject(session, user, subject_id, reason="Người dân đề nghị gộp mũi tiêm")
    result = duplicates.search_other(session, user, subject, q) if q.strip() else None
    session.commit()
    return render(request, "duplicates/_search.html", {"subject": subject, "result": result, "q": q})


@router.post("/subjects/{subject_id}/duplicates/request")
def request_merge(
    request: Request,
    subject_id: RowId,
    user: Decider,
    session: SessionDep,
    other_id: Annotated[int, Form(ge=0, le=2_147_483_647)] = 0,
    note: Note = "",
) -> Response:
    outcome = duplicates.request_merge(session, user, subject_id, other_id, note)
    return _person_answer(request, session, user, subject_id, outcome)

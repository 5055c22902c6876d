"""Pages: subject search, a subject's record (doses, verification history, "xác minh lại"), the direct edit of a
subject's identity ("chỉnh sửa trực tiếp", seed 000 step 4), the verification lists. Dose entry is in `doses.py`."""

from collections.abc import Callable
from dataclasses import asdict
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from tiemchung.health.registry.editing import IdentityChanges, edit_subject_identity
from tiemchung.health.registry.models import Role, User
from tiemchung.health.verification import queue
from tiemchung.health.web import duplicates_service as duplicates
from tiemchung.health.web import subjects_service as service
from tiemchung.health.web.access import IDENTITY_EDITORS, PERSON_READERS
from tiemchung.health.web.deps import RowId, SessionDep, flash, render, require_roles
from tiemchung.health.web.errors import is_htmx
from tiemchung.health.web.nav import NavItem
from tiemchung.health.web.places import cascade, place_label
from tiemchung.health.web.routes.doses import dose_form_context
from tiemchung.health.web.routes.duplicates import person_card_context
from tiemchung.health.web.subject_search import COUNT_CAP, STATES, SearchQuery, search
from tiemchung.interchange.results import Category

router = APIRouter(include_in_schema=False)
NAV_ITEMS = [
    NavItem("Tra cứu đối tượng", "/subjects", frozenset(PERSON_READERS), order=10),
    NavItem("Kết quả xác minh", "/verification-results", frozenset(PERSON_READERS - {Role.FACILITY}), order=12),
]
PersonReader = Annotated[User, Depends(require_roles(*PERSON_READERS))]
IdentityEditor = Annotated[User, Depends(require_roles(*IDENTITY_EDITORS))]
Short = Annotated[str, Query(max_length=100)]
Text = Annotated[str, Form(max_length=255)]


@router.get("/subjects")
def search_page(
    request: Request,
    user: PersonReader,
    session: SessionDep,
    q: Short = "",
    birth_year: Short = "",
    province_code: Short = "",
    district_code: Short = "",
    ward_code: Short = "",
    state: Short = "",
    page: Annotated[int, Query(ge=1, le=1_000)] = 1,
) -> Response:
    query = SearchQuery(q, birth_year, province_code, district_code, ward_code, state, page)
    result = search(session, user, query) if not query.empty_for(user) else None
    session.commit()
    # Only the search form's own swap gets the results alone; a boosted link, a reload and htmx's reload of a page
    # missing from its history cache (the back button) get the whole page.
    swap = is_htmx(request.headers) and request.headers.get("hx-boosted") != "true"
    template = "subjects/results.html" if swap else "subjects/search.html"
    context = {
        "query": query,
        "result": result,
        "states": STATES,
        "count_cap": COUNT_CAP,
        "places": cascade(user, province_code, district_code, ward_code),
        "page_link": _page_link(query),
    }
    return render(request, template, context)


def _page_link(query: SearchQuery) -> Callable[[int], str]:
    fields = {key: value for key, value in asdict(query).items() if key not in ("page", "text") and value}
    if query.text:
        fields["q"] = query.text
    return lambda page: "/subjects?" + urlencode({**fields, "page": page})


@router.get("/subjects/{subject_id}")
def subject_page(request: Request, subject_id: RowId, user: PersonReader, session: SessionDep) -> Response:
    subject = service.load_subject(session, user, subject_id)
    history = service.verification_history(session, subject.id)
    pending = service.verification_pending(session, subject.id)
    session.commit()
    context = {
        "subject": subject,
        "history": history,
        "pending": pending,
        "place": place_label(subject.province_code, subject.district_code, subject.ward_code),
        "may_edit": user.role in IDENTITY_EDITORS,
        "Category": Category,
    }
    if user.role == Role.FACILITY:
        context.update(dose_form_context())
    if user.role in duplicates.DECIDERS:
        context.update(person_card_context(session, user, subject.id) | {"duplicates_card": True})
        session.commit()
    return render(request, "subjects/detail.html", context)


@router.post("/subjects/{subject_id}/verify")
def reverify(request: Request, subject_id: RowId, user: PersonReader, session: SessionDep) -> Response:
    """ "Xác minh lại": queue the subject for verification with the population register (the queue's worker sends
    it; an import's subjects are queued the same way)."""
    subject = service.load_subject(session, user, subject_id, reason="Xác minh lại")
    queued = queue.enqueue(session, [subject.id], reason="web-reverify")
    session.commit()
    flash(
        request,
        "Đã đưa hồ sơ vào hàng đợi xác minh với CSDL dân cư; kết quả hiện ở trang này khi có trả lời."
        if queued
        else "Hồ sơ đã nằm trong hàng đợi xác minh; kết quả hiện ở trang này khi có trả lời.",
        "success",
    )
    return RedirectResponse(f"/subjects/{subject.id}", status_code=303)


@router.get("/subjects/{subject_id}/edit")
def edit_page(request: Request, subject_id: RowId, user: IdentityEditor, session: SessionDep) -> Response:
    subject = service.load_subject(session, user, subject_id, reason="Chỉnh sửa trực tiếp")
    session.commit()
    typed = {
        "full_name": subject.full_name,
        "birth_date": service.typed_birth_date(subject.birth_date),
        "sex": {"M": "Nam", "F": "Nữ"}.get(subject.sex or "", ""),
        "id_number": subject.id_number or subject.id_number_raw,
        "passport_number": subject.passport_number or "",
        "phone": subject.phone or "",
        "reason": "",
    }
    return render(request, "subjects/edit.html", {"subject": subject, "typed": typed, "errors": []})


@router.post("/subjects/{subject_id}/edit")
def edit_identity(
    request: Request,
    subject_id: RowId,
    user: IdentityEditor,
    session: SessionDep,
    full_name: Text = "",
    birth_date: Text = "",
    sex: Text = "",
    id_number: Text = "",
    passport_number: Text = "",
    phone: Text = "",
    reason: Text = "",
) -> Response:
    """Correct the identity through the one path (`registry.editing`): the import's rules, the audit with old and
    new values, the verdict cleared; then verified again online (or queued)."""
    subject = service.load_subject(session, user, subject_id, reason="Chỉnh sửa trực tiếp")
    # An empty name, birth date or sex leaves it as it is; an empty ID, passport or phone clears it.
    changes = IdentityChanges(
        full_name=full_name or None, birth_date=birth_date or None, sex=sex or None, id_number=id_number,
        passport_number=passport_number, phone=phone,
    )  # fmt: skip
    result = edit_subject_identity(
        session, subject.id, changes, actor=user.username, actor_role=user.role, reason=reason
    )
    if not result.ok:
        session.rollback()
        typed = {"full_name": full_name, "birth_date": birth_date, "sex": sex, "id_number": id_number,
                 "passport_number": passport_number, "phone": phone, "reason": reason}  # fmt: skip
        context = {"subject": subject, "typed": typed, "errors": result.errors}
        return render(request, "subjects/edit.html", context, status_code=422)
    message = "Không có thay đổi nào." if not result.changes else "Đã lưu thay đổi."
    if result.reverify:
        message += " " + request.app.state.verifier(session, subject.id).message
    session.commit()
    flash(request, " ".join([message, *result.warnings]), "success")
    return RedirectResponse(f"/subjects/{subject.id}", status_code=303)


@router.get("/verification-results")
def verification_results(
    request: Request,
    user: Annotated[User, Depends(require_roles(*(PERSON_READERS - {Role.FACILITY})))],
    session: SessionDep,
    category: Annotated[str, Query(max_length=32)] = Category.MISMATCH.value,
) -> Response:
    choices = {**{item.value: item.label_vi for item in Category}, "NOT_YET": "Chưa xác minh"}
    chosen = category if category in choices else Category.MISMATCH.value
    subjects = service.verification_list(session, user, chosen)
    session.commit()
    context = {"subjects": subjects, "choices": choices, "category": chosen}
    return render(request, "subjects/verification_results.html", context)

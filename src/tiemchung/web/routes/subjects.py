"""Pages: subject search, a subject's record (doses, verification history), dose entry with online verification."""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from tiemchung.cleaning.identity_input import IdentityInput
from tiemchung.registry.models import Role, User
from tiemchung.verification.results import Category, Reason
from tiemchung.web import subjects_service as service
from tiemchung.web.access import PERSON_READERS
from tiemchung.web.deps import RowId, flash, get_session, render, require_roles
from tiemchung.web.nav import NavItem

router = APIRouter(include_in_schema=False)
NAV_ITEMS = [
    NavItem("Tra cứu đối tượng", "/subjects", frozenset(PERSON_READERS), order=10),
    NavItem("Nhập mũi tiêm", "/doses/new", frozenset({Role.FACILITY}), order=11),
    NavItem("Kết quả xác minh", "/verification-results", frozenset(PERSON_READERS - {Role.FACILITY}), order=12),
]
Text = Annotated[str, Form()]


def _dose_choices() -> dict[str, object]:
    from tiemchung.reference.vaccines import DoseKind, vaccines

    return {"vaccines": vaccines(), "dose_kinds": list(DoseKind)}


@router.get("/subjects")
def search_page(
    request: Request,
    q: str = "",
    birth_year: Annotated[int | None, Query(ge=1900, le=2100)] = None,
    user: User = Depends(require_roles(*PERSON_READERS)),
    session: Session = Depends(get_session),
) -> Response:
    result = service.search(session, user, q, birth_year) if q else None
    session.commit()
    template = "subjects/results.html" if request.headers.get("hx-request") else "subjects/search.html"
    return render(request, template, {"q": q, "birth_year": birth_year or "", "result": result})


@router.get("/subjects/{subject_id}")
def subject_page(
    request: Request,
    subject_id: RowId,
    user: User = Depends(require_roles(*PERSON_READERS)),
    session: Session = Depends(get_session),
) -> Response:
    subject = service.load_subject(session, user, subject_id)
    history = service.verification_history(session, subject.id)
    session.commit()
    context = {"subject": subject, "history": history, "Category": Category, "Reason": Reason}
    if user.role == Role.FACILITY:
        context.update(_dose_choices())
    return render(request, "subjects/detail.html", context)


@router.post("/subjects/{subject_id}/doses")
def add_dose(
    request: Request,
    subject_id: RowId,
    vaccine: Text,
    vaccination_date: Text,
    dose_kind: Text,
    lot_number: Text = "",
    user: User = Depends(require_roles(Role.FACILITY)),
    session: Session = Depends(get_session),
) -> Response:
    subject = service.load_subject(session, user, subject_id, reason="Nhập mũi tiêm")
    outcome = service.add_dose(
        session, user, subject, service.DoseEntry(vaccine, vaccination_date, dose_kind, lot_number)
    )
    if not outcome.ok:
        session.rollback()
        flash(request, outcome.message, "error")
        return RedirectResponse(f"/subjects/{subject_id}", status_code=303)
    verified = request.app.state.verifier(session, subject.id)
    session.commit()
    flash(request, f"{outcome.message} {verified.message}", "success")
    return RedirectResponse(f"/subjects/{subject_id}", status_code=303)


@router.get("/doses/new")
def new_dose_page(request: Request, user: User = Depends(require_roles(Role.FACILITY))) -> Response:
    return render(request, "subjects/new_dose.html", _dose_choices())


@router.post("/doses/new")
def new_subject_with_dose(
    request: Request,
    full_name: Text,
    birth_date: Text,
    sex: Text,
    province_code: Text,
    district_code: Text,
    ward_code: Text,
    vaccine: Text,
    vaccination_date: Text,
    dose_kind: Text,
    id_number: Text = "",
    phone: Text = "",
    lot_number: Text = "",
    user: User = Depends(require_roles(Role.FACILITY)),
    session: Session = Depends(get_session),
) -> Response:
    new = service.NewSubject(
        IdentityInput(full_name, birth_date, sex, id_number), province_code, district_code, ward_code, phone
    )
    subject, problem = service.create_subject(session, user, new)
    outcome = (
        service.add_dose(session, user, subject, service.DoseEntry(vaccine, vaccination_date, dose_kind, lot_number))
        if subject
        else None
    )
    if subject is None or outcome is None or not outcome.ok:
        session.rollback()
        message = problem or (outcome.message if outcome else "")
        return render(request, "subjects/new_dose.html", {**_dose_choices(), "error": message}, status_code=422)
    verified = request.app.state.verifier(session, subject.id)
    session.commit()
    flash(request, f"Đã lưu đối tượng và mũi tiêm. {verified.message}", "success")
    return RedirectResponse(f"/doses/new?subject={subject.id}", status_code=303)


@router.get("/verification-results")
def verification_results(
    request: Request,
    category: Annotated[str, Query(max_length=32)] = Category.MISMATCH.value,
    user: User = Depends(require_roles(*(PERSON_READERS - {Role.FACILITY}))),
    session: Session = Depends(get_session),
) -> Response:
    choices = {**{item.value: item.label_vi for item in Category}, "NOT_YET": "Chưa xác minh"}
    chosen = category if category in choices else Category.MISMATCH.value
    subjects = service.verification_list(session, user, chosen)
    session.commit()
    context = {"subjects": subjects, "choices": choices, "category": chosen, "Reason": Reason}
    return render(request, "subjects/verification_results.html", context)

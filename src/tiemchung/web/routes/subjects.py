"""Pages: subject search, a subject's record (doses, verification history), dose entry with online verification.

The dose forms carry a hidden token made when the form is rendered (`idempotency_key`, the API's Idempotency-Key):
a form sent again as it was (after the 503 of a database outage, when nobody knows whether the first one was
committed) shows the success message for the dose already stored instead of entering it a second time.
"""

import uuid
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from tiemchung.cleaning.identity_input import IdentityInput
from tiemchung.registry.models import Dose, Role, User
from tiemchung.verification.results import Category, Reason, valid_idempotency_key
from tiemchung.web import subjects_service as service
from tiemchung.web.access import PERSON_READERS
from tiemchung.web.deps import RowId, flash, get_session, render, require_roles
from tiemchung.web.errors import is_htmx
from tiemchung.web.nav import NavItem

router = APIRouter(include_in_schema=False)
NAV_ITEMS = [
    NavItem("Tra cứu đối tượng", "/subjects", frozenset(PERSON_READERS), order=10),
    NavItem("Nhập mũi tiêm", "/doses/new", frozenset({Role.FACILITY}), order=11),
    NavItem("Kết quả xác minh", "/verification-results", frozenset(PERSON_READERS - {Role.FACILITY}), order=12),
]
Text = Annotated[str, Form()]
FORM_KEY_MALFORMED = (
    "Biểu mẫu gửi lên không hợp lệ (mã chống nhập trùng sai dạng); chưa có gì được lưu. Hãy tải lại trang."
)
FORM_KEY_REUSED = (
    "Biểu mẫu này đã được dùng để nhập một mũi tiêm khác; không có gì được lưu thêm. "
    "Hãy tải lại trang rồi nhập mũi tiêm mới."
)


def _dose_choices() -> dict[str, object]:
    from tiemchung.reference.vaccines import DoseKind, vaccines

    # A new token per rendered form: sending this form again is the same entry, a new form a new one.
    return {"vaccines": vaccines(), "dose_kinds": list(DoseKind), "entry_key": uuid.uuid4().hex}


def _form_key(value: str, action: str, fields: dict[str, object]) -> service.EntryKey | None:
    """The form's entry key (None for a form without one, e.g. rendered before tokens existed)."""
    return service.EntryKey.of(value, action, fields) if value else None


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
    # Only the search form's own swap gets the results alone; a boosted link, a reload and htmx's reload of a page
    # missing from its history cache (the back button) get the whole page.
    swap = is_htmx(request.headers) and request.headers.get("hx-boosted") != "true"
    template = "subjects/results.html" if swap else "subjects/search.html"
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
    idempotency_key: Text = "",
    user: User = Depends(require_roles(Role.FACILITY)),
    session: Session = Depends(get_session),
) -> Response:
    back = RedirectResponse(f"/subjects/{subject_id}", status_code=303)
    if idempotency_key and not valid_idempotency_key(idempotency_key):
        flash(request, FORM_KEY_MALFORMED, "error")
        return back
    entry = service.DoseEntry(vaccine, vaccination_date, dose_kind, lot_number)
    key = _form_key(idempotency_key, "page-dose", {"subject_id": subject_id, **asdict(entry)})
    subject = service.load_subject(session, user, subject_id, reason="Nhập mũi tiêm")
    try:
        outcome = service.add_dose(session, user, subject, entry, key)
    except service.EntryKeyReused:
        session.rollback()
        flash(request, FORM_KEY_REUSED, "error")
        return back
    if not outcome.ok:
        session.rollback()
        flash(request, outcome.message, "error")
        return back
    if outcome.replayed:  # the same form sent again: the dose is stored already
        session.commit()  # the audit of the subject's read
        flash(request, outcome.message, "success")
        return back
    verified = request.app.state.verifier(session, subject.id)
    session.commit()
    flash(request, f"{outcome.message} {verified.message}", "success")
    return back


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
    idempotency_key: Text = "",
    user: User = Depends(require_roles(Role.FACILITY)),
    session: Session = Depends(get_session),
) -> Response:
    def refused(message: str, status_code: int) -> Response:
        session.rollback()
        return render(request, "subjects/new_dose.html", {**_dose_choices(), "error": message}, status_code=status_code)

    def stored_before(dose: Dose) -> Response:
        subject_id = dose.subject_id
        session.rollback()  # nothing to keep: not even the subject this request created before losing a race
        flash(request, service.ENTERED_BEFORE, "success")
        return RedirectResponse(f"/doses/new?subject={subject_id}", status_code=303)

    if idempotency_key and not valid_idempotency_key(idempotency_key):
        return refused(FORM_KEY_MALFORMED, 422)
    entry = service.DoseEntry(vaccine, vaccination_date, dose_kind, lot_number)
    fields = {"full_name": full_name, "birth_date": birth_date, "sex": sex, "id_number": id_number, "phone": phone,
              "province_code": province_code, "district_code": district_code, "ward_code": ward_code}  # fmt: skip
    key = _form_key(idempotency_key, "page-new-subject", {**fields, **asdict(entry)})
    try:
        # Before creating the person: the same form sent again must not create them a second time either.
        if (previous := service.entered_before(session, user, key)) is not None:
            return stored_before(previous)
        new = service.NewSubject(
            IdentityInput(full_name, birth_date, sex, id_number), province_code, district_code, ward_code, phone
        )
        subject, problem = service.create_subject(session, user, new)
        outcome = service.add_dose(session, user, subject, entry, key) if subject else None
    except service.EntryKeyReused:
        return refused(FORM_KEY_REUSED, 409)
    if subject is None or outcome is None or not outcome.ok:
        return refused(problem or (outcome.message if outcome else ""), 422)
    if outcome.replayed and outcome.dose is not None:  # a concurrent request with the same form won the race
        return stored_before(outcome.dose)
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

"""Pages: dose entry, on a person's page and by the form for a person who may or may not be registered yet.

The dose forms carry a hidden token made when the form is rendered (`idempotency_key`, the API's Idempotency-Key):
a form sent again as it was (after the 503 of a database outage, when nobody knows whether the first one was
committed) shows the success message for the dose already stored instead of entering it a second time. A form
shown again (a refusal, the likely matches to choose from) keeps its token and everything typed.
"""

import uuid
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import RedirectResponse, Response

from tiemchung.health.registry.models import Role, User
from tiemchung.health.web import person_form
from tiemchung.health.web import subjects_service as service
from tiemchung.health.web.deps import RowId, SessionDep, flash, render, require_roles
from tiemchung.health.web.nav import NavItem
from tiemchung.health.web.places import cascade
from tiemchung.interchange.results import valid_idempotency_key
from tiemchung.reference.countries import choices as country_choices
from tiemchung.reference.vaccines import DoseKind, vaccines

router = APIRouter(include_in_schema=False)
NAV_ITEMS = [NavItem("Nhập mũi tiêm", "/doses/new", frozenset({Role.FACILITY}), order=11)]
FacilityUser = Annotated[User, Depends(require_roles(Role.FACILITY))]
Text = Annotated[str, Form(max_length=255)]
FORM_KEY_MALFORMED = (
    "Biểu mẫu gửi lên không hợp lệ (mã chống nhập trùng sai dạng); chưa có gì được lưu. Hãy tải lại trang."
)
FORM_KEY_REUSED = (
    "Biểu mẫu này đã được dùng để nhập một mũi tiêm khác; không có gì được lưu thêm. "
    "Hãy tải lại trang rồi nhập mũi tiêm mới."
)


def dose_form_context(entry_key: str = "") -> dict[str, Any]:
    """The lists of the dose fields, and the form's token: a new one per rendered form (sending this form again is
    the same entry, a new form a new one), or the token of the form shown again."""
    return {"vaccines": vaccines(), "dose_kinds": list(DoseKind), "entry_key": entry_key or uuid.uuid4().hex}


def _form_key(value: str, action: str, fields: dict[str, object]) -> service.EntryKey | None:
    """The form's entry key (None for a form without one, e.g. rendered before tokens existed)."""
    return service.EntryKey.of(value, action, fields) if value else None


@router.post("/subjects/{subject_id}/doses")
def add_dose(
    request: Request,
    subject_id: RowId,
    user: FacilityUser,
    session: SessionDep,
    vaccine: Text,
    vaccination_date: Text,
    dose_kind: Text,
    lot_number: Text = "",
    idempotency_key: Text = "",
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


def _new_dose_page(
    request: Request, user: User, typed: dict[str, str], *, status_code: int = 200, **extra: Any
) -> Response:
    context = {
        **dose_form_context(typed.get("idempotency_key", "")),
        "typed": typed,
        "errors": {},
        "matches": person_form.Matches(),
        "countries": country_choices(),
        "places": cascade(
            user, typed.get("province_code", ""), typed.get("district_code", ""), typed.get("ward_code", "")
        ),
        **extra,
    }
    return render(request, "subjects/new_dose.html", context, status_code=status_code)


@router.get("/doses/new")
def new_dose_page(request: Request, user: FacilityUser) -> Response:
    return _new_dose_page(request, user, {"nationality": "VN"})


@router.post("/doses/new")
def new_dose(
    request: Request,
    user: FacilityUser,
    session: SessionDep,
    full_name: Text = "",
    birth_date: Text = "",
    sex: Text = "",
    id_number: Text = "",
    nationality: Text = "VN",
    passport_number: Text = "",
    phone: Text = "",
    province_code: Text = "",
    district_code: Text = "",
    ward_code: Text = "",
    vaccine: Text = "",
    vaccination_date: Text = "",
    dose_kind: Text = "",
    lot_number: Text = "",
    subject_choice: Text = "",
    idempotency_key: Text = "",
) -> Response:
    """Find the person (by ID number, or among the likely matches), or register them, and enter the dose."""
    person = person_form.PersonFields(full_name, birth_date, sex, id_number, nationality, passport_number, phone,
                                      province_code, district_code, ward_code)  # fmt: skip
    entry = service.DoseEntry(vaccine, vaccination_date, dose_kind, lot_number)
    typed = {**person.as_dict(), **asdict(entry), "subject_choice": subject_choice}
    if idempotency_key and not valid_idempotency_key(idempotency_key):
        return _new_dose_page(request, user, typed, status_code=422, error=FORM_KEY_MALFORMED)
    typed["idempotency_key"] = idempotency_key
    key = _form_key(idempotency_key, "page-new-subject", {k: v for k, v in typed.items() if k != "idempotency_key"})
    try:
        outcome = person_form.enter_for_person(session, user, person, entry, subject_choice, key)
    except service.EntryKeyReused:
        session.rollback()
        return _new_dose_page(request, user, typed, status_code=409, error=FORM_KEY_REUSED)
    if outcome.status in ("refused", "choose"):
        session.rollback()
        status = 422 if outcome.status == "refused" else 200
        error = "Chưa lưu: hãy sửa các ô được đánh dấu bên dưới." if outcome.status == "refused" else ""
        return _new_dose_page(request, user, typed, status_code=status, errors=outcome.errors,
                              matches=outcome.matches, error=error)  # fmt: skip
    assert outcome.subject is not None
    subject_id = outcome.subject.id
    if outcome.status == "replayed":
        session.rollback()  # nothing to keep: not even the person this request created before losing a race
        flash(request, outcome.message, "success")
        return RedirectResponse(f"/subjects/{subject_id}", status_code=303)
    verified = request.app.state.verifier(session, subject_id)
    session.commit()
    flash(request, f"{outcome.message} {verified.message}", "success")
    return RedirectResponse(f"/subjects/{subject_id}", status_code=303)

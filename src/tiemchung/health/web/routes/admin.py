"""Account administration (system administrator): list, create, unlock. The administrator never sees citizens.

The area of a new account is chosen from lists of the real units (province → district → commune, and the facility
of a facility account among the province's facilities); the lists reload through htmx as the choice narrows
(`/admin/users/area-fields`). A refused account comes back with the form as typed and a message beside each wrong
field.
"""

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from tiemchung import reference
from tiemchung.health.registry.audit import record
from tiemchung.health.registry.models import Facility, Role, User
from tiemchung.health.web.deps import RowId, SessionDep, flash, render, require_roles
from tiemchung.health.web.nav import NavItem
from tiemchung.health.web.users import AREA_LEVELS, LEVEL_LABELS, NewUser, area_label, create_user, generate_password

router = APIRouter(include_in_schema=False)
NAV_ITEMS = [NavItem("Tài khoản", "/admin/users", frozenset({Role.ADMIN}), order=90)]
Text = Annotated[str, Form(max_length=255)]
Choice = Annotated[str, Query(max_length=32)]


@dataclass(frozen=True)
class AreaChoice:
    """What the administrator picked in the lists; the account's area is the most precise unit chosen."""

    province: str = ""
    district: str = ""
    ward: str = ""
    facility_code: str = ""

    def narrowed(self) -> "AreaChoice":
        """Drop a district or commune that does not belong to the chosen province/district (the list changed)."""
        district = reference.district(self.district) if self.district else None
        district_code = district.code if district and district.province_code == self.province else ""
        ward = reference.ward(self.ward) if self.ward and district_code else None
        ward_code = ward.code if ward and ward.district_code == district_code else ""
        return AreaChoice(self.province, district_code, ward_code, self.facility_code)

    @property
    def area_code(self) -> str:
        return self.ward or self.district or self.province


def _area_context(session: Session, choice: AreaChoice) -> dict[str, object]:
    facilities = (
        session.execute(
            select(Facility.code, Facility.name)
            .where(Facility.province_code == choice.province)
            .order_by(Facility.name)
        ).all()
        if choice.province
        else []
    )
    return {
        "choice": choice,
        "provinces": reference.provinces(),
        "districts": reference.districts(choice.province) if choice.province else (),
        "wards": reference.wards(choice.district) if choice.district else (),
        "facilities": facilities,
    }


def _page(
    request: Request, session: Session, choice: AreaChoice, typed: dict[str, str], errors: dict[str, str]
) -> Response:
    users = session.scalars(select(User).order_by(User.role, User.area_code, User.username)).all()
    needs = {role: " hoặc ".join(LEVEL_LABELS[level] for level in AREA_LEVELS[role]) for role in Role}
    context = {
        "users": users,
        "roles": list(Role),
        "needs": needs,
        "area_label": area_label,
        "typed": typed,
        "errors": errors,
    }
    return render(
        request,
        "admin/users.html",
        context | _area_context(session, choice),
        status_code=422 if errors else 200,
    )


@router.get("/admin/users")
def users_page(request: Request, session: SessionDep, user: User = Depends(require_roles(Role.ADMIN))) -> Response:
    return _page(request, session, AreaChoice(), {}, {})


@router.get("/admin/users/area-fields")
def area_fields(
    session: SessionDep,
    request: Request,
    province: Choice = "",
    district: Choice = "",
    ward: Choice = "",
    facility_code: Choice = "",
    user: User = Depends(require_roles(Role.ADMIN)),
) -> Response:
    """The area lists alone, narrowed to what is chosen (htmx swaps them in place of the old ones)."""
    choice = AreaChoice(province, district, ward, facility_code).narrowed()
    return render(request, "admin/area_fields.html", {"errors": {}} | _area_context(session, choice))


@router.post("/admin/users")
def add_user(
    session: SessionDep,
    request: Request,
    username: Text = "",
    role: Text = "",
    full_name: Text = "",
    province: Text = "",
    district: Text = "",
    ward: Text = "",
    facility_code: Text = "",
    user: User = Depends(require_roles(Role.ADMIN)),
) -> Response:
    choice = AreaChoice(province, district, ward, facility_code).narrowed()
    password = generate_password()
    new_user = NewUser(username, role, choice.area_code, password, full_name, facility_code or None)
    outcome = create_user(session, new_user)
    if not outcome.ok:
        session.rollback()
        typed = {"username": username, "role": role, "full_name": full_name}
        return _page(request, session, choice, typed, outcome.errors)
    record(session, actor=user.username, actor_role=user.role, action="create", entity="user", entity_id=username)
    session.commit()
    flash(request, f"Đã tạo tài khoản {username}. Mật khẩu ban đầu (chỉ hiện một lần): {password}", "success")
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/admin/users/{user_id}/unlock")
def unlock(
    session: SessionDep,
    request: Request,
    user_id: RowId,
    user: User = Depends(require_roles(Role.ADMIN)),
) -> Response:
    target = session.get(User, user_id)
    if target is None:
        raise HTTPException(status_code=404, detail="Không tìm thấy tài khoản.")
    target.locked_until = None
    target.failed_logins = 0
    record(session, actor=user.username, actor_role=user.role, action="unlock", entity="user", entity_id=target.id)
    session.commit()
    flash(request, f"Đã mở khóa tài khoản {target.username}.", "success")
    return RedirectResponse("/admin/users", status_code=303)

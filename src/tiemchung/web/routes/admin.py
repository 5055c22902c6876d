"""Account administration (system administrator): list, create, unlock. The administrator never sees citizens."""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from tiemchung.registry.audit import record
from tiemchung.registry.models import Role, User
from tiemchung.web.deps import RowId, flash, get_session, render, require_roles
from tiemchung.web.nav import NavItem
from tiemchung.web.users import NewUser, create_user, generate_password

router = APIRouter(include_in_schema=False)
NAV_ITEMS = [NavItem("Tài khoản", "/admin/users", frozenset({Role.ADMIN}), order=90)]
Text = Annotated[str, Form()]


@router.get("/admin/users")
def users_page(
    request: Request, user: User = Depends(require_roles(Role.ADMIN)), session: Session = Depends(get_session)
) -> Response:
    users = session.scalars(select(User).order_by(User.role, User.area_code, User.username)).all()
    return render(request, "admin/users.html", {"users": users, "roles": list(Role)})


@router.post("/admin/users")
def add_user(
    request: Request,
    username: Text,
    role: Text,
    area_code: Text = "",
    full_name: Text = "",
    facility_code: Text = "",
    user: User = Depends(require_roles(Role.ADMIN)),
    session: Session = Depends(get_session),
) -> Response:
    password = generate_password()
    new_user = NewUser(username, role, area_code, password, full_name, facility_code or None)
    outcome = create_user(session, new_user)
    if not outcome.ok:
        flash(request, outcome.message, "error")
        return RedirectResponse("/admin/users", status_code=303)
    record(session, actor=user.username, actor_role=user.role, action="create", entity="user", entity_id=username)
    session.commit()
    flash(request, f"Đã tạo tài khoản {username}. Mật khẩu ban đầu (chỉ hiện một lần): {password}", "success")
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/admin/users/{user_id}/unlock")
def unlock(
    request: Request,
    user_id: RowId,
    user: User = Depends(require_roles(Role.ADMIN)),
    session: Session = Depends(get_session),
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

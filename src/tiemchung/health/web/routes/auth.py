"""Log-in and log-out, for pages (form + cookie) and for the JSON API (`/api/v1/session`)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from pydantic import BaseModel
from starlette.responses import RedirectResponse, Response

from tiemchung.health.registry.models import User
from tiemchung.health.web.access import ALL_ROLES
from tiemchung.health.web.deps import SessionDep, csrf_token, flash, get_settings, render, require_roles
from tiemchung.health.web.security import authenticate, new_csrf_token
from tiemchung.health.web.settings import Settings

router = APIRouter()
PUBLIC_PATHS = frozenset({"/login", "/api/v1/session"})


def _safe_next(next_path: str) -> str:
    """Only local paths: an open redirect after log-in would help phishing."""
    return next_path if next_path.startswith("/") and not next_path.startswith("//") else "/"


def _address(request: Request) -> str:
    """The client's address for the per-address throttle (behind a proxy, run uvicorn with --proxy-headers)."""
    return request.client.host if request.client else ""


def _start_session(request: Request, user: User) -> None:
    # A fresh session (and CSRF token) at log-in: a token planted before log-in is worthless afterwards.
    request.session.clear()
    request.session["user_id"] = user.id
    request.session["csrf"] = new_csrf_token()


@router.get("/login", include_in_schema=False)
def login_page(request: Request, next: str = "/") -> Response:
    return render(request, "login.html", {"next_path": _safe_next(next)})


@router.post("/login", include_in_schema=False)
def login(
    session: SessionDep,
    request: Request,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
    settings: Settings = Depends(get_settings),
) -> Response:
    result = authenticate(session, username, password, address=_address(request), limits=settings.login_limits)
    session.commit()
    if result.user is None:
        context = {"error": result.message, "username": username, "next_path": _safe_next(next)}
        return render(request, "login.html", context, status_code=401)
    _start_session(request, result.user)
    flash(request, f"Xin chào {result.user.full_name or result.user.username}.", "success")
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout", include_in_schema=False)
def logout(request: Request, user: User = Depends(require_roles(*ALL_ROLES))) -> Response:
    request.session.clear()
    flash(request, "Bạn đã đăng xuất.", "info")
    return RedirectResponse("/login", status_code=303)


class Credentials(BaseModel):
    username: str
    password: str


class SessionInfo(BaseModel):
    username: str
    role: str
    area_code: str
    csrf_token: str


@router.post("/api/v1/session", tags=["phiên đăng nhập"], responses={401: {"description": "Sai thông tin"}})
def api_login(
    session: SessionDep,
    credentials: Credentials,
    request: Request,
    settings: Settings = Depends(get_settings),
) -> SessionInfo:
    """Đăng nhập cho API: trả về mã CSRF phải gửi trong tiêu đề `X-CSRF-Token` của mọi yêu cầu thay đổi dữ liệu."""
    result = authenticate(
        session, credentials.username, credentials.password, address=_address(request), limits=settings.login_limits
    )
    session.commit()
    if result.user is None:
        raise HTTPException(status_code=401, detail=result.message)
    _start_session(request, result.user)
    return SessionInfo(
        username=result.user.username,
        role=result.user.role,
        area_code=result.user.area_code,
        csrf_token=csrf_token(request),
    )


@router.delete("/api/v1/session", tags=["phiên đăng nhập"], status_code=204)
def api_logout(request: Request, user: User = Depends(require_roles(*ALL_ROLES))) -> Response:
    """Đăng xuất."""
    request.session.clear()
    return Response(status_code=204)

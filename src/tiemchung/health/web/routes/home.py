"""The home page: the dashboard of the user's area (verification status, cleaning progress)."""

from fastapi import APIRouter, Depends, Request
from starlette.responses import RedirectResponse, Response

from tiemchung.health.registry.models import Role, User
from tiemchung.health.web import dashboard
from tiemchung.health.web.access import PERSON_READERS
from tiemchung.health.web.cleaning_views import progress
from tiemchung.health.web.deps import SessionDep, render, require_roles
from tiemchung.health.web.nav import NavItem

router = APIRouter(include_in_schema=False)
NAV_ITEMS = [NavItem("Tổng quan", "/", frozenset(PERSON_READERS), order=0)]


@router.get("/")
def home(
    session: SessionDep,
    request: Request,
    user: User = Depends(require_roles(*Role)),
) -> Response:
    if user.role == Role.ADMIN:
        return RedirectResponse("/admin/users", status_code=303)
    context = {
        "status": dashboard.verification_status(session, user),
        "progress": progress(session, user) if user.role != Role.FACILITY else None,
    }
    return render(request, "home.html", context)

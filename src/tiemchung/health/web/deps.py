"""Request dependencies: the database session, the logged-in user, role and area checks, page rendering.

Every page and API endpoint states its roles with `require_roles(...)`; the authorisation test matrix reads the
roles back from the dependency (`allowed_roles`) so that an endpoint without a rule fails the tests.
"""

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request
from fastapi import Path as PathParameter
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from sqlalchemy.orm import Session, sessionmaker
from starlette.responses import Response

from tiemchung.health.registry.models import Role, User
from tiemchung.health.web import access, charts, errors, formatting, subject_labels
from tiemchung.health.web.dashboard import area_name, unit_name
from tiemchung.health.web.refusals import Refused
from tiemchung.health.web.security import new_csrf_token
from tiemchung.health.web.settings import Settings
from tiemchung.reference import DoseKind

TEMPLATES_DIR = Path(__file__).parent / "templates"
templates = Jinja2Templates(directory=TEMPLATES_DIR)
templates.env.globals["mask_id"] = access.mask_id_number
templates.env.globals["Role"] = Role
templates.env.globals["NO_ANSWER_WRITE"] = errors.NO_ANSWER_WRITE
templates.env.globals["NO_ANSWER_READ"] = errors.NO_ANSWER_READ


templates.env.filters.update(formatting.FILTERS)
templates.env.globals.update(subject_labels.TEMPLATE_GLOBALS)
templates.env.globals["unit_name"] = unit_name
templates.env.globals["area_name"] = area_name
templates.env.globals["bar_chart"] = charts.bar_chart
templates.env.globals["stacked_bars"] = charts.stacked_bars
templates.env.globals["dose_label"] = lambda value: DoseKind(value).label_vi if value in DoseKind else value

# Database keys in URLs: bounded, so that a huge number is a 422, not an overflow inside the database driver.
MAX_KEY = 2_147_483_647
RowId = Annotated[int, PathParameter(ge=1, le=MAX_KEY)]

FORBIDDEN = "Bạn không có quyền thực hiện chức năng này."
OUTSIDE_AREA = "Đối tượng/danh sách này nằm ngoài địa bàn bạn phụ trách."
NOT_LOGGED_IN = "Bạn cần đăng nhập."


class LoginRequired(Exception):
    """Raised for a page request without a session; the app turns it into a redirect to the log-in page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _request_session(request: Request) -> AsyncIterator[Session]:
    factory: sessionmaker[Session] = request.app.state.session_factory
    session = factory()
    try:
        yield session
    finally:
        session.close()


def get_session(session: Session = Depends(_request_session, scope="function")) -> Session:
    """One session per request; routes commit what they change, anything uncommitted is rolled back.

    The session is closed as soon as the handler returns, before the response is sent ("function" scope), and
    from the event loop (an async generator): under load, a clean-up left until after sending, or one waiting for
    a worker thread, kept connections checked out while other requests timed out waiting for one (load test).
    Handlers therefore build their whole answer (rendered page, API model) before returning.
    """
    return session


SessionDep = Annotated[Session, Depends(get_session)]


def released[Answer](session: Session, answer: Answer) -> Answer:
    """Give the database connection back, then return `answer`: for JSON endpoints that return a model.

    FastAPI serializes a synchronous endpoint's answer in a worker thread before the session's clean-up runs;
    a request holding a connection while it waits for that thread starved the pool under load. Build the answer
    completely (no lazy loads left), then `return released(session, answer)`.
    """
    session.close()
    return answer


def is_api(request: Request) -> bool:
    return errors.is_api(request.url.path)


def current_user(request: Request, session: SessionDep) -> User:
    """The logged-in, active user; pages redirect to the log-in page, the API answers 401."""
    user_id = request.session.get("user_id")
    user = session.get(User, user_id) if isinstance(user_id, int) else None
    # End the read transaction now: between this dependency and the handler the request may wait for a worker
    # thread, and it must not hold a database connection while it waits (the load test ran out of connections).
    # Objects stay loaded (the session factory does not expire them on commit).
    session.commit()
    if user is not None and user.active:
        request.state.user = user  # for `render`, which shows who is logged in
        return user
    request.session.pop("user_id", None)
    if is_api(request):
        raise HTTPException(status_code=401, detail=NOT_LOGGED_IN)
    raise LoginRequired(request.url.path + (f"?{request.url.query}" if request.url.query else ""))


def require_roles(*roles: Role) -> Callable[..., User]:
    """A dependency that lets only the given roles through (403 for the others)."""
    allowed = frozenset(roles)

    def dependency(user: User = Depends(current_user)) -> User:
        if user.role not in allowed:
            raise Refused(FORBIDDEN, "role")
        return user

    dependency.allowed_roles = allowed  # type: ignore[attr-defined]
    dependency.__name__ = "require_" + "_".join(sorted(role.value for role in allowed))
    return dependency


def ensure_in_area(
    user: User, *, province_code: str | None = None, district_code: str | None = None, ward_code: str | None = None
) -> None:
    """403 when the place is outside the user's area."""
    if not access.covers(user, province_code=province_code, district_code=district_code, ward_code=ward_code):
        raise Refused(OUTSIDE_AREA, "area")


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = new_csrf_token()
        request.session["csrf"] = token
    return token


def flash(request: Request, message: str, category: str = "info") -> None:
    """A message shown once on the next rendered page (category: info, success, warning, error)."""
    request.session.setdefault("flashes", []).append([category, message])


def pop_flashes(request: Request) -> list[tuple[str, str]]:
    return [(category, message) for category, message in request.session.pop("flashes", [])]


def render(request: Request, name: str, context: dict[str, Any] | None = None, *, status_code: int = 200) -> Response:
    """Render a template with the user, the CSRF token, the navigation and the pending flash messages."""
    user: User | None = getattr(request.state, "user", None)
    full_context = {
        "user": user,
        "csrf_token": csrf_token(request),
        "csrf_field": Markup(f'<input type="hidden" name="csrf_token" value="{csrf_token(request)}">'),
        "flashes": pop_flashes(request),
        "nav_items": _nav_for(request, user),
        **(context or {}),
    }
    return templates.TemplateResponse(request, name, full_context, status_code=status_code)


def _nav_for(request: Request, user: User | None) -> list[Any]:
    if user is None:
        return []
    items = getattr(request.app.state, "nav_items", [])
    return [item for item in items if user.role in item.roles]


def login_url(next_path: str) -> str:
    return f"/login?next={quote(next_path, safe='')}"

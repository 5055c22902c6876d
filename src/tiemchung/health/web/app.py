"""The FastAPI application: pages (Jinja2 + htmx) and the JSON API `/api/v1`, built from injected settings.

Every module of `tiemchung.health.web.routes` that defines `router` is included, so other packages add pages by adding
a module there; a module may also declare `NAV_ITEMS` for the menu.
"""

import importlib
import logging
import pkgutil
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from types import ModuleType

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import RedirectResponse, Response

from tiemchung.health.fhir.export import ExportJobs
from tiemchung.health.registry.db import make_engine, make_session_factory
from tiemchung.health.web import errors, routes
from tiemchung.health.web.body_limit import BodyLimitMiddleware
from tiemchung.health.web.csrf import CSRFMiddleware
from tiemchung.health.web.deps import LoginRequired, login_url
from tiemchung.health.web.import_jobs import body_limit_for, resume_unfinished
from tiemchung.health.web.nav import NavItem
from tiemchung.health.web.refusals import RefusalLog, Refused, audit_refusal
from tiemchung.health.web.security_headers import SecurityHeadersMiddleware
from tiemchung.health.web.settings import Settings
from tiemchung.health.web.verifier import Verifier, make_verifier

STATIC_DIR = Path(__file__).parent / "static"
API_LOGIN_PATH = "/api/v1/session"
# A write that lost its connection may have been committed all the same (PostgreSQL crashed after writing the commit,
# before answering it: the drill measured it), so the message does not say "not saved". Sending the same form or
# request again is safe: a dose entry is found again by its key (form token, Idempotency-Key), an import upserts by
# record id, a certificate is issued once per dose, a cleaning step checks the line's or list's state first.
DATABASE_UNAVAILABLE = (
    "Cơ sở dữ liệu tạm thời không truy cập được nên chưa rõ thao tác vừa gửi đã được lưu hay chưa. "
    "Xin thử lại sau ít phút: gửi lại đúng biểu mẫu này (hoặc yêu cầu API với cùng Idempotency-Key) là an toàn, "
    "mũi tiêm không bị nhập hai lần."
)
DATABASE_UNAVAILABLE_READ = "Cơ sở dữ liệu tạm thời không truy cập được; xin thử lại sau ít phút."
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
INVALID_VALUE = "Dữ liệu gửi lên có ký tự hoặc giá trị không lưu được (ví dụ ký tự NUL); chưa có gì được lưu."
RETRY_AFTER_SECONDS = "5"
logger = logging.getLogger(__name__)


def create_app(
    settings: Settings,
    *,
    session_factory: sessionmaker[Session] | None = None,
    verifier: Verifier | None = None,
) -> FastAPI:
    """The application. `session_factory` and `verifier` default to ones built from the settings."""
    app = FastAPI(
        title="tiemchung",
        description="Nền tảng dữ liệu tiêm chủng COVID-19: trang web và API JSON (/api/v1).",
        version="1.0",
        lifespan=_lifespan(settings),
        # Swagger UI and ReDoc load their scripts from a CDN (no internet in production networks, and the CSP
        # forbids it): not served. The OpenAPI document itself stays at /openapi.json (docs/security.md).
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.session_factory = session_factory or make_session_factory(_engine(settings))
    app.state.verifier = verifier or make_verifier(settings)
    app.state.nav_items = []
    app.state.fhir_exports = ExportJobs(settings.export_dir, app.state.session_factory)
    app.add_middleware(CSRFMiddleware, exempt_paths=[API_LOGIN_PATH])
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie="tiemchung_session",
        max_age=settings.session_max_age_seconds,
        same_site="lax",
        https_only=settings.https_only,
    )
    # A body over its endpoint's limit is refused before anything reads it (web/body_limit.py).
    app.add_middleware(BodyLimitMiddleware, limit_for=lambda path: body_limit_for(app, path))
    app.add_middleware(SecurityHeadersMiddleware)  # outermost: every answer, refusals included, gets the headers
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # Browsers ask for /favicon.ico on any answer without a <link rel="icon"> (an htmx fragment opened by itself):
    # send them to the icon rather than a 404 in the console.
    app.add_route("/favicon.ico", _favicon, include_in_schema=False)
    app.add_exception_handler(LoginRequired, _redirect_to_login)  # type: ignore[arg-type]
    # Only the errors of an unreachable or busy database (lost connection, refused, locked): a constraint or a
    # programming error stays a 500, it is a bug to fix and must not pass for an outage.
    for outage in (OperationalError, InterfaceError):
        app.add_exception_handler(outage, _database_unavailable)  # type: ignore[arg-type]
    # A value the database refuses (a NUL character in PostgreSQL text, a number out of range) is bad input.
    app.add_exception_handler(DataError, _invalid_value)  # type: ignore[arg-type]
    # Pages get their errors as HTML that htmx shows (see errors.py); the API keeps FastAPI's JSON answers.
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.state.refusal_log = RefusalLog()
    app.add_exception_handler(Refused, _refused)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _invalid_request)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _server_error)
    for module in route_modules():
        app.include_router(module.router)
        app.state.nav_items.extend(getattr(module, "NAV_ITEMS", []))
    app.state.nav_items.sort(key=lambda item: (item.order, item.label))
    return app


def _engine(settings: Settings) -> Engine:
    return make_engine(settings.database_url, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow)


def _lifespan(settings: Settings) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Page and API handlers are synchronous and run in AnyIO's thread pool (40 threads by default). With more
        # threads than database connections, a busy server makes requests wait for a connection until the pool's
        # timeout fails them (the load test showed it); as many threads as connections makes them queue instead.
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens = settings.db_pool_size + settings.db_max_overflow

        resume_unfinished(_app)  # imports a stopped server left half-way (web/import_jobs.py)
        yield

    return lifespan


def route_modules() -> list[ModuleType]:
    """Every module of `tiemchung.health.web.routes` that defines a `router`, in name order."""
    modules = []
    for info in sorted(pkgutil.iter_modules(routes.__path__), key=lambda info: info.name):
        module = importlib.import_module(f"{routes.__name__}.{info.name}")
        if hasattr(module, "router"):
            modules.append(module)
    return modules


async def _favicon(_request: Request) -> Response:
    return RedirectResponse("/static/favicon.svg", status_code=308)


async def _redirect_to_login(request: Request, error: LoginRequired) -> Response:
    if request.headers.get("hx-request"):
        # htmx follows redirects inside the target; ask it to load the log-in page as a whole page instead.
        return Response(status_code=401, headers={"HX-Redirect": login_url(error.next_path)})
    return RedirectResponse(login_url(error.next_path), status_code=303)


async def _database_unavailable(request: Request, error: DBAPIError) -> Response:
    """A lost or refused database connection is an outage, not a bug: 503 with a clear message, no stack trace.

    Nothing the request wrote was acknowledged, but its outcome is unknown: usually the transaction died with its
    connection, yet a connection lost during COMMIT may have committed it. So a write's message says to send the
    same form or request again, which is safe; a read's just says to retry. The pool (pool_pre_ping) replaces the
    dead connections and later requests succeed once the database is back. To htmx the message is a fragment for
    the page's message area, so the form stays on screen, ready to be sent again (`errors.py`).
    """
    logger.warning("database error on %s %s: %s", request.method, request.url.path, type(error.orig).__name__)
    message = DATABASE_UNAVAILABLE_READ if request.method in READ_METHODS else DATABASE_UNAVAILABLE
    return _error(request, 503, message, {"Retry-After": RETRY_AFTER_SECONDS})


async def _invalid_value(request: Request, error: DataError) -> Response:
    logger.info("value refused by the database on %s %s: %s", request.method, request.url.path, error.orig)
    return _error(request, 422, INVALID_VALUE)


async def _http_error(request: Request, error: StarletteHTTPException) -> Response:
    """A route's refusal (403 outside the area, 404, 422...): the API keeps FastAPI's JSON, pages get HTML."""
    if errors.is_api(request.url.path) and not errors.is_fhir(request.url.path):
        return await http_exception_handler(request, error)
    message = errors.http_error_message(error.status_code, error.detail)
    return _error(request, error.status_code, message, error.headers)


async def _refused(request: Request, error: Refused) -> Response:
    """A refused request is audited (web/refusals.py), then answered like any other 403."""
    user = getattr(request.state, "user", None)
    count = request.app.state.refusal_log.refusals_to_write(user.username) if user is not None else 0
    if user is not None and count:
        factory = request.app.state.session_factory
        await run_in_threadpool(audit_refusal, factory, user, request.method, request.url.path, error, count)
    return await _http_error(request, error)


async def _invalid_request(request: Request, error: RequestValidationError) -> Response:
    """A value the route's types refuse (a year that is not a number): the API keeps FastAPI's list of errors."""
    if errors.is_api(request.url.path) and not errors.is_fhir(request.url.path):
        return await request_validation_exception_handler(request, error)
    message = errors.validation_message(list(error.errors()), write=request.method not in READ_METHODS)
    return _error(request, 422, message)


async def _server_error(request: Request, error: Exception) -> Response:
    # Starlette logs the exception and raises it again after this answer is sent.
    return _error(request, 500, errors.SERVER_ERROR)


def _error(request: Request, status_code: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    return errors.error_answer(request.url.path, request.headers, status_code, message, headers)


__all__ = ["NavItem", "create_app"]


def app_from_env() -> FastAPI:
    """The application from `TIEMCHUNG_*` variables (the factory uvicorn workers import)."""
    return create_app(Settings.from_env())

"""CSRF protection for every unsafe request, as ASGI middleware so that no new endpoint can forget it.

The token lives in the signed session; a request proves it knows it by the `X-CSRF-Token` header (htmx and the
JSON API) or a `csrf_token` form field (plain forms). Nothing of the body is read when no token could match (no
session: the API answers 401 at once, pages 403); otherwise the body is spooled to a temporary file (1 MiB in
memory, the rest on disk; `body_limit.py` caps its size per endpoint) to read the form field, and then replayed to
the application unchanged. A 1 GiB body without a session used to be read into memory here (issue 16, item 6).
"""

import tempfile
from collections.abc import Iterable

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tiemchung.health.web.errors import error_answer
from tiemchung.health.web.security import csrf_tokens_match

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
HEADER = "x-csrf-token"
FORM_FIELD = "csrf_token"
REFUSED = "Yêu cầu không hợp lệ (thiếu hoặc sai mã chống giả mạo CSRF). Hãy tải lại trang và thử lại."
NOT_LOGGED_IN = "Bạn cần đăng nhập."
SPOOL_IN_MEMORY = 1024 * 1024
REPLAY_CHUNK = 64 * 1024


class CSRFMiddleware:
    def __init__(self, app: ASGIApp, exempt_paths: Iterable[str] = ()) -> None:
        self.app = app
        # Paths that create the session itself (JSON log-in): a cross-site form cannot send application/json
        # without a CORS preflight, which this app never grants.
        self.exempt_paths = frozenset(exempt_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        expected = scope.get("session", {}).get("csrf")
        headers = {key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]}
        if scope["path"] in self.exempt_paths and headers.get("content-type", "").startswith("application/json"):
            await self.app(scope, receive, send)
            return
        if csrf_tokens_match(expected, headers.get(HEADER)):
            await self.app(scope, receive, send)
            return
        if not isinstance(expected, str) or not _is_form(headers):
            # No token can match: refuse before reading a byte (authentication first for the API).
            anonymous_api = scope["path"].startswith("/api/") and "user_id" not in scope.get("session", {})
            await _refuse(scope, receive, send, *((401, NOT_LOGGED_IN) if anonymous_api else (403, REFUSED)))
            return
        with tempfile.SpooledTemporaryFile(SPOOL_IN_MEMORY, prefix="tiemchung-body-") as body:
            await _spool(receive, body)
            if csrf_tokens_match(expected, await _form_token(scope, body)):
                await self.app(scope, _replay(body), send)
                return
            await _refuse(scope, _replay(body), send, 403, REFUSED)


def _is_form(headers: dict[str, str]) -> bool:
    return headers.get("content-type", "").startswith(("application/x-www-form-urlencoded", "multipart/form-data"))


async def _spool(receive: Receive, body: "tempfile.SpooledTemporaryFile[bytes]") -> None:
    """Copy the request body to `body` (its size is bounded by `body_limit.py`, outside this middleware)."""
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return
        body.write(message.get("body", b""))
        if not message.get("more_body", False):
            return


def _replay(body: "tempfile.SpooledTemporaryFile[bytes]") -> Receive:
    """The spooled body again, from its start, in chunks."""
    body.seek(0)

    async def receive() -> Message:
        chunk = body.read(REPLAY_CHUNK)
        return {"type": "http.request", "body": chunk, "more_body": bool(chunk)}

    return receive


async def _form_token(scope: Scope, body: "tempfile.SpooledTemporaryFile[bytes]") -> str | None:
    request = Request(scope, _replay(body))
    try:
        form = await request.form()
    except Exception:  # a malformed body is simply "no token"; the request is refused below
        return None
    token = form.get(FORM_FIELD)
    await form.close()
    return token if isinstance(token, str) else None


async def _refuse(scope: Scope, receive: Receive, send: Send, status_code: int, message: str) -> None:
    # JSON under /api/, a message htmx shows in the page (the form stays for a reload), a small page otherwise.
    refusal = error_answer(scope["path"], Headers(scope=scope), status_code, message)
    await refusal(scope, receive, send)

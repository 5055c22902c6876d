"""CSRF protection for every unsafe request, as ASGI middleware so that no new endpoint can forget it.

The token lives in the signed session; a request proves it knows it by the `X-CSRF-Token` header (htmx and the
JSON API) or a `csrf_token` form field (plain forms). The body is buffered to read the form field and then replayed
to the application unchanged.
"""

from collections.abc import Iterable

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tiemchung.web.errors import error_answer
from tiemchung.web.security import csrf_tokens_match

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
HEADER = "x-csrf-token"
FORM_FIELD = "csrf_token"
REFUSED = "Yêu cầu không hợp lệ (thiếu hoặc sai mã chống giả mạo CSRF). Hãy tải lại trang và thử lại."


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
        messages = await _read_body(receive)
        if csrf_tokens_match(expected, await _form_token(scope, messages)):
            await self.app(scope, _replay(messages), send)
            return
        await _refuse(scope, _replay(messages), send)


async def _read_body(receive: Receive) -> list[Message]:
    messages = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body", False):
            return messages


def _replay(messages: list[Message]) -> Receive:
    pending = list(messages)

    async def receive() -> Message:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    return receive


async def _form_token(scope: Scope, messages: list[Message]) -> str | None:
    content_type = dict(scope["headers"]).get(b"content-type", b"").decode("latin-1")
    if not content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        return None
    request = Request(scope, _replay(messages))
    try:
        form = await request.form()
    except Exception:  # a malformed body is simply "no token"; the request is refused below
        return None
    token = form.get(FORM_FIELD)
    await form.close()
    return token if isinstance(token, str) else None


async def _refuse(scope: Scope, receive: Receive, send: Send) -> None:
    # JSON under /api/, a message htmx shows in the page (the form stays for a reload), a small page otherwise.
    refusal = error_answer(scope["path"], Headers(scope=scope), 403, REFUSED)
    await refusal(scope, receive, send)

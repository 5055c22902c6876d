"""Request body limits per endpoint, as ASGI middleware outside everything else: a body over its endpoint's limit is
answered 413 from its declared Content-Length before a byte of it is read, or as soon as a streamed (chunked) body
passes the limit. 1 GiB sent to any API POST went into memory before (issue 16, item 6).
"""

from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tiemchung.health.web.errors import error_answer

DEFAULT_LIMIT = 1024 * 1024  # forms and JSON: a cleaning list's 2,000 line ids are ~40 kB
TOO_LARGE = "Dữ liệu gửi lên quá lớn ({limit}); chưa có gì được lưu."
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]) -> None:
        self.app = app
        self.limit_for = limit_for  # path -> the largest body it takes, in bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await _too_large(scope, receive, send, limit)
            return
        received = 0
        started = answered = False

        async def counted() -> Message:
            # Past the limit: answer 413 now and tell the application the client is gone (an exception raised
            # here would become FastAPI's 400 "error parsing the body"); whatever it sends after is dropped.
            nonlocal received, answered
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit and not answered:
                    answered = True
                    if not started:
                        await _too_large(scope, receive, send, limit)
                    return {"type": "http.disconnect"}
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if answered:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counted, watched)


async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    shown = f"tối đa {limit // (1024 * 1024):,} MB".replace(",", ".")
    answer = error_answer(scope["path"], Headers(scope=scope), 413, TOO_LARGE.format(limit=shown))
    answer.headers["Connection"] = "close"  # the rest of the body is not read
    await answer(scope, receive, send)

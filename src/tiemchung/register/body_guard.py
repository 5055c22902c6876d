"""The register service authenticates a caller and sizes its request before reading the body.

The probe sent 256 MiB of JSON and 1 GiB of multipart with no key: FastAPI parsed the whole body (memory, disk,
4-10 s) before the key dependency answered 401. This ASGI middleware, outside the app, answers 401 when a write
carries no valid key, and 413 when the body is larger than its endpoint takes (from Content-Length before reading,
or while a chunked body streams in), so neither costs more than its headers. The web app has its own limits
(`tiemchung.health.web.body_limit`): the two sides share no code but the interchange rules.
"""

import json
from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tiemchung.register.keys import KeyStore

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
ONLINE_LIMIT = 64 * 1024  # one subject's JSON is a few hundred bytes


class BodyGuard:
    def __init__(self, app: ASGIApp, keys: Callable[[], KeyStore], upload_limit: int) -> None:
        self.app = app
        self.keys = keys  # the key store, once the service has opened it
        self.upload_limit = upload_limit

    def limit_for(self, path: str) -> int:
        return self.upload_limit if path == "/v1/batches" else ONLINE_LIMIT

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if not self._authenticated(headers):
            await _answer(send, 401, "Thiếu hoặc sai khóa API.", {"WWW-Authenticate": "Bearer"})
            return
        limit = self.limit_for(scope["path"])
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await _answer(send, 413, _too_large(limit))
            return
        received, answered, started = 0, False, False

        async def counted() -> Message:
            nonlocal received, answered
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit and not answered:
                    answered = True
                    if not started:
                        await _answer(send, 413, _too_large(limit))
                    return {"type": "http.disconnect"}
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if not answered:
                started = started or message["type"] == "http.response.start"
                await send(message)

        await self.app(scope, counted, watched)

    def _authenticated(self, headers: Headers) -> bool:
        authorization = headers.get("authorization", "")
        key = authorization[7:].strip() if authorization.lower().startswith("bearer ") else headers.get("x-api-key")
        return bool(key) and self.keys().authenticate(key or "") is not None


def _too_large(limit: int) -> str:
    return f"Dữ liệu gửi lên quá lớn (tối đa {limit:,} byte).".replace(",", ".")


async def _answer(send: Send, status: int, detail: str, extra: dict[str, str] | None = None) -> None:
    body = json.dumps({"detail": detail}, ensure_ascii=False).encode()
    fields = {"content-type": "application/json", "content-length": str(len(body)), "connection": "close"}
    headers = [(name.lower().encode(), value.encode()) for name, value in {**fields, **(extra or {})}.items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})

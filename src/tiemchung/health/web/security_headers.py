"""Security headers on every answer of the web platform (issue 16 item 13), as a plain ASGI middleware.

- Content-Security-Policy: scripts, styles, images, fonts and requests only from this server. No inline
  `<script>`, no `onclick=`, no `javascript:` URL, no `<style>` element can run; style attributes stay allowed
  (`style-src-attr`: they cannot run code, and the charts size themselves with them). `frame-ancestors 'none'`
  and `X-Frame-Options: DENY` (older browsers) keep the pages out of other sites' frames (click-jacking).
- `X-Content-Type-Options: nosniff`: an uploaded file or a JSON answer is never run as a script or page.
- `Referrer-Policy: same-origin`: a link to another site never carries a URL of ours (they hold subject ids).
- `Cache-Control: no-store` on everything but the static files: pages and API answers carry personal data,
  and a shared office computer's browser cache must not keep them.
"""

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "style-src-attr 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "object-src 'none'",
    ]
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
CACHEABLE_PREFIXES = ("/static/",)


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cacheable = str(scope.get("path", "")).startswith(CACHEABLE_PREFIXES)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers.setdefault(name, value)
                if not cacheable:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)

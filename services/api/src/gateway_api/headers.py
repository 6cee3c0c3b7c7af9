"""Security headers on every response, and the headers a handler recorded (rate limits,
``Preference-Applied``).

A plain ASGI middleware outside the request-context one, so errors, 404s and even unhandled
exceptions (rendered as problems inside it) get the same headers. API answers are JSON for
programs: no sniffing, no framing, no referrer, no caching, and a CSP that allows nothing.
``/docs`` and ``/redoc`` are HTML that loads Swagger UI and ReDoc from a CDN, so they keep only
``frame-ancestors`` from the CSP. HSTS is sent only when configured: TLS usually ends at the
ingress, which is the better place for it.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DOC_PATHS = frozenset({"/docs", "/redoc", "/docs/oauth2-redirect"})
API_CSP = "default-src 'none'; frame-ancestors 'none'"
DOCS_CSP = "frame-ancestors 'none'"


STATIC_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
)
"""On every response, the server's own refusals of unparseable requests included."""


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, hsts_seconds: int = 0) -> None:
        self.app = app
        self.static = list(STATIC_HEADERS)
        if hsts_seconds:
            self.static.append(("Strict-Transport-Security", f"max-age={hsts_seconds}"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = DOCS_CSP if scope["path"] in DOC_PATHS else API_CSP

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.static:
                    headers.setdefault(name, value)
                headers.setdefault("Content-Security-Policy", csp)
                headers.setdefault("Cache-Control", "no-store")
                for name, value in scope.get("state", {}).get("response_headers", ()):
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)

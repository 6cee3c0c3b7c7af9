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

from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway_api.http.context import request_context

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
        static = [*STATIC_HEADERS, ("Cache-Control", "no-store")]
        if hsts_seconds:
            static.append(("Strict-Transport-Security", f"max-age={hsts_seconds}"))
        # Encoded once: these go on every response.
        self.api = _encoded([*static, ("Content-Security-Policy", API_CSP)])
        self.docs = _encoded([*static, ("Content-Security-Policy", DOCS_CSP)])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        defaults = self.docs if scope["path"] in DOC_PATHS else self.api

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                # Each header only when the response has none of that name, as
                # MutableHeaders.setdefault would do, in one pass over the response's headers.
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                context = request_context(scope)
                recorded = context.response_headers if context is not None else ()
                for name, value in (*defaults, *_encoded(recorded)):
                    if name not in present:
                        present.add(name)
                        headers.append((name, value))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _encoded(headers: Iterable[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]

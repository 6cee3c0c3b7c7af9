"""Security headers on every response, and the headers a handler recorded (rate limits,
``Preference-Applied``).

A plain ASGI middleware outside the request-context one, so errors, 404s and even unhandled
exceptions (rendered as problems inside it) get the same headers. API answers are JSON for
programs: no sniffing, no framing, no referrer, no caching, and a CSP that allows nothing.

A response that sets one of these headers itself keeps its own, and only three kinds do
(:mod:`gateway_api.openapi.pages`): ``/docs`` and ``/redoc`` send the policy of exactly what
each page loads, all of it from the API itself (:data:`SWAGGER_UI_CSP`, :data:`REDOC_CSP`), and
their scripts and styles, at URLs that name their content, may be cached (:data:`IMMUTABLE`).
HSTS is sent only when configured: TLS usually ends at the ingress, which is the better place
for it.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway_api.http.context import request_context

API_CSP = "default-src 'none'; frame-ancestors 'none'"
"""Every answer but the two documentation pages: JSON loads nothing."""
_PAGES = "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
SWAGGER_UI_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " + _PAGES
)
"""``/docs``: Swagger UI's bundle, its initialisation and its stylesheet, all from the API (no
inline script or style); the icons its stylesheet draws are ``data:`` images; it reads the
document from the API, and "Try it out" calls the API itself (``connect-src``)."""
EMPTY_STYLE = "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"
"""The hash of an empty ``<style>``: styled-components, in ReDoc, adds one and fills it through
the CSSOM (``insertRule``), which the policy does not govern. Its nonce can't be handed in
(webpack keeps it private to the bundle), and ``'unsafe-inline'`` would allow any style."""
SCROLLBAR_STYLE = "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='"
"""The one stylesheet ReDoc's bundle inserts as text: perfect-scrollbar's, with its source map.
Tied to the bundle's version (``fastapi-offline`` pinned): the browser test fails on any
refused style, so an upgrade that changes it says so."""
REDOC_CSP = (
    f"default-src 'none'; script-src 'self'; worker-src blob:; "
    f"style-src 'self' {EMPTY_STYLE} {SCROLLBAR_STYLE}; img-src 'self' data:; " + _PAGES
)
"""``/redoc``: ReDoc's bundle and a stylesheet, from the API; its search index runs in a worker
the bundle makes from a ``blob:`` (only a script already allowed can make one); its icons are
``data:`` images. Redocly's logo (``cdn.redoc.ly``) is refused: ReDoc hides it then."""
IMMUTABLE = "public, max-age=31536000, immutable"
"""The documentation's scripts and styles: their URLs name their content, so a year is safe."""


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
        self.defaults = _encoded([*static, ("Content-Security-Policy", API_CSP)])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        defaults = self.defaults

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

"""Refusals decided from the request line and headers alone, before routing.

Two plain ASGI middlewares, so they do not depend on what the HTTP server does:

- :class:`RequestGuardMiddleware` (inside the request context, so its problems carry the
  request id and get the security headers) refuses a request that repeats a header the gateway
  reads one value of (credentials, the idempotency key, the body's media type and encoding,
  the callback's URL and outcomes, the event stream's resume position),
  and a path with an encoded slash. Gateway paths never need one: route paths, workflow ids,
  message names and update ids are made of characters that need no escaping, so ``%2F`` can
  only be an attempt to make one segment look like two (or the other way round).
- :class:`HeadAsGetMiddleware` answers ``HEAD`` like ``GET``, without the body (RFC 9110
  9.3.2); FastAPI routes registered for ``GET`` would otherwise answer 405.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway_api.errors import DuplicateHeader, PathNotFound
from gateway_api.http.problems import render

SINGLE_VALUED = (b"authorization", b"x-api-key", b"idempotency-key", b"content-type",
                 b"content-encoding", b"callback-url", b"callback-outcomes",
                 b"last-event-id")  # fmt: skip
"""Headers a second copy of would be resolved to one of the two: which one depends on the
framework, the proxy and the server, so the request is ambiguous and refused. ``Prefer`` is
not among them: RFC 7240 makes several ``Prefer`` fields one list, and the gateway reads them
so (:data:`gateway_api.http.request_headers.PREFER`)."""
_ENCODED_SLASH = (b"%2f", b"%5c")  # and the backslash, which some proxies turn into a slash


class RequestGuardMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            problem = _refusal(scope)
            if problem is not None:
                response = await render(Request(scope, receive), problem)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _refusal(scope: Scope) -> DuplicateHeader | PathNotFound | None:
    raw_path = scope.get("raw_path") or scope["path"].encode()
    if any(marker in raw_path.lower() for marker in _ENCODED_SLASH):
        return PathNotFound("no resource has an encoded slash in its path")
    seen: set[bytes] = set()
    for name, _value in scope["headers"]:
        name = name.lower()
        if name in SINGLE_VALUED:
            if name in seen:
                return DuplicateHeader(
                    f"the {name.decode().title()} header is sent more than once; send it once"
                )
            seen.add(name)
    return None


class HeadAsGetMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, without_body)

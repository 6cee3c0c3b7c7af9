"""Request context and the access log.

A plain ASGI middleware (not ``BaseHTTPMiddleware``, which runs the app in another task and
loses context): it gives each request an id (the caller's ``X-Request-ID`` when it is sane),
binds it for every log line of the request, returns it in the response, and writes one access
line with the route and workflow id the handler recorded in ``request.state``.
"""

from __future__ import annotations

import re
import time
import uuid

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger("gateway_api.access")

REQUEST_ID_HEADER = b"x-request-id"
_SANE_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")


def annotate(state: object, **fields: str) -> None:
    """Record request facts for the access line and bind them to later log lines."""
    for key, value in fields.items():
        setattr(state, key, value)
    structlog.contextvars.bind_contextvars(**fields)


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(REQUEST_ID_HEADER, b"")
        request_id = given.decode() if _SANE_REQUEST_ID.match(given) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (REQUEST_ID_HEADER, request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
                route=state.get("route"),
                workflow_id=state.get("workflow_id"),
            )
            structlog.contextvars.clear_contextvars()

"""What the gateway learns about one request as it goes, in one typed object."""

from __future__ import annotations

from dataclasses import dataclass, field

import structlog
from starlette.types import Scope

CONTEXT_KEY = "context"
"""Where a request's :class:`RequestContext` is kept in the ASGI scope's ``state``."""


@dataclass(slots=True)
class RequestContext:
    """What the gateway learns about one request as it goes: one typed object, made by
    :class:`RequestContextMiddleware`, read by the access line, the problem documents and the
    security headers' pass."""

    request_id: str
    trace_id: str | None = None
    route: str | None = None
    workflow_id: str | None = None
    schedule_id: str | None = None
    principal: str | None = None
    started: bool | None = None
    """Whether a start made a new workflow (False: an Idempotency-Key found the existing one)."""
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    """Headers for the response, whatever it turns out to be (rate limits, ``Link``)."""

    def annotate(self, **fields: str) -> None:
        """Record request facts for the access line and bind them to later log lines."""
        for key, value in fields.items():
            setattr(self, key, value)
        structlog.contextvars.bind_contextvars(**fields)


def request_context(scope: Scope) -> RequestContext | None:
    """The request's context; None outside :class:`RequestContextMiddleware` (a request the
    server refused before the app)."""
    context: RequestContext | None = scope.get("state", {}).get(CONTEXT_KEY)
    return context

"""Request context, the access log and HTTP metrics.

A plain ASGI middleware (not ``BaseHTTPMiddleware``, which runs the app in another task and
loses context), inside OpenTelemetry's: it gives each request an id (the caller's
``X-Request-ID`` when it is sane), binds it and the trace id for every log line of the request,
returns both in the response (``X-Request-ID``, ``X-Trace-Id``), writes one access line with the
route, workflow id, whether a start made a new workflow, and principal the handler recorded in
the request's :class:`RequestContext`, and records the
request in the ``http.server.*`` metrics under its route template, never its raw path.

A client that disconnects before its answer is logged with nginx's 499, not as an error. It
also renders an unhandled exception as a 500 problem itself: Starlette would otherwise answer
from its outermost layer, past this one and the security headers, without the request id.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any, cast

import structlog
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.instrumentation.asgi import asgi_getter
from starlette.requests import ClientDisconnect, Request
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway_api import metrics
from gateway_api.http.context import CONTEXT_KEY, RequestContext
from gateway_api.http.problems import internal_error
from gateway_core.telemetry import current_ids

log = structlog.get_logger("gateway_api.access")

REQUEST_ID_HEADER = b"x-request-id"
TRACE_ID_HEADER = b"x-trace-id"
_SANE_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")
CLIENT_CLOSED = 499
# Probes are scraped every few seconds; they would drown the access log.
QUIET_PATHS = frozenset({"/livez", "/readyz"})


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    return getattr(route, "path", "unmatched") if isinstance(route, BaseRoute) else "unmatched"


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(REQUEST_ID_HEADER, b"")
        request_id = given.decode() if _SANE_REQUEST_ID.match(given) else uuid.uuid4().hex
        context = RequestContext(request_id)
        scope.setdefault("state", {})[CONTEXT_KEY] = context
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        ids = current_ids()
        extra_headers = [(REQUEST_ID_HEADER, request_id.encode())]
        if ids is not None:
            context.trace_id = ids[0]
            extra_headers.append((TRACE_ID_HEADER, ids[0].encode()))
        method = scope["method"]
        status = 500
        started = time.perf_counter()
        responded = False

        async def send_with_ids(message: Message) -> None:
            nonlocal status, responded
            if message["type"] == "http.response.start":
                status = message["status"]
                responded = True
                message["headers"] = [*message.get("headers", []), *extra_headers]
            await send(message)

        active = metrics.HTTP_ACTIVE.labels(http_request_method=method)
        active.inc()
        try:
            await self.app(scope, receive, send_with_ids)
        except ClientDisconnect:
            # The client went away (or was cut off for a slow body): nothing to answer, and
            # not a server error. 499 as nginx logs it.
            if not responded:
                status = CLIENT_CLOSED
        except Exception:
            if responded:
                raise
            response = await internal_error(Request(scope, receive))
            await response(scope, receive, send_with_ids)
        finally:
            active.dec()
            duration = time.perf_counter() - started
            metrics.HTTP_DURATION.labels(
                http_request_method=method,
                http_route=_route_template(scope),
                http_response_status_code=str(status),
            ).observe(duration)
            if scope["path"] not in QUIET_PATHS or status >= 400:
                log.info(
                    "request",
                    method=method,
                    path=scope["path"],
                    status=status,
                    duration_ms=round(duration * 1000, 2),
                    route=context.route,
                    workflow_id=context.workflow_id,
                    schedule_id=context.schedule_id,
                    started=context.started,
                    principal=context.principal,
                )
            structlog.contextvars.clear_contextvars()


class TraceContextMiddleware:
    """With tracing off, in place of OpenTelemetry's instrumentation: nothing is recorded, yet
    each request still has a trace id (the caller's ``traceparent`` continued, or a new one)
    for its log lines and ``X-Trace-Id``. The instrumentation would build a span's name and
    attributes on every request only for the sampler to drop them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.tracer = trace.get_tracer(__name__)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        parent = propagate.extract(cast(dict[str, Any], scope), getter=asgi_getter)
        span = self.tracer.start_span("request", parent, kind=trace.SpanKind.SERVER)
        token = otel_context.attach(trace.set_span_in_context(span, parent))
        try:
            await self.app(scope, receive, send)
        finally:
            otel_context.detach(token)

"""Problems as RFC 9457 ``application/problem+json`` responses.

Whatever the handler recorded about the request (its id, trace id, and the id of the workflow it
started or addressed) is added from the request's :class:`RequestContext`, so a caller never
loses the id of a workflow that was started. Rendering counts the answer in the metrics.
"""

from __future__ import annotations

from typing import Any

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse

from gateway_api import metrics
from gateway_api.errors import PROBLEM_BASE, PROBLEM_JSON, ApiError, InternalError, TemporalProblem
from gateway_api.http.context import request_context

log = structlog.get_logger(__name__)


def response(request: Request, exc: ApiError) -> JSONResponse:
    """The problem document for ``exc``, with the request's ids."""
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + exc.code,
        "title": exc.title,
        "status": exc.status,
        "code": exc.code,
        "instance": request.url.path,
    }
    if exc.detail:
        body["detail"] = exc.detail
    context = request_context(request.scope)
    if context is not None:
        for key, value in (
            ("request_id", context.request_id),
            ("trace_id", context.trace_id),
            ("workflow_id", context.workflow_id),
            ("schedule_id", context.schedule_id),
        ):
            if value:
                body[key] = value
    body.update(exc.extensions())
    return JSONResponse(
        body, status_code=exc.status, headers=exc.headers(), media_type=PROBLEM_JSON
    )


async def render(request: Request, exc: ApiError) -> JSONResponse:
    """The problem for ``exc``, counted in the metrics; also for middlewares, which run
    outside the app's exception handlers."""
    if isinstance(exc, TemporalProblem):
        if exc.grpc_status is None:  # refused before any call: the connection is down
            metrics.TEMPORAL_ERRORS.labels(grpc_code="NOT_CONNECTED").inc()
        # else counted where Temporal's error was translated, whatever the answer's status
    elif exc.status < 500:
        metrics.REJECTIONS.labels(code=exc.code).inc()
    return response(request, exc)


async def internal_error(request: Request) -> JSONResponse:
    """The problem for an exception no handler knows; logs it with its traceback."""
    log.exception("unhandled error")
    return response(request, InternalError())

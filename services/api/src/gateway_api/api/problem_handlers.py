"""The app's exception handlers: every exception a request can end with becomes a problem from
:mod:`gateway_api.errors`, rendered by :mod:`gateway_api.http.problems`. Temporal's exceptions
go through :mod:`gateway_api.temporal.failures`' tables; the framework's through the small
tables here.
"""

from __future__ import annotations

from http import HTTPStatus

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from temporalio.service import RPCError

from gateway_api import metrics
from gateway_api.errors import (
    PROBLEM_BASE,
    PROBLEM_JSON,
    ApiError,
    ClientDisconnected,
    InvalidBody,
    InvalidRequest,
    MethodNotAllowed,
    PathNotFound,
)
from gateway_api.http.context import request_context
from gateway_api.http.problems import internal_error, render
from gateway_api.temporal import failures
from gateway_core.routes import FieldError, WorkflowIdError

log = structlog.get_logger(__name__)

_HTTP_PROBLEMS: dict[int, type[ApiError]] = {404: PathNotFound, 405: MethodNotAllowed}
"""The framework's own refusals (no such path, not this method)."""


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return await render(request, exc)


async def _temporal_error(request: Request, exc: Exception) -> JSONResponse:
    context = request_context(request.scope)
    problem = failures.translate(
        exc,
        workflow_id=context.workflow_id if context else None,
        principal=context.principal if context else None,
    )
    if isinstance(exc, RPCError):
        metrics.TEMPORAL_ERRORS.labels(grpc_code=exc.status.name).inc()
        if problem.status >= 500 or problem.status == 400:
            log.warning("temporal error", grpc_status=exc.status.name, error=exc.message)
    return await render(request, problem)


async def _workflow_id_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, WorkflowIdError)
    return await render(request, InvalidBody(exc.errors))


async def _request_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        FieldError(".".join(str(p) for p in err["loc"]), str(err["msg"])) for err in exc.errors()
    ]
    return await render(request, InvalidRequest(errors or [FieldError("request", "invalid")]))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    phrase = HTTPStatus(exc.status_code).phrase
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != phrase else ""
    known = _HTTP_PROBLEMS.get(exc.status_code)
    if known is None:  # the framework raises no other today: answered as it says all the same
        code = phrase.lower().replace(" ", "-").replace("'", "")
        body = {"type": PROBLEM_BASE + code, "title": phrase, "status": exc.status_code,
                "code": code, "instance": request.url.path}  # fmt: skip
        return JSONResponse(body, exc.status_code, exc.headers, media_type=PROBLEM_JSON)
    rendered = await render(request, known(detail))
    if exc.headers:  # a 405's Allow
        rendered.headers.update(exc.headers)
    return rendered


async def _client_disconnect(request: Request, exc: Exception) -> JSONResponse:
    log.info("client disconnected", reason="before its request body was read")
    return await render(request, ClientDisconnected("the client closed the connection"))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    return await internal_error(request)


def install(app: FastAPI) -> None:
    """Register every handler on the app."""
    app.add_exception_handler(ApiError, _api_error)
    for kind in failures.TRANSLATED:
        app.add_exception_handler(kind, _temporal_error)
    app.add_exception_handler(WorkflowIdError, _workflow_id_error)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(ClientDisconnect, _client_disconnect)
    app.add_exception_handler(Exception, _unexpected)

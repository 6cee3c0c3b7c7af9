"""The workflow endpoints of the seed guide, served from the route table.

``POST /workflows/<path>`` and ``POST /workflows/<path>/async`` look ``<path>`` up in the
route table, so exposing a new workflow takes a route document and the workflow code, and no
new handler. ``GET /workflows/{id}/status`` and ``/result`` work for workflows started through
a route the caller may read.

Every request is checked completely before Temporal is called, in this order: credentials
(401), route and operation (404, 405), the route's authorization (403), rate limits (429), then
media type, size, shape and schema (415, 413, 422). By id, a workflow the caller may not read
is answered exactly like one that does not exist (404), so ids do not leak across routes.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import quote

import structlog
from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from temporalio.client import WorkflowExecutionDescription, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import WorkflowAlreadyStartedError

from gateway_api import executions, metrics
from gateway_api.bodies import BodyLimits, read_json
from gateway_api.deps import Caller, Connection, Limiter, Routes, Settings
from gateway_api.errors import (
    PROBLEM_JSON,
    ApiError,
    Forbidden,
    IdempotencyKeyReused,
    InvalidBody,
    OperationNotAllowed,
    RouteNotFound,
    WorkflowNotFound,
)
from gateway_api.middleware import annotate
from gateway_api.principals import Principal, allowed
from gateway_api.ratelimit import BY_ID, RateLimiter
from gateway_api.schemas import Problem, WorkflowResponse, WorkflowStatusResponse
from gateway_core.routes import (
    ACCESS_BY_OPERATION,
    Access,
    CompiledRoute,
    Operation,
    RouteTable,
    WorkflowIdError,
)

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/workflows", tags=["workflows"])

IDEMPOTENCY_KEY_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description="Makes retries safe: the same key and body return the same workflow; "
        "the same key with another body is refused with 409. Becomes the workflow id after "
        "the route's prefix.",
    ),
]


def _problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {s: {"model": Problem, "content": {PROBLEM_JSON: {}}} for s in statuses}


_JSON_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The workflow input, checked against the route's JSON Schema.",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}
_STILL_RUNNING: dict[int | str, dict[str, Any]] = {
    202: {"model": WorkflowResponse, "description": "Still running: poll the Location header."}
}


def _route(
    routes: RouteTable, path: str, operation: Operation, caller: Principal, settings: Settings
) -> CompiledRoute:
    route = routes.get(path)
    if route is None:
        raise RouteNotFound(f"no workflow route is served at /workflows/{path}")
    if not route.allows(operation):
        raise OperationNotAllowed(f"route {route.name!r} does not allow {operation.value!r}")
    access = ACCESS_BY_OPERATION[operation]
    if not allowed(caller, route, access, settings.admin_scope):
        raise Forbidden(f"{caller.id} may not {access.value} workflows of route {route.name!r}")
    return route


async def _rate_limit(request: Request, limiter: RateLimiter, caller: Principal, key: str) -> None:
    request.state.rate_limit_headers = await limiter.check(caller.id, key)


async def _readable(
    request: Request,
    connection: Connection,
    routes: RouteTable,
    caller: Principal,
    settings: Settings,
    workflow_id: str,
) -> WorkflowExecutionDescription | None:
    """The workflow's description when the caller may read it; None for administrators, who
    may read any workflow and need no extra call.

    Raises:
        WorkflowNotFound: no such workflow, or one the caller may not read (the same answer).
    """
    if caller.is_admin(settings.admin_scope):
        return None
    desc = await executions.describe_if_exists(
        connection.client, workflow_id, timedelta(seconds=settings.rpc_timeout_seconds)
    )
    route = await executions.started_by(desc, routes) if desc is not None else None
    if route is None or not allowed(caller, route, Access.READ, settings.admin_scope):
        raise WorkflowNotFound(f"no workflow {workflow_id!r} that {caller.id} may read")
    annotate(request.state, route=route.name)
    return desc


def _still_running(request: Request, workflow_id: str) -> JSONResponse:
    location = (
        f"{request.scope.get('root_path', '')}/workflows/{quote(workflow_id, safe='')}/result"
    )
    body = WorkflowResponse(workflow_id=workflow_id, status="running", result=None)
    return JSONResponse(body.model_dump(), status_code=202, headers={"Location": location})


async def _start(
    request: Request,
    route_path: str,
    operation: Operation,
    idempotency_key: str | None,
    caller: Principal,
    connection: Connection,
    routes: RouteTable,
    settings: Settings,
    limiter: RateLimiter,
) -> tuple[CompiledRoute, WorkflowHandle[Any, Any]]:
    route = _route(routes, route_path, operation, caller, settings)
    annotate(request.state, route=route.name)
    await _rate_limit(request, limiter, caller, route.name)
    starts = metrics.WORKFLOW_STARTS
    try:
        body = await read_json(request, _limits(settings))
        if errors := route.validate(body):
            raise InvalidBody(errors)
        workflow_id, deterministic = route.workflow_id(body, idempotency_key)
    except (ApiError, WorkflowIdError):
        starts.labels(route=route.name, outcome="rejected").inc()
        raise
    annotate(request.state, workflow_id=workflow_id)
    try:
        await executions.check_payload_size(
            connection.data_converter, body, settings.temporal_blob_limit_bytes
        )
    except ApiError:
        starts.labels(route=route.name, outcome="rejected").inc()
        raise
    try:
        handle, created = await executions.start(
            connection.client_for(route.spec.namespace),
            route,
            body,
            workflow_id=workflow_id,
            idempotent=deterministic,
            rpc_timeout=timedelta(seconds=settings.rpc_timeout_seconds),
            principal=caller.id,
            # A repeat must not hand over a workflow (and its result) the caller cannot read.
            may_read_existing=allowed(caller, route, Access.READ, settings.admin_scope),
        )
    except (IdempotencyKeyReused, WorkflowAlreadyStartedError):
        starts.labels(route=route.name, outcome="conflict").inc()
        raise
    except Exception:
        starts.labels(route=route.name, outcome="error").inc()
        raise
    starts.labels(route=route.name, outcome="started" if created else "existing").inc()
    log.info(
        "workflow started" if created else "workflow found", workflow_type=route.spec.workflow_type
    )
    return route, handle


def _limits(settings: Settings) -> BodyLimits:
    return BodyLimits(
        max_bytes=settings.max_body_bytes,
        max_depth=settings.max_json_depth,
        max_string_length=settings.max_json_string_length,
        max_items=settings.max_json_items,
    )


@router.post(
    "/{route_path}",
    response_model=WorkflowResponse,
    summary="Start a workflow and wait for its result",
    openapi_extra=_JSON_BODY,
    responses={
        **_STILL_RUNNING,
        **_problems(400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 500, 503, 504),
    },
)
async def start_and_wait(
    request: Request,
    route_path: str,
    caller: Caller,
    connection: Connection,
    routes: Routes,
    settings: Settings,
    limiter: Limiter,
    idempotency_key: IdempotencyKey = None,
) -> WorkflowResponse | JSONResponse:
    route, handle = await _start(
        request, route_path, Operation.SYNC_START, idempotency_key,
        caller, connection, routes, settings, limiter,
    )  # fmt: skip
    waited = metrics.SYNC_WAIT
    started = time.perf_counter()
    try:
        done, result = await executions.wait_result(handle, route.spec.sync_wait_seconds)
    except WorkflowFailureError:
        waited.labels(route=route.name, outcome="failed").observe(time.perf_counter() - started)
        raise
    outcome = "completed" if done else "running"
    waited.labels(route=route.name, outcome=outcome).observe(time.perf_counter() - started)
    if not done:
        return _still_running(request, handle.id)
    return WorkflowResponse(workflow_id=handle.id, status="completed", result=result)


@router.post(
    "/{route_path}/async",
    response_model=WorkflowResponse,
    summary="Start a workflow and return its id at once",
    openapi_extra=_JSON_BODY,
    responses=_problems(400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 503, 504),
)
async def start_async(
    request: Request,
    route_path: str,
    caller: Caller,
    connection: Connection,
    routes: Routes,
    settings: Settings,
    limiter: Limiter,
    idempotency_key: IdempotencyKey = None,
) -> WorkflowResponse:
    _, handle = await _start(
        request, route_path, Operation.START, idempotency_key,
        caller, connection, routes, settings, limiter,
    )  # fmt: skip
    return WorkflowResponse(workflow_id=handle.id, status="started", result=None)


@router.get(
    "/{workflow_id:path}/status",
    response_model=WorkflowStatusResponse,
    summary="A workflow's status",
    responses=_problems(401, 404, 429, 503, 504),
)
async def get_status(
    request: Request,
    workflow_id: str,
    caller: Caller,
    connection: Connection,
    routes: Routes,
    settings: Settings,
    limiter: Limiter,
) -> WorkflowStatusResponse:
    annotate(request.state, workflow_id=workflow_id)
    await _rate_limit(request, limiter, caller, BY_ID)
    desc = await _readable(request, connection, routes, caller, settings, workflow_id)
    if desc is None:
        desc = await executions.describe(
            connection.client, workflow_id, timedelta(seconds=settings.rpc_timeout_seconds)
        )
    return WorkflowStatusResponse(
        workflow_id=workflow_id,
        status=desc.status.name if desc.status else "UNSPECIFIED",
        start_time=desc.start_time,
        close_time=desc.close_time,
    )


@router.get(
    "/{workflow_id:path}/result",
    response_model=WorkflowResponse,
    summary="A workflow's result (waits while it runs)",
    responses={**_STILL_RUNNING, **_problems(401, 404, 409, 429, 500, 503, 504)},
)
async def get_result(
    request: Request,
    workflow_id: str,
    caller: Caller,
    connection: Connection,
    routes: Routes,
    settings: Settings,
    limiter: Limiter,
) -> WorkflowResponse | JSONResponse:
    annotate(request.state, workflow_id=workflow_id)
    await _rate_limit(request, limiter, caller, BY_ID)
    await _readable(request, connection, routes, caller, settings, workflow_id)
    handle = connection.client.get_workflow_handle(workflow_id)
    done, result = await executions.wait_result(handle, settings.result_wait_seconds)
    if not done:
        return _still_running(request, workflow_id)
    return WorkflowResponse(workflow_id=workflow_id, status="completed", result=result)

"""The workflow endpoints of the seed guide, served from the route table.

``POST /workflows/<path>`` and ``POST /workflows/<path>/async`` look ``<path>`` up in the
route table, so exposing a new workflow takes a route document and the workflow code, and no
new handler. ``GET /workflows/{id}/status`` and ``/result`` work for any workflow id.
Every request is checked completely (media type, size, schema) before Temporal is called.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import quote

import structlog
from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import WorkflowAlreadyStartedError

from gateway_api import executions, metrics
from gateway_api.bodies import read_json
from gateway_api.deps import Connection, Routes, Settings
from gateway_api.errors import (
    PROBLEM_JSON,
    ApiError,
    IdempotencyKeyReused,
    InvalidBody,
    OperationNotAllowed,
    RouteNotFound,
)
from gateway_api.middleware import annotate
from gateway_api.schemas import Problem, WorkflowResponse, WorkflowStatusResponse
from gateway_core.routes import CompiledRoute, Operation, RouteTable, WorkflowIdError

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


def _route(routes: RouteTable, path: str, operation: Operation) -> CompiledRoute:
    route = routes.get(path)
    if route is None:
        raise RouteNotFound(f"no workflow route is served at /workflows/{path}")
    if not route.allows(operation):
        raise OperationNotAllowed(f"route {route.name!r} does not allow {operation.value!r}")
    return route


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
    connection: Connection,
    routes: RouteTable,
    settings: Settings,
) -> tuple[CompiledRoute, WorkflowHandle[Any, Any]]:
    route = _route(routes, route_path, operation)
    annotate(request.state, route=route.name)
    starts = metrics.WORKFLOW_STARTS
    try:
        body = await read_json(request, settings.max_body_bytes)
        if errors := route.validate(body):
            raise InvalidBody(errors)
        workflow_id, deterministic = route.workflow_id(body, idempotency_key)
    except (ApiError, WorkflowIdError):
        starts.labels(route=route.name, outcome="rejected").inc()
        raise
    annotate(request.state, workflow_id=workflow_id)
    try:
        handle, created = await executions.start(
            connection.client_for(route.spec.namespace),
            route,
            body,
            workflow_id=workflow_id,
            idempotent=deterministic,
            rpc_timeout=timedelta(seconds=settings.rpc_timeout_seconds),
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


@router.post(
    "/{route_path}",
    response_model=WorkflowResponse,
    summary="Start a workflow and wait for its result",
    openapi_extra=_JSON_BODY,
    responses={**_STILL_RUNNING, **_problems(400, 404, 405, 409, 413, 415, 422, 500, 503, 504)},
)
async def start_and_wait(
    request: Request,
    route_path: str,
    connection: Connection,
    routes: Routes,
    settings: Settings,
    idempotency_key: IdempotencyKey = None,
) -> WorkflowResponse | JSONResponse:
    route, handle = await _start(
        request, route_path, Operation.SYNC_START, idempotency_key, connection, routes, settings
    )
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
    responses=_problems(400, 404, 405, 409, 413, 415, 422, 503),
)
async def start_async(
    request: Request,
    route_path: str,
    connection: Connection,
    routes: Routes,
    settings: Settings,
    idempotency_key: IdempotencyKey = None,
) -> WorkflowResponse:
    _, handle = await _start(
        request, route_path, Operation.START, idempotency_key, connection, routes, settings
    )
    return WorkflowResponse(workflow_id=handle.id, status="started", result=None)


@router.get(
    "/{workflow_id:path}/status",
    response_model=WorkflowStatusResponse,
    summary="A workflow's status",
    responses=_problems(404, 503),
)
async def get_status(
    request: Request, workflow_id: str, connection: Connection, settings: Settings
) -> WorkflowStatusResponse:
    annotate(request.state, workflow_id=workflow_id)
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
    responses={**_STILL_RUNNING, **_problems(404, 409, 500, 503, 504)},
)
async def get_result(
    request: Request, workflow_id: str, connection: Connection, settings: Settings
) -> WorkflowResponse | JSONResponse:
    annotate(request.state, workflow_id=workflow_id)
    handle = connection.client.get_workflow_handle(workflow_id)
    done, result = await executions.wait_result(handle, settings.result_wait_seconds)
    if not done:
        return _still_running(request, workflow_id)
    return WorkflowResponse(workflow_id=workflow_id, status="completed", result=result)

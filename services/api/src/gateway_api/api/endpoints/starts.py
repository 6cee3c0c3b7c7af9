"""Starting workflows on a route: ``POST /workflows/<path>`` and its variants.

``<path>`` is looked up in the route table, so exposing a new workflow takes a route document
and the workflow code, and no new handler. Every request is checked completely before Temporal
is called: credentials, route, operation, authorization and rate limits (the
:func:`~gateway_api.api.dispatch.on_route`), headers, then media type, size, shape and schema.

The with-start operations take ``{"input": <the workflow input>, "arg": <the message's
argument>}``: the workflow's id comes from the route's rules as for a plain start, and the
signal or update reaches the running workflow with that id, or the one started for it. With
``arguments: positional`` (the route's, or the message's), ``input`` (or ``arg``) is the array
of arguments, as the body of a plain start (or message) is.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import WorkflowAlreadyStartedError

from gateway_api import metrics
from gateway_api.api.dispatch import OnRoute
from gateway_api.api.endpoints.common import (
    JSON_BODY,
    STILL_RUNNING,
    check_argument,
    problems,
    read_answer,
    route_descriptors,
    still_running,
    update_answer,
)
from gateway_api.api.operations import endpoint
from gateway_api.api.schemas import UpdateResponse, WorkflowResponse
from gateway_api.errors import (
    ApiError,
    IdempotencyKeyInFlight,
    IdempotencyKeyReused,
    InvalidBody,
    NoWorker,
    WorkflowIdTaken,
)
from gateway_api.http.bodies import NO_BODY, read_json
from gateway_api.http.request_headers import (
    CALLBACK_OUTCOMES,
    CALLBACK_URL,
    IDEMPOTENCY_KEY,
    PREFER,
)
from gateway_api.temporal import executions, idempotency, payloads
from gateway_api.temporal import webhooks as callbacks
from gateway_api.temporal.health import task_failing
from gateway_core.routes import Access, FieldError, MessageKind, Operation, WorkflowIdError

router = APIRouter(tags=["workflows"])

_WITH_START_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "`input`: the workflow input, checked against the route's JSON Schema; "
        "`arg`: the signal's or update's argument, checked against its schema (leave it out "
        "when it takes none).",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["input"],
                    "properties": {"input": {}, "arg": {}},
                    "additionalProperties": False,
                }
            }
        },
    }
}
_START_PROBLEMS = (400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 503, 504)
_START_HEADERS = (IDEMPOTENCY_KEY, CALLBACK_URL, CALLBACK_OUTCOMES)


@dataclass(frozen=True, slots=True)
class _Begun:
    """A start checked up to its body: route, caller, headers and callback."""

    on: OnRoute
    idempotency_key: str | None
    callback: callbacks.Checked | None


async def _begin(on: OnRoute) -> _Begun:
    """Everything a start checks after its route and before reading its body: the headers
    it reads itself (:mod:`gateway_api.http.request_headers`) and the callback."""
    request = on.call.request
    key = IDEMPOTENCY_KEY.read(request)
    await _worker_polls(on)
    call = on.call
    checked = await callbacks.check(
        on.route, call.settings, callbacks.asked(request),
        caller=call.caller.id, may_read=call.may(on.route, Access.READ),
    )  # fmt: skip
    return _Begun(on, key, checked)


async def _worker_polls(on: OnRoute) -> None:
    """For a route that opted in, refuse a start nothing would run.

    Raises:
        NoWorker: no worker has polled the route's task queue recently.
    """
    route, call = on.route, on.call
    if not route.spec.refuse_starts_without_worker:
        return
    task_queue = route.spec.task_queue
    if not await call.pollers.available(on.client, task_queue, rpc_timeout=call.rpc_timeout):
        metrics.WORKFLOW_STARTS.labels(route=route.name, outcome="rejected").inc()
        raise NoWorker(f"no worker has polled task queue {task_queue!r} of route {route.name!r}")


async def _register(begun: _Begun, workflow_id: str, run_id: str | None) -> None:
    """Start the callback's delivery, if one was asked for, and say where it is shown. The
    delivery is the gateway's own workflow, started without the route's codec; it carries the
    codec's name, for the worker to decode the result with."""
    if begun.callback is None:
        return
    on = begun.on
    await callbacks.register(
        on.bare_client, on.call.settings, on.route, begun.callback, workflow_id, run_id,
        codec=on.call.connection.codec_of(on.route),
    )  # fmt: skip
    on.call.header("Link", f'<{on.call.location(callbacks.path(workflow_id))}>; rel="callbacks"')


async def _input(
    on: OnRoute, body: Any, idempotency_key: str | None, *, with_start: bool = False
) -> tuple[str, executions.EncodedStart]:
    """Check the workflow input; its workflow id, and the workflow's arguments (with the
    request's memo values) encoded once for Temporal. A with-start operation always keeps the
    body's digest (a repeat reaches the running workflow); a plain start only with a
    deterministic id."""
    starts = metrics.WORKFLOW_STARTS
    route = on.route
    try:
        errors = route.validate(body)
        if not errors and route.spec.input_message is not None:
            errors = payloads.check_message(
                body, route.spec.input_message, route_descriptors(on.call, route)
            )
        if errors:
            raise InvalidBody(errors)
        caller = on.call.caller.id
        key = idempotency.scoped(caller, idempotency_key)
        owner = idempotency.scope(caller) if route.owner_only else None
        workflow_id, deterministic = route.workflow_id(body, key, owner=owner)
    except (ApiError, WorkflowIdError):
        starts.labels(route=route.name, outcome="rejected").inc()
        raise
    on.call.context.annotate(workflow_id=workflow_id)
    try:
        encoded = await executions.encode_start(
            on.call.connection.converter_for(route),
            route,
            body,
            on.call.settings.temporal_blob_limit_bytes,
            principal=on.call.caller.id,
            idempotent=deterministic or with_start,
        )
    except ApiError:
        starts.labels(route=route.name, outcome="rejected").inc()
        raise
    return workflow_id, encoded


async def _start(on: OnRoute, idempotency_key: str | None) -> WorkflowHandle[Any, Any]:
    route, call = on.route, on.call
    body = await read_json(call.request, call.limits)
    workflow_id, encoded = await _input(on, body, idempotency_key)
    deterministic = encoded.digest is not None
    starts = metrics.WORKFLOW_STARTS
    try:
        with idempotency.starting(workflow_id) if deterministic else contextlib.nullcontext():
            handle, created = await executions.start(
                on.client,
                route,
                encoded,
                workflow_id=workflow_id,
                rpc_timeout=call.rpc_timeout,
                principal=call.caller.id,
            )
    except (IdempotencyKeyReused, IdempotencyKeyInFlight, WorkflowIdTaken,
            WorkflowAlreadyStartedError):  # fmt: skip
        starts.labels(route=route.name, outcome="conflict").inc()
        raise
    except Exception:
        starts.labels(route=route.name, outcome="error").inc()
        raise
    starts.labels(route=route.name, outcome="started" if created else "existing").inc()
    # Its type is the route's (started now, or found by this caller's own key and body): the
    # operations by id that follow need not ask.
    call.workflow_types.remember(on.client.namespace, handle.id, route.spec.workflow_type)
    # Said by the request's access line (one log event per start): a new workflow, or the one
    # an Idempotency-Key or id reuse policy found.
    call.context.started = created
    return handle


@endpoint(
    router,
    Operation.SYNC_START,
    headers=[*_START_HEADERS, PREFER],
    response_model=WorkflowResponse,
    openapi_extra=JSON_BODY,
    responses={**STILL_RUNNING, **problems(*_START_PROBLEMS, 500)},
)
async def start_and_wait(on: OnRoute) -> WorkflowResponse | JSONResponse:
    with on.call.waiting():  # refused, when the caller waits too much already, before a start
        return await _start_and_wait(on)


async def _start_and_wait(on: OnRoute) -> WorkflowResponse | JSONResponse:
    begun = await _begin(on)
    handle = await _start(on, begun.idempotency_key)
    await _register(begun, handle.id, handle.result_run_id)
    route = on.route
    waited = metrics.SYNC_WAIT
    started = time.perf_counter()
    try:
        done, result = await executions.wait_result(
            handle, on.call.wait(route.spec.sync_wait_seconds)
        )
    except WorkflowFailureError:
        waited.labels(route=route.name, outcome="failed").observe(time.perf_counter() - started)
        raise
    outcome = "completed" if done else "running"
    waited.labels(route=route.name, outcome=outcome).observe(time.perf_counter() - started)
    if not done:
        desc = await handle.describe(rpc_timeout=on.call.rpc_timeout)
        failing = await task_failing(on.client, desc, rpc_timeout=on.call.rpc_timeout)
        return still_running(on.call, handle.id, failing=failing)
    answer = read_answer(on.call, route, result, "result")
    return WorkflowResponse(
        workflow_id=handle.id,
        status="completed",
        result=answer.value,
        result_type=answer.protobuf_type,
    )


@endpoint(
    router,
    Operation.START,
    headers=_START_HEADERS,
    response_model=WorkflowResponse,
    openapi_extra=JSON_BODY,
    responses=problems(*_START_PROBLEMS),
)
async def start_async(on: OnRoute) -> WorkflowResponse:
    begun = await _begin(on)
    handle = await _start(on, begun.idempotency_key)
    await _register(begun, handle.id, handle.result_run_id)
    return WorkflowResponse(workflow_id=handle.id, status="started", result=None)


async def _with_start_body(on: OnRoute, kind: MessageKind, name: str) -> tuple[Any, list[Any]]:
    """The workflow input, checked against its schema, and the message's arguments from
    ``arg``, checked against theirs."""
    message = on.message(kind, name)
    body = await read_json(on.call.request, on.call.limits)
    if not isinstance(body, dict) or "input" not in body:
        raise InvalidBody([FieldError("input", "field required")])
    if unknown := sorted(set(body) - {"input", "arg"}):
        raise InvalidBody([FieldError(k, "unknown field") for k in unknown])
    arg = body.get("arg", NO_BODY)
    check_argument(message, arg, "arg", route_descriptors(on.call, on.route))
    return body["input"], executions.message_arguments(message, arg)


@endpoint(
    router,
    Operation.SIGNAL_WITH_START,
    headers=_START_HEADERS,
    response_model=WorkflowResponse,
    status_code=202,
    openapi_extra=_WITH_START_BODY,
    responses=problems(*_START_PROBLEMS),
)
async def signal_with_start(on: OnRoute) -> WorkflowResponse:
    begun = await _begin(on)
    name = on.call.request.path_params["name"]
    workflow_input, signal_args = await _with_start_body(on, MessageKind.SIGNAL, name)
    workflow_id, encoded = await _input(on, workflow_input, begun.idempotency_key, with_start=True)
    handle = await executions.signal_with_start(
        on.client, on.route, encoded, name, signal_args,
        workflow_id=workflow_id, rpc_timeout=on.call.rpc_timeout, principal=on.call.caller.id,
    )  # fmt: skip
    metrics.WORKFLOW_STARTS.labels(route=on.route.name, outcome="signaled").inc()
    await _register(begun, handle.id, None)
    return WorkflowResponse(workflow_id=handle.id, status="signaled", result=None)


@endpoint(
    router,
    Operation.UPDATE_WITH_START,
    headers=[*_START_HEADERS, PREFER],
    response_model=UpdateResponse,
    openapi_extra=_WITH_START_BODY,
    responses={
        202: {"model": UpdateResponse, "description": "Still running: poll the Location."},
        **problems(*_START_PROBLEMS, 500),
    },
)
async def update_with_start(on: OnRoute) -> UpdateResponse | JSONResponse:
    with on.call.waiting():
        return await _update_with_start(on)


async def _update_with_start(on: OnRoute) -> UpdateResponse | JSONResponse:
    begun = await _begin(on)
    name = on.call.request.path_params["name"]
    workflow_input, update_args = await _with_start_body(on, MessageKind.UPDATE, name)
    workflow_id, encoded = await _input(on, workflow_input, begun.idempotency_key, with_start=True)
    outcome = await executions.update_with_start(
        on.client, on.route, encoded, name, update_args,
        workflow_id=workflow_id, principal=on.call.caller.id,
        update_id=idempotency.scoped(on.call.caller.id, begun.idempotency_key),
        wait=on.call.wait(on.route.spec.sync_wait_seconds),
    )  # fmt: skip
    metrics.WORKFLOW_STARTS.labels(route=on.route.name, outcome="updated").inc()
    await _register(begun, workflow_id, None)
    return update_answer(on.call, on.route, workflow_id, name, outcome)

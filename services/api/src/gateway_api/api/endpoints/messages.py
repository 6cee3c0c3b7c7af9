"""Messages to a running workflow: signals, queries and updates, by declared name.

A route lists the signals, queries and updates it exposes, each with the JSON Schema of its
argument (the request body); any other name is 404 and a bad argument 422 naming the field,
before Temporal is called. A handler declared without a schema takes no argument, and its body
must be empty; one declared ``arguments: positional`` takes a JSON array of its arguments, and
one with an ``inputMessage`` gets the body as that protobuf message (``json/protobuf``).

Updates wait for the workflow's answer (the route's ``syncWaitSeconds``, or ``Prefer: wait=N``),
then answer 202 with a Location to poll. An ``Idempotency-Key``, scoped to the caller
(:mod:`gateway_api.temporal.idempotency`), becomes the update's id, so a retried update runs once
and
the retry gets the first one's answer, and another caller's same key is another update.
Temporal deduplicates by id alone: a retry with another argument gets the first answer too.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse
from temporalio.client import WorkflowQueryFailedError
from temporalio.service import RPCError

from gateway_api.api.dispatch import Target
from gateway_api.api.endpoints.common import (
    check_argument,
    problems,
    raise_if_closed,
    read_answer,
    route_descriptors,
    update_answer,
)
from gateway_api.api.operations import endpoint
from gateway_api.api.schemas import QueryResponse, SignalResponse, UpdateResponse
from gateway_api.errors import InvalidBody
from gateway_api.http.bodies import read_optional_json
from gateway_api.http.request_headers import IDEMPOTENCY_KEY, PREFER
from gateway_api.temporal import executions, failures, idempotency
from gateway_core.routes import CompiledMessage, FieldError, MessageKind, Operation

router = APIRouter(tags=["workflows"])

_OPTIONAL_BODY: dict[str, Any] = {
    "requestBody": {
        "required": False,
        "description": "The argument, checked against the schema the route declares for this "
        "name; empty when it declares none.",
        "content": {"application/json": {"schema": {}}},
    }
}
_MESSAGE_PROBLEMS = (400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 503, 504)
_UPDATE_RUNNING: dict[int | str, dict[str, Any]] = {
    202: {"model": UpdateResponse, "description": "Still running: poll the Location header."}
}


def _name(target: Target) -> str:
    """The message name the path gives."""
    name: str = target.call.request.path_params["name"]
    return name


async def _arguments(target: Target, message: CompiledMessage) -> list[Any]:
    """The handler's arguments, from the body checked against its declaration."""
    arg = await read_optional_json(target.call.request, target.call.limits)
    check_argument(message, arg, "body", route_descriptors(target.call, target.route))
    return executions.message_arguments(message, arg)


@endpoint(
    router,
    Operation.SIGNAL,
    response_model=SignalResponse,
    status_code=202,
    openapi_extra=_OPTIONAL_BODY,
    responses=problems(*_MESSAGE_PROBLEMS),
)
async def signal(target: Target) -> SignalResponse:
    name = _name(target)
    message = target.message(MessageKind.SIGNAL, name)
    args = await _arguments(target, message)
    handle = await target.workflow()
    await target.call.handlers.check(handle, target.route, MessageKind.SIGNAL, name)
    try:
        await handle.signal(name, args=args, rpc_timeout=target.call.rpc_timeout)
    except RPCError as exc:
        await raise_if_closed(target, exc)
        raise
    return SignalResponse(workflow_id=target.workflow_id, signal=name, status="signaled")


async def _query(target: Target, name: str, args: list[Any]) -> QueryResponse:
    handle = await target.workflow()
    await target.call.handlers.check(handle, target.route, MessageKind.QUERY, name)
    try:
        raw = await executions.query(handle, name, args, target.call.rpc_timeout)
    except WorkflowQueryFailedError as exc:
        raise await failures.query_failed(exc, target.client.data_converter) from exc
    answer = read_answer(target.call, target.route, raw, "query's answer")
    return QueryResponse(
        workflow_id=target.workflow_id,
        query=name,
        result=answer.value,
        result_type=answer.protobuf_type,
    )


@endpoint(
    router,
    Operation.QUERY,
    response_model=QueryResponse,
    openapi_extra=_OPTIONAL_BODY,
    responses=problems(*_MESSAGE_PROBLEMS, 500),
)
async def query(target: Target) -> QueryResponse:
    name = _name(target)
    message = target.message(MessageKind.QUERY, name)
    return await _query(target, name, await _arguments(target, message))


@endpoint(
    router,
    Operation.QUERY,
    method="GET",
    summary="Query a running workflow (a query that takes no argument)",
    response_model=QueryResponse,
    responses=problems(401, 403, 404, 405, 409, 422, 429, 500, 503, 504),
)
async def query_without_argument(target: Target) -> QueryResponse:
    name = _name(target)
    message = target.message(MessageKind.QUERY, name)
    if message.validator is not None:
        raise InvalidBody(
            [FieldError("body", f"query {name!r} needs an argument: send it with POST")]
        )
    return await _query(target, name, [])


@endpoint(
    router,
    Operation.UPDATE,
    headers=[IDEMPOTENCY_KEY, PREFER],
    response_model=UpdateResponse,
    openapi_extra=_OPTIONAL_BODY,
    responses={**_UPDATE_RUNNING, **problems(*_MESSAGE_PROBLEMS, 500)},
)
async def update(target: Target) -> UpdateResponse | JSONResponse:
    with target.call.waiting():
        return await _update(target)


async def _update(target: Target) -> UpdateResponse | JSONResponse:
    name = _name(target)
    idempotency_key = IDEMPOTENCY_KEY.read(target.call.request)
    message = target.message(MessageKind.UPDATE, name)
    args = await _arguments(target, message)
    call = target.call
    handle = await target.workflow()
    await call.handlers.check(handle, target.route, MessageKind.UPDATE, name)
    try:
        outcome = await executions.update(
            handle, name, args,
            update_id=idempotency.scoped(call.caller.id, idempotency_key),
            wait=call.wait(target.route.spec.sync_wait_seconds),
        )  # fmt: skip
    except RPCError as exc:
        await raise_if_closed(target, exc)
        raise
    return update_answer(call, target.route, target.workflow_id, name, outcome)


@endpoint(
    router,
    Operation.UPDATE,
    method="GET",
    path="/workflows/{workflow_id}/updates/{name}/{update_id}",
    summary="The answer to an update sent before (waits while it runs)",
    headers=[PREFER],
    response_model=UpdateResponse,
    responses={**_UPDATE_RUNNING, **problems(401, 403, 404, 405, 429, 500, 503, 504)},
)
async def update_result(
    name: str,
    target: Target,
    update_id: Annotated[str, Path(max_length=255)],
    wait: Annotated[float | None, Query(ge=0, description="Seconds to wait")] = None,
) -> UpdateResponse | JSONResponse:
    target.message(MessageKind.UPDATE, name)
    call = target.call
    with call.waiting():
        outcome = await executions.update_result(
            await target.workflow(),
            update_id,
            call.wait(call.settings.result_wait_seconds, query=wait),
        )
    return update_answer(call, target.route, target.workflow_id, name, outcome)

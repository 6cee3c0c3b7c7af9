"""Stopping a workflow: cancel (graceful: the workflow may clean up, and decides when it
closes) and terminate (at once, no workflow code runs), authorized separately."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import ValidationError
from temporalio.service import RPCError

from gateway_api.api.dispatch import Target
from gateway_api.api.endpoints.common import problems, raise_if_closed
from gateway_api.api.operations import endpoint
from gateway_api.api.schemas import ControlResponse, TerminateRequest
from gateway_api.errors import InvalidBody
from gateway_api.http.bodies import NO_BODY, read_optional_json
from gateway_api.temporal import executions
from gateway_core.routes import FieldError, Operation

router = APIRouter(tags=["workflows"])
_PROBLEMS = problems(401, 403, 404, 405, 409, 422, 429, 503, 504)


@endpoint(
    router, Operation.CANCEL, response_model=ControlResponse, status_code=202, responses=_PROBLEMS
)
async def cancel(target: Target) -> ControlResponse:
    try:
        await executions.cancel(await target.workflow(), target.call.rpc_timeout)
    except RPCError as exc:
        await raise_if_closed(target, exc)
        raise
    return ControlResponse(workflow_id=target.workflow_id, status="cancel-requested")


@endpoint(
    router,
    Operation.TERMINATE,
    response_model=ControlResponse,
    responses=_PROBLEMS,
    openapi_extra={
        "requestBody": {
            "required": False,
            "content": {"application/json": {"schema": TerminateRequest.model_json_schema()}},
        }
    },
)
async def terminate(target: Target) -> ControlResponse:
    body = await read_optional_json(target.call.request, target.call.limits)
    try:
        reason = None if body is NO_BODY else TerminateRequest.model_validate(body).reason
    except ValidationError as exc:
        raise InvalidBody(
            [FieldError(".".join(map(str, e["loc"])) or "body", e["msg"]) for e in exc.errors()]
        ) from None
    reason = f"{reason or 'terminated through the gateway'} (by {target.call.caller.id})"
    try:
        handle = await target.workflow()
        await handle.terminate(reason=reason, rpc_timeout=target.call.rpc_timeout)
    except RPCError as exc:
        await raise_if_closed(target, exc)
        raise
    return ControlResponse(workflow_id=target.workflow_id, status="terminated")

"""A workflow's completion webhook: ``GET /workflows/{id}/callbacks`` shows its state and
attempts (``read`` access); ``POST /workflows/{id}/callbacks/redeliver`` sends it again to the
URL the starter chose (``start`` access: it causes a delivery, as a start with a callback
does, and shows the caller nothing a start would not).

Both talk to the ``CallbackDelivery`` workflow of the workflow's run: a query for the state,
an update for the redelivery (refused while it waits or delivers, and after the redelivery
window, when the delivery workflow has closed). Its payloads are the gateway's own, never
encoded with the route's codec: the namespace's bare client reads them.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from gateway_api.api.dispatch import Target
from gateway_api.api.endpoints.common import problems
from gateway_api.api.operations import endpoint
from gateway_api.errors import CallbackBusy, CallbackNotFound
from gateway_api.temporal.webhooks import CallbackState, delivery_handle
from gateway_core.callbacks import REDELIVER_UPDATE, STATE_QUERY, DeliveryState
from gateway_core.routes import Operation

router = APIRouter(tags=["workflows"])

RunId = Annotated[
    str | None,
    Query(max_length=64, description="A run of the workflow; unset: the latest run"),
]


def _not_found(target: Target) -> CallbackNotFound:
    return CallbackNotFound(f"workflow {target.workflow_id!r} was started without a callback")


@endpoint(
    router,
    Operation.CALLBACKS,
    response_model=CallbackState,
    responses=problems(401, 404, 405, 429, 503, 504),
)
async def callbacks(target: Target, run_id: RunId = None) -> CallbackState:
    rpc_timeout = target.call.rpc_timeout
    await target.workflow()  # the route's own type, or the one 404
    handle = await delivery_handle(target.bare_client, target.workflow_id, run_id, rpc_timeout)
    try:
        state = await handle.query(STATE_QUERY, result_type=DeliveryState, rpc_timeout=rpc_timeout)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise _not_found(target) from None
        raise
    return CallbackState.of(state)


@endpoint(
    router,
    Operation.REDELIVER_CALLBACK,
    response_model=CallbackState,
    status_code=202,
    responses=problems(401, 403, 404, 405, 409, 429, 503, 504),
)
async def redeliver(target: Target) -> JSONResponse:
    rpc_timeout = target.call.rpc_timeout
    await target.workflow()
    handle = await delivery_handle(target.bare_client, target.workflow_id, None, rpc_timeout)
    try:
        state = await handle.execute_update(
            REDELIVER_UPDATE, result_type=DeliveryState, rpc_timeout=rpc_timeout
        )
    except WorkflowUpdateFailedError as exc:
        if isinstance(exc.cause, ApplicationError):
            raise CallbackBusy(exc.cause.message) from None
        raise
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        try:
            await handle.describe(rpc_timeout=rpc_timeout)
        except RPCError:
            raise _not_found(target) from None
        raise CallbackBusy(
            "the redelivery window has passed: the delivery workflow has closed"
        ) from None
    body = CallbackState.of(state).model_dump(mode="json")
    return JSONResponse(body, status_code=202, headers={"Location": target.url("/callbacks")})

"""A workflow's completion webhook: ``GET /workflows/{id}/callbacks`` shows its state and
attempts (``read`` access); ``POST /workflows/{id}/callbacks/redeliver`` sends it again to the
URL the starter chose (``start`` access: it causes a delivery, as a start with a callback does).

The redelivery's answer is the callback's state, which is what ``GET …/callbacks`` shows, so it
follows the same read rules: to a caller who may not read the route's workflows it is the one
404 ``callback-not-found`` that a workflow without a callback and a workflow that does not exist
get too, made before any Temporal call (the same work whatever the id), and nothing is sent.
A 202 without the state would still tell such a caller which ids have callbacks (the others are
404), and would let it make the gateway post to URLs it cannot see; the 404 tells it nothing.

Both talk to the ``CallbackDelivery`` workflow of the workflow's run: a query for the state,
an update for the redelivery, which the workflow's validator refuses while it waits or
delivers, after ``max_redeliveries`` (409 ``callback-busy``), within
``redeliver_min_interval_seconds`` of the last (429 ``redelivery-too-soon``), and after the
redelivery window, when the delivery workflow has closed (409). Its payloads are the gateway's
own, never encoded with the route's codec: the namespace's bare client reads them.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from gateway_api.api.dispatch import Target
from gateway_api.api.endpoints.common import problems
from gateway_api.api.operations import endpoint
from gateway_api.errors import (
    CallbackBusy,
    CallbackNotFound,
    RedeliveryTooSoon,
    WorkflowNotFound,
)
from gateway_api.temporal.webhooks import CallbackState, delivery_handle
from gateway_core.callbacks import (
    REDELIVER_UPDATE,
    REDELIVERY_TOO_SOON,
    STATE_QUERY,
    DeliveryState,
)
from gateway_core.routes import Access, Operation

router = APIRouter(tags=["workflows"])

RunId = Annotated[
    str | None,
    Query(max_length=64, description="A run of the workflow; unset: the latest run"),
]


def _not_found(target: Target) -> CallbackNotFound:
    return CallbackNotFound.hiding(target.workflow_id, target.call.caller.id)


async def _delivery(target: Target, run_id: str | None) -> WorkflowHandle[Any, Any]:
    """The delivery of the workflow's run, once the workflow is known to be the route's own
    (its type); one that does not exist, or is another type's, has none: the one 404."""
    try:
        await target.workflow()
        return await delivery_handle(
            target.bare_client, target.workflow_id, run_id, target.call.rpc_timeout
        )
    except WorkflowNotFound:
        raise _not_found(target) from None
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise _not_found(target) from None
        raise


def _too_soon(refusal: ApplicationError, target: Target) -> RedeliveryTooSoon:
    details = refusal.details[0] if refusal.details else None
    wait = details.get("retry_after_seconds") if isinstance(details, dict) else None
    if not isinstance(wait, int) or wait < 1:
        wait = max(1, round(target.call.settings.callback_redeliver_min_interval_seconds))
    return RedeliveryTooSoon(refusal.message, retry_after=wait)


@endpoint(
    router,
    Operation.CALLBACKS,
    response_model=CallbackState,
    responses=problems(401, 404, 405, 429, 503, 504),
)
async def callbacks(target: Target, run_id: RunId = None) -> CallbackState:
    rpc_timeout = target.call.rpc_timeout
    handle = await _delivery(target, run_id)
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
    if not target.call.may(target.route, Access.READ):
        raise _not_found(target)
    rpc_timeout = target.call.rpc_timeout
    handle = await _delivery(target, None)
    try:
        state = await handle.execute_update(
            REDELIVER_UPDATE, result_type=DeliveryState, rpc_timeout=rpc_timeout
        )
    except WorkflowUpdateFailedError as exc:
        if isinstance(exc.cause, ApplicationError):
            if exc.cause.type == REDELIVERY_TOO_SOON:
                raise _too_soon(exc.cause, target) from None
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

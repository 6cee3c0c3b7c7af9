"""Reading one workflow: describe, status and result.

The route comes from the workflow id (:func:`~gateway_api.api.dispatch.on_workflow`), so a workflow
of a
route in another Temporal namespace is found there, and a route that does not allow an
operation answers 405 for its workflows too.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import WorkflowExecutionDescription

from gateway_api.api.dispatch import Target
from gateway_api.api.endpoints.common import (
    STILL_RUNNING,
    problems,
    read_answer,
    still_running,
)
from gateway_api.api.operations import endpoint
from gateway_api.api.schemas import (
    PendingActivity,
    WorkflowDescription,
    WorkflowResponse,
    WorkflowStatusResponse,
    WorkflowTaskFailing,
)
from gateway_api.errors import WorkflowNotFound
from gateway_api.http.request_headers import PREFER
from gateway_api.temporal import executions
from gateway_api.temporal.health import task_failing
from gateway_core.routes import Operation

router = APIRouter(tags=["workflows"])

RunId = Annotated[
    str | None,
    Query(max_length=64, description="A run of the workflow; unset: the latest run"),
]
_READ_PROBLEMS = (401, 404, 405, 429, 503, 504)


async def _describe(target: Target, run_id: str | None = None) -> WorkflowExecutionDescription:
    """The workflow's description, if it is one its route's prefix and workflow type claim: a
    workflow of another type under the prefix was not started by the route (another program
    sharing the namespace), and answers like one that does not exist."""
    if run_id is None and target.description is not None:
        desc = target.description  # the dispatch's own, made for this request
    else:
        desc = await target.handle(run_id).describe(rpc_timeout=target.call.rpc_timeout)
        if run_id is None:
            target.call.workflow_types.remember(
                target.client.namespace, target.workflow_id, desc.workflow_type
            )
    if desc.workflow_type != target.route.spec.workflow_type:
        raise WorkflowNotFound.hiding(target.workflow_id, target.call.caller.id)
    return desc


async def _failing(
    target: Target, desc: WorkflowExecutionDescription
) -> WorkflowTaskFailing | None:
    failing = await task_failing(target.client, desc, rpc_timeout=target.call.rpc_timeout)
    return None if failing is None else WorkflowTaskFailing.model_validate(failing)


def _status(desc: WorkflowExecutionDescription) -> str:
    return desc.status.name if desc.status else "UNSPECIFIED"


@endpoint(
    router,
    Operation.DESCRIBE,
    response_model=WorkflowDescription,
    responses=problems(*_READ_PROBLEMS),
)
async def describe(target: Target, run_id: RunId = None) -> WorkflowDescription:
    desc = await _describe(target, run_id)
    raw = desc.raw_description
    client = target.client
    memo: dict[str, Any] = {
        k: v
        for k, v in (await executions.memo(client, desc)).items()
        if k != executions.MEMO_REQUEST_SHA256
    }
    return WorkflowDescription(
        workflow_id=desc.id,
        run_id=desc.run_id,
        route=target.route.name,
        workflow_type=desc.workflow_type,
        task_queue=desc.task_queue,
        status=_status(desc),
        start_time=desc.start_time,
        execution_time=desc.execution_time,
        close_time=desc.close_time,
        history_length=desc.history_length,
        pending_activities=[
            PendingActivity(
                activity_id=a.activity_id,
                activity_type=a.activity_type.name,
                state=_enum_name(a.state),
                attempt=a.attempt,
                last_failure=await executions.failure_message(client, a.last_failure)
                if a.HasField("last_failure")
                else None,
            )
            for a in raw.pending_activities
        ],
        memo=memo,
        search_attributes={
            pair.key.name: pair.value for pair in desc.typed_search_attributes.search_attributes
        },
        workflow_task_failing=await _failing(target, desc),
    )


def _enum_name(state: int) -> str:
    return PendingActivityState.Name(state).removeprefix("PENDING_ACTIVITY_STATE_")  # type: ignore[arg-type]


@endpoint(
    router,
    Operation.STATUS,
    response_model=WorkflowStatusResponse,
    # The seed's four fields, and workflow_task_failing only while it is so.
    response_model_exclude_unset=True,
    responses=problems(*_READ_PROBLEMS),
)
async def get_status(target: Target) -> WorkflowStatusResponse:
    desc = await _describe(target)
    answer = WorkflowStatusResponse(
        workflow_id=target.workflow_id,
        status=_status(desc),
        start_time=desc.start_time,
        close_time=desc.close_time,
    )
    if (failing := await _failing(target, desc)) is not None:
        answer.workflow_task_failing = failing
    return answer


@endpoint(
    router,
    Operation.RESULT,
    headers=[PREFER],
    response_model=WorkflowResponse,
    responses={**STILL_RUNNING, **problems(*_READ_PROBLEMS, 409, 500)},
)
async def get_result(
    target: Target,
    run_id: RunId = None,
    wait: Annotated[
        float | None,
        Query(
            ge=0,
            description="Seconds to wait for a running workflow (at most the API's "
            "maximum); the header `Prefer: wait=N` does the same",
        ),
    ] = None,
) -> WorkflowResponse | JSONResponse:
    call = target.call
    handle = await target.workflow(run_id)
    with call.waiting():
        done, result = await executions.wait_result(
            handle, call.wait(call.settings.result_wait_seconds, query=wait)
        )
    if not done:
        return still_running(call, target.workflow_id, run_id)
    answer = read_answer(call, target.route, result, "result")
    return WorkflowResponse(
        workflow_id=target.workflow_id,
        status="completed",
        result=answer.value,
        result_type=answer.protobuf_type,
    )

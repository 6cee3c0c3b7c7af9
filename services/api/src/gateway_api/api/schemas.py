"""Response bodies, shaped exactly as the seed guide documents them.

A result (or a query's or update's answer) that is a protobuf message also names its type,
``result_type``: a member only such answers have, so every other body keeps the seed's shape.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

_RESULT_TYPE_DESCRIPTION = (
    "The protobuf message type of `result` (its proto JSON), when the workflow answered one "
    "(`json/protobuf` or `binary/protobuf`); absent otherwise"
)


def _result_type() -> Any:
    return Field(
        default=None,
        description=_RESULT_TYPE_DESCRIPTION,
        examples=["gateway.examples.v1.Receipt"],
        exclude_if=lambda value: value is None,
    )


class HealthResponse(BaseModel):
    service: str = Field(examples=["Temporal Workflow API"])
    status: str = Field(examples=["running"])
    temporal_connected: bool
    routes_version: str | None = Field(
        default=None, description="Version of the route table in use; null before one loads"
    )
    authentication: list[str] = Field(
        default_factory=list,
        description="The credentials accepted: 'api-key', 'jwt', or 'disabled' (development)",
        examples=[["api-key", "jwt"]],
    )
    warning: str | None = Field(
        default=None, description="Set (loudly) when authentication is disabled"
    )


class Readiness(BaseModel):
    status: str = Field(examples=["ready", "not ready"])
    temporal_connected: bool
    routes_loaded: bool


class WorkflowResponse(BaseModel):
    """A started or finished workflow."""

    workflow_id: str = Field(examples=["shopping-workflow-abc123"])
    status: str = Field(
        description="'completed', 'started', or 'running' (202: still running, poll Location)",
        examples=["completed"],
    )
    result: Any = Field(default=None, examples=["Ordered 5 Apples...Ordered 3 Bananas..."])
    result_type: str | None = _result_type()


class WorkflowTaskFailing(BaseModel):
    """A workflow whose workflow task keeps failing: it shows RUNNING, and makes no progress
    until its code (or its worker) is fixed."""

    attempt: int = Field(description="The workflow task's attempt, counting the failed ones")
    cause: str | None = Field(
        default=None,
        description="Temporal's cause of the recorded failure",
        examples=["WORKFLOW_WORKER_UNHANDLED_FAILURE", "NON_DETERMINISTIC_ERROR"],
    )
    failure_type: str | None = None
    message: str | None = None


class WorkflowStatusResponse(BaseModel):
    workflow_id: str
    status: str = Field(description="Temporal's execution status name", examples=["COMPLETED"])
    start_time: datetime | None = None
    close_time: datetime | None = None
    workflow_task_failing: WorkflowTaskFailing | None = Field(
        default=None, description="Present only while the workflow task keeps failing"
    )


class Problem(BaseModel):
    """RFC 9457 problem details (``application/problem+json``)."""

    type: str
    title: str
    status: int
    code: str = Field(description="Stable machine-readable error code")
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = None
    workflow_id: str | None = None


class PendingActivity(BaseModel):
    activity_id: str
    activity_type: str
    state: str = Field(examples=["SCHEDULED", "STARTED"])
    attempt: int
    last_failure: str | None = Field(default=None, description="The last attempt's error")


class WorkflowDescription(BaseModel):
    """``GET /workflows/{id}``: what Temporal knows about the workflow's latest run."""

    workflow_id: str
    run_id: str
    route: str = Field(description="The route whose id prefix the workflow id has")
    workflow_type: str
    task_queue: str
    status: str = Field(description="Temporal's execution status name", examples=["RUNNING"])
    start_time: datetime | None = None
    execution_time: datetime | None = None
    close_time: datetime | None = None
    history_length: int
    pending_activities: list[PendingActivity] = Field(default_factory=list)
    memo: dict[str, Any] = Field(default_factory=dict)
    search_attributes: dict[str, Any] = Field(default_factory=dict)
    workflow_task_failing: WorkflowTaskFailing | None = Field(
        default=None, description="Set while the workflow task keeps failing"
    )


class SignalResponse(BaseModel):
    workflow_id: str
    signal: str
    status: str = Field(description="'signaled': recorded in the workflow's history")


class QueryResponse(BaseModel):
    workflow_id: str
    query: str
    result: Any = None
    result_type: str | None = _result_type()


class UpdateResponse(BaseModel):
    workflow_id: str
    update: str
    update_id: str = Field(description="The Idempotency-Key when one was sent")
    status: str = Field(description="'completed', or 'running' (202: poll Location)")
    result: Any = None
    result_type: str | None = _result_type()


class ControlResponse(BaseModel):
    workflow_id: str
    status: str = Field(examples=["cancel-requested", "terminated"])


class TerminateRequest(BaseModel):
    model_config = {"extra": "forbid"}

    reason: str | None = Field(default=None, max_length=1000, description="Recorded in history")


class WorkflowSummary(BaseModel):
    workflow_id: str
    run_id: str
    route: str | None
    workflow_type: str
    status: str
    start_time: datetime | None = None
    close_time: datetime | None = None


class WorkflowList(BaseModel):
    workflows: list[WorkflowSummary]
    next_page_token: str | None = Field(
        default=None, description="Pass as `page_token` for the next page; null on the last"
    )


class WorkflowCount(BaseModel):
    count: int

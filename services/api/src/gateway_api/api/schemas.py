"""Response bodies, shaped exactly as the seed guide documents them.

A result (or a query's or update's answer) that is a protobuf message also names its type,
``result_type``: a member only such answers have, so every other body keeps the seed's shape.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, model_validator

from gateway_core.schedules import Moment, OverlapPolicy

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
    routes_current: bool = Field(
        description="false while the route table's source cannot be read: the last good "
        "table is served"
    )
    routes_source_error: str | None = None


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


# -- Schedules ---------------------------------------------------------------------------------


class ScheduleIntervalView(BaseModel):
    every_seconds: int
    offset_seconds: int = 0


class ScheduleSpecView(BaseModel):
    """When a schedule runs, as Temporal holds it: each calendar Temporal compiled is shown as
    a cron expression (names as numbers: `MON-FRI` is `1-5`)."""

    cron_expressions: list[str] = Field(default_factory=list, examples=[["0 3 * * *"]])
    intervals: list[ScheduleIntervalView] = Field(default_factory=list)
    time_zone: str | None = Field(default=None, examples=["Europe/Paris"])
    jitter_seconds: int | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None


class SchedulePolicyView(BaseModel):
    overlap: str = Field(
        description="Skip, BufferOne, BufferAll, CancelOther, TerminateOther or AllowAll",
        examples=["Skip"],
    )
    catchup_window_seconds: int | None = None
    pause_on_failure: bool = False


class ScheduleRun(BaseModel):
    """One workflow a schedule started: readable at `/workflows/{workflow_id}`."""

    workflow_id: str = Field(examples=["order-3f0c….nightly-2026-12-07T03:00:00Z"])
    run_id: str
    scheduled_at: datetime | None = None
    started_at: datetime | None = None


class ScheduleDescriptionResponse(BaseModel):
    """`GET /schedules/{id}`: the schedule as Temporal holds it; its `ETag` header is what
    `If-Match` takes to update it."""

    schedule_id: str
    route: str = Field(description="The route whose id prefix the schedule id has")
    workflow_type: str
    task_queue: str
    input: Any = Field(default=None, description="What each run starts the workflow with")
    spec: ScheduleSpecView
    policy: SchedulePolicyView
    paused: bool
    note: str | None = Field(default=None, description="Why it was last paused or unpaused")
    next_action_times: list[datetime] = Field(default_factory=list)
    recent_actions: list[ScheduleRun] = Field(
        default_factory=list, description="The latest runs it started (up to ten), oldest first"
    )
    running_workflows: list[str] = Field(
        default_factory=list, description="The ids of the workflows it started that still run"
    )
    action_count: int = Field(default=0, description="Runs started, triggers and backfills too")
    missed_catchup_window: int = Field(
        default=0,
        description="Runs not started because they were due longer ago than the catch-up window",
    )
    overlap_skipped: int = Field(
        default=0, description="Runs not started because the previous one still ran (Skip)"
    )
    created_at: datetime | None = None
    updated_at: datetime | None = None
    created_by: str | None = Field(default=None, description="The principal that created it")
    managed_by: str | None = Field(
        default=None,
        description="The WorkflowSchedule resource that owns it, if any: change that instead",
    )


class ScheduleSummary(BaseModel):
    schedule_id: str
    route: str
    workflow_type: str
    paused: bool
    note: str | None = None
    spec: ScheduleSpecView
    next_action_times: list[datetime] = Field(default_factory=list)
    recent_actions: list[ScheduleRun] = Field(default_factory=list)


class ScheduleList(BaseModel):
    schedules: list[ScheduleSummary]
    next_page_token: str | None = Field(
        default=None,
        description="Pass as `page_token` for the next page; null on the last. A page may hold "
        "fewer schedules than `page_size` (even none) before the last one",
    )


class ScheduleStateResponse(BaseModel):
    schedule_id: str
    paused: bool
    note: str


class ScheduleActionResponse(BaseModel):
    schedule_id: str
    status: str = Field(examples=["triggered", "backfilling", "deleted"])


class ScheduleNoteRequest(BaseModel):
    model_config = {"extra": "forbid"}

    note: str | None = Field(
        default=None, max_length=1000, description="Why; shown by a description"
    )


class ScheduleTriggerRequest(BaseModel):
    model_config = {"extra": "forbid"}

    overlap: OverlapPolicy | None = Field(
        default=None, description="Unset: the schedule's own overlap policy"
    )


class ScheduleBackfillRequest(BaseModel):
    """Run the actions the schedule's spec names between two times, as if it had been running
    then (runs already started are not repeated by Temporal's catch-up)."""

    model_config = {"extra": "forbid"}

    start_time: Moment = Field(description="RFC 3339, with its offset")
    end_time: Moment = Field(description="RFC 3339, with its offset; after start_time")
    overlap: OverlapPolicy | None = Field(
        default=None,
        description="Unset: AllowAll, so every run of the range starts (Temporal's default for "
        "a backfill)",
    )

    @model_validator(mode="after")
    def _ordered(self) -> ScheduleBackfillRequest:
        if self.start_time >= self.end_time:
            raise ValueError("start_time must be before end_time")
        return self

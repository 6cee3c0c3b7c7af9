"""Whether a workflow can make progress: a worker polls its task queue, its workflow task is not
failing over and over.

Temporal shows neither on its own in the answers a caller reads. A route whose task queue has no
poller (a typo, every worker down) starts workflows that nothing runs; a workflow whose workflow
task keeps failing (a TypeScript workflow throwing a plain ``Error``, a non-determinism error, a
workflow type no worker registered) shows RUNNING for ever. :func:`task_failing` reads the second
from the description the caller's request makes anyway (the pending workflow task's attempt),
and only then the history, for the failure Temporal recorded; :class:`Pollers` answers the first
from DescribeTaskQueue, cached per task queue, for the routes that opt in to refuse starts
without a worker.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from temporalio.api.enums.v1 import EventType, TaskQueueType, WorkflowTaskFailedCause
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    DescribeTaskQueueRequest,
    GetWorkflowExecutionHistoryReverseRequest,
)
from temporalio.client import Client, WorkflowExecutionDescription
from temporalio.service import RPCError

from gateway_core.failures import describe

log = structlog.get_logger(__name__)

POLLER_FRESH = timedelta(minutes=2)
"""A poller seen within this is a worker: an idle worker's long poll returns and is renewed at
least every minute."""
POLLERS_TTL_SECONDS = 5.0
"""How long one DescribeTaskQueue answer stands for every start on its queue."""
_REVERSE_PAGE = 50


async def task_failing(
    client: Client, desc: WorkflowExecutionDescription, *, rpc_timeout: timedelta
) -> dict[str, Any] | None:
    """``{"attempt", "cause", "failure_type", "message"}`` when the workflow's workflow task has
    failed and is being retried, else None. Only a failing task costs a call: the history is
    read backwards to the last WorkflowTaskFailed (Temporal records the first failure of a run
    of attempts; the later ones only raise the attempt)."""
    raw = desc.raw_description
    if not raw.HasField("pending_workflow_task") or raw.pending_workflow_task.attempt < 2:
        return None
    failing: dict[str, Any] = {
        "attempt": raw.pending_workflow_task.attempt,
        "cause": None,
        "failure_type": None,
        "message": None,
    }
    request = GetWorkflowExecutionHistoryReverseRequest(
        namespace=client.namespace,
        execution=raw.workflow_execution_info.execution,
        maximum_page_size=_REVERSE_PAGE,
    )
    try:
        history = await client.workflow_service.get_workflow_execution_history_reverse(
            request, timeout=rpc_timeout
        )
    except RPCError as exc:  # the description stands without the failure's text
        log.info("workflow task failure unread", grpc_status=exc.status.name)
        return failing
    for event in history.history.events:
        if event.event_type != EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
            continue
        attributes = event.workflow_task_failed_event_attributes
        failure = describe(await client.data_converter.decode_failure(attributes.failure))
        cause = WorkflowTaskFailedCause.Name(attributes.cause)
        failing.update(
            cause=cause.removeprefix("WORKFLOW_TASK_FAILED_CAUSE_"),
            failure_type=failure["type"],
            message=failure["message"],
        )
        break
    return failing


class Pollers:
    """Whether a worker polls each task queue, as Temporal last said (one per API process)."""

    def __init__(self, ttl: float = POLLERS_TTL_SECONDS) -> None:
        self._ttl = ttl
        self._seen: dict[tuple[str, str], tuple[float, bool]] = {}

    async def available(self, client: Client, task_queue: str, *, rpc_timeout: timedelta) -> bool:
        """True when a worker polled ``task_queue`` recently; True too when Temporal cannot
        say (the start that follows fails on its own if Temporal is down)."""
        key = (client.namespace, task_queue)
        now = time.monotonic()
        cached = self._seen.get(key)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        request = DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
        try:
            answer = await client.workflow_service.describe_task_queue(request, timeout=rpc_timeout)
        except RPCError as exc:
            log.info("task queue pollers unknown", task_queue=task_queue, error=exc.message)
            return True
        oldest = datetime.now(UTC) - POLLER_FRESH
        found = any(p.last_access_time.ToDatetime(tzinfo=UTC) >= oldest for p in answer.pollers)
        self._seen[key] = (now, found)
        return found

"""Which task queues have workers: Temporal's DescribeTaskQueue, cached per queue.

A route whose task queue no worker polls (a typo, or every worker down) still has its starts
accepted by Temporal, and nothing runs them. The operator asks Temporal, through its standard
environment (:func:`gateway_core.temporal.connect_config`, as the API and the worker do), which
workflow pollers each (namespace, task queue) has had, and the planner turns the answer into
each route's ``WorkerAvailable`` condition.

Temporal lists a poller for minutes after its last poll (the matching service keeps poller
history for five), and an idle worker's poll is a long poll that the server ends after about
a minute, so a live worker's newest poll can be almost a minute old. A poller counts as seen
when it polled within ``fresh_seconds`` (70 s by default): a worker that stops is reported
gone within about that long after its last poll, and an idle one never is.

One call per distinct queue, not per route: 2,000 routes on 5 queues cost 5 calls, each answer
kept ``max_age`` seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from temporalio.api.enums.v1 import TaskQueueKind, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from gateway_operator import metrics
from gateway_operator.planner import WorkerObservation

log = structlog.get_logger(__name__)

Queue = tuple[str, str]


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class WorkerChecker:
    def __init__(
        self,
        connect: Mapping[str, Any],
        *,
        fresh_seconds: float = 70.0,
        max_age: float = 30.0,
        timeout: float = 5.0,
    ) -> None:
        self._connect = dict(connect)
        self.default_namespace = str(self._connect.get("namespace", "default"))
        self._fresh = timedelta(seconds=fresh_seconds)
        self._max_age = max_age
        self._timeout = timedelta(seconds=timeout)
        self._client: Client | None = None
        self.seen: dict[Queue, WorkerObservation] = {}
        self._checked: dict[Queue, float] = {}  # monotonic time of each queue's answer

    async def _connected(self) -> Client:
        if self._client is None:
            self._client = await asyncio.wait_for(
                Client.connect(**self._connect), self._timeout.total_seconds()
            )
        return self._client

    async def refresh(self, queues: Iterable[Queue], *, force: bool = False) -> bool:
        """Ask about each queue whose answer is older than ``max_age`` (every one if
        ``force``); True when any answer changed."""
        now = time.monotonic()
        wanted = set(queues)
        for gone in self.seen.keys() - wanted:
            del self.seen[gone]
            self._checked.pop(gone, None)
        due = sorted(
            q for q in wanted if force or now - self._checked.get(q, -1e9) >= self._max_age
        )
        if not due:
            return False
        answers = await asyncio.gather(*(self._describe(q) for q in due))
        changed = False
        for queue, answer in zip(due, answers, strict=True):
            before = self.seen.get(queue)
            if before is None or (before.reachable, before.pollers, before.error) != (
                answer.reachable,
                answer.pollers,
                answer.error,
            ):
                changed = True
            self.seen[queue] = answer
            self._checked[queue] = now
        return changed

    async def _describe(self, queue: Queue) -> WorkerObservation:
        namespace, name = queue
        try:
            client = await self._connected()
            answer = await client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=namespace,
                    task_queue=TaskQueue(name=name, kind=TaskQueueKind.TASK_QUEUE_KIND_NORMAL),
                    task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
                ),
                timeout=self._timeout,
            )
        except Exception as exc:  # unreachable, refused, or no such namespace: say so
            metrics.WORKER_CHECKS.labels(result="error").inc()
            log.warning("cannot describe task queue", namespace=namespace, task_queue=name,
                        error=str(exc))  # fmt: skip
            if isinstance(exc, TimeoutError | OSError):
                self._client = None  # connect again next time
            return WorkerObservation(reachable=False, error=str(exc) or type(exc).__name__)
        metrics.WORKER_CHECKS.labels(result="ok").inc()
        cutoff = datetime.now(UTC) - self._fresh
        polls = [p.last_access_time.ToDatetime(UTC) for p in answer.pollers]
        recent = [t for t in polls if t >= cutoff]
        return WorkerObservation(
            reachable=True,
            pollers=len(recent),
            newest_poll=_rfc3339(max(recent)) if recent else None,
        )

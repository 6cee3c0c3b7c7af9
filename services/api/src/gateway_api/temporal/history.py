"""Following a workflow run's history for event streams, at the cost of what is new.

An event stream resumes after the ``Last-Event-ID`` its client has; Temporal's history reads
only forwards from the first event, so a stream that reopens on a long history would re-read all
of it, payloads and all, each time (3,002 events and 6 MB for 175 bytes of news). Here:

- a stream catches up by reading the history **backwards** from its end down to the event after
  the one its client has (``GetWorkflowExecutionHistoryReverse``): it reads only what the client
  lacks;
- new events are found by one :class:`Follower` per run and process, shared by every stream
  watching it: it asks for the run's length (a describe, no payloads) every
  :data:`POLL_SECONDS`, reads backwards only the events past the last it has, and keeps the most
  recent ones for its watchers. However many watch a run, Temporal sees one poll.

A follower stops once its last watcher has gone, or its run has closed and been read to the end.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import timedelta

import structlog
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.workflowservice.v1 import (
    DescribeWorkflowExecutionRequest,
    GetWorkflowExecutionHistoryReverseRequest,
)
from temporalio.client import Client

log = structlog.get_logger(__name__)

POLL_SECONDS = 1.0
"""How often a followed run's length is asked for: the delay of a new event on a stream."""
KEPT_EVENTS = 1000
"""New events a follower keeps for its watchers; one that falls further behind catches up by
itself."""
_PAGE = 250
_RPC_TIMEOUT = timedelta(seconds=10)


async def read_back(
    client: Client, workflow_id: str, run_id: str, after: int, *, upto: int | None = None
) -> list[HistoryEvent]:
    """The run's events after event ``after`` (up to ``upto``, if given), oldest first, read
    backwards from the history's end so nothing older than ``after`` is read."""
    execution = WorkflowExecution(workflow_id=workflow_id, run_id=run_id)
    found: list[HistoryEvent] = []
    token = b""
    while True:
        page = await client.workflow_service.get_workflow_execution_history_reverse(
            GetWorkflowExecutionHistoryReverseRequest(
                namespace=client.namespace,
                execution=execution,
                maximum_page_size=_PAGE,
                next_page_token=token,
            ),
            timeout=_RPC_TIMEOUT,
        )
        for event in page.history.events:
            if event.event_id <= after:
                found.reverse()
                return found
            if upto is None or event.event_id <= upto:
                found.append(event)
        token = page.next_page_token
        if not token:
            found.reverse()
            return found


class Follower:
    """One run's new events, found by one poll, for every stream watching the run."""

    def __init__(
        self, client: Client, workflow_id: str, run_id: str, *, poll: float, after: int
    ) -> None:
        self._client, self.workflow_id, self.run_id = client, workflow_id, run_id
        self._poll = poll
        self.events: deque[HistoryEvent] = deque(maxlen=KEPT_EVENTS)
        self.last = after
        """The last event read: at first, the one its first watcher had caught up to (the
        follower reads only what comes after)."""
        self.closed = False
        """The run has closed and every event has been read."""
        self.watchers = 0
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        execution = WorkflowExecution(workflow_id=self.workflow_id, run_id=self.run_id)
        request = DescribeWorkflowExecutionRequest(
            namespace=self._client.namespace, execution=execution
        )
        while not self.closed:
            try:
                desc = await self._client.workflow_service.describe_workflow_execution(
                    request, timeout=_RPC_TIMEOUT
                )
                info = desc.workflow_execution_info
                length = info.history_length
                if length > self.last:
                    new = await read_back(
                        self._client, self.workflow_id, self.run_id, self.last, upto=length
                    )
                    self.events.extend(new)
                    self.last = max(self.last, new[-1].event_id if new else length)
                if info.HasField("close_time") and self.last >= length:
                    self.closed = True
                async with self._changed:
                    self._changed.notify_all()
            except Exception as exc:  # Temporal away a moment: the next poll tries again
                log.info("history poll failed", workflow_id=self.workflow_id, error=str(exc))
            if not self.closed:
                await asyncio.sleep(self._poll)

    async def changed(self, within: float) -> None:
        """Return once new events arrived (or the run closed), or after ``within`` s."""
        async with self._changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), within)


class Followers:
    """The followers of this process, one per run being watched."""

    def __init__(self, poll: float = POLL_SECONDS) -> None:
        self._poll = poll
        self._by_run: dict[tuple[str, str, str], Follower] = {}

    @contextlib.asynccontextmanager
    async def watching(
        self, client: Client, workflow_id: str, run_id: str, *, after: int
    ) -> AsyncIterator[Follower]:
        """The run's follower, shared while anyone watches it (made, if need be, to read what
        comes after event ``after``, which its first watcher has)."""
        key = (client.namespace, workflow_id, run_id)
        follower = self._by_run.get(key)
        if follower is None:
            follower = Follower(client, workflow_id, run_id, poll=self._poll, after=after)
            self._by_run[key] = follower
            follower.start()
        follower.watchers += 1
        try:
            yield follower
        finally:
            follower.watchers -= 1
            if follower.watchers == 0 and self._by_run.get(key) is follower:
                del self._by_run[key]
                await follower.stop()

    def __len__(self) -> int:
        return len(self._by_run)


async def stream(
    followers: Followers, client: Client, workflow_id: str, run_id: str, after: int
) -> AsyncGenerator[list[HistoryEvent], None]:
    """Batches of the run's events after event ``after``, oldest first, until the run has
    closed and all of it was given: first what the caller lacks (read backwards), then what the
    shared follower finds. An empty batch at least every few seconds while nothing happens, so
    the caller can keep time between batches; it stops iterating when it has had enough."""
    caught = await read_back(client, workflow_id, run_id, after)
    if caught:
        yield caught
        after = caught[-1].event_id
    async with followers.watching(client, workflow_id, run_id, after=after) as follower:
        while True:
            new = [e for e in follower.events if e.event_id > after]
            if (new and new[0].event_id > after + 1) or (not new and follower.last > after):
                # Fell behind what the follower keeps: read the gap alone.
                new = await read_back(client, workflow_id, run_id, after, upto=follower.last)
            yield new
            if new:
                after = new[-1].event_id
            if follower.closed and after >= follower.last:
                return
            await follower.changed(POLL_SECONDS * 2)

"""A workflow's progress as server-sent events (``text/event-stream``), until it closes.

The stream follows the run that is the workflow's latest when it opens (or ``?run_id=``) by
long-polling its history. Each history event is one ``history`` message whose ``id`` is the
event id; ``status`` messages say when the status this stream has announced changes (to
``RUNNING``, then to how it closed); after the close event an ``end`` message says there is no
more, and the stream closes. Messages carry no payloads: only event types, times and names
(activity types, signals, updates, timers).

A connection lives at most ``events_max_seconds``; it then ends without ``end``, and the client
reconnects with ``Last-Event-ID`` (an ``EventSource`` does so by itself) and gets only later
events. The header wins over ``?last_event_id=``: an ``EventSource`` reconnects to the URL it
was opened with, so the query keeps the first position while the header has the latest.

Before the first byte, the workflow must exist (else the usual 404) and the caller must have
fewer than ``events_max_streams`` streams open in this process (else 429): every failure is a
problem document, never an empty stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Header, Query, Request
from sse_starlette import EventSourceResponse, JSONServerSentEvent, ServerSentEvent
from starlette.types import Receive, Scope, Send
from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause
from temporalio.api.history.v1 import HistoryEvent
from temporalio.service import RPCError

from gateway_api.api.deps import Streams, bearer_token, services
from gateway_api.api.dispatch import Target
from gateway_api.api.endpoints.common import problems
from gateway_api.api.endpoints.reads import RunId
from gateway_api.api.operations import endpoint
from gateway_api.errors import ApiError
from gateway_api.security.principals import allowed
from gateway_api.temporal import history
from gateway_core.failures import author_type, describe
from gateway_core.routes import Access, Operation

log = structlog.get_logger(__name__)
router = APIRouter(tags=["workflows"])

RECONNECT_MILLISECONDS = 3000
"""The ``retry:`` a client waits before it reconnects: soon, since it loses nothing."""
RECHECK_SECONDS = 30.0
"""How often an open stream asks whether its caller's credentials still hold (and at once when
the key file is reloaded)."""

_CLOSED_BY = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: "COMPLETED",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED: "FAILED",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT: "TIMED_OUT",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED: "CANCELED",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED: "TERMINATED",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW: "CONTINUED_AS_NEW",
}

LastEventIdHeader = Annotated[
    int | None,
    Header(alias="Last-Event-ID", ge=0, description="Resume after this event id"),
]
LastEventIdQuery = Annotated[
    int | None,
    Query(ge=0, description="Resume after this event id, for clients that cannot set headers"),
]


def event_type_name(event_type: int) -> str:
    """``EVENT_TYPE_WORKFLOW_EXECUTION_STARTED`` as ``WorkflowExecutionStarted``."""
    name = EventType.Name(event_type).removeprefix("EVENT_TYPE_")  # type: ignore[arg-type]
    return "".join(part.capitalize() for part in name.split("_"))


def _failure_type(failure: Any) -> str | None:
    """An activity failure's type as its author named it (the type is never encoded)."""
    if not failure.HasField("application_failure_info"):
        return None
    return author_type(failure.application_failure_info.type)


class Progress:
    """What a run's history has said so far: its status, and the names later events refer
    to by event id (an activity's completion names only its scheduled event)."""

    def __init__(self, status: str | None = None) -> None:
        self.status = status
        """What the stream has seen so far (at first, the run's status when it opened)."""
        self._activities: dict[int, str] = {}
        self._updates: dict[str, str] = {}

    def see(self, event: HistoryEvent) -> dict[str, Any]:
        """Take ``event`` into account; its ``history`` message."""
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            self.status = "RUNNING"
        self.status = _CLOSED_BY.get(event.event_type, self.status)
        return {
            "event_id": event.event_id,
            "event_type": event_type_name(event.event_type),
            "time": event.event_time.ToDatetime(tzinfo=UTC).isoformat(),
            **{k: v for k, v in self._details(event).items() if v not in (None, "")},
        }

    def _details(self, event: HistoryEvent) -> dict[str, Any]:
        kind = event.WhichOneof("attributes")
        if kind is None:
            return {}
        a = getattr(event, kind)
        match kind:
            case "workflow_execution_started_event_attributes":
                return {"workflow_type": a.workflow_type.name, "task_queue": a.task_queue.name,
                        "attempt": a.attempt}  # fmt: skip
            case "activity_task_scheduled_event_attributes":
                self._activities[event.event_id] = a.activity_type.name
                return {"activity_type": a.activity_type.name, "activity_id": a.activity_id}
            case "workflow_execution_signaled_event_attributes":
                return {"signal_name": a.signal_name}
            case (
                "timer_started_event_attributes"
                | "timer_fired_event_attributes"
                | ("timer_canceled_event_attributes")
            ):
                return {"timer_id": a.timer_id}
            case "workflow_execution_update_admitted_event_attributes":
                return {"update_name": a.request.input.name, "update_id": a.request.meta.update_id}
            case "workflow_execution_update_accepted_event_attributes":
                request = a.accepted_request
                self._updates[request.meta.update_id] = request.input.name
                return {"update_name": request.input.name, "update_id": request.meta.update_id}
            case "workflow_execution_update_rejected_event_attributes":
                request = a.rejected_request
                return {"update_name": request.input.name, "update_id": request.meta.update_id}
            case "workflow_execution_update_completed_event_attributes":
                return {"update_name": self._updates.get(a.meta.update_id),
                        "update_id": a.meta.update_id}  # fmt: skip
            case "workflow_task_failed_event_attributes":
                cause = WorkflowTaskFailedCause.Name(a.cause).removeprefix(
                    "WORKFLOW_TASK_FAILED_CAUSE_"
                )
                return {"cause": cause, "failure_type": _failure_type(a.failure)}
            case "marker_recorded_event_attributes":
                return {"marker_name": a.marker_name}
            case "workflow_execution_continued_as_new_event_attributes":
                return {"new_run_id": a.new_execution_run_id}
            case _ if kind.startswith("child_workflow_execution_") or kind.startswith(
                "start_child_workflow_execution_"
            ):
                return {"workflow_type": a.workflow_type.name}
            case _ if kind.startswith("activity_task_"):
                details: dict[str, Any] = {
                    "activity_type": self._activities.get(a.scheduled_event_id),
                    "scheduled_event_id": a.scheduled_event_id,
                }
                if kind == "activity_task_started_event_attributes":
                    details["attempt"] = a.attempt
                if kind == "activity_task_failed_event_attributes":
                    details["failure_type"] = _failure_type(a.failure)
                return details
        return {}


async def follow(
    target: Target,
    run_id: str,
    status: str,
    after: int,
    *,
    still_allowed: Callable[[], Awaitable[bool]],
) -> AsyncIterator[ServerSentEvent]:
    """The messages of one connection: the run's events after event ``after`` (``status``: the
    run's when the stream opened), for at most ``events_max_seconds``, while the caller's
    credentials still hold (asked again every :data:`RECHECK_SECONDS` and whenever the key file
    is reloaded)."""
    yield ServerSentEvent(retry=RECONNECT_MILLISECONDS)
    call = target.call
    # A resumed stream starts after the run started: RUNNING until it sees how it closed.
    progress = Progress("RUNNING" if after > 0 else None)
    announced: str | None = None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + call.settings.events_max_seconds
    recheck = loop.time() + RECHECK_SECONDS
    keys = _key_set(call)
    batches = history.stream(call.followers, target.client, target.workflow_id, run_id, after)
    try:
        async for batch in batches:
            for event in batch:
                for message in await _messages(target, progress, event, announced):
                    if message.event == "status":
                        announced = progress.status
                    yield message
                    if message.event == "end":
                        return
            now = loop.time()
            if now >= deadline:
                yield ServerSentEvent(
                    comment="the stream's time is up: reconnect with Last-Event-ID"
                )
                return
            if now >= recheck or _key_set(call) is not keys:
                recheck, keys = now + RECHECK_SECONDS, _key_set(call)
                if not await still_allowed():
                    yield ServerSentEvent(comment="the credentials no longer hold: closing")
                    return
        # Resumed past the close event: nothing to repeat, only how it closed.
        if status in _CLOSED_BY.values():
            yield JSONServerSentEvent({"status": status}, event="status")
            yield JSONServerSentEvent({"status": status}, event="end")
    except RPCError as exc:
        # The status line has gone out: all the client can be told is that the stream ended
        # early, and it reconnects with Last-Event-ID.
        log.warning("history stream interrupted", grpc_status=exc.status.name,
                    error=exc.message)  # fmt: skip
    finally:
        await batches.aclose()


def _key_set(call: Any) -> object:
    """The API key set in use: a new one (the key file reloaded) means asking again."""
    authenticator = services(call.request).authenticator
    return authenticator.keys.keys if authenticator.keys is not None else None


async def _messages(
    target: Target, progress: Progress, event: HistoryEvent, announced: str | None
) -> list[ServerSentEvent]:
    """What one history event says: its ``history`` message, a ``status`` when the status
    changed (or the workflow task is failing), an ``end`` when the run closed."""
    message = progress.see(event)
    out: list[ServerSentEvent] = []
    failure = None
    if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
        # Decoded as a result is (the route's codec, the gateway's converter): what the
        # workflow's author meant, as every other answer says it.
        raw = event.workflow_execution_failed_event_attributes.failure
        failure = describe(await target.client.data_converter.decode_failure(raw))
        message["failure_type"] = failure["type"]
    out.append(JSONServerSentEvent(message, event="history", id=str(event.event_id)))
    if progress.status != announced:
        out.append(JSONServerSentEvent({"status": progress.status}, event="status"))
    if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
        # Still RUNNING, and stuck until its code or worker is fixed: say so.
        task = event.workflow_task_failed_event_attributes
        stuck = describe(await target.client.data_converter.decode_failure(task.failure))
        failing = {"cause": message.get("cause"), "failure_type": stuck["type"],
                   "message": stuck["message"]}  # fmt: skip
        out.append(
            JSONServerSentEvent(
                {"status": progress.status, "workflow_task_failing": failing}, event="status"
            )
        )
    if event.event_type in _CLOSED_BY:
        end: dict[str, Any] = {"status": progress.status}
        if failure is not None:
            end["failure"] = failure
        out.append(JSONServerSentEvent(end, event="end"))
    return out


class EventStream(EventSourceResponse):
    """An event stream that calls ``on_close`` once it is over, however it ended."""

    def __init__(
        self, content: AsyncIterator[ServerSentEvent], *, on_close: Callable[[], None], ping: float
    ) -> None:
        super().__init__(
            content, ping=ping, ping_message_factory=lambda: ServerSentEvent(comment="keep-alive")
        )
        self._on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._on_close()


@endpoint(
    router,
    Operation.EVENTS,
    response_class=EventSourceResponse,
    responses={
        200: {
            "description": "`history`, `status` and `end` messages; JSON in each `data` field.",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        **problems(401, 404, 405, 422, 429, 503, 504),
    },
)
async def events(
    target: Target,
    streams: Streams,
    run_id: RunId = None,
    last_event_id: LastEventIdQuery = None,
    last_event_id_header: LastEventIdHeader = None,
) -> EventSourceResponse:
    call = target.call
    # Asked before the stream opens, so a workflow that does not exist is a 404.
    handle = await target.workflow(run_id)  # the route's own type, or the one 404
    description = (
        target.description
        if run_id is None and target.description is not None
        else await handle.describe(rpc_timeout=call.rpc_timeout)
    )
    after = last_event_id_header if last_event_id_header is not None else last_event_id
    caller = call.caller.id
    status = description.status.name if description.status else "UNSPECIFIED"
    response = EventStream(
        follow(
            target, description.run_id, status, after or 0,
            still_allowed=_credentials_of(call.request, target),
        ),
        on_close=lambda: streams.close(caller),
        ping=call.settings.events_heartbeat_seconds,
    )  # fmt: skip
    streams.open(caller)  # last: from here on, the response's end closes it
    return response


def _credentials_of(request: Request, target: Target) -> Callable[[], Awaitable[bool]]:
    """Whether the credentials this stream was opened with still pass, and still let their
    holder read the route's workflows: a revoked key, an expired token or a withdrawn grant
    ends the stream."""
    headers = request.headers
    authorization = headers.get("authorization")
    bearer, api_key = bearer_token(authorization), headers.get("x-api-key") or None
    route = target.route

    async def still_allowed() -> bool:
        shared = services(request)
        try:
            principal = await shared.authenticator.authenticate(
                bearer, api_key, authorization=authorization is not None
            )
        except ApiError:
            return False
        return allowed(principal, route, Access.READ, shared.settings.admin_scope)

    return still_allowed

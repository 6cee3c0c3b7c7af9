"""The operation table: every HTTP operation the gateway serves, as data, in one place.

A row says what a route's ``operations`` list calls the operation, the access it needs from the
route's ``authorization`` block, its HTTP method and path, what it addresses (a route, a
workflow by id, or the caller's routes), and a summary. Everything else reads the rows or is
generated from them and checked by a test: the API's router and its authorization checks, the
OpenAPI document, the WorkflowRoute CRD's enum, the docs' tables (``make docs``) and the Python
client's calls.

Adding an operation is its row here, its member in :class:`Operation`, its handler (registered
with ``@endpoint`` in ``gateway_api.api.endpoints``), its Temporal call and its tests. A new
operation is opt-in: :data:`DEFAULT_OPERATIONS` is frozen, so a deploy never opens an operation
on a route that did not ask for it.

A family of operations a route author turns on as one may share one switch: each row of the
schedule family names ``schedule`` as the operation that ``enables`` it, so a route lists
``schedule`` once and serves all nine (create, list, describe, update, pause, unpause, trigger,
backfill, delete), while the router, the authorization check, OpenAPI, the docs and the client
still have a row per HTTP action. Only an operation that enables itself may be listed in a
route's ``operations`` (:data:`SWITCHES`).

Paths name a route (``{route_path}``: the starts, and creating a schedule), a workflow
(``{workflow_id}``), or a schedule (``{schedule_id}``). Neither id ever contains ``/``: the
gateway makes ids from its own characters, so an id is always a single path segment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class Operation(StrEnum):
    """The HTTP operations a route may allow (:data:`OPERATIONS` gives each its row)."""

    START = "start"
    SYNC_START = "syncStart"
    SIGNAL_WITH_START = "signalWithStart"
    UPDATE_WITH_START = "updateWithStart"
    DESCRIBE = "describe"
    STATUS = "status"
    RESULT = "result"
    EVENTS = "events"
    LIST = "list"
    SIGNAL = "signal"
    QUERY = "query"
    UPDATE = "update"
    CANCEL = "cancel"
    TERMINATE = "terminate"
    CALLBACKS = "callbacks"
    REDELIVER_CALLBACK = "redeliverCallback"
    SCHEDULE = "schedule"
    LIST_SCHEDULES = "listSchedules"
    DESCRIBE_SCHEDULE = "describeSchedule"
    UPDATE_SCHEDULE = "updateSchedule"
    PAUSE_SCHEDULE = "pauseSchedule"
    UNPAUSE_SCHEDULE = "unpauseSchedule"
    TRIGGER_SCHEDULE = "triggerSchedule"
    BACKFILL_SCHEDULE = "backfillSchedule"
    DELETE_SCHEDULE = "deleteSchedule"


class Access(StrEnum):
    """What a route's ``authorization`` block grants, per kind of operation."""

    START = "start"
    """Start a workflow: ``POST /workflows/<path>``, ``/async`` and the with-start operations
    (which also need ``signal`` or ``update``)."""
    READ = "read"
    """Read a workflow started through the route: describe, status, result, events, list."""
    SIGNAL = "signal"
    QUERY = "query"
    UPDATE = "update"
    CANCEL = "cancel"
    TERMINATE = "terminate"
    SCHEDULE = "schedule"
    """Manage the route's schedules: create, list, describe, update, pause, unpause, trigger,
    backfill and delete them. The workflows a schedule starts are read with ``read``."""


class MessageKind(StrEnum):
    """What a workflow can be sent once it runs; a route declares each by name."""

    SIGNAL = "signal"
    QUERY = "query"
    UPDATE = "update"


class Addressed(StrEnum):
    """What an operation's path names, which decides how it is authorized."""

    ROUTE = "route"
    """``{route_path}``: a route, whose path is public; refused with 403."""
    WORKFLOW = "workflow"
    """``{workflow_id}``: one workflow, whose route is the one its id prefix names; refused
    with 404 (as a missing id) unless the caller may read the route."""
    ROUTES = "routes"
    """The caller's routes (listing): a route the caller may not use is left out."""
    SCHEDULE = "schedule"
    """``{schedule_id}``: one schedule, whose route is the one its id prefix names (schedule
    ids carry the route's prefix, as workflow ids do); refused with 404 (as a missing id)
    unless the caller may read the route or manage its schedules."""


@dataclass(frozen=True, slots=True)
class OperationRow:
    operation: Operation
    access: Access
    """The kind of access the operation needs."""
    method: str
    path: str
    summary: str
    addressed: Addressed
    also_needs: Access | None = None
    """A second kind of access the operation needs (the message of a with-start)."""
    enabled_by: Operation | None = None
    """The operation a route lists to serve this one; None: this one itself."""

    @property
    def by_id(self) -> bool:
        """Whether the operation addresses one workflow (its route comes from the id)."""
        return self.addressed is Addressed.WORKFLOW

    @property
    def switch(self) -> Operation:
        """What a route's ``operations`` names to serve this operation."""
        return self.enabled_by or self.operation


_ROUTE, _WORKFLOW, _SCHEDULE = Addressed.ROUTE, Addressed.WORKFLOW, Addressed.SCHEDULE
OPERATIONS: Mapping[Operation, OperationRow] = {
    row.operation: row
    for row in (
        OperationRow(Operation.SYNC_START, Access.START, "POST", "/workflows/{route_path}",
                     "Start a workflow and wait for its result", _ROUTE),
        OperationRow(Operation.START, Access.START, "POST", "/workflows/{route_path}/async",
                     "Start a workflow and return its id at once", _ROUTE),
        OperationRow(Operation.SIGNAL_WITH_START, Access.START, "POST",
                     "/workflows/{route_path}/signal-with-start/{name}",
                     "Signal a workflow, starting it first if it is not running", _ROUTE,
                     also_needs=Access.SIGNAL),
        OperationRow(Operation.UPDATE_WITH_START, Access.START, "POST",
                     "/workflows/{route_path}/update-with-start/{name}",
                     "Update a workflow, starting it first if it is not running, and wait for "
                     "the answer", _ROUTE, also_needs=Access.UPDATE),
        OperationRow(Operation.LIST, Access.READ, "GET", "/workflows",
                     "List the workflows the caller may read", Addressed.ROUTES),
        OperationRow(Operation.DESCRIBE, Access.READ, "GET", "/workflows/{workflow_id}",
                     "Describe a workflow", _WORKFLOW),
        OperationRow(Operation.STATUS, Access.READ, "GET", "/workflows/{workflow_id}/status",
                     "A workflow's status", _WORKFLOW),
        OperationRow(Operation.RESULT, Access.READ, "GET", "/workflows/{workflow_id}/result",
                     "A workflow's result (waits while it runs)", _WORKFLOW),
        OperationRow(Operation.EVENTS, Access.READ, "GET", "/workflows/{workflow_id}/events",
                     "A workflow's progress as server-sent events", _WORKFLOW),
        OperationRow(Operation.SIGNAL, Access.SIGNAL, "POST",
                     "/workflows/{workflow_id}/signals/{name}", "Send a signal to a workflow",
                     _WORKFLOW),
        OperationRow(Operation.QUERY, Access.QUERY, "POST",
                     "/workflows/{workflow_id}/queries/{name}", "Query a running workflow",
                     _WORKFLOW),
        OperationRow(Operation.UPDATE, Access.UPDATE, "POST",
                     "/workflows/{workflow_id}/updates/{name}",
                     "Update a workflow and wait for its answer", _WORKFLOW),
        OperationRow(Operation.CANCEL, Access.CANCEL, "POST", "/workflows/{workflow_id}/cancel",
                     "Ask a workflow to cancel (it may clean up)", _WORKFLOW),
        OperationRow(Operation.TERMINATE, Access.TERMINATE, "POST",
                     "/workflows/{workflow_id}/terminate",
                     "Stop a workflow at once, with a reason", _WORKFLOW),
        OperationRow(Operation.CALLBACKS, Access.READ, "GET",
                     "/workflows/{workflow_id}/callbacks",
                     "A workflow's completion webhook and attempts", _WORKFLOW),
        # Starting a workflow with a callback causes a delivery too, hence ``start``; but the
        # answer is the callback's state, so a caller who may not read the route gets the 404
        # of a workflow without a callback, and nothing is sent (gateway_api's webhooks.py).
        OperationRow(Operation.REDELIVER_CALLBACK, Access.START, "POST",
                     "/workflows/{workflow_id}/callbacks/redeliver",
                     "Send a workflow's completion webhook again", _WORKFLOW),
        # Schedules: one switch (`schedule`) and one grant for the family; each HTTP action is
        # a row, so the router, OpenAPI, the metrics and the client see each.
        OperationRow(Operation.SCHEDULE, Access.SCHEDULE, "POST",
                     "/workflows/{route_path}/schedules",
                     "Create a schedule that starts the route's workflow", _ROUTE),
        OperationRow(Operation.LIST_SCHEDULES, Access.SCHEDULE, "GET", "/schedules",
                     "List the schedules of the routes the caller may schedule",
                     Addressed.ROUTES, enabled_by=Operation.SCHEDULE),
        OperationRow(Operation.DESCRIBE_SCHEDULE, Access.SCHEDULE, "GET",
                     "/schedules/{schedule_id}", "Describe a schedule", _SCHEDULE,
                     enabled_by=Operation.SCHEDULE),
        OperationRow(Operation.UPDATE_SCHEDULE, Access.SCHEDULE, "PUT",
                     "/schedules/{schedule_id}",
                     "Replace a schedule's input, spec and policy (If-Match: its ETag)",
                     _SCHEDULE, enabled_by=Operation.SCHEDULE),
        OperationRow(Operation.PAUSE_SCHEDULE, Access.SCHEDULE, "POST",
                     "/schedules/{schedule_id}/pause", "Pause a schedule, with a note",
                     _SCHEDULE, enabled_by=Operation.SCHEDULE),
        OperationRow(Operation.UNPAUSE_SCHEDULE, Access.SCHEDULE, "POST",
                     "/schedules/{schedule_id}/unpause", "Unpause a schedule, with a note",
                     _SCHEDULE, enabled_by=Operation.SCHEDULE),
        OperationRow(Operation.TRIGGER_SCHEDULE, Access.SCHEDULE, "POST",
                     "/schedules/{schedule_id}/trigger", "Run a schedule's action now",
                     _SCHEDULE, enabled_by=Operation.SCHEDULE),
        OperationRow(Operation.BACKFILL_SCHEDULE, Access.SCHEDULE, "POST",
                     "/schedules/{schedule_id}/backfill",
                     "Run the actions a schedule would have run in a time range", _SCHEDULE,
                     enabled_by=Operation.SCHEDULE),
        OperationRow(Operation.DELETE_SCHEDULE, Access.SCHEDULE, "DELETE",
                     "/schedules/{schedule_id}",
                     "Delete a schedule (the workflows it started go on)", _SCHEDULE,
                     enabled_by=Operation.SCHEDULE),
    )
}  # fmt: skip
"""Every operation's row; a test checks that every :class:`Operation` has one and every row a
handler."""

DEFAULT_OPERATIONS: tuple[Operation, ...] = (
    Operation.START, Operation.SYNC_START, Operation.SIGNAL_WITH_START,
    Operation.UPDATE_WITH_START, Operation.DESCRIBE, Operation.STATUS, Operation.RESULT,
    Operation.EVENTS, Operation.LIST, Operation.SIGNAL, Operation.QUERY, Operation.UPDATE,
    Operation.CANCEL, Operation.TERMINATE, Operation.CALLBACKS, Operation.REDELIVER_CALLBACK,
)  # fmt: skip
"""What a route serves when its ``operations`` is unset. Frozen: an operation added later is
served only by routes that list it."""

SWITCHES: tuple[Operation, ...] = tuple(op for op in Operation if OPERATIONS[op].switch is op)
"""What a route's ``operations`` may list: every operation that is its own switch."""

ACCESS_BY_OPERATION: Mapping[Operation, Access] = {op: row.access for op, row in OPERATIONS.items()}
"""The kind of access each operation needs (from :data:`OPERATIONS`)."""
ALSO_NEEDS: Mapping[Operation, Access] = {
    op: row.also_needs for op, row in OPERATIONS.items() if row.also_needs is not None
}
"""The with-start operations' second kind of access (from :data:`OPERATIONS`)."""

"""The operation table: every HTTP operation the gateway serves, in one place.

Each row names the :class:`~gateway_core.routes.Operation` (what a route's ``operations`` list
allows), the HTTP method and path, and a summary. The access kind an operation needs is
:data:`~gateway_core.routes.ACCESS_BY_OPERATION`. Handlers are registered with
:func:`endpoint`, which takes method and path from the table, so adding an operation is one row
here, one handler in the module of its family (``endpoints/``) and its tests.

Paths name either a route (``{route_path}``: the starts) or a workflow (``{workflow_id}``:
everything else). A workflow id never contains ``/``: the gateway makes ids from its own
characters, so the id is always a single path segment.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import APIRouter

from gateway_api.http.request_headers import HeaderParam
from gateway_core.routes import ACCESS_BY_OPERATION, Access, Operation


@dataclass(frozen=True, slots=True)
class OperationSpec:
    method: str
    path: str
    summary: str

    @property
    def by_id(self) -> bool:
        """Whether the operation addresses one workflow (its route comes from the id)."""
        return "{workflow_id}" in self.path


OPERATIONS: dict[Operation, OperationSpec] = {
    Operation.SYNC_START: OperationSpec(
        "POST", "/workflows/{route_path}", "Start a workflow and wait for its result"
    ),
    Operation.START: OperationSpec(
        "POST", "/workflows/{route_path}/async", "Start a workflow and return its id at once"
    ),
    Operation.SIGNAL_WITH_START: OperationSpec(
        "POST",
        "/workflows/{route_path}/signal-with-start/{name}",
        "Signal a workflow, starting it first if it is not running",
    ),
    Operation.UPDATE_WITH_START: OperationSpec(
        "POST",
        "/workflows/{route_path}/update-with-start/{name}",
        "Update a workflow, starting it first if it is not running, and wait for the answer",
    ),
    Operation.LIST: OperationSpec("GET", "/workflows", "List the workflows the caller may read"),
    Operation.DESCRIBE: OperationSpec("GET", "/workflows/{workflow_id}", "Describe a workflow"),
    Operation.STATUS: OperationSpec(
        "GET", "/workflows/{workflow_id}/status", "A workflow's status"
    ),
    Operation.RESULT: OperationSpec(
        "GET", "/workflows/{workflow_id}/result", "A workflow's result (waits while it runs)"
    ),
    Operation.EVENTS: OperationSpec(
        "GET", "/workflows/{workflow_id}/events", "A workflow's progress as server-sent events"
    ),
    Operation.SIGNAL: OperationSpec(
        "POST", "/workflows/{workflow_id}/signals/{name}", "Send a signal to a workflow"
    ),
    Operation.QUERY: OperationSpec(
        "POST", "/workflows/{workflow_id}/queries/{name}", "Query a running workflow"
    ),
    Operation.UPDATE: OperationSpec(
        "POST",
        "/workflows/{workflow_id}/updates/{name}",
        "Update a workflow and wait for its answer",
    ),
    Operation.CANCEL: OperationSpec(
        "POST", "/workflows/{workflow_id}/cancel", "Ask a workflow to cancel (it may clean up)"
    ),
    Operation.TERMINATE: OperationSpec(
        "POST", "/workflows/{workflow_id}/terminate", "Stop a workflow at once, with a reason"
    ),
    Operation.CALLBACKS: OperationSpec(
        "GET", "/workflows/{workflow_id}/callbacks", "A workflow's completion webhook and attempts"
    ),
    Operation.REDELIVER_CALLBACK: OperationSpec(
        "POST",
        "/workflows/{workflow_id}/callbacks/redeliver",
        "Send a workflow's completion webhook again",
    ),
}
"""Every operation's method, path and summary; a test checks that every Operation has a row
and every row a handler."""


def access(operation: Operation) -> Access:
    return ACCESS_BY_OPERATION[operation]


F = TypeVar("F", bound=Callable[..., Any])
OPERATION_ID_SCOPE = "workflows"


_PATH_NAME = re.compile(r"{(\w+)}")


def _path_parameter(name: str) -> dict[str, Any]:
    """A path parameter as FastAPI documents a ``str`` argument of that name."""
    title = name.replace("_", " ").title()
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string", "title": title},
    }


def endpoint(
    router: APIRouter,
    operation: Operation,
    *,
    method: str | None = None,
    path: str | None = None,
    summary: str | None = None,
    headers: Sequence[HeaderParam] = (),
    openapi_extra: dict[str, Any] | None = None,
    **kwargs: Any,
) -> Callable[[F], F]:
    """Register the decorated handler for ``operation`` at its table row's method and path.

    ``method``, ``path`` and ``summary`` override the row for a second form of the same
    operation (``GET`` for a query without arguments, the poll location of an update).
    ``headers`` are the ones the handler reads itself (:mod:`gateway_api.http.request_headers`),
    documented
    as its parameters, as are the path's names that the handler reads from
    ``request.path_params`` instead of taking them as arguments.

    The OpenAPI operationId is ``workflows.<handler name>``: stable while the code is, and
    unique because handler names are. :mod:`gateway_api.openapi.document` derives the per-route and
    per-message ids from it.
    """
    row = OPERATIONS[operation]
    openapi_extra = openapi_extra or {}

    template = path or row.path

    def register(handler: F) -> F:
        kwargs.setdefault("operation_id", f"{OPERATION_ID_SCOPE}.{handler.__name__}")
        declared = inspect.signature(handler).parameters
        parameters = [
            *(
                _path_parameter(name)
                for name in _PATH_NAME.findall(template)
                if name not in declared
            ),
            *(h.openapi() for h in headers),
        ]
        extra = {**openapi_extra, "x-gateway-operation": operation.value}
        if parameters:
            extra["parameters"] = parameters
        router.add_api_route(
            template,
            handler,
            methods=[method or row.method],
            summary=summary or row.summary,
            openapi_extra=extra,
            **kwargs,
        )
        return handler

    return register

"""The check every workflow operation makes, once per request, before its handler runs
(:func:`gateway_api.api.operations.endpoint` calls these from the operation's row).

:class:`Call` bundles the request, the authenticated caller and the lifespan's services, so a
handler takes one parameter instead of seven. On top of it:

- :func:`on_route` resolves ``{route_path}`` for the starts;
- :func:`on_workflow` resolves ``{workflow_id}`` for everything by id: the route is the one
  whose id prefix the id starts with (prefixes never overlap), which gives the Temporal
  namespace, the route's ``operations`` and the caller's access. No Temporal call is made to
  decide, so an id the caller may not read costs the same as one that does not exist;
- :func:`on_schedule` resolves ``{schedule_id}`` as :func:`on_workflow` does a workflow id:
  schedule ids carry their route's prefix;
- :func:`call_of` only authenticates, for the listings (which narrow themselves to the
  caller's routes).

Both check, in order: credentials (401), route (404), operation (405), access (403, or 404 by
id when the caller may not even read the route, so ids do not leak), then rate limits (429).
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from fastapi import Request
from temporalio.client import Client, ScheduleHandle, WorkflowExecutionDescription, WorkflowHandle

from gateway_api.api.deps import authenticate, context, current_table, services
from gateway_api.config import ApiSettings, BodyLimits
from gateway_api.errors import (
    Forbidden,
    OperationNotAllowed,
    RouteNotFound,
    ScheduleNotFound,
    WorkflowNotFound,
    message_not_found,
)
from gateway_api.http.context import RequestContext
from gateway_api.http.request_headers import PREFER
from gateway_api.security.principals import Principal, allowed
from gateway_api.security.ratelimit import BY_ID, OpenWaits, RateLimiter
from gateway_api.temporal import executions
from gateway_api.temporal.connection import TemporalConnection
from gateway_api.temporal.handlers import HandlerCache
from gateway_api.temporal.health import Pollers
from gateway_api.temporal.history import Followers
from gateway_api.temporal.idempotency import scope
from gateway_api.temporal.visibility import PageTokenKeys
from gateway_api.temporal.workflow_types import WorkflowTypes
from gateway_core.routes import (
    ACCESS_BY_OPERATION,
    ALSO_NEEDS,
    Access,
    CompiledMessage,
    CompiledRoute,
    MessageKind,
    Operation,
    RouteTable,
)

# RFC 7240 ``Prefer: wait=N`` among other preferences (``respond-async, wait=10``).
_PREFER_WAIT = re.compile(r"(?:^|[,;\s])wait\s*=\s*\"?(\d{1,6})\"?", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Call:
    """One request to a workflow endpoint, with everything the gateway knows about it."""

    request: Request
    context: RequestContext
    caller: Principal
    connection: TemporalConnection
    routes: RouteTable
    settings: ApiSettings
    limiter: RateLimiter
    handlers: HandlerCache
    pollers: Pollers
    page_tokens: PageTokenKeys
    workflow_types: WorkflowTypes
    waits: OpenWaits
    followers: Followers

    def may(self, route: CompiledRoute, access: Access) -> bool:
        return allowed(self.caller, route, access, self.settings.admin_scope)

    @property
    def rpc_timeout(self) -> timedelta:
        return timedelta(seconds=self.settings.rpc_timeout_seconds)

    @property
    def limits(self) -> BodyLimits:
        return self.settings.body_limits

    def header(self, name: str, value: str) -> None:
        """Send ``name: value`` with the response, whatever it turns out to be."""
        self.context.response_headers.append((name, value))

    async def rate_limit(self, bucket: str) -> None:
        self.context.response_headers.extend(await self.limiter.check(self.caller.id, bucket))

    def wait(self, default: float, *, query: float | None = None) -> float:
        """How long to wait for a result: ``?wait=`` or ``Prefer: wait=N`` when given (for the
        latter, ``Preference-Applied`` says so), else ``default``; at most the API's maximum.
        Handlers that call this document :data:`~gateway_api.http.request_headers.PREFER`."""
        limit = self.settings.max_wait_seconds
        if query is not None:
            return min(query, limit)
        match = _PREFER_WAIT.search(PREFER.read(self.request) or "")
        if match is None:
            return min(default, limit)
        applied = min(float(match[1]), limit)
        # Only a preference that was sent is answered (RFC 7240); ?wait= is none.
        self.header("Preference-Applied", f"wait={applied:g}")
        return applied

    def waiting(self) -> contextlib.AbstractContextManager[None]:
        """Hold one of the caller's waits for an answer for the block.

        Raises:
            TooManyWaits: the caller already has ``API_MAX_WAITS_PER_CALLER`` waiting.
        """
        return self.waits.holding(self.caller.id)

    def location(self, path: str) -> str:
        return f"{self.request.scope.get('root_path', '')}{path}"


async def call_of(request: Request) -> Call:
    """The call, its caller authenticated (for the operations on the caller's routes)."""
    caller = await authenticate(request)
    shared = services(request)
    return Call(
        request, context(request), caller, shared.temporal, current_table(shared.routes),
        shared.settings, shared.limiter, shared.handlers, shared.pollers, shared.page_tokens,
        shared.workflow_types, shared.waits, shared.followers,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class OnRoute:
    """A start on a route the caller may use."""

    call: Call
    route: CompiledRoute

    @property
    def client(self) -> Client:
        """For the route's workflows: their namespace, their payload codec."""
        return self.call.connection.route_client(self.route)

    @property
    def bare_client(self) -> Client:
        """The namespace's client without the route's codec: for the gateway's own workflows
        (callback deliveries), whose payloads are the gateway's, not the route's."""
        return self.call.connection.client_for(self.route.spec.namespace)

    def message(self, kind: MessageKind, name: str) -> CompiledMessage:
        return _message(self.route, kind, name)


@dataclass(slots=True)
class Target:
    """One workflow, by id, of a route the caller may use for the operation.

    Its prefix is the route's (checked from the id); whether its TYPE is the route's needs
    Temporal, so it is checked by :meth:`workflow`, once, when the operation first reaches for
    Temporal: after the request's own input is checked, so bad input still never reaches it
    (:mod:`gateway_api.temporal.workflow_types`)."""

    call: Call
    route: CompiledRoute
    workflow_id: str
    description: WorkflowExecutionDescription | None = None
    """The latest run's description, when the check had to ask for it (use it rather than
    asking again)."""
    _checked: bool = False

    async def workflow(self, run_id: str | None = None) -> WorkflowHandle[Any, Any]:
        """The workflow's handle, once it is known to be one of the route's.

        Raises:
            WorkflowNotFound: the id has the route's prefix but another type: as missing.
            RPCError: NOT_FOUND for a missing one (the same 404), or Temporal's others.
        """
        if not self._checked:
            call = self.call
            ours, self.description = await call.workflow_types.is_of(
                self.client, self.workflow_id, self.route.spec.workflow_type,
                rpc_timeout=call.rpc_timeout,
            )  # fmt: skip
            if not ours:
                raise WorkflowNotFound.hiding(self.workflow_id, call.caller.id)
            self._checked = True
        return self.handle(run_id)

    @property
    def client(self) -> Client:
        """For the route's workflows: their namespace, their payload codec."""
        return self.call.connection.route_client(self.route)

    @property
    def bare_client(self) -> Client:
        """The namespace's client without the route's codec (:attr:`OnRoute.bare_client`)."""
        return self.call.connection.client_for(self.route.spec.namespace)

    def handle(self, run_id: str | None = None) -> WorkflowHandle[Any, Any]:
        return executions.workflow_handle(self.client, self.workflow_id, run_id)

    def message(self, kind: MessageKind, name: str) -> CompiledMessage:
        return _message(self.route, kind, name)

    def url(self, suffix: str = "") -> str:
        return self.call.location(f"/workflows/{quote(self.workflow_id, safe='')}{suffix}")


@dataclass(frozen=True, slots=True)
class ScheduleTarget:
    """One schedule, by id, of a route the caller may use for the operation. Its prefix is
    the route's (checked from the id); whether its action starts the route's workflow type is
    checked by :mod:`gateway_api.temporal.schedules` when it describes it."""

    call: Call
    route: CompiledRoute
    schedule_id: str

    @property
    def client(self) -> Client:
        """For the route's schedules: their namespace, their payload codec."""
        return self.call.connection.route_client(self.route)

    def handle(self) -> ScheduleHandle:
        return self.client.get_schedule_handle(self.schedule_id)

    def url(self, suffix: str = "") -> str:
        return self.call.location(f"/schedules/{quote(self.schedule_id, safe='')}{suffix}")

    def not_found(self) -> ScheduleNotFound:
        return ScheduleNotFound.hiding(self.schedule_id, self.call.caller.id)


def _message(route: CompiledRoute, kind: MessageKind, name: str) -> CompiledMessage:
    found = route.message(kind, name)
    if found is None:
        raise message_not_found(kind, f"route {route.name!r} declares no {kind.value} {name!r}")
    return found


def _check(call: Call, route: CompiledRoute, operation: Operation) -> None:
    if not route.allows(operation):
        raise OperationNotAllowed(f"route {route.name!r} does not allow {operation.value!r}")
    for access in (ACCESS_BY_OPERATION[operation], ALSO_NEEDS.get(operation)):
        if access is not None and not call.may(route, access):
            raise Forbidden(
                f"{call.caller.id} may not {access.value} workflows of route {route.name!r}"
            )


async def on_route(request: Request, operation: Operation) -> OnRoute:
    """The route at ``{route_path}``, checked for ``operation``.

    A plain call from the start handlers, not a dependency: they take only the request, as
    FastAPI's resolution of each dependency and parameter costs more than its work
    (:mod:`gateway_api.http.request_headers`).
    """
    call = await call_of(request)
    route_path = request.path_params["route_path"]
    route = call.routes.get(route_path)
    if route is None:
        raise RouteNotFound(f"no workflow route is served at /workflows/{route_path}")
    call.context.annotate(route=route.name)
    _check(call, route, operation)
    await call.rate_limit(route.name)
    return OnRoute(call, route)


async def _by_id(
    request: Request,
    operation: Operation,
    name: str,
    missing: type[WorkflowNotFound] | type[ScheduleNotFound],
) -> tuple[Call, CompiledRoute, str]:
    """The id at ``{name}`` (a workflow's or a schedule's), its route and the call, checked
    for ``operation``: the route its prefix names, the caller's access to it (``missing``, as
    for an id that does not exist, unless the caller may read the route or do the operation),
    the route's operations (405), the grant (403), and on an owner-only route the caller's own
    scope in the id (``missing`` otherwise, decided from the id alone)."""
    call = await call_of(request)
    found = request.path_params[name]
    call.context.annotate(**{name: found})
    route = call.routes.for_workflow_id(found)
    await call.rate_limit(route.name if route is not None else BY_ID)
    if route is None or not (
        call.may(route, Access.READ) or call.may(route, ACCESS_BY_OPERATION[operation])
    ):
        raise missing.hiding(found, call.caller.id)
    call.context.annotate(route=route.name)
    _check(call, route, operation)
    caller = call.caller
    if (
        route.owner_only
        and not caller.is_admin(call.settings.admin_scope)
        and not found.startswith(route.owned_prefix(scope(caller.id)))
    ):  # another caller's: as missing
        raise missing.hiding(found, caller.id)
    return call, route, found


async def on_workflow(request: Request, operation: Operation) -> Target:
    """The workflow at ``{workflow_id}``, checked for ``operation`` (:func:`_by_id`): a plain
    call, as :func:`on_route` is, from the handlers that take only the request."""
    return Target(*await _by_id(request, operation, "workflow_id", WorkflowNotFound))


async def on_schedule(request: Request, operation: Operation) -> ScheduleTarget:
    """The schedule at ``{schedule_id}``, checked for ``operation`` as a workflow is."""
    return ScheduleTarget(*await _by_id(request, operation, "schedule_id", ScheduleNotFound))

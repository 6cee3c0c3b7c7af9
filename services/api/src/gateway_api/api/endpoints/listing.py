"""Listing and counting workflows: Temporal's visibility queries, within the caller's routes.

The caller's ``query`` (Temporal's visibility query language) is confined to the workflows of
routes it may read and that allow ``list`` (:mod:`gateway_api.temporal.visibility`), so a workflow
of
another route, or one started outside the gateway, is never listed nor counted.

One list call asks one Temporal namespace. ``route=<path>`` picks one route; a route that does
not exist and one the caller may not read are the same 404, so route paths do not leak. Without
it, the routes the caller may list must all be in one namespace, or the answer is 400 naming
``route``. A caller who may list no route gets an empty list (and a count of 0) without a call
to Temporal.
"""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import APIRouter, Query

from gateway_api.api.dispatch import Call
from gateway_api.api.endpoints.common import problems
from gateway_api.api.operations import endpoint
from gateway_api.api.schemas import WorkflowCount, WorkflowList, WorkflowSummary
from gateway_api.errors import InvalidQuery, OperationNotAllowed, RouteNotFound
from gateway_api.security.ratelimit import LISTING
from gateway_api.temporal.idempotency import scope
from gateway_api.temporal.visibility import Filter, decode_page_token, encode_page_token, parse
from gateway_core.routes import Access, CompiledRoute, Operation

log = structlog.get_logger(__name__)
router = APIRouter(tags=["workflows"])

DEFAULT_PAGE_SIZE = 20
"""A page a person reads at once; ``page_size`` asks for up to the API's maximum."""

QueryText = Annotated[
    str | None,
    Query(
        description="Temporal's visibility query language, e.g. `ExecutionStatus = 'Running'`; "
        "it only ever narrows the workflows the caller may list. An `ORDER BY` may end it.",
    ),
]
RouteParam = Annotated[
    str | None,
    Query(description="The path of one route: list only its workflows (and its namespace)."),
]
# Strings, not ints, so that every bad value is the same 400 naming the field.
PageSize = Annotated[
    str | None,
    Query(description=f"1 to the API's maximum (100 by default); {DEFAULT_PAGE_SIZE} if unset"),
]
PageToken = Annotated[
    str | None, Query(description="The `next_page_token` of the previous page, as it was")
]
_PROBLEMS = problems(400, 401, 404, 405, 429, 503, 504)


def _page_size(text: str | None, maximum: int) -> int:
    if text is None:
        return min(DEFAULT_PAGE_SIZE, maximum)
    # ASCII digits only: str.isdigit() also takes '²' or '⁵', which int() then refuses.
    if not (text.isascii() and text.isdigit()) or len(text) > 4 or not 1 <= int(text) <= maximum:
        raise InvalidQuery("page_size", f"must be an integer from 1 to {maximum}")
    return int(text)


def _listable(call: Call, route_path: str | None) -> list[CompiledRoute]:
    """The routes whose workflows the caller may list (``route_path``'s alone when given).

    Raises:
        RouteNotFound: ``route_path`` names no route the caller may read.
        OperationNotAllowed: it names one that does not allow ``list``.
        InvalidQuery: without ``route_path``, the routes span several namespaces.
    """
    if route_path is not None:
        route = call.routes.get(route_path)
        if route is None or not call.may(route, Access.READ):
            raise RouteNotFound(
                f"no route {route_path!r} whose workflows {call.caller.id} may read"
            )
        call.context.annotate(route=route.name)
        if not route.allows(Operation.LIST):
            raise OperationNotAllowed(f"route {route.name!r} does not allow 'list'")
        return [route]
    routes = [
        r
        for r in call.routes.routes.values()
        if r.allows(Operation.LIST) and call.may(r, Access.READ)
    ]
    default = call.connection.namespace
    namespaces = sorted({r.spec.namespace or default for r in routes})
    if len(namespaces) > 1:
        raise InvalidQuery(
            "route",
            f"the routes you may list are in several Temporal namespaces "
            f"({', '.join(namespaces)}): pick one route with route=<path>",
        )
    return routes


def _owner(call: Call) -> str | None:
    """The caller's scope, to which owner-only routes narrow a list (administrators see all)."""
    caller = call.caller
    return None if caller.is_admin(call.settings.admin_scope) else scope(caller.id)


async def _prepare(
    call: Call, query: str | None, route: str | None
) -> tuple[Filter, list[CompiledRoute]]:
    await call.rate_limit(LISTING)
    return parse(query), _listable(call, route)


@endpoint(router, Operation.LIST, response_model=WorkflowList, responses=_PROBLEMS)
async def list_workflows(
    call: Call,
    query: QueryText = None,
    page_size: PageSize = None,
    page_token: PageToken = None,
    route: RouteParam = None,
) -> WorkflowList:
    checked, routes = await _prepare(call, query, route)
    size = _page_size(page_size, call.settings.list_max_page_size)
    sent = checked.within(routes, owner=_owner(call)) if routes else ""
    token = decode_page_token(call.page_tokens, sent, page_token)
    if not routes:
        return WorkflowList(workflows=[])
    client = call.connection.client_for(routes[0].spec.namespace)
    page = client.list_workflows(
        sent, page_size=size, next_page_token=token, rpc_timeout=call.rpc_timeout
    )
    await page.fetch_next_page()
    listed = {r.name for r in routes}
    workflows = []
    for execution in page.current_page or ():
        owner = call.routes.for_workflow_id(execution.id)
        if owner is None or owner.name not in listed:
            # The restriction should make this impossible; never show what it let through.
            log.warning(
                "visibility returned a workflow outside the restriction",
                listed_workflow_id=execution.id,
            )
            continue
        workflows.append(
            WorkflowSummary(
                workflow_id=execution.id,
                run_id=execution.run_id,
                route=owner.name,
                workflow_type=execution.workflow_type,
                status=execution.status.name if execution.status else "UNSPECIFIED",
                start_time=execution.start_time,
                close_time=execution.close_time,
            )
        )
    return WorkflowList(
        workflows=workflows,
        next_page_token=encode_page_token(call.page_tokens, sent, page.next_page_token),
    )


@endpoint(
    router,
    Operation.LIST,
    path="/workflows/count",
    summary="Count the workflows the caller may read",
    response_model=WorkflowCount,
    responses=_PROBLEMS,
)
async def count_workflows(
    call: Call, query: QueryText = None, route: RouteParam = None
) -> WorkflowCount:
    checked, routes = await _prepare(call, query, route)
    if not routes:
        return WorkflowCount(count=0)
    client = call.connection.client_for(routes[0].spec.namespace)
    counted = await client.count_workflows(
        checked.within(routes, ordered=False, owner=_owner(call)), rpc_timeout=call.rpc_timeout
    )
    return WorkflowCount(count=counted.count)

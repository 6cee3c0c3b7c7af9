"""Schedules: cron for any route, with the route's contract.

A schedule is made on a route (``POST /workflows/<path>/schedules``) and starts the route's
workflow with an input checked against the route's ``inputSchema``, as a start's body is (a
bad field is a 422 naming ``input.<field>``). Its id carries the route's prefix, as workflow ids
do: the caller's ``Idempotency-Key`` (scoped to the caller) or a random id after it, with the
caller's scope first on an owner-only route. So ``/schedules/{id}`` finds its route from the id,
and every workflow it starts (``<schedule id>-<time>``) is the route's by id too.

Every action needs the route to list ``schedule`` in its ``operations`` (405 otherwise) and the
caller the route's ``schedule`` grant (403 to a caller who may read the route, else the 404 of
a missing schedule). ``GET /schedules`` lists only the schedules of the routes the caller may
schedule (on owner-only routes, its own), as ``GET /workflows`` lists only readable workflows.

Creating, describing and updating answer the schedule's description with an ``ETag`` (its
conflict token); ``PUT`` takes it in ``If-Match`` and answers 412 when the schedule has moved
(:mod:`gateway_api.temporal.schedules`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Annotated, Any, TypeVar

import structlog
from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from temporalio import client as temporal
from temporalio.service import RPCError, RPCStatusCode

from gateway_api import metrics
from gateway_api.api.dispatch import Call, OnRoute, ScheduleTarget
from gateway_api.api.endpoints.common import problems, route_descriptors
from gateway_api.api.operations import endpoint
from gateway_api.api.schemas import (
    ScheduleActionResponse,
    ScheduleBackfillRequest,
    ScheduleDescriptionResponse,
    ScheduleList,
    ScheduleNoteRequest,
    ScheduleRun,
    ScheduleStateResponse,
    ScheduleSummary,
    ScheduleTriggerRequest,
)
from gateway_api.errors import (
    ApiError,
    Forbidden,
    InvalidBody,
    InvalidQuery,
    OperationNotAllowed,
    PayloadTooLarge,
    RouteNotFound,
    ScheduleManaged,
)
from gateway_api.http.bodies import NO_BODY, read_json, read_optional_json
from gateway_api.http.request_headers import IDEMPOTENCY_KEY, IF_MATCH
from gateway_api.security.ratelimit import LISTING
from gateway_api.temporal import idempotency, payloads
from gateway_api.temporal import schedules as temporal_schedules
from gateway_api.temporal.idempotency import scope
from gateway_api.temporal.schedules import Described
from gateway_api.temporal.visibility import decode_page_token, encode_page_token
from gateway_core.routes import Access, CompiledRoute, FieldError, Operation
from gateway_core.schedules import (
    OverlapPolicy,
    ScheduleSettings,
    build,
    encode_action,
    policy_of,
    spec_of,
)

log = structlog.get_logger(__name__)
router = APIRouter(tags=["schedules"])

DEFAULT_PAGE_SIZE = 20
_REF = "#/components/schemas/{model}"
COMPONENTS: dict[str, Any] = {}
"""The request bodies' schemas (and the models they use), for the OpenAPI document's
components: FastAPI adds only the response models it knows."""


def _without_defaults(node: Any) -> Any:
    """A request schema without ``default``: generated clients (openapi-typescript) make a
    property with a default one the caller must send. The descriptions say what unset means."""
    if isinstance(node, dict):
        return {k: _without_defaults(v) for k, v in node.items() if k != "default"}
    if isinstance(node, list):
        return [_without_defaults(v) for v in node]
    return node


def _component(model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s schema (Python names) as a component; a reference to it."""
    schema = _without_defaults(model.model_json_schema(by_alias=False, ref_template=_REF))
    COMPONENTS.update(schema.pop("$defs", {}))
    COMPONENTS[model.__name__] = schema
    return {"$ref": _REF.format(model=model.__name__)}


SETTINGS_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "`input`: the workflow input each run starts with, checked against the "
        "route's JSON Schema; `spec`: when it runs; `policy`: overlaps, missed runs, failures.",
        "content": {"application/json": {"schema": _component(ScheduleSettings)}},
    }
}


def _body(model: type[BaseModel], example: dict[str, Any], *, required: bool) -> dict[str, Any]:
    content = {"schema": _component(model), "example": example}
    return {"requestBody": {"required": required, "content": {"application/json": content}}}


_CREATE_PROBLEMS = problems(400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 503, 504)
_BY_ID_PROBLEMS = problems(400, 401, 403, 404, 405, 409, 415, 422, 429, 503, 504)


# -- what every action shares ----------------------------------------------------------------


@contextlib.contextmanager
def _counted(route: CompiledRoute, action: str) -> Iterator[list[str]]:
    """Count the action by its outcome: the yielded list's one item, ``ok`` unless the block
    sets another; a problem is rejected (4xx, and a resource's schedule: no retry changes it),
    conflict (another 409, a 412) or error."""
    outcome = ["ok"]
    try:
        yield outcome
    except ApiError as exc:
        kind = (
            "rejected" if isinstance(exc, ScheduleManaged)
            else "conflict" if exc.status in (409, 412)
            else "rejected" if exc.status < 500
            else "error"
        )  # fmt: skip
        metrics.SCHEDULE_ACTIONS.labels(route=route.name, action=action, outcome=kind).inc()
        raise
    except Exception:
        metrics.SCHEDULE_ACTIONS.labels(route=route.name, action=action, outcome="error").inc()
        raise
    metrics.SCHEDULE_ACTIONS.labels(route=route.name, action=action, outcome=outcome[0]).inc()


def _field(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def _invalid(exc: ValidationError) -> InvalidBody:
    return InvalidBody(
        [
            FieldError(_field(tuple(e["loc"])), str(e["msg"]).removeprefix("Value error, "))
            for e in exc.errors()
        ]
    )


M = TypeVar("M", bound=BaseModel)


def _model(model: type[M], body: Any) -> M:
    """``body`` as ``model``, by the Python names (snake_case, as every body of the API).

    Raises:
        InvalidBody: naming each field that does not fit.
    """
    try:
        return model.model_validate(body, by_alias=False, by_name=True)
    except ValidationError as exc:
        raise _invalid(exc) from None


def _settings(call: Call, route: CompiledRoute, body: Any) -> ScheduleSettings:
    """The body as a schedule, its input checked against the route's schema (and protobuf
    message), as a start's body is.

    Raises:
        InvalidBody: naming each field (the input's as ``input.<field>``).
    """
    if isinstance(body, dict) and "input" not in body:
        raise InvalidBody([FieldError("input", "field required")])
    settings = _model(ScheduleSettings, body)
    errors = route.validate(settings.input)
    if not errors and route.spec.input_message is not None:
        errors = payloads.check_message(
            settings.input, route.spec.input_message, route_descriptors(call, route)
        )
    if errors:
        raise InvalidBody([FieldError(_within_input(e.field), e.message) for e in errors])
    return settings


def _within_input(field: str) -> str:
    if field == "body":
        return "input"
    return f"input{field}" if field.startswith("[") else f"input.{field}"


@contextlib.contextmanager
def _spec_refusals() -> Iterator[None]:
    """Temporal's INVALID_ARGUMENT to a create or an update is about the spec (a cron field out
    of range, a time zone it does not know): everything else it was sent the gateway made and
    checked. Temporal's words stay in the log."""
    try:
        yield
    except RPCError as exc:
        if exc.status != RPCStatusCode.INVALID_ARGUMENT:
            raise
        log.info("temporal refused a schedule spec", error=exc.message)
        raise InvalidBody(
            [FieldError("spec", "Temporal refused the spec: a cron field out of its range, an "
                        "unknown time zone, or a calendar it cannot read")]
        ) from None  # fmt: skip


async def _encoded(
    call: Call,
    route: CompiledRoute,
    settings: ScheduleSettings,
    *,
    principal: str,
    schedule_id: str,
    paused: bool,
    note: str | None,
) -> tuple[temporal.Schedule, Any]:
    converter = call.connection.converter_for(route)
    encoded = await encode_action(converter, route, settings, principal=principal)
    limit = call.settings.temporal_blob_limit_bytes
    if encoded.size > limit:
        raise PayloadTooLarge(encoded.size, limit)
    schedule = build(route, settings, encoded, schedule_id=schedule_id, paused=paused, note=note)
    return schedule, encoded


def _run(action: temporal.ScheduleActionResult) -> ScheduleRun | None:
    started = action.action
    if not isinstance(started, temporal.ScheduleActionExecutionStartWorkflow):
        return None
    return ScheduleRun(
        workflow_id=started.workflow_id,
        run_id=started.first_execution_run_id,
        scheduled_at=action.scheduled_at,
        started_at=action.started_at,
    )


def _runs(actions: list[temporal.ScheduleActionResult]) -> list[ScheduleRun]:
    return [run for a in actions if (run := _run(a)) is not None]


async def _view(
    target_client: temporal.Client, route: CompiledRoute, described: Described
) -> dict[str, Any]:
    """The description as the API answers it."""
    desc = described.description
    schedule, info = desc.schedule, desc.info
    state = schedule.state
    raw = desc.raw_description.schedule.action.start_workflow
    inputs = (
        await target_client.data_converter.decode(list(raw.input.payloads))
        if raw.input.payloads
        else []
    )
    workflow_input = inputs[0] if len(inputs) == 1 and not _positional(route) else inputs
    body = ScheduleDescriptionResponse(
        schedule_id=desc.id,
        route=route.name,
        workflow_type=raw.workflow_type.name,
        task_queue=raw.task_queue.name,
        input=workflow_input,
        spec=spec_of(schedule.spec),
        policy=policy_of(schedule.policy),
        paused=state.paused,
        note=state.note or None,
        next_action_times=list(info.next_action_times),
        recent_actions=_runs(list(info.recent_actions)),
        running_workflows=[
            w.workflow_id
            for w in info.running_actions
            if isinstance(w, temporal.ScheduleActionExecutionStartWorkflow)
        ],
        action_count=info.num_actions,
        missed_catchup_window=info.num_actions_missed_catchup_window,
        overlap_skipped=info.num_actions_skipped_overlap,
        created_at=info.created_at,
        updated_at=info.last_updated_at,
        created_by=described.principal,
        managed_by=described.managed_by,
    )
    return body.model_dump(mode="json")


def _positional(route: CompiledRoute) -> bool:
    return route.spec.arguments.value == "positional"


def _answer(
    content: dict[str, Any], described: Described, *, status: int = 200, location: str | None = None
) -> JSONResponse:
    headers = {"ETag": described.etag}
    if location is not None:
        headers["Location"] = location
    return JSONResponse(content, status_code=status, headers=headers)


async def _described(target: ScheduleTarget) -> Described:
    return await temporal_schedules.describe(
        target.client, target.route, target.schedule_id,
        principal=target.call.caller.id, rpc_timeout=target.call.rpc_timeout,
    )  # fmt: skip


def _schedule_url(call: Call, schedule_id: str) -> str:
    return call.location(f"/schedules/{schedule_id}")


# -- the actions -----------------------------------------------------------------------------


@endpoint(
    router,
    Operation.SCHEDULE,
    headers=[IDEMPOTENCY_KEY],
    response_model=ScheduleDescriptionResponse,
    status_code=201,
    openapi_extra=SETTINGS_BODY,
    responses={
        200: {
            "model": ScheduleDescriptionResponse,
            "description": "An idempotent repeat: the schedule the first request created",
        },
        **_CREATE_PROBLEMS,
    },
)
async def create_schedule(on: OnRoute) -> JSONResponse:
    call, route = on.call, on.route
    with _counted(route, "create") as outcome:
        key = IDEMPOTENCY_KEY.read(call.request)
        settings = _settings(call, route, await read_json(call.request, call.limits))
        caller = call.caller.id
        owner = scope(caller) if route.owner_only else None
        schedule_id, deterministic = route.schedule_id(idempotency.scoped(caller, key), owner=owner)
        call.context.annotate(schedule_id=schedule_id)
        schedule, encoded = await _encoded(
            call, route, settings, principal=caller, schedule_id=schedule_id,
            paused=bool(settings.paused), note=settings.note,
        )  # fmt: skip
        client = on.client
        in_flight = idempotency.starting(schedule_id) if deterministic else contextlib.nullcontext()
        with in_flight, _spec_refusals():
            existing, created = await temporal_schedules.create(
                client, route, schedule, encoded,
                schedule_id=schedule_id, principal=caller, deterministic=deterministic,
                rpc_timeout=call.rpc_timeout,
            )  # fmt: skip
        described = existing or await temporal_schedules.describe(
            client, route, schedule_id, principal=caller, rpc_timeout=call.rpc_timeout
        )
        outcome[0] = "ok" if created else "existing"
        return _answer(
            await _view(client, route, described),
            described,
            status=201 if created else 200,
            location=_schedule_url(call, schedule_id),
        )


def _page_size(text: str | None, maximum: int) -> int:
    if text is None:
        return min(DEFAULT_PAGE_SIZE, maximum)
    if not (text.isascii() and text.isdigit()) or len(text) > 4 or not 1 <= int(text) <= maximum:
        raise InvalidQuery("page_size", f"must be an integer from 1 to {maximum}")
    return int(text)


def _schedulable(call: Call, route_path: str | None) -> list[CompiledRoute]:
    """The routes whose schedules the caller may list (``route_path``'s alone when given).

    Raises:
        RouteNotFound: ``route_path`` names no route the caller may read or schedule.
        OperationNotAllowed: it names one that does not serve schedules.
        Forbidden: it names one the caller may read but not schedule.
        InvalidQuery: without ``route_path``, the routes span several namespaces.
    """
    if route_path is not None:
        route = call.routes.get(route_path)
        if route is None or not (call.may(route, Access.READ) or call.may(route, Access.SCHEDULE)):
            raise RouteNotFound(f"no route {route_path!r} that {call.caller.id} may read")
        call.context.annotate(route=route.name)
        if not route.allows(Operation.LIST_SCHEDULES):
            raise OperationNotAllowed(f"route {route.name!r} does not allow 'schedule'")
        if not call.may(route, Access.SCHEDULE):
            raise Forbidden(f"{call.caller.id} may not schedule workflows of route {route.name!r}")
        return [route]
    routes = [
        r
        for r in call.routes.routes.values()
        if r.allows(Operation.LIST_SCHEDULES) and call.may(r, Access.SCHEDULE)
    ]
    default = call.connection.namespace
    namespaces = sorted({r.spec.namespace or default for r in routes})
    if len(namespaces) > 1:
        raise InvalidQuery(
            "route",
            f"the routes whose schedules you may list are in several Temporal namespaces "
            f"({', '.join(namespaces)}): pick one route with route=<path>",
        )
    return routes


def _list_prefix(call: Call, route: CompiledRoute) -> str:
    caller = call.caller
    if route.owner_only and not caller.is_admin(call.settings.admin_scope):
        return route.owned_prefix(scope(caller.id))
    return route.spec.id_prefix


@endpoint(
    router,
    Operation.LIST_SCHEDULES,
    response_model=ScheduleList,
    responses=problems(400, 401, 403, 404, 405, 429, 503, 504),
)
async def list_schedules(
    call: Call,
    route: Annotated[
        str | None,
        Query(description="The path of one route: list only its schedules (and namespace)"),
    ] = None,
    page_size: Annotated[
        str | None,
        Query(description=f"1 to the API's maximum (100 by default); {DEFAULT_PAGE_SIZE} if unset"),
    ] = None,
    page_token: Annotated[
        str | None, Query(description="The `next_page_token` of the previous page, as it was")
    ] = None,
) -> ScheduleList:
    await call.rate_limit(LISTING)
    routes = _schedulable(call, route)
    size = _page_size(page_size, call.settings.list_max_page_size)
    prefixes = {_list_prefix(call, r): r for r in routes}
    query = temporal_schedules.list_query(sorted(prefixes)) if routes else ""
    token = decode_page_token(call.page_tokens, "schedules:" + query, page_token)
    if not routes:
        return ScheduleList(schedules=[])
    client = call.connection.client_for(routes[0].spec.namespace)
    entries, next_token = await temporal_schedules.list_page(
        client, query, page_size=size, page_token=token, rpc_timeout=call.rpc_timeout
    )
    listed = []
    for entry in entries:
        owner = next((r for p, r in prefixes.items() if entry.id.startswith(p)), None)
        # Temporal filters by id; the type is checked here, so another program's schedule
        # under a route's prefix is never shown (the page is shorter for it).
        if owner is None or temporal_schedules.list_item_type(entry) != owner.spec.workflow_type:
            continue
        state = entry.schedule.state if entry.schedule is not None else None
        listed.append(
            ScheduleSummary(
                schedule_id=entry.id,
                route=owner.name,
                workflow_type=owner.spec.workflow_type,
                paused=bool(state and state.paused),
                note=(state.note or None) if state else None,
                spec=spec_of(entry.schedule.spec) if entry.schedule else {},
                next_action_times=list(entry.info.next_action_times) if entry.info else [],
                recent_actions=_runs(list(entry.info.recent_actions)) if entry.info else [],
            )
        )
    return ScheduleList(
        schedules=listed,
        next_page_token=encode_page_token(call.page_tokens, "schedules:" + query, next_token),
    )


@endpoint(
    router,
    Operation.DESCRIBE_SCHEDULE,
    response_model=ScheduleDescriptionResponse,
    responses=problems(401, 403, 404, 405, 429, 503, 504),
)
async def describe_schedule(target: ScheduleTarget) -> JSONResponse:
    with _counted(target.route, "describe"):
        described = await _described(target)
        return _answer(await _view(target.client, target.route, described), described)


@endpoint(
    router,
    Operation.UPDATE_SCHEDULE,
    headers=[IF_MATCH],
    response_model=ScheduleDescriptionResponse,
    openapi_extra=SETTINGS_BODY,
    responses=problems(400, 401, 403, 404, 405, 409, 412, 413, 415, 422, 429, 503, 504),
)
async def update_schedule(target: ScheduleTarget) -> JSONResponse:
    call, route = target.call, target.route
    with _counted(route, "update"):
        if_match = IF_MATCH.read(call.request)
        settings = _settings(call, route, await read_json(call.request, call.limits))
        described = await _described(target)
        temporal_schedules.refuse_managed(described)
        temporal_schedules.check_if_match(if_match, described)
        state = described.description.schedule.state
        paused = state.paused if settings.paused is None else settings.paused
        note = settings.note if settings.note is not None else (state.note or None)
        schedule, _ = await _encoded(
            call, route, settings, principal=described.principal or call.caller.id,
            schedule_id=target.schedule_id, paused=paused, note=note,
        )  # fmt: skip
        with _spec_refusals():
            updated = await temporal_schedules.update(
                target.client, described, schedule,
                principal=call.caller.id, rpc_timeout=call.rpc_timeout,
            )  # fmt: skip
        return _answer(await _view(target.client, route, updated), updated)


async def _note(target: ScheduleTarget, verb: str) -> str:
    body = await read_optional_json(target.call.request, target.call.limits)
    note = None if body is NO_BODY else _model(ScheduleNoteRequest, body).note
    return note or f"{verb} by {target.call.caller.id} through the gateway"


@endpoint(
    router,
    Operation.PAUSE_SCHEDULE,
    response_model=ScheduleStateResponse,
    openapi_extra=_body(ScheduleNoteRequest, {"note": "supplier closed"}, required=False),
    responses=_BY_ID_PROBLEMS,
)
async def pause_schedule(target: ScheduleTarget) -> ScheduleStateResponse:
    return await _set_paused(target, paused=True)


@endpoint(
    router,
    Operation.UNPAUSE_SCHEDULE,
    response_model=ScheduleStateResponse,
    openapi_extra=_body(ScheduleNoteRequest, {"note": "supplier open again"}, required=False),
    responses=_BY_ID_PROBLEMS,
)
async def unpause_schedule(target: ScheduleTarget) -> ScheduleStateResponse:
    return await _set_paused(target, paused=False)


async def _set_paused(target: ScheduleTarget, *, paused: bool) -> ScheduleStateResponse:
    """Pause or unpause, with the body's note (or one naming the caller); not a schedule a
    ``WorkflowSchedule`` resource owns."""
    action = "pause" if paused else "unpause"
    with _counted(target.route, action):
        note = await _note(target, f"{action}d")
        temporal_schedules.refuse_managed(await _described(target))
        change = temporal_schedules.pause if paused else temporal_schedules.unpause
        await change(
            target.handle(), note, principal=target.call.caller.id,
            rpc_timeout=target.call.rpc_timeout,
        )  # fmt: skip
        return ScheduleStateResponse(schedule_id=target.schedule_id, paused=paused, note=note)


@endpoint(
    router,
    Operation.TRIGGER_SCHEDULE,
    response_model=ScheduleActionResponse,
    status_code=202,
    openapi_extra=_body(ScheduleTriggerRequest, {"overlap": "AllowAll"}, required=False),
    responses=_BY_ID_PROBLEMS,
)
async def trigger_schedule(target: ScheduleTarget) -> ScheduleActionResponse:
    with _counted(target.route, "trigger"):
        body = await read_optional_json(target.call.request, target.call.limits)
        overlap = None if body is NO_BODY else _model(ScheduleTriggerRequest, body).overlap
        await _described(target)
        await temporal_schedules.trigger(
            target.handle(), overlap.to_temporal() if overlap is not None else None,
            principal=target.call.caller.id, rpc_timeout=target.call.rpc_timeout,
        )  # fmt: skip
        return ScheduleActionResponse(schedule_id=target.schedule_id, status="triggered")


@endpoint(
    router,
    Operation.BACKFILL_SCHEDULE,
    response_model=ScheduleActionResponse,
    status_code=202,
    openapi_extra=_body(
        ScheduleBackfillRequest,
        {"start_time": "2026-01-01T00:00:00Z", "end_time": "2026-01-08T00:00:00Z"},
        required=True,
    ),
    responses=_BY_ID_PROBLEMS,
)
async def backfill_schedule(target: ScheduleTarget) -> ScheduleActionResponse:
    with _counted(target.route, "backfill"):
        request = _model(
            ScheduleBackfillRequest, await read_json(target.call.request, target.call.limits)
        )
        await _described(target)
        overlap = request.overlap or OverlapPolicy.ALLOW_ALL
        await temporal_schedules.backfill(
            target.handle(), request.start_time, request.end_time, overlap.to_temporal(),
            principal=target.call.caller.id, rpc_timeout=target.call.rpc_timeout,
        )  # fmt: skip
        return ScheduleActionResponse(schedule_id=target.schedule_id, status="backfilling")


@endpoint(
    router,
    Operation.DELETE_SCHEDULE,
    response_model=ScheduleActionResponse,
    responses=problems(401, 403, 404, 405, 409, 429, 503, 504),
)
async def delete_schedule(target: ScheduleTarget) -> ScheduleActionResponse:
    with _counted(target.route, "delete"):
        temporal_schedules.refuse_managed(await _described(target))
        await temporal_schedules.delete(
            target.handle(), principal=target.call.caller.id, rpc_timeout=target.call.rpc_timeout
        )
        return ScheduleActionResponse(schedule_id=target.schedule_id, status="deleted")

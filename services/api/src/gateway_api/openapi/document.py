"""The OpenAPI document: every operation the current route table serves, at its concrete path.

FastAPI documents the handlers as registered, generically: ``/workflows/{route_path}`` for the
starts and ``/workflows/{workflow_id}/signals/{name}`` for the messages. That document is
ambiguous (``/workflows/{route_path}`` and ``/workflows/{workflow_id}`` are the same template,
which OpenAPI forbids) and says nothing a client could type against. So this rewrites it, from
the route table:

- the starts, once per route and operation it allows, under ``/workflows/<path>`` and the route's
  tag, with the route's input schema (and, for the with-start operations, the message's) as the
  body; one operation per declared signal or update for the with-start ones;
- the messages, once per declared name: ``/workflows/{workflow_id}/signals/<name>`` with the
  argument's schema. Two routes may declare the same name, and a path may appear once, so such
  an operation serves both and its body is either schema;
- every by-id operation with ``workflow_id`` (or ``schedule_id``) constrained to the id prefixes
  of the routes that allow it; one no route allows is left out;
- a schedule's creation once per route that serves schedules, its body's ``input`` the route's
  input schema; the schedule operations only when some route serves them;
- errors as ``application/problem+json``, a ``security`` requirement on every operation
  (either credential; ``[]`` on the probes), ``servers`` honouring the root path.

Route schemas are JSON Schema 2020-12, which OpenAPI 3.1 uses as is; each becomes a component,
its local ``$ref``\\ s rewritten to point into it, as the API enforces it: a body of positional
arguments is its array schema (``prefixItems``, and no more items than it lists unless it says
otherwise), and an integer the schema leaves unbounded shows the default bounds, ±(2^53-1).
Rebuilt when the table version changes, so a route applied at run time shows up in ``/docs`` at
once.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse

from gateway_api.api.deps import SECURITY, SECURITY_SCHEMES
from gateway_api.api.endpoints import schedules as schedule_endpoints
from gateway_api.api.schemas import Problem
from gateway_api.errors import PROBLEM_JSON
from gateway_api.openapi import examples
from gateway_api.route_store import RouteStore
from gateway_core.routes import (
    OPERATIONS,
    Addressed,
    Arguments,
    CompiledMessage,
    CompiledRoute,
    MessageKind,
    Operation,
    RouteTable,
    with_integer_bounds,
)

SCHEMAS = "#/components/schemas/"
MESSAGE_KIND = {
    Operation.SIGNAL_WITH_START: MessageKind.SIGNAL,
    Operation.UPDATE_WITH_START: MessageKind.UPDATE,
    Operation.SIGNAL: MessageKind.SIGNAL,
    Operation.QUERY: MessageKind.QUERY,
    Operation.UPDATE: MessageKind.UPDATE,
}
"""Which declared messages an operation with a ``{name}`` in its path is documented for."""
_STARTS = {
    Operation.SYNC_START: "Start {type} and wait for its result",
    Operation.START: "Start {type} and return its id at once",
    Operation.SIGNAL_WITH_START: "Signal {name} to {type}, starting it first if it is not running",
    Operation.UPDATE_WITH_START: "Update {name} on {type}, starting it first if it is not running",
}
_HEALTH_TAG = {"name": "health", "description": "Probes: no credentials needed."}
_WORKFLOWS_TAG = {
    "name": "workflows",
    "description": "Operations on one workflow, by id; the id's prefix names its route.",
}
_SCHEDULES_TAG = {
    "name": "schedules",
    "description": "Schedules of the routes that serve them, by id; the id's prefix names its "
    "route, as a workflow id's does.",
}
# ECMA-262 syntax characters: what `pattern` (an ECMA-262 regex) must escape. Python's re.escape
# also escapes `-`, which a regex compiled with the `u` flag (as JSON Schema validators do)
# refuses outside a character class.
_REGEX_SYNTAX = re.compile(r"([\\^$.*+?()[\]{}|/])")


def build(app: FastAPI, table: RouteTable | None, servers: list[dict[str, Any]]) -> dict[str, Any]:
    """The document for ``table`` (no workflow operations before a table is loaded), the API
    served at ``servers``."""
    spec = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        servers=servers,
    )
    routes = list(table.routes.values()) if table is not None else []
    components: dict[str, Any] = spec.setdefault("components", {})
    # Credentials are read by gateway_api.api.deps.authenticate, not by FastAPI dependencies, so
    # FastAPI does not know the schemes: every workflow operation takes either.
    components["securitySchemes"] = copy.deepcopy(SECURITY_SCHEMES)
    schemas: dict[str, Any] = components.setdefault("schemas", {})
    schemas["Problem"] = Problem.model_json_schema(ref_template=SCHEMAS + "{model}")
    for name, schema in schedule_endpoints.COMPONENTS.items():
        schemas.setdefault(name, copy.deepcopy(schema))
    paths: dict[str, dict[str, Any]] = {}
    for template, item in spec["paths"].items():
        for method, op in item.items():
            if "x-gateway-operation" not in op:
                # The probes: open, so a load balancer can ask; said explicitly, as an
                # operation without `security` would inherit a document-wide requirement.
                op.setdefault("security", [])
                paths.setdefault(template, {})[method] = op
                continue
            _problem_responses(op)
            _path_parameters_first(op)
            op["security"] = copy.deepcopy(SECURITY)
            for path, documented in _expand(template, method, op, routes, schemas):
                paths.setdefault(path, {})[method] = documented
    spec["paths"] = dict(sorted(paths.items()))
    scheduling = any(r.allows(Operation.SCHEDULE) for r in routes)
    spec["tags"] = [
        _HEALTH_TAG,
        *({"name": _tag(r), "description": _route_description(r)} for r in routes),
        _WORKFLOWS_TAG,
        *([_SCHEDULES_TAG] if scheduling else []),
    ]
    _prune_unused(spec)
    return spec


_WHERE = {"path": 0, "query": 1, "header": 2, "cookie": 3}


def _path_parameters_first(op: dict[str, Any]) -> None:
    """Parameters in the order a reader meets them: the path's, then the query's, then headers.
    FastAPI lists the ones it resolves before those :func:`~gateway_api.api.operations.endpoint`
    documents for what a handler reads itself."""
    if "parameters" in op:
        op["parameters"].sort(key=lambda p: _WHERE[p["in"]])


def _expand(
    template: str,
    method: str,
    op: dict[str, Any],
    routes: list[CompiledRoute],
    schemas: dict[str, Any],
) -> Iterable[tuple[str, dict[str, Any]]]:
    """The documented forms of one registered operation."""
    operation = Operation(op["x-gateway-operation"])
    serving = [r for r in routes if r.allows(operation)]
    if OPERATIONS[operation].switch is Operation.SCHEDULE:
        yield from _schedules(template, op, operation, serving, schemas)
    elif "{route_path}" in template:
        for route in serving:
            yield from _starts(template, op, operation, route, schemas)
    elif "{workflow_id}" in template:
        if "{name}" not in template:
            if serving:
                yield template, _by_id(op, serving)
            return
        for name, declared in _messages(serving, MESSAGE_KIND[operation]).items():
            if method == "get" and template.endswith("{name}"):
                # A GET query takes no argument: only for the names that declare none.
                declared = [(r, m) for r, m in declared if m.validator is None]
                if not declared:
                    continue
            documented = _by_id(op, [r for r, _ in declared])
            _drop_parameter(documented, "name")
            documented["operationId"] = f"{op['operationId']}.{name}"
            documented["summary"] = f"{op['summary']}: {name}"
            descriptions = [m.spec.description for _, m in declared if m.spec.description]
            if descriptions:
                documented["description"] = "\n\n".join(descriptions)
            if "requestBody" in op:
                _message_body(documented, declared, schemas)
            yield template.replace("{name}", name), documented
    else:
        yield template, op


def _starts(
    template: str,
    op: dict[str, Any],
    operation: Operation,
    route: CompiledRoute,
    schemas: dict[str, Any],
) -> Iterable[tuple[str, dict[str, Any]]]:
    input_schema = with_integer_bounds(route.input_schema)
    input_ref = _component(schemas, f"{route.spec.path}.input", input_schema)
    found, instance = examples.example(input_schema, lambda x: not route.validate(x))
    kind = MESSAGE_KIND.get(operation)
    messages: list[CompiledMessage | None] = (
        [route.message(kind, m.name) for m in route.spec.messages(kind)] if kind else [None]
    )
    for message in messages:
        documented = copy.deepcopy(op)
        _drop_parameter(documented, "route_path")
        _drop_parameter(documented, "name")
        path = template.replace("{route_path}", route.spec.path)
        suffix = ""
        body: dict[str, Any] = {"schema": {"$ref": input_ref}}
        if found:
            body["example"] = instance
        if message is not None:
            path = path.replace("{name}", message.name)
            suffix = f".{message.name}"
            body = _with_start_body(route, message, input_ref, (found, instance), schemas)
        documented["operationId"] = f"{route.spec.path}.{op['operationId'].split('.')[-1]}{suffix}"
        documented["summary"] = _STARTS[operation].format(
            type=route.spec.workflow_type, name=message.name if message else ""
        )
        if message is not None and message.spec.description:
            documented["description"] = message.spec.description
        documented["tags"] = [_tag(route)]
        documented["requestBody"] = {
            "required": True,
            "description": op["requestBody"].get("description", "") + _input_note(route),
            "content": {"application/json": body},
        }
        yield path, documented


def _input_note(route: CompiledRoute) -> str:
    """What the body becomes in Temporal, when it is not simply the one JSON argument."""
    note = ""
    if route.spec.arguments is Arguments.POSITIONAL:
        note += " The workflow input is a JSON array: the workflow's arguments, in order."
    if route.spec.input_message is not None:
        note += (
            f" The workflow input is the proto JSON of `{route.spec.input_message}`, sent as "
            "`json/protobuf`."
        )
    return note


def _with_start_body(
    route: CompiledRoute,
    message: CompiledMessage,
    input_ref: str,
    input_example: tuple[bool, Any],
    schemas: dict[str, Any],
) -> dict[str, Any]:
    properties: dict[str, Any] = {"input": {"$ref": input_ref}}
    required = ["input"]
    example: dict[str, Any] = {"input": input_example[1]}
    found = input_example[0]
    if message.input_schema is not None:
        properties["arg"] = {"$ref": _message_component(schemas, route, message)}
        required.append("arg")
        arg_found, arg = examples.example(message.input_schema, _valid_for(message))
        found = found and arg_found
        example["arg"] = arg
    body: dict[str, Any] = {
        "schema": {
            "type": "object",
            "required": required,
            "properties": properties,
            "additionalProperties": False,
        }
    }
    if found:
        body["example"] = example
    return body


def _message_body(
    op: dict[str, Any],
    declared: list[tuple[CompiledRoute, CompiledMessage]],
    schemas: dict[str, Any],
) -> None:
    """The argument's schema as the body; none when no route declares one."""
    with_argument = [(r, m) for r, m in declared if m.input_schema is not None]
    if not with_argument:
        op.pop("requestBody", None)
        return
    refs = [{"$ref": _message_component(schemas, r, m)} for r, m in with_argument]
    body: dict[str, Any] = {"schema": refs[0] if len(refs) == 1 else {"anyOf": refs}}
    message = with_argument[0][1]
    found, instance = examples.example(message.input_schema, _valid_for(message))
    if found:
        body["example"] = instance
    op["requestBody"] = {
        # Required unless some route's handler of this name takes no argument.
        "required": len(with_argument) == len(declared),
        "description": "The argument, checked against the schema of the workflow's route.",
        "content": {"application/json": body},
    }


def _by_id(
    op: dict[str, Any], routes: list[CompiledRoute], *, name: str = "workflow_id"
) -> dict[str, Any]:
    """``op`` with ``name`` (the workflow's or the schedule's id) limited to the id prefixes of
    ``routes``."""
    documented = copy.deepcopy(op)
    prefixes = [r.spec.id_prefix for r in routes]
    escaped = [_REGEX_SYNTAX.sub(r"\\\1", p) for p in prefixes]
    pattern = "^" + (escaped[0] if len(escaped) == 1 else "(?:" + "|".join(escaped) + ")")
    which = ", ".join(f"`{r.spec.path}`: `{r.spec.id_prefix}`" for r in routes)
    what = "workflow" if name == "workflow_id" else "schedule"
    for param in documented.get("parameters", []):
        if param["name"] == name and param["in"] == "path":
            param["schema"] = {"type": "string", "pattern": pattern, "maxLength": 1000}
            param["description"] = f"The {what}'s id; it starts with its route's prefix ({which})."
            param["example"] = prefixes[0] + "0123456789abcdef"
    if len(routes) == 1:
        documented["tags"] = [_tag(routes[0])]
    return documented


def _schedules(
    template: str,
    op: dict[str, Any],
    operation: Operation,
    serving: list[CompiledRoute],
    schemas: dict[str, Any],
) -> Iterable[tuple[str, dict[str, Any]]]:
    """The schedule operations, documented only when some route serves them: the creation once
    per route, with the route's input schema as the body's ``input``; the by-id ones with
    ``schedule_id`` limited to the serving routes' prefixes, an update's ``input`` any of their
    input schemas."""
    if not serving:
        return
    addressed = OPERATIONS[operation].addressed
    if addressed is Addressed.ROUTE:
        for route in serving:
            documented = copy.deepcopy(op)
            _drop_parameter(documented, "route_path")
            input_schema = with_integer_bounds(route.input_schema)
            input_ref = _component(schemas, f"{route.spec.path}.input", input_schema)
            documented["operationId"] = f"{route.spec.path}.{op['operationId'].split('.')[-1]}"
            documented["summary"] = f"Create a schedule that starts {route.spec.workflow_type}"
            documented["tags"] = [_tag(route)]
            body = _settings_body(schemas, {"$ref": input_ref})
            if (example := _settings_example(route)) is not None:
                body["example"] = example
            documented["requestBody"] = {**op["requestBody"], "content": {"application/json": body}}
            yield template.replace("{route_path}", route.spec.path), documented
        return
    if addressed is Addressed.SCHEDULE:
        documented = _by_id(op, serving, name="schedule_id")
        if "requestBody" in op and operation is Operation.UPDATE_SCHEDULE:
            refs = [
                {"$ref": _component(schemas, f"{r.spec.path}.input",
                                    with_integer_bounds(r.input_schema))}
                for r in serving
            ]  # fmt: skip
            input_schema = refs[0] if len(refs) == 1 else {"anyOf": refs}
            body = _settings_body(schemas, input_schema)
            if (example := _settings_example(serving[0])) is not None:
                body["example"] = example
            documented["requestBody"] = {**op["requestBody"], "content": {"application/json": body}}
        yield template, documented
        return
    yield template, op


def _settings_example(route: CompiledRoute) -> dict[str, Any] | None:
    """A schedule of ``route``'s workflow every night at three, when its schema yields an
    example input."""
    input_schema = with_integer_bounds(route.input_schema)
    found, instance = examples.example(input_schema, lambda x: not route.validate(x))
    if not found:
        return None
    return {"input": instance, "spec": {"cron_expressions": ["0 3 * * *"], "time_zone": "UTC"}}


def _settings_body(schemas: dict[str, Any], input_schema: dict[str, Any]) -> dict[str, Any]:
    """A schedule's settings as a request body, its ``input`` ``input_schema``."""
    settings = copy.deepcopy(schemas["ScheduleSettings"])
    settings["properties"]["input"] = {
        **input_schema,
        "description": settings["properties"]["input"].get("description", ""),
    }
    return {"schema": settings}


def _messages(
    routes: list[CompiledRoute], kind: MessageKind
) -> dict[str, list[tuple[CompiledRoute, CompiledMessage]]]:
    """Each declared name of ``kind``, with the routes declaring it."""
    found: dict[str, list[tuple[CompiledRoute, CompiledMessage]]] = {}
    for route in routes:
        for spec in route.spec.messages(kind):
            message = route.message(kind, spec.name)
            assert message is not None  # compile_route compiles every declared message
            found.setdefault(spec.name, []).append((route, message))
    return dict(sorted(found.items()))


def _message_component(
    schemas: dict[str, Any], route: CompiledRoute, message: CompiledMessage
) -> str:
    assert message.input_schema is not None
    name = f"{route.spec.path}.{message.kind.value}.{message.name}"
    return _component(schemas, name, with_integer_bounds(message.input_schema))


def _valid_for(message: CompiledMessage) -> Any:
    return lambda x: not message.validate(x)


def _component(schemas: dict[str, Any], name: str, schema: dict[str, Any]) -> str:
    """Add ``schema`` as ``#/components/schemas/<name>``, its local refs pointing into it."""
    ref = SCHEMAS + name

    def rebase(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                k: (ref + v[1:] if k == "$ref" and isinstance(v, str) and v.startswith("#")
                    else rebase(v))
                for k, v in node.items()
            }  # fmt: skip
        if isinstance(node, list):
            return [rebase(v) for v in node]
        return node

    schemas[name] = rebase(schema)
    return ref


def _drop_parameter(op: dict[str, Any], name: str) -> None:
    op["parameters"] = [p for p in op.get("parameters", []) if p["name"] != name]
    if not op["parameters"]:
        del op["parameters"]


def _problem_responses(op: dict[str, Any]) -> None:
    """Every error the API answers is problem+json, including FastAPI's own 422."""
    for status, response in op.get("responses", {}).items():
        if status[0] in "45":
            response["content"] = {PROBLEM_JSON: {"schema": {"$ref": SCHEMAS + "Problem"}}}


def _prune_unused(spec: dict[str, Any]) -> None:
    """Drop schemas nothing refers to (FastAPI's validation error, replaced by Problem)."""
    schemas = spec["components"]["schemas"]
    while True:
        text = json.dumps(spec)
        unused = [n for n in schemas if f'"{SCHEMAS}{n}"' not in text]
        if not unused:
            return
        for name in unused:
            del schemas[name]


def _tag(route: CompiledRoute) -> str:
    return f"route: {route.spec.path}"


def _route_description(route: CompiledRoute) -> str:
    spec = route.spec
    return (
        f"`{spec.workflow_type}` on task queue `{spec.task_queue}`; its workflow ids start "
        f"with `{spec.id_prefix}`."
    )


def install(app: FastAPI, store: RouteStore) -> None:
    """Serve :func:`build`'s document at ``app.openapi_url``, cached per table version and root
    path. FastAPI's own handler is replaced: it would list the root path as a server beside
    ours, and behind a proxy a bare ``/`` is the proxy's root, not the API's."""
    cache: dict[tuple[str | None, str], dict[str, Any]] = {}

    def document(root_path: str) -> dict[str, Any]:
        key = (store.table.version if store.table else None, root_path)
        if key not in cache:
            cache.clear()
            servers = [{"url": root_path or "/"}, *app.servers]
            cache[key] = build(app, store.table, servers)
        return cache[key]

    async def serve(request: Request) -> JSONResponse:
        return JSONResponse(document(request.scope.get("root_path", "").rstrip("/")))

    app.openapi = lambda: document("")  # type: ignore[method-assign]
    url = app.openapi_url
    app.router.routes[:] = [r for r in app.router.routes if getattr(r, "path", None) != url]
    if url:
        app.add_route(url, serve, include_in_schema=False)

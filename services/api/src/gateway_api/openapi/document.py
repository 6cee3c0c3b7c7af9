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
- a schedule's creation once per route that serves schedules (with the starts: a route's
  share), its body's ``input`` the route's input schema; the other schedule operations only
  when some route serves them;
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
import functools
import hashlib
import json
import re
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response, StreamingResponse

from gateway_api.api.deps import SECURITY, SECURITY_SCHEMES, authenticate, services
from gateway_api.api.endpoints import schedules as schedule_endpoints
from gateway_api.api.schemas import Problem
from gateway_api.errors import PROBLEM_JSON, RouteNotFound
from gateway_api.openapi import examples
from gateway_api.route_store import RouteStore
from gateway_api.security.principals import may_use
from gateway_core.routes import (
    EMPTY,
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


Start = tuple[str, str, dict[str, Any], Operation]
"""A registered start operation: its template, method, operation object and operation."""
Component = Callable[[dict[str, Any], CompiledRoute, CompiledMessage], str]
"""Adds a message's argument schema to the schemas, and gives its ``$ref``."""


def build(
    app: FastAPI,
    table: RouteTable | None,
    servers: list[dict[str, Any]],
    *,
    base: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The document for ``table`` (no workflow operations before a table is loaded), the API
    served at ``servers``; ``base``: FastAPI's generic document for these servers, if made
    already (it is changed here).

    The reference: :class:`Documents` serves the same document assembled from parts cached
    per route, and a unit test holds the two equal.
    """
    return _build(app, table, servers, base=base)


def _build(
    app: FastAPI,
    table: RouteTable | None,
    servers: list[dict[str, Any]],
    *,
    base: dict[str, Any] | None = None,
    starts: list[Start] | None = None,
    component: Component | None = None,
) -> dict[str, Any]:
    """:func:`build`; with ``starts``, the start operations are not documented but collected
    there (prepared), for :class:`Documents` to document per route."""
    spec = base or get_openapi(
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
    scheduling = any(r.allows(Operation.SCHEDULE) for r in routes)
    if scheduling:  # the schedule bodies' models, which FastAPI does not know
        for name, schema in schedule_endpoints.COMPONENTS.items():
            schemas.setdefault(name, copy.deepcopy(schema))
    paths: dict[str, dict[str, Any]] = {}
    memo: dict[Any, Any] = {}
    generic = set(schemas)
    # Every documented operation is a registered one with top-level keys replaced; a start's
    # body always is (by the route's own schemas). So the registered operations say which of
    # FastAPI's schemas the document refers to, whatever the table's size.
    referring: list[Any] = [v for k, v in spec.items() if k not in ("components", "paths")]
    if scheduling:  # the settings, inlined in each route's bodies, refer to their parts
        referring.append(schedule_endpoints.COMPONENTS["ScheduleSettings"])
    for template, item in spec["paths"].items():
        for op in item.values():
            # The bodies documented per route (a schedule update's too: its `input`).
            replaced = (
                "{route_path}" in template
                or "{name}" in template
                or op.get("x-gateway-operation") == Operation.UPDATE_SCHEDULE
            )
            kept = op if not replaced else {
                k: v for k, v in op.items() if k != "requestBody"
            }  # fmt: skip
            referring.append(kept)
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
            if starts is not None and "{route_path}" in template:
                starts.append((template, method, op, Operation(op["x-gateway-operation"])))
                continue
            for path, documented in _expand(
                template, method, op, routes, schemas, component or _message_component, memo
            ):
                paths.setdefault(path, {})[method] = documented
    spec["paths"] = dict(sorted(paths.items()))
    spec["tags"] = [
        _HEALTH_TAG,
        *({"name": _tag(r), "description": _route_description(r)} for r in routes),
        _WORKFLOWS_TAG,
        *([_SCHEDULES_TAG] if scheduling else []),
    ]
    _prune_unused(spec, generic, referring)
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
    component: Component,
    memo: dict[Any, Any],
) -> Iterable[tuple[str, dict[str, Any]]]:
    """The documented forms of one registered operation; ``memo``: :func:`_by_id`'s, for the
    whole document."""
    operation = Operation(op["x-gateway-operation"])
    serving = [r for r in routes if r.allows(operation)]
    if "{route_path}" in template:
        for route in serving:
            yield from _starts(template, op, operation, route, schemas)
    elif OPERATIONS[operation].switch is Operation.SCHEDULE:
        yield from _schedules(template, op, operation, serving, schemas, memo)
    elif "{workflow_id}" in template:
        if "{name}" not in template:
            if serving:
                yield template, _by_id(op, serving, memo)
            return
        for name, declared in _messages(serving, MESSAGE_KIND[operation]).items():
            if method == "get" and template.endswith("{name}"):
                # A GET query takes no argument: only for the names that declare none.
                declared = [(r, m) for r, m in declared if m.validator is None]
                if not declared:
                    continue
            documented = _by_id(op, [r for r, _ in declared], memo)
            _drop_parameter(documented, "name")
            documented["operationId"] = f"{op['operationId']}.{name}"
            documented["summary"] = f"{op['summary']}: {name}"
            descriptions = [m.spec.description for _, m in declared if m.spec.description]
            if descriptions:
                documented["description"] = "\n\n".join(descriptions)
            if "requestBody" in op:
                _message_body(documented, declared, schemas, component)
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
    if operation is Operation.SCHEDULE:  # on a route, as the starts are: the route's share
        yield from _schedule_create(template, op, route, schemas)
        return
    kind = MESSAGE_KIND.get(operation)
    messages: list[CompiledMessage | None] = (
        [route.message(kind, m.name) for m in route.spec.messages(kind)] if kind else [None]
    )
    if not messages:
        return  # a with-start operation, and the route declares no message of its kind
    input_schema = with_integer_bounds(route.input_schema)
    input_ref = _component(schemas, f"{route.spec.path}.input", input_schema)
    found, instance = examples.example(input_schema, lambda x: not route.validate(x))
    for message in messages:
        # Only top-level keys are set or replaced below: the rest is shared with ``op``, which
        # nothing changes once built (a deep copy per route was most of a large table's cost).
        documented = dict(op)
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
    component: Component,
) -> None:
    """The argument's schema as the body; none when no route declares one."""
    with_argument = [(r, m) for r, m in declared if m.input_schema is not None]
    if not with_argument:
        op.pop("requestBody", None)
        return
    refs = [{"$ref": component(schemas, r, m)} for r, m in with_argument]
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
    op: dict[str, Any],
    routes: list[CompiledRoute],
    memo: dict[Any, Any] | None = None,
    *,
    name: str = "workflow_id",
) -> dict[str, Any]:
    """``op`` with ``name`` (the workflow's id, or the schedule's) limited to the id prefixes
    of ``routes``; ``memo``: the parameter's pattern and description for sets of routes seen
    already (most by-id operations are served by every route, and a pattern of 2,000 prefixes
    is worth making once)."""
    documented = copy.deepcopy(op)
    key = tuple(map(id, routes))
    found = None if memo is None else memo.get(key)
    if found is None:
        prefixes = [r.spec.id_prefix for r in routes]
        escaped = [_escape(p) for p in prefixes]
        pattern = "^" + (escaped[0] if len(escaped) == 1 else "(?:" + "|".join(escaped) + ")")
        which = ", ".join(f"`{r.spec.path}`: `{p}`" for r, p in zip(routes, prefixes, strict=True))
        found = (pattern, which, prefixes[0])
        if memo is not None:
            memo[key] = found
    pattern, which, first = found
    what = "workflow" if name == "workflow_id" else "schedule"
    for param in documented.get("parameters", []):
        if param["name"] == name and param["in"] == "path":
            param["schema"] = {"type": "string", "pattern": pattern, "maxLength": 1000}
            param["description"] = f"The {what}'s id; it starts with its route's prefix ({which})."
            param["example"] = first + "0123456789abcdef"
    if len(routes) == 1:
        documented["tags"] = [_tag(routes[0])]
    return documented


def _schedule_create(
    template: str, op: dict[str, Any], route: CompiledRoute, schemas: dict[str, Any]
) -> Iterable[tuple[str, dict[str, Any]]]:
    """Creating a schedule on ``route``: its body's ``input`` the route's input schema."""
    documented = dict(op)  # top-level keys replaced only, as for the starts
    _drop_parameter(documented, "route_path")
    input_schema = with_integer_bounds(route.input_schema)
    input_ref = _component(schemas, f"{route.spec.path}.input", input_schema)
    documented["operationId"] = f"{route.spec.path}.{op['operationId'].split('.')[-1]}"
    documented["summary"] = f"Create a schedule that starts {route.spec.workflow_type}"
    documented["tags"] = [_tag(route)]
    body = _settings_body({"$ref": input_ref})
    if (example := _settings_example(route)) is not None:
        body["example"] = example
    documented["requestBody"] = {**op["requestBody"], "content": {"application/json": body}}
    yield template.replace("{route_path}", route.spec.path), documented


def _schedules(
    template: str,
    op: dict[str, Any],
    operation: Operation,
    serving: list[CompiledRoute],
    schemas: dict[str, Any],
    memo: dict[Any, Any],
) -> Iterable[tuple[str, dict[str, Any]]]:
    """The schedule operations not on a route, documented only when some route serves them:
    the list, and the by-id ones with ``schedule_id`` limited to the serving routes'
    prefixes (an update's ``input`` any of their input schemas)."""
    if not serving:
        return
    if OPERATIONS[operation].addressed is not Addressed.SCHEDULE:
        yield template, op
        return
    documented = _by_id(op, serving, memo, name="schedule_id")
    if operation is Operation.UPDATE_SCHEDULE:
        refs = [
            {"$ref": _component(schemas, f"{r.spec.path}.input",
                                with_integer_bounds(r.input_schema))}
            for r in serving
        ]  # fmt: skip
        body = _settings_body(refs[0] if len(refs) == 1 else {"anyOf": refs})
        if (example := _settings_example(serving[0])) is not None:
            body["example"] = example
        documented["requestBody"] = {**op["requestBody"], "content": {"application/json": body}}
    yield template, documented


def _settings_example(route: CompiledRoute) -> dict[str, Any] | None:
    """A schedule of ``route``'s workflow every night at three, when its schema yields an
    example input."""
    input_schema = with_integer_bounds(route.input_schema)
    found, instance = examples.example(input_schema, lambda x: not route.validate(x))
    if not found:
        return None
    return {"input": instance, "spec": {"cron_expressions": ["0 3 * * *"], "time_zone": "UTC"}}


def _settings_body(input_schema: dict[str, Any]) -> dict[str, Any]:
    """A schedule's settings as a request body, its ``input`` ``input_schema`` (the other
    members refer to the settings' models among the components)."""
    settings = copy.deepcopy(schedule_endpoints.COMPONENTS["ScheduleSettings"])
    settings["properties"]["input"] = {
        **input_schema,
        "description": settings["properties"]["input"].get("description", ""),
    }
    return {"schema": settings}


@functools.lru_cache(maxsize=1 << 14)
def _escape(prefix: str) -> str:
    """``prefix`` as an ECMA-262 regex matching it literally (kept: every by-id operation of
    every table version escapes every route's prefix)."""
    return _REGEX_SYNTAX.sub(r"\\\1", prefix)


def _messages(
    routes: list[CompiledRoute], kind: MessageKind
) -> dict[str, list[tuple[CompiledRoute, CompiledMessage]]]:
    """Each declared name of ``kind``, with the routes declaring it."""
    found: dict[str, list[tuple[CompiledRoute, CompiledMessage]]] = {}
    for route in routes:
        # compile_route compiles every declared message, in the order declared
        for (declared, name), message in route.messages.items():
            if declared is kind:
                found.setdefault(name, []).append((route, message))
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


_REF = re.compile(r'"\$ref": ?"' + re.escape(SCHEMAS) + r'([^"#/]+)')


def _prune_unused(spec: dict[str, Any], generic: set[str], referring: list[Any]) -> None:
    """Drop FastAPI's schemas nothing refers to (its validation error, replaced by Problem):
    those of ``generic`` that no part of ``referring``, nor a schema kept, refers to. The
    routes' own schemas are referred to by construction."""
    schemas = spec["components"]["schemas"]
    wanted = set(_REF.findall(json.dumps(referring)))
    wanted |= set(_REF.findall(json.dumps(spec["components"].get("securitySchemes", {}))))
    todo = list(wanted)
    while todo:  # what the referenced schemas refer to
        name = todo.pop()
        if name in schemas:
            for found in _REF.findall(json.dumps(schemas[name])):
                if found not in wanted:
                    wanted.add(found)
                    todo.append(found)
    for name in generic - wanted:
        schemas.pop(name, None)


def _tag(route: CompiledRoute) -> str:
    return f"route: {route.spec.path}"


def _route_description(route: CompiledRoute) -> str:
    spec = route.spec
    return (
        f"`{spec.workflow_type}` on task queue `{spec.task_queue}`; its workflow ids start "
        f"with `{spec.id_prefix}`."
    )


@dataclass(frozen=True, slots=True)
class _Part:
    """One route's share of the whole document, encoded once per route digest: its start
    operations (``"path":{...}`` members of ``paths``), the schemas they add (members of
    ``components.schemas``), and its message schemas (for the by-id operations, which every
    route serving them shares)."""

    paths: tuple[tuple[str, bytes], ...]
    schemas: tuple[tuple[str, bytes], ...]
    messages: dict[tuple[MessageKind, str], tuple[str, bytes]]
    """By kind and name: the component's name and its encoded member."""


@dataclass(frozen=True, slots=True)
class Document:
    """A document as served: its JSON in pieces (sent in batches, never joined into one
    copy), their total length, and its ``ETag``."""

    pieces: tuple[bytes, ...]
    length: int
    etag: str

    @property
    def body(self) -> bytes:
        return b"".join(self.pieces)


class Documents:
    """The documents served, built once per table version (and root path): the whole table's
    at ``/openapi.json`` and each route's at ``/workflows/<path>/openapi.json``, with an
    ``ETag`` so a client that has one gets 304.

    The whole table's document is most of all its routes' start operations (each with its
    body's schema and example), and a table changes one route at a time. So each route's
    share is built and encoded once per route digest (:class:`_Part`), and a new table
    version builds only what every route shares (the probes, and the by-id operations, whose
    ``workflow_id`` pattern names every route's prefix), then splices the routes' encoded
    parts in: no route is documented, and no byte of it encoded, again.
    """

    PER_ROUTE = 256
    """Per-route documents kept (each a few kilobytes to tens): the most recently asked."""

    def __init__(self, app: FastAPI, store: RouteStore) -> None:
        self._app = app
        self._store = store
        self._parts: dict[tuple[str, str], _Part] = {}
        self._full: dict[tuple[str | None, str], Document] = {}
        self._routes: OrderedDict[tuple[str, str], Document] = OrderedDict()
        self._callers: OrderedDict[tuple[str, str, frozenset[str]], Document] = OrderedDict()
        self._generic: tuple[str, dict[str, Any]] | None = None

    def _servers(self, root_path: str) -> list[dict[str, Any]]:
        return [{"url": root_path or "/"}, *self._app.servers]

    def full_spec(self, root_path: str) -> dict[str, Any]:
        """The whole table's document as data (``app.openapi()``): what :meth:`full` sends."""
        return json.loads(self.full(root_path).body)  # type: ignore[no-any-return]

    def _base(self, root_path: str) -> dict[str, Any]:
        """FastAPI's document of the handlers as registered: the same for every table."""
        if self._generic is None or self._generic[0] != root_path:
            servers = self._servers(root_path)
            self._generic = (root_path, get_openapi(
                title=self._app.title, version=self._app.version,
                description=self._app.description, routes=self._app.routes, servers=servers,
            ))  # fmt: skip
        return copy.deepcopy(self._generic[1])

    def full(self, root_path: str) -> Document:
        table = self._store.table
        key = (table.version if table else None, root_path)
        found = self._full.get(key)
        if found is None:
            self._full.clear()
            pieces = tuple(self._assemble(table, root_path))
            found = Document(pieces, sum(map(len, pieces)), _etag("t", str(key[0]), root_path))
            self._full[key] = found
        return found

    def _assemble(
        self, table: RouteTable | None, root_path: str, *, whole: bool = True
    ) -> Iterator[bytes]:
        """The document's JSON, in pieces: what every route shares, built now, with each
        route's cached part spliced into ``paths`` and ``components.schemas``. ``whole``: the
        store's whole table, whose routes are the parts kept (a caller's share of it only
        adds to them)."""
        routes = list(table.routes.values()) if table is not None else []
        starts: list[Start] = []
        parts: dict[tuple[str, str], _Part] = {}
        by_route: dict[int, _Part] = {}  # the same, by the route object (looked up often)

        def part(route: CompiledRoute) -> _Part:
            found = by_route.get(id(route))
            if found is None:
                key = (route.digest, route.spec.path)
                found = parts.get(key) or self._parts.get(key) or _part(route, starts)
                parts[key] = by_route[id(route)] = found
            return found

        def component(schemas: dict[str, Any], route: CompiledRoute, m: CompiledMessage) -> str:
            name, encoded = part(route).messages[m.kind, m.name]
            schemas[name] = _Encoded(encoded)  # spliced in as encoded in the route's part
            return SCHEMAS + name

        spec = _build(
            self._app, table, self._servers(root_path), base=self._base(root_path),
            starts=starts, component=component,
        )  # fmt: skip
        for route in routes:
            part(route)
        if whole:
            self._parts = parts  # the routes no longer served are forgotten
        else:
            self._parts.update(parts)
        schemas = spec["components"]["schemas"]
        members = [(path, _member(path, item)) for path, item in spec["paths"].items()]
        extra: list[bytes] = []
        for found in parts.values():
            members.extend(found.paths)
            for name, encoded in found.schemas:
                if name not in schemas:  # (a message's, also used by a by-id operation)
                    schemas[name] = None
                    extra.append(encoded)
        members.sort(key=lambda m: m[0])
        given = [
            v.member if isinstance(v, _Encoded) else _member(n, v)
            for n, v in schemas.items()
            if v is not None
        ]
        spec["paths"], spec["components"]["schemas"] = _PATHS, _SCHEMAS
        head, rest = _encode(spec).split(_encode(_PATHS), 1)
        middle, tail = rest.split(_encode(_SCHEMAS), 1)
        yield head + b"{"
        yield from _listed(_merged(members))
        yield b"}" + middle + b"{"
        yield from _listed([*given, *extra])
        yield b"}" + tail

    PER_CALLER = 64
    """Caller documents kept, by the set of routes they show: callers of one team share one."""

    def caller(self, visible: frozenset[str] | None, root_path: str) -> Document:
        """The document of a caller who may use the routes at ``visible`` (paths; None: every
        route, as :meth:`full`), the routes of the current table only."""
        table = self._store.table
        if visible is None or table is None:
            return self.full(root_path)
        if len(visible) == len(table.routes) and visible == table.routes.keys():
            return self.full(root_path)
        key = (table.version, root_path, visible)  # a hit builds nothing
        found = self._callers.get(key)
        if found is None:
            share = EMPTY.changed(r for path, r in table.routes.items() if path in visible)
            pieces = tuple(self._assemble(share, root_path, whole=False))
            found = Document(pieces, sum(map(len, pieces)), _etag("c", share.version, root_path))
            self._callers[key] = found
            while len(self._callers) > self.PER_CALLER:
                self._callers.popitem(last=False)
        self._callers.move_to_end(key)
        return found

    def route(self, path: str, root_path: str) -> Document | None:
        table = self._store.table
        route = table.get(path) if table else None
        if route is None:
            return None
        key = (route.digest + path, root_path)
        found = self._routes.get(key)
        if found is None:
            one = EMPTY.changed([route])
            spec = build(self._app, one, self._servers(root_path), base=self._base(root_path))
            body = _encode(spec)
            found = self._routes[key] = Document((body,), len(body), _etag("r", *key))
            while len(self._routes) > self.PER_ROUTE:
                self._routes.popitem(last=False)
        self._routes.move_to_end(key)
        return found


@dataclass(frozen=True, slots=True)
class _Encoded:
    """A schema in the skeleton whose member is encoded already (a route's message)."""

    member: bytes


_PATHS, _SCHEMAS = "\x00paths\x00", "\x00schemas\x00"
"""Placeholders in the encoded skeleton, where the members of ``paths`` and
``components.schemas`` go (JSON text never holds a raw NUL: it is written as an escape)."""


def _part(route: CompiledRoute, starts: list[Start]) -> _Part:
    added: dict[str, Any] = {}
    items: dict[str, dict[str, Any]] = {}
    for template, method, op, operation in starts:
        if route.allows(operation):
            for path, documented in _starts(template, op, operation, route, added):
                items.setdefault(path, {})[method] = documented
    messages: dict[tuple[MessageKind, str], tuple[str, bytes]] = {}
    for kind in MessageKind:
        for declared in route.spec.messages(kind):
            message = route.message(kind, declared.name)
            if message is not None and message.input_schema is not None:
                found: dict[str, Any] = {}
                name = _message_component(found, route, message).removeprefix(SCHEMAS)
                messages[kind, declared.name] = (name, _member(name, found[name]))
    return _Part(
        paths=tuple((path, _member(path, item)) for path, item in items.items()),
        schemas=tuple((name, _member(name, schema)) for name, schema in added.items()),
        messages=messages,
    )


def _member(key: str, value: Any) -> bytes:
    """``"key":value``, as :func:`_encode` writes an object's member."""
    return _encode(key) + b":" + _encode(value)


def _merged(members: list[tuple[str, bytes]]) -> list[bytes]:
    """The members of ``paths``, sorted by path, one per path: a route whose path is that of a
    fixed operation (``count``: ``POST /workflows/count`` beside ``GET``) shares its item."""
    merged: list[bytes] = []
    previous = None
    for path, encoded in members:
        if path == previous:
            _, before = json.loads(b"{" + merged[-1] + b"}").popitem()
            _, after = json.loads(b"{" + encoded + b"}").popitem()
            merged[-1] = _member(path, {**before, **after})
        else:
            merged.append(encoded)
        previous = path
    return merged


def _listed(members: list[bytes]) -> Iterator[bytes]:
    """``members`` and the commas between them: pieces of the document, never joined into
    one copy (the routes' encoded parts stay the only copy of their bytes)."""
    for i, member in enumerate(members):
        if i:
            yield b","
        yield member


def _batches(pieces: Iterable[bytes], size: int = 1 << 18) -> Iterator[bytes]:
    """``pieces`` joined into chunks of about ``size`` bytes: one ASGI message each."""
    batch: list[bytes] = []
    length = 0
    for piece in pieces:
        batch.append(piece)
        length += len(piece)
        if length >= size:
            yield b"".join(batch)
            batch, length = [], 0
    if batch:
        yield b"".join(batch)


def _encode(spec: Any) -> bytes:
    return json.dumps(spec, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def _etag(*parts: str) -> str:
    return '"' + hashlib.sha256("\0".join(parts).encode()).hexdigest()[:20] + '"'


def _answer(request: Request, found: Document, *, per_caller: bool) -> Response:
    headers = {"ETag": found.etag}  # Cache-Control: the security headers' no-store, as everywhere
    if per_caller:
        headers["Vary"] = "Authorization, X-API-Key"  # a shared cache keeps one per caller
    asked = request.headers.get("if-none-match", "")
    if found.etag in (t.strip().removeprefix("W/") for t in asked.split(",")) or asked == "*":
        return Response(status_code=304, headers=headers)
    if len(found.pieces) == 1:
        return Response(found.pieces[0], media_type="application/json", headers=headers)
    headers["Content-Length"] = str(found.length)

    async def chunks() -> AsyncIterator[bytes]:
        for chunk in _batches(found.pieces):
            yield chunk

    return StreamingResponse(chunks(), media_type="application/json", headers=headers)


async def _visible(request: Request) -> frozenset[str] | None:
    """The paths of the routes the caller may use (None: every route), when the documents
    are per caller (``API_OPENAPI_ACCESS``).

    No credentials at all: no route, so ``/docs`` still loads (and offers Authorize). Bad
    ones: 401, as on any operation, counted against the client's address.
    """
    shared = services(request)
    settings = shared.settings
    headers = request.headers
    if not shared.authenticator.disabled and not (
        "authorization" in headers or headers.get("x-api-key")
    ):
        return frozenset()
    principal = await authenticate(request)
    admin = settings.admin_scope
    table = shared.routes.table
    if principal.is_admin(admin) or table is None:
        return None
    return frozenset(p for p, route in table.routes.items() if may_use(principal, route, admin))


def install(app: FastAPI, store: RouteStore, *, per_caller: bool) -> None:
    """Serve :func:`build`'s document at ``app.openapi_url``, and each route's alone at
    ``/workflows/<path>/openapi.json`` (a team's client generator reads only its route),
    cached per table version and root path; ``per_caller``: the caller's routes only
    (:func:`_visible`). FastAPI's own handler is replaced: it would list the root path as a
    server beside ours, and behind a proxy a bare ``/`` is the proxy's root, not the API's."""
    documents = Documents(app, store)

    def root(request: Request) -> str:
        return str(request.scope.get("root_path", "")).rstrip("/")

    async def serve(request: Request) -> Response:
        visible = await _visible(request) if per_caller else None
        found = documents.caller(visible, root(request))
        return _answer(request, found, per_caller=per_caller)

    async def serve_route(request: Request) -> Response:
        path = request.path_params["route_path"]
        visible = await _visible(request) if per_caller else None
        found = documents.route(path, root(request))
        if found is None or (visible is not None and path not in visible):
            # The same answer for a route the caller may not use as for none at all.
            raise RouteNotFound(f"no workflow route is served at /workflows/{path}")
        return _answer(request, found, per_caller=per_caller)

    app.openapi = lambda: documents.full_spec("")  # type: ignore[method-assign]
    url = app.openapi_url
    app.router.routes[:] = [r for r in app.router.routes if getattr(r, "path", None) != url]
    if url:
        app.add_route(url, serve, include_in_schema=False)
        app.add_route("/workflows/{route_path}/openapi.json", serve_route, include_in_schema=False)

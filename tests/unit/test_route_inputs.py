"""Each shipped route's ``inputSchema`` (and each message's) against the dataclass the workflow
decodes it into.

The schemas stay written by hand in the route documents: they say what a plain dataclass
cannot (limits, descriptions, no unknown fields), and they are what callers, the CRD and the
OpenAPI document see. The dataclass is what Temporal's converter builds in the worker. A body
the gateway accepts but the workflow cannot decode would be acknowledged and then fail in the
worker, so the two must describe one shape; the checks find each route's dataclass from the
registered workflow's type hints, so a new route is covered without a line here:

- the shape: the route's schema with its refinements (limits, descriptions,
  ``additionalProperties``) left out equals pydantic's JSON Schema of the dataclass
  (``TypeAdapter``), references resolved: the same fields, the same required ones, the same
  types and enum values;
- closed objects: the route refuses unknown fields, which the converter would drop silently;
- bodies: bodies the route accepts decode into the dataclass with Temporal's default converter
  and encode back to the same JSON, and each structural fault (a required field left out, a
  value of another type) is refused by both.
"""

from __future__ import annotations

import copy
import inspect
import json
import typing
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError
from temporalio import workflow
from temporalio.converter import DataConverter

from gateway_core.routes import MessageKind, load_routes
from gateway_workflows.registry import WORKFLOWS
from support.procs import ROOT

SHIPPED = ROOT / "k8s" / "routes"
SHAPE = {"type", "properties", "required", "items", "enum"}
"""What a schema says about the shape; everything else in a route's schema refines it."""


def _argument_type(fn: Any) -> Any:
    """The type of the one argument a workflow's run method or handler takes (after self)."""
    parameters = list(inspect.signature(fn).parameters)
    assert len(parameters) == 2, f"{fn.__qualname__} takes {parameters[1:]}"
    return typing.get_type_hints(fn)[parameters[1]]


def _inputs() -> Iterator[tuple[str, Any, Any, Any]]:
    """``(where, schema, its validator, the dataclass)`` for every schema a shipped route gives
    an input: the start's, and each message's."""
    definitions = {d.name: d for d in map(workflow._Definition.must_from_class, WORKFLOWS)}
    for route in load_routes(SHIPPED).routes.values():
        defn = definitions[route.spec.workflow_type]
        yield f"{route.name}", route.spec.input_schema, route.validate, _argument_type(defn.run_fn)
        handlers = {
            MessageKind.SIGNAL: defn.signals,
            MessageKind.QUERY: defn.queries,
            MessageKind.UPDATE: defn.updates,
        }
        for kind, by_name in handlers.items():
            for message in route.spec.messages(kind):
                if message.input_schema is None:
                    continue
                compiled = route.message(kind, message.name)
                fn = by_name[message.name].fn
                where = f"{route.name}.{kind.value}.{message.name}"
                yield where, message.input_schema, compiled.validate, _argument_type(fn)


INPUTS = list(_inputs())
IDS = [where for where, *_ in INPUTS]


def shape(schema: Any, root: Any) -> Any:
    """``schema`` reduced to its shape: references resolved, refinements left out."""
    if isinstance(schema, dict):
        if "$ref" in schema:
            name = schema["$ref"].removeprefix("#/$defs/")
            return shape(root["$defs"][name], root)
        reduced = {k: shape(v, root) for k, v in schema.items() if k in SHAPE}
        if "properties" in schema:  # property names are data, not keywords
            reduced["properties"] = {
                name: shape(sub, root) for name, sub in schema["properties"].items()
            }
        if "required" in reduced:
            reduced["required"] = sorted(reduced["required"])
        return reduced
    if isinstance(schema, list):
        return [shape(item, root) for item in schema]
    return schema


def objects(schema: Any, where: str = "") -> Iterator[tuple[str, dict]]:
    """Every object schema inside ``schema``, with where it is."""
    if not isinstance(schema, dict):
        return
    if schema.get("type") == "object":
        yield where or "(body)", schema
    for name, sub in schema.get("properties", {}).items():
        yield from objects(sub, f"{where}.{name}".lstrip("."))
    if "items" in schema:
        yield from objects(schema["items"], f"{where}[]")


def instance(schema: Any) -> Any:
    """A body the schema accepts, every property present: the last enum value (the first is
    what ``minimal`` sends), the upper bounds, the most items."""
    if "enum" in schema:
        return schema["enum"][-1]
    kind = schema["type"]
    if kind == "object":
        return {name: instance(sub) for name, sub in schema["properties"].items()}
    if kind == "array":
        return [instance(schema["items"])] * schema.get("maxItems", 2)
    if kind == "integer":
        return schema.get("maximum", 7)
    if kind == "string":
        return "x" * schema.get("maxLength", 3)
    raise AssertionError(f"no instance of {schema}")


def minimal(schema: Any) -> Any:
    """A body the schema accepts, required properties only, at the lower bounds."""
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema["type"]
    if kind == "object":
        return {name: minimal(schema["properties"][name]) for name in schema.get("required", [])}
    if kind == "array":
        return [minimal(schema["items"])] * max(schema.get("minItems", 0), 1)
    if kind == "integer":
        return schema.get("minimum", 0)
    if kind == "string":
        return "x" * max(schema.get("minLength", 0), 1)
    raise AssertionError(f"no instance of {schema}")


WRONG_TYPE = {"object": "text", "array": {"a": 1}, "integer": "1", "string": 1}


def faults(schema: Any, body: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[str, Any]]:
    """``body`` broken once in each structural way: each required field left out, each value
    replaced by one of another type."""
    node = body
    for step in path:
        node = node[step]
    where = "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in path) or "(body)"
    kind = "string" if "enum" in schema else schema["type"]
    wrong = copy.deepcopy(body)
    if path:
        parent = wrong
        for step in path[:-1]:
            parent = parent[step]
        parent[path[-1]] = WRONG_TYPE[kind]
        yield f"{where}: {kind} as {type(WRONG_TYPE[kind]).__name__}", wrong
    if kind == "object":
        for name in schema.get("required", []):
            missing = copy.deepcopy(body)
            target = missing
            for step in path:
                target = target[step]
            del target[name]
            yield f"{where}: without {name}", missing
        for name, sub in schema["properties"].items():
            if name in node:
                yield from faults(sub, body, (*path, name))
    elif kind == "array" and node:
        yield from faults(schema["items"], body, (*path, 0))


def round_trip(body: Any, cls: Any) -> Any:
    """``body`` decoded into ``cls`` and encoded again, by the converter the worker uses."""
    converter = DataConverter.default.payload_converter
    [value] = converter.from_payloads(converter.to_payloads([body]), [cls])
    assert isinstance(value, cls)
    [payload] = converter.to_payloads([value])
    return json.loads(payload.data)


def test_every_shipped_input_is_checked() -> None:
    """The routes' inputs found from the registered workflows: the orders start, its
    ``approve`` signal and ``add_item`` update, and the shopping start."""
    assert {where: cls.__name__ for where, _, _, cls in INPUTS} == {
        "orders": "OrderInput",
        "orders.signal.approve": "Approval",
        "orders.update.add_item": "OrderItem",
        "shopping": "ShoppingList",
    }


@pytest.mark.parametrize(("where", "schema", "validate", "cls"), INPUTS, ids=IDS)
def test_the_route_schema_has_the_shape_of_the_dataclass(where, schema, validate, cls) -> None:
    generated = TypeAdapter(cls).json_schema()
    assert shape(schema, schema) == shape(generated, generated), where


@pytest.mark.parametrize(("where", "schema", "validate", "cls"), INPUTS, ids=IDS)
def test_the_route_refuses_fields_the_dataclass_does_not_have(where, schema, validate, cls) -> None:
    for at, obj in objects(schema):
        assert obj.get("additionalProperties") is False, f"{where} {at}"


@pytest.mark.parametrize(("where", "schema", "validate", "cls"), INPUTS, ids=IDS)
def test_bodies_the_route_accepts_decode_without_loss(where, schema, validate, cls) -> None:
    for body in (minimal(schema), instance(schema)):
        assert validate(body) == [], (where, body)
        assert round_trip(body, cls) == body, where


@pytest.mark.parametrize(("where", "schema", "validate", "cls"), INPUTS, ids=IDS)
def test_structural_faults_are_refused_by_both(where, schema, validate, cls) -> None:
    adapter = TypeAdapter(cls)
    broken = list(faults(schema, instance(schema)))
    assert broken, where
    for fault, body in broken:
        assert validate(body), f"{where} {fault}: the route accepts it"
        with pytest.raises(ValidationError):
            adapter.validate_json(json.dumps(body), strict=True)

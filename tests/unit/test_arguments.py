"""What a route says about its arguments (gateway_core.routes): positional arguments
(``arguments: positional``, the body an array checked item by item against ``prefixItems``), a
protobuf input (``inputMessage``), a descriptor set's name, and the default bounds of integers,
±(2^53-1), on every schema."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from gateway_core.errors import RouteConfigError
from gateway_core.routes import (
    SAFE_INTEGER,
    Arguments,
    CompiledRoute,
    MessageKind,
    parse_documents,
    with_integer_bounds,
)

SHIP = {
    "type": "array",
    "prefixItems": [
        {"type": "string", "minLength": 1},
        {"type": "integer", "minimum": 1, "maximum": 1000},
        {"type": "boolean"},
    ],
}
"""func(ctx, customer string, count int, express bool), as a route declares it."""


def route(**spec: Any) -> CompiledRoute:
    document = {
        "apiVersion": "temporal-gateway.dev/v1alpha1",
        "kind": "WorkflowRoute",
        "metadata": {"name": "r"},
        "spec": {"path": "r", "workflowType": "W", "taskQueue": "q", **spec},
    }
    [compiled] = parse_documents(yaml.safe_dump(document), source="routes.yaml")
    return compiled


@pytest.fixture(scope="module")
def ship() -> CompiledRoute:
    return route(
        arguments="positional",
        inputSchema=SHIP,
        updates=[{"name": "set_weight", "arguments": "positional",
                  "inputSchema": {"prefixItems": [{"type": "string"}, {"type": "integer"}]}}],
        signals=[{"name": "note", "inputSchema": {"type": "string"}}],
    )  # fmt: skip


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        (["ann", 3, True], []),
        (["ann", 0, True], ["[1]"]),
        (["", 3, "yes"], ["[0]", "[2]"]),
        (["ann", 3], ["body"]),  # every parameter is required unless the schema says minItems
        (["ann", 3, True, "extra"], ["body"]),  # and none beyond: items: false
        ({"customer": "ann", "count": 3, "express": True}, ["body"]),
        ("ann", ["body"]),
    ],
)
def test_a_positional_body_is_an_array_checked_item_by_item(ship, body, errors) -> None:
    assert [e.field for e in ship.validate(body)] == errors


def test_positional_defaults_are_written_into_the_schema_the_api_enforces(ship) -> None:
    assert ship.input_schema == {**SHIP, "items": False, "minItems": 3}
    assert ship.arguments(["ann", 3, True]) == ["ann", 3, True]
    assert route().arguments({"a": 1}) == [{"a": 1}]


def test_a_positional_schema_may_allow_optional_and_extra_arguments() -> None:
    variadic = route(
        arguments="positional",
        inputSchema={**SHIP, "minItems": 1, "items": {"type": "string"}},
    )
    assert variadic.validate(["ann"]) == []
    assert variadic.validate(["ann", 3, True, "gift", "fragile"]) == []
    assert [e.field for e in variadic.validate(["ann", 3, True, 4])] == ["[3]"]


def test_positional_messages(ship) -> None:
    update = ship.message(MessageKind.UPDATE, "set_weight")
    assert update is not None
    assert update.spec.arguments is Arguments.POSITIONAL
    assert update.validate(["A", 250]) == []
    assert [e.field for e in update.validate(["A"])] == ["body"]
    assert [e.field for e in update.validate(["A", "heavy"])] == ["[1]"]
    assert update.arguments(["A", 250]) == ["A", 250]
    note = ship.message(MessageKind.SIGNAL, "note")
    assert note is not None
    assert note.arguments("fragile") == ["fragile"]


@pytest.mark.parametrize(
    ("spec", "field", "message"),
    [
        ({"arguments": "positional"}, "spec.inputSchema.type", "type must be array"),
        ({"arguments": "positional", "inputSchema": {"type": "array"}},
         "spec.inputSchema.prefixItems", "needs prefixItems"),
        ({"arguments": "positional", "inputSchema": {"prefixItems": []}},
         "spec.inputSchema.prefixItems", "non-empty"),
        ({"signals": [{"name": "s", "arguments": "positional", "inputSchema": {"type": "object"}}]},
         "spec.signals[0].inputSchema.type", "type must be array"),
        ({"queries": [{"name": "q", "arguments": "positional"}]}, "spec.queries[0].inputSchema",
         "without an inputSchema"),
        ({"updates": [{"name": "u", "inputMessage": "pkg.M"}]}, "spec.updates[0].inputSchema",
         "without an inputSchema"),
    ],
)  # fmt: skip
def test_a_positional_route_without_prefix_items_is_refused_naming_the_field(
    spec, field, message
) -> None:
    with pytest.raises(RouteConfigError, match=message) as raised:
        route(**spec)
    assert raised.value.field == field


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"arguments": "positional", "inputSchema": SHIP, "inputMessage": "pkg.M"},
         "inputMessage names the one argument"),
        ({"updates": [{"name": "u", "arguments": "positional", "inputMessage": "pkg.M",
                       "inputSchema": SHIP}]}, "inputMessage names the one argument"),
        ({"arguments": "positional", "inputSchema": {**SHIP, "required": ["x"]},
          "workflowId": {"template": "{body.x}"}}, "makes the body an array"),
        ({"inputMessage": "not a name"}, "spec.inputMessage"),
        ({"descriptorSet": "../etc/passwd"}, "spec.descriptorSet"),
        ({"descriptorSet": ".hidden"}, "spec.descriptorSet"),
        ({"arguments": "several"}, "spec.arguments"),
    ],
)  # fmt: skip
def test_argument_rules(spec, message) -> None:
    with pytest.raises(RouteConfigError, match=message):
        route(**spec)


def test_protobuf_fields() -> None:
    compiled = route(
        inputMessage="gateway.examples.v1.Receipt",
        descriptorSet="receipts.binpb",
        queries=[{"name": "q", "inputMessage": "google.protobuf.Struct",
                  "inputSchema": {"type": "object"}}],
    )  # fmt: skip
    assert compiled.spec.input_message == "gateway.examples.v1.Receipt"
    assert compiled.spec.descriptor_set == "receipts.binpb"
    query = compiled.message(MessageKind.QUERY, "q")
    assert query is not None
    assert query.spec.input_message == "google.protobuf.Struct"


BEYOND = SAFE_INTEGER + 1


@pytest.mark.parametrize(
    ("schema", "body", "errors"),
    [
        ({"type": "integer"}, SAFE_INTEGER, []),
        ({"type": "integer"}, -SAFE_INTEGER, []),
        ({"type": "integer"}, BEYOND, ["body"]),
        ({"type": "integer"}, -BEYOND, ["body"]),
        ({"type": ["integer", "null"]}, 2**63, ["body"]),
        # Bounds the schema sets are its own, side by side.
        ({"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1}, 2**63 - 1, []),
        ({"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1}, -(2**63), []),
        ({"type": "integer", "maximum": 2**63 - 1}, 2**63 - 1, []),
        ({"type": "integer", "maximum": 2**63 - 1}, -BEYOND, ["body"]),
        ({"type": "integer", "minimum": 0}, BEYOND, ["body"]),
        ({"type": "integer", "exclusiveMaximum": 2**64}, 2**63, []),
        ({"type": "integer", "enum": [2**60]}, 2**60, []),
        ({"type": "integer", "const": 2**60}, 2**60, []),
        # Only integers: a number is a double wherever it goes, and a bool is no integer.
        ({"type": "number"}, 2**60, []),
        ({}, 2**60, []),
        ({"type": ["integer", "boolean"]}, True, []),
        ({"type": "object", "properties": {"n": {"type": "integer"}}}, {"n": BEYOND}, ["n"]),
        ({"type": "array", "items": {"type": "integer"}}, [1, BEYOND], ["[1]"]),
        ({"$defs": {"n": {"type": "integer"}}, "type": "object",
          "properties": {"a": {"$ref": "#/$defs/n"}}}, {"a": -BEYOND}, ["a"]),
    ],
)  # fmt: skip
def test_integers_beyond_2_53_need_bounds_from_the_schema(schema, body, errors) -> None:
    compiled = route(inputSchema=schema)
    found = compiled.validate(body)
    assert [e.field for e in found] == errors
    for error in found:
        assert "integers must be within ±(2^53-1) (9007199254740991)" in error.message
        assert "unless the schema sets minimum/maximum" in error.message


def test_the_integer_rule_holds_for_messages_and_positional_arguments(ship) -> None:
    compiled = route(
        updates=[{"name": "u", "inputSchema": {"type": "object",
                                                "properties": {"n": {"type": "integer"}}}}],
    )  # fmt: skip
    update = compiled.message(MessageKind.UPDATE, "u")
    assert update is not None
    assert [e.field for e in update.validate({"n": BEYOND})] == ["n"]
    set_weight = ship.message(MessageKind.UPDATE, "set_weight")
    assert set_weight is not None
    assert [e.field for e in set_weight.validate(["A", BEYOND])] == ["[1]"]


def test_documents_show_the_default_bounds() -> None:
    schema = {
        "type": "object",
        "properties": {
            "n": {"type": "integer"},
            "low": {"type": "integer", "minimum": 0},
            "enum": {"type": "integer", "enum": [2**60]},  # a property named like a keyword
            "tags": {"type": "array", "prefixItems": [{"type": ["integer", "null"]}]},
            "x": {"type": "number"},
        },
        "examples": [{"n": {"type": "integer"}}],
    }
    assert with_integer_bounds(schema) == {
        "type": "object",
        "properties": {
            "n": {"type": "integer", "minimum": -SAFE_INTEGER, "maximum": SAFE_INTEGER},
            "low": {"type": "integer", "minimum": 0, "maximum": SAFE_INTEGER},
            "enum": {"type": "integer", "enum": [2**60]},
            "tags": {"type": "array", "prefixItems": [
                {"type": ["integer", "null"], "minimum": -SAFE_INTEGER, "maximum": SAFE_INTEGER}
            ]},
            "x": {"type": "number"},
        },
        "examples": [{"n": {"type": "integer"}}],
    }  # fmt: skip

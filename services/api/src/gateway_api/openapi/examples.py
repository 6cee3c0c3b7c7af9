"""Example request bodies for the OpenAPI document, from a route's own JSON Schemas.

A schema's first ``examples`` entry wins (the route's author chose it); otherwise the smallest
instance the schema plainly asks for: required properties only, the first enum value, 1 or
the nearest bound, the fewest items. Schemas can say more than this reads (``pattern``,
``not``, ``if``): the caller checks the result against the schema and leaves the example out
when it does not fit, so a document never shows an example the API would refuse.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_STRING_FORMATS = {
    "date-time": "2025-01-01T00:00:00Z",
    "date": "2025-01-01",
    "time": "00:00:00Z",
    "email": "someone@example.com",
    "uri": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
}
_MAX_DEPTH = 16  # recursive schemas ($ref to an ancestor) stop here


class _NoExample(Exception):
    """The schema asks for something this module cannot make up."""


def example(schema: Any, valid: Callable[[Any], bool]) -> tuple[bool, Any]:
    """``(True, instance)`` for an instance of ``schema`` that passes ``valid``, else
    ``(False, None)``."""
    try:
        instance = _minimal(schema, schema, 0)
    except _NoExample:
        return False, None
    return (True, instance) if valid(instance) else (False, None)


def _resolve(ref: str, root: Any) -> Any:
    if not ref.startswith("#"):
        raise _NoExample(ref)
    node = root
    for part in filter(None, ref[1:].split("/")):
        key = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or key not in node:
            raise _NoExample(ref)
        node = node[key]
    return node


def _minimal(schema: Any, root: Any, depth: int) -> Any:
    if depth > _MAX_DEPTH or not isinstance(schema, dict):
        raise _NoExample
    if schema.get("examples"):
        return schema["examples"][0]
    for key in ("const", "default"):
        if key in schema:
            return schema[key]
    if schema.get("enum"):
        return schema["enum"][0]
    if "$ref" in schema:
        return _minimal(_resolve(schema["$ref"], root), root, depth + 1)
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            return _minimal(schema[key][0], root, depth + 1)
    if schema.get("allOf"):
        merged = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            part = _resolve(part["$ref"], root) if "$ref" in part else part
            merged["properties"] = {**merged.get("properties", {}), **part.get("properties", {})}
            merged["required"] = [*merged.get("required", []), *part.get("required", [])]
            merged.update({k: v for k, v in part.items() if k not in ("properties", "required")})
        return _minimal(merged, root, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema or "required" in schema else "string"
    match kind:
        case "object":
            props = schema.get("properties", {})
            return {
                name: _minimal(props.get(name, {}), root, depth + 1)
                for name in schema.get("required", [])
            }
        case "array":
            count = schema.get("minItems", 0)
            # Positional arguments: one example per prefixItems schema, in order.
            prefix = [_minimal(s, root, depth + 1) for s in schema.get("prefixItems", [])[:count]]
            rest = count - len(prefix)
            if rest <= 0:
                return prefix
            return prefix + [_minimal(schema.get("items", {}), root, depth + 1)] * rest
        case "string":
            text = _STRING_FORMATS.get(schema.get("format", ""), "example")
            low, high = schema.get("minLength", 0), schema.get("maxLength", len(text))
            return (text * (low // len(text) + 1))[: max(low, min(high, len(text)))]
        case "integer" | "number":
            return _number(schema, integer=kind == "integer")
        case "boolean":
            return False
        case "null":
            return None
    raise _NoExample(kind)


def _number(schema: dict[str, Any], *, integer: bool) -> int | float:
    """1 (a count, an amount) when the bounds allow it, else the bound nearest to it."""
    low = schema.get("minimum")
    if low is None and "exclusiveMinimum" in schema:
        low = schema["exclusiveMinimum"] + 1
    high = schema.get("maximum")
    if high is None and "exclusiveMaximum" in schema:
        high = schema["exclusiveMaximum"] - 1
    value = 1 if low is None else max(1, low)
    value = value if high is None else min(value, high)
    return int(value) if integer else value

"""Routes compiled for the request path: their JSON Schemas checked and compiled once, their
``authorization`` block turned into sets, and the workflow id a request maps to.

Two rules hold for every schema, whatever the route's author wrote:

- integers are strict (``5.0`` is not one) and, unless the schema at that place sets its own
  bounds, within ±(2^53-1): the integers every SDK's JSON holds exactly (a TypeScript worker
  rounds beyond them, a Go ``int64`` fails beyond ±(2^63-1));
- a body of positional arguments (``arguments: positional``) is an array with exactly its
  ``prefixItems`` unless the schema says otherwise (``items``, ``minItems``): a workflow
  function has that many parameters.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

import jsonschema
from jsonschema.protocols import Validator

# jsonschema's own registry of the specifications' meta-schemas (its dependency).
from jsonschema_specifications import REGISTRY as SPECIFICATIONS  # type: ignore[import-untyped]
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource, Unresolvable
from referencing.jsonschema import DRAFT202012

from gateway_core.errors import GatewayError, RouteConfigError
from gateway_core.routes.operations import OPERATIONS, Access, MessageKind, Operation
from gateway_core.routes.spec import (
    ID_VALUE_PATTERN,
    MESSAGE_FIELDS,
    PLACEHOLDER,
    Arguments,
    AuthorizationSpec,
    MessageSpec,
    WorkflowRoute,
    WorkflowRouteSpec,
)


def _is_strict_integer(_checker: object, instance: object) -> bool:
    # JSON Schema counts 5.0 as an integer; workflows typed `int` would then receive a float.
    return isinstance(instance, int) and not isinstance(instance, bool)


SAFE_INTEGER = 2**53 - 1
"""The largest integer every SDK's JSON holds exactly: a JavaScript number (TypeScript workers)
is a double, exact up to 2^53 - 1 (``Number.MAX_SAFE_INTEGER``)."""
_LOWER_BOUNDS = ("minimum", "exclusiveMinimum")
_UPPER_BOUNDS = ("maximum", "exclusiveMaximum")
SAFE_INTEGER_MESSAGE = (
    f"integers must be within ±(2^53-1) ({SAFE_INTEGER}) unless the schema sets minimum/maximum; "
    "beyond it a TypeScript worker rounds the value and a Go int64 overflows past ±(2^63-1)"
)


def _type(
    validator: Validator, types: Any, instance: Any, schema: Mapping[str, Any]
) -> Iterator[jsonschema.ValidationError]:
    """The ``type`` keyword, and the default bounds of an integer: an integer this schema types
    as one and bounds on neither side it exceeds is refused, so a value no worker holds is a
    422 naming its field rather than a rounded number or a failed workflow."""
    found = list(_base_type(validator, types, instance, schema))
    yield from found
    if found or not _is_strict_integer(None, instance) or abs(instance) <= SAFE_INTEGER:
        return
    if "integer" not in ([types] if isinstance(types, str) else types):
        return
    if "enum" in schema or "const" in schema:  # the values are listed: they are the bounds
        return
    bounds = _UPPER_BOUNDS if instance > 0 else _LOWER_BOUNDS
    if not any(bound in schema for bound in bounds):
        yield jsonschema.ValidationError(SAFE_INTEGER_MESSAGE)


_BaseValidator = jsonschema.Draft202012Validator
_base_type = _BaseValidator.VALIDATORS["type"]
StrictValidator: type[Validator] = jsonschema.validators.extend(  # type: ignore[no-untyped-call]
    _BaseValidator,
    validators={"type": _type},
    type_checker=_BaseValidator.TYPE_CHECKER.redefine("integer", _is_strict_integer),
)


def _flat_meta_schema() -> dict[str, Any] | None:
    """JSON Schema 2020-12's meta-schema as one document: its seven vocabularies' keywords
    side by side, and each ``$dynamicRef: "#meta"`` (the hook that lets another meta-schema
    extend this one, which nothing here does) a plain ``$ref: "#"``. It accepts and refuses
    what the official one does, with the same errors at the same paths
    (``tests/unit/test_routes.py`` holds them together), six times faster: checking a route's
    schemas was most of what the operator spent on a new route. None if the vocabularies are
    not shaped as this expects (a later ``jsonschema``): the official one is used then."""
    base = "https://json-schema.org/draft/2020-12/"
    top = copy.deepcopy(SPECIFICATIONS.contents(base + "schema"))
    properties: dict[str, Any] = {}
    defs: dict[str, Any] = {}
    for part in top.pop("allOf", []):
        vocabulary = copy.deepcopy(SPECIFICATIONS.contents(base + part["$ref"]))
        for key in ("$schema", "$id", "$vocabulary", "$dynamicAnchor", "title", "type",
                    "$comment", "default"):  # fmt: skip
            vocabulary.pop(key, None)
        if not set(vocabulary) <= {"properties", "$defs"}:
            return None
        for name, schema in vocabulary.get("properties", {}).items():
            if name in properties:
                return None
            properties[name] = schema
        for name, schema in vocabulary.get("$defs", {}).items():
            if defs.setdefault(name, schema) != schema:
                return None
    for name, schema in top.pop("properties", {}).items():
        if name in properties:
            return None
        properties[name] = schema
    for key in ("$vocabulary", "$dynamicAnchor", "$id"):
        top.pop(key, None)
    flat = {**top, "properties": properties, "$defs": defs}
    try:
        return cast(dict[str, Any], _static_refs(flat))
    except ValueError:
        return None


_SCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_SCHEMA_VALUES = frozenset({
    "items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames",
    "unevaluatedItems", "unevaluatedProperties", "contentSchema",
})  # fmt: skip


_VOCABULARY_DEF = re.compile(r"meta/[a-z-]+(#/\$defs/.+)")


def _static_refs(schema: Any) -> Any:
    """``schema`` (a meta-schema) with ``$dynamicRef: "#meta"`` made ``$ref: "#"``, and a
    reference into a vocabulary's ``$defs`` one into the merged ``$defs``."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "$dynamicRef":
            if value != "#meta":
                raise ValueError(value)
            out["$ref"] = "#"
        elif key == "$ref" and (found := _VOCABULARY_DEF.fullmatch(value)):
            out["$ref"] = found[1]
        elif key == "$ref" and not value.startswith("#"):
            raise ValueError(value)
        elif key in _SCHEMA_MAPS:
            out[key] = {name: _static_refs(sub) for name, sub in value.items()}
        elif key in _SCHEMA_LISTS:
            out[key] = [_static_refs(sub) for sub in value]
        elif key in _SCHEMA_VALUES:
            out[key] = _static_refs(value)
        else:
            out[key] = value
    return out


_DATA_KEYWORDS = frozenset({"enum", "const", "default", "examples", "required"})
"""Keywords whose values are data, not schemas."""
_SCHEMA_MAPS = frozenset(
    {"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"}
)
"""Keywords whose values map names (never keywords) to schemas."""


def with_integer_bounds(schema: Any) -> Any:
    """``schema`` with the default integer bounds written in, for documents (OpenAPI shows
    what the API enforces): every subschema typed ``integer`` gets ``minimum``/``maximum`` of
    ∓(2^53-1) on each side it leaves open."""
    if isinstance(schema, list):
        return [with_integer_bounds(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _DATA_KEYWORDS:
            out[key] = value
        elif key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: with_integer_bounds(sub) for name, sub in value.items()}
        else:
            out[key] = with_integer_bounds(value)
    types = schema.get("type")
    integer = types == "integer" or (isinstance(types, list) and "integer" in types)
    if integer and "enum" not in schema and "const" not in schema:
        if not any(bound in schema for bound in _LOWER_BOUNDS):
            out["minimum"] = -SAFE_INTEGER
        if not any(bound in schema for bound in _UPPER_BOUNDS):
            out["maximum"] = SAFE_INTEGER
    return out


@dataclass(frozen=True, slots=True)
class FieldError:
    """One reason a request body does not match its route's schema."""

    field: str
    message: str


def _field_name(path: Iterable[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def _explain(error: jsonschema.ValidationError) -> Iterator[FieldError]:
    path = list(error.absolute_path)
    instance = error.instance
    # For these two the interesting field is a child the error does not point at: name it.
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    if error.validator == "required" and isinstance(instance, Mapping):
        for name in cast(list[str], error.validator_value):
            if name not in instance:
                yield FieldError(_field_name([*path, name]), "field required")
        return
    if error.validator == "additionalProperties" and isinstance(instance, Mapping):
        known = set(schema.get("properties", {}))
        patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
        for name in sorted(instance):
            if name not in known and not any(p.search(name) for p in patterns):
                yield FieldError(_field_name([*path, name]), "unknown field")
        return
    yield FieldError(_field_name(path), error.message)


class WorkflowIdError(GatewayError):
    """The workflow id cannot be made from this request (a missing key, a bad body value)."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


def _never_retrieve(uri: str) -> Resource[Any]:
    raise NoSuchResource(ref=uri)  # type: ignore[call-arg]


LOCAL_ONLY: Registry[Any] = Registry(retrieve=_never_retrieve)  # type: ignore[call-arg]
"""What a route's ``$ref`` may name: its own schema and the specifications' meta-schemas. A
route never makes the gateway fetch a URL (jsonschema's default would, with a warning: a
route's author could make every API pod call any address, at every validation)."""


def unresolvable_refs(schema: Any) -> Iterator[tuple[str, str]]:
    """Each ``$ref`` and ``$dynamicRef`` in ``schema`` that does not resolve within it (the
    URL it would take fetching included), as (its path in the schema, the reference)."""
    if not isinstance(schema, dict):
        return
    registry = SPECIFICATIONS.combine(LOCAL_ONLY)
    root = registry.resolver_with_root(DRAFT202012.create_resource(schema))
    stack: list[tuple[Any, Any, str]] = [(schema, root, "")]
    while stack:
        node, resolver, path = stack.pop()
        if isinstance(node, list):
            stack += [(item, resolver, f"{path}[{i}]") for i, item in enumerate(node)]
            continue
        if not isinstance(node, dict):
            continue
        if node is not schema and isinstance(node.get("$id"), str):
            resolver = resolver.in_subresource(DRAFT202012.create_resource(node))
        for keyword in ("$ref", "$dynamicRef"):
            ref = node.get(keyword)
            if isinstance(ref, str):
                try:
                    resolver.lookup(ref)
                except Unresolvable:
                    yield (f"{path}.{keyword}" if path else keyword), ref
        for key, value in node.items():
            if key in _DATA_KEYWORDS:
                continue
            where = f"{path}.{key}" if path else key
            if key in _SCHEMA_MAPS and isinstance(value, dict):
                stack += [(sub, resolver, f"{where}.{name}") for name, sub in value.items()]
            elif isinstance(value, dict | list):
                stack.append((value, resolver, where))


class SchemaCheck:
    """A route's JSON Schema, compiled into a validator on its first use. A platform's table
    holds thousands of routes, most of which a given API pod never validates a body for, and
    a validator keeps a resolver and a registry of its own (about 600 bytes a schema, a
    megabyte or more at 2,000 routes); building one takes about 20 µs, once."""

    __slots__ = ("_validator", "schema")

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.schema = schema
        self._validator: Validator | None = None

    def iter_errors(self, instance: Any) -> Iterator[jsonschema.ValidationError]:
        validator = self._validator
        if validator is None:  # two threads may both build one: equal, and one is kept
            validator = self._validator = StrictValidator(self.schema, registry=LOCAL_ONLY)
        return validator.iter_errors(instance)


def _errors(validator: SchemaCheck, body: Any) -> list[FieldError]:
    errors = [e for err in validator.iter_errors(body) for e in _explain(err)]
    return sorted(set(errors), key=lambda e: (e.field, e.message))


def positional_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema a body of positional arguments is checked against: ``schema`` (an array
    schema with ``prefixItems``) with exactly as many items as it lists, unless it says
    otherwise: ``items: false`` unless it sets ``items`` (a variadic function's rest),
    ``minItems`` the number of ``prefixItems`` unless it sets one (optional trailing ones)."""
    count = len(schema.get("prefixItems", ()))
    defaults: dict[str, Any] = {"type": "array", "items": False, "minItems": count}
    return {**defaults, **schema}


def _arguments(arguments: Arguments, body: Any) -> list[Any]:
    return list(body) if arguments is Arguments.POSITIONAL else [body]


@dataclass(frozen=True, slots=True)
class CompiledMessage:
    """A declared signal, query or update with its argument's schema compiled once."""

    kind: MessageKind
    spec: MessageSpec
    validator: SchemaCheck | None = field(repr=False, compare=False)
    """None: the handler takes no argument."""

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def input_schema(self) -> dict[str, Any] | None:
        """The schema arguments are checked against (positional defaults filled in)."""
        return None if self.validator is None else dict(self.validator.schema)

    def validate(self, arg: Any) -> list[FieldError]:
        """Every way ``arg`` fails the declared schema; empty when valid."""
        return [] if self.validator is None else _errors(self.validator, arg)

    def arguments(self, arg: Any) -> list[Any]:
        """The handler's arguments from a valid body: the body, or its items when positional."""
        return _arguments(self.spec.arguments, arg)


@dataclass(frozen=True, slots=True)
class CompiledRoute:
    """A validated route with its schemas compiled once, ready for the request path."""

    document: WorkflowRoute
    validator: SchemaCheck = field(repr=False, compare=False)
    messages: Mapping[tuple[MessageKind, str], CompiledMessage] = field(
        default_factory=dict, repr=False, compare=False
    )
    grants: Mapping[Access, tuple[tuple[str, ...], tuple[str, ...]]] = field(
        default_factory=dict, repr=False, compare=False
    )
    """Per kind of operation, the scopes and the groups that grant it: the ``authorization``
    block's own tuples, read by the check every request makes (the caller's sets test them,
    so a route adds no set of its own: a table of thousands of routes held sixteen a route). A
    kind the block leaves out is absent."""
    digest: str = field(default="", repr=False, compare=False)
    """A digest of the spec (its canonical JSON): the table's version is made of these, so a
    table changed by one route is versioned without serializing the others again."""

    @property
    def name(self) -> str:
        return self.document.metadata.name

    @property
    def namespace(self) -> str:
        return self.document.metadata.namespace

    @property
    def spec(self) -> WorkflowRouteSpec:
        return self.document.spec

    @property
    def input_schema(self) -> dict[str, Any]:
        """The schema bodies are checked against (positional defaults filled in)."""
        return dict(self.validator.schema)

    def validate(self, body: Any) -> list[FieldError]:
        """Every way ``body`` fails the route's schema, sorted by field; empty when valid."""
        return _errors(self.validator, body)

    def arguments(self, body: Any) -> list[Any]:
        """The workflow's arguments from a valid body: the body, or its items when positional."""
        return _arguments(self.spec.arguments, body)

    def message(self, kind: MessageKind, name: str) -> CompiledMessage | None:
        """The declared signal, query or update called ``name``; None if not declared."""
        return self.messages.get((kind, name))

    def allows(self, operation: Operation) -> bool:
        """Whether the route serves ``operation``: it lists the operation's switch (itself, or
        ``schedule`` for the schedule family)."""
        return OPERATIONS[operation].switch in self.spec.operations

    @property
    def owner_only(self) -> bool:
        """Whether callers act only on the workflows they started (``authorization.ownerOnly``)."""
        return self.spec.authorization is not None and self.spec.authorization.owner_only

    def owned_prefix(self, owner: str) -> str:
        """The prefix of the ids an owner-only route makes for the caller whose scope is
        ``owner``."""
        return f"{self.spec.id_prefix}{owner}."

    def workflow_id(
        self, body: Any, idempotency_key: str | None, *, owner: str | None = None
    ) -> tuple[str, bool]:
        """The id for a request to this route, and whether it is deterministic (so a repeat
        of the request must find the same workflow instead of starting another).
        ``idempotency_key`` comes scoped to its caller already; ``owner`` (an owner-only
        route's caller's scope) puts the caller's scope in every other id too.

        Raises:
            WorkflowIdError: the template needs a key or body value the request lacks.
        """
        policy = self.spec.workflow_id
        prefix = self.spec.id_prefix if owner is None else self.owned_prefix(owner)
        if policy.template is None:
            if idempotency_key:  # scoped: the caller's scope is in it already
                return self.spec.id_prefix + idempotency_key, True
            return prefix + uuid.uuid4().hex, False
        errors: list[FieldError] = []

        def value(match: re.Match[str]) -> str:
            if match[2] is None:  # {idempotencyKey}
                if not idempotency_key:
                    errors.append(FieldError("header.Idempotency-Key", "required by this route"))
                return idempotency_key or ""
            raw = body.get(match[2]) if isinstance(body, Mapping) else None
            text = str(raw) if isinstance(raw, str | int) and not isinstance(raw, bool) else ""
            if not ID_VALUE_PATTERN.match(text):
                errors.append(
                    FieldError(match[2], "must be 1-128 characters of A-Z a-z 0-9 . _ : - "
                               "(it is part of the workflow id)")
                )  # fmt: skip
            return text

        rendered = PLACEHOLDER.sub(value, policy.template)
        if errors:
            raise WorkflowIdError(errors)
        return prefix + rendered, True

    def schedule_id(
        self, idempotency_key: str | None, *, owner: str | None = None
    ) -> tuple[str, bool]:
        """The id of a schedule made on this route, and whether it is deterministic: the
        route's prefix, then the caller's scoped ``idempotency_key`` or a random id (with the
        caller's scope first on an owner-only route, as for workflow ids). The route's id
        template is a workflow's business key, not a schedule's: it is not used."""
        if idempotency_key:  # scoped: the caller's scope is in it already
            return self.spec.id_prefix + idempotency_key, True
        prefix = self.spec.id_prefix if owner is None else self.owned_prefix(owner)
        return prefix + uuid.uuid4().hex, False

    @property
    def execution_timeout(self) -> timedelta | None:
        s = self.spec.execution_timeout_seconds
        return timedelta(seconds=s) if s else None

    @property
    def run_timeout(self) -> timedelta | None:
        s = self.spec.run_timeout_seconds
        return timedelta(seconds=s) if s else None


def spec_digest(spec: WorkflowRouteSpec) -> str:
    """The digest of a route's spec, independent of key order."""
    canonical = json.dumps(
        spec.model_dump(mode="json", by_alias=True), sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


_FLAT_META = _flat_meta_schema()
_META_CHECK: Validator | None = (
    None
    if _FLAT_META is None
    else jsonschema.Draft202012Validator(
        _FLAT_META, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
)


def check_schema(schema: Any) -> None:
    """:meth:`StrictValidator.check_schema`, on the flattened meta-schema.

    Raises:
        jsonschema.SchemaError: the first way ``schema`` is not a JSON Schema 2020-12.
    """
    if _META_CHECK is None:
        StrictValidator.check_schema(schema)
        return
    for error in _META_CHECK.iter_errors(schema):
        raise jsonschema.SchemaError.create_from(error)


def _compile_schema(
    schema: dict[str, Any],
    *,
    source: str,
    where: str,
    arguments: Arguments = Arguments.SINGLE,
    check: bool = True,
) -> SchemaCheck:
    if check:
        try:
            check_schema(schema)
        except jsonschema.SchemaError as exc:
            inner = ".".join(str(p) for p in exc.absolute_path)
            raise RouteConfigError(
                exc.message, source=source, field=where + (f".{inner}" if inner else "")
            ) from exc
        for path, ref in unresolvable_refs(schema):
            raise RouteConfigError(
                f"{ref!r} does not resolve within the route's schema: a schema is "
                "self-contained (its $defs), the gateway fetches no URL",
                source=source, field=f"{where}.{path}",
            )  # fmt: skip
    if arguments is Arguments.POSITIONAL:
        schema = _positional(schema, source=source, where=where)
    return SchemaCheck(schema)


def _positional(schema: dict[str, Any], *, source: str, where: str) -> dict[str, Any]:
    """Refuse a positional schema that does not say what each argument is."""
    if schema.get("type", "array") != "array":
        raise RouteConfigError(
            "arguments: positional takes a JSON array: the schema's type must be array",
            source=source, field=f"{where}.type",
        )  # fmt: skip
    items = schema.get("prefixItems")
    if not isinstance(items, list) or not items:
        raise RouteConfigError(
            "arguments: positional needs prefixItems: one schema per argument, in order",
            source=source, field=f"{where}.prefixItems",
        )  # fmt: skip
    return positional_schema(schema)


def compile_route(
    route: WorkflowRoute, *, source: str = "<memory>", check_schemas: bool = True
) -> CompiledRoute:
    """Check a route's JSON Schemas (its input's and its messages') and compile them.

    Args:
        route: the route document.
        source: where it came from, for errors.
        check_schemas: check each schema against JSON Schema's meta-schema first (about 1 to
            2 ms a schema, most of what compiling costs). False only for routes the operator
            accepted, which it checked with this same function.

    Raises:
        RouteConfigError: a schema is not a valid JSON Schema, or a positional one lists no
            ``prefixItems``.
    """
    validator = _compile_schema(
        route.spec.input_schema,
        source=source,
        where="spec.inputSchema",
        arguments=route.spec.arguments,
        check=check_schemas,
    )
    messages: dict[tuple[MessageKind, str], CompiledMessage] = {}
    for kind, attr in MESSAGE_FIELDS.items():
        for i, spec in enumerate(route.spec.messages(kind)):
            where = f"spec.{attr}[{i}]"
            if spec.input_schema is None:
                if spec.arguments is Arguments.POSITIONAL or spec.input_message is not None:
                    field_name = "arguments" if spec.input_message is None else "inputMessage"
                    raise RouteConfigError(
                        f"{field_name} describes an argument, and without an inputSchema the "
                        "handler takes none: add the schema",
                        source=source, field=f"{where}.inputSchema",
                    )  # fmt: skip
                compiled = None
            else:
                compiled = _compile_schema(
                    spec.input_schema,
                    source=source,
                    where=f"{where}.inputSchema",
                    arguments=spec.arguments,
                    check=check_schemas,
                )
            messages[kind, spec.name] = CompiledMessage(kind, spec, compiled)
    policy = route.spec.authorization or AuthorizationSpec()  # none: administrators only
    grants = {
        access: (requirement.scopes, requirement.groups)
        for access in Access
        if (requirement := policy.requirement(access)) is not None
    }
    return CompiledRoute(
        document=route,
        validator=validator,
        messages=messages,
        grants=grants,
        digest=spec_digest(route.spec),
    )

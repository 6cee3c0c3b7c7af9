"""WorkflowRoute documents: the data that puts a workflow behind an HTTP route.

A route is a Kubernetes-shaped document (``apiVersion``/``kind``/``metadata``/``spec``) so the
same file works as a local config under ``make run`` and, later, as a custom resource reconciled
by the operator. This module parses and validates those documents, compiles each route's input
JSON Schema once, and builds an immutable :class:`RouteTable` that the API swaps as a whole.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal, cast

import jsonschema
import yaml
from jsonschema.protocols import Validator
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from gateway_core.callbacks import Outcome, parse_origin_pattern
from gateway_core.errors import GatewayError, RouteConfigError

API_GROUP = "temporal-gateway.dev"
API_VERSION = f"{API_GROUP}/v1alpha1"
KIND = "WorkflowRoute"

# One path segment, DNS-label style: it is also safe in metric labels and Kubernetes names.
PATH_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
# Workflow ids end up in URLs and logs; keep the prefix to characters that need no escaping.
ID_PREFIX_PATTERN = r"^[A-Za-z0-9._:-]*$"
# A template is literal id characters and placeholders: {idempotencyKey} or {body.FIELD}.
ID_TEMPLATE_PATTERN = r"^([A-Za-z0-9._:-]|\{idempotencyKey\}|\{body\.[A-Za-z_][A-Za-z0-9_]*\})+$"
_PLACEHOLDER = re.compile(r"\{(idempotencyKey|body\.([A-Za-z_][A-Za-z0-9_]*))\}")
# What a value taken from the body or the key may contain once in an id.
ID_VALUE_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# A message name is a URL segment and a Python/Go/TS handler name: no escaping anywhere.
MESSAGE_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.-]*$"


class _Model(BaseModel):
    """Kubernetes style: camelCase on the wire, unknown fields refused, values frozen. The
    attribute docstrings are the fields' descriptions, in the JSON Schema and so in the CRD."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
    )


class IdReusePolicy(StrEnum):
    """Whether a closed workflow's id may be used again (Temporal's WorkflowIdReusePolicy)."""

    ALLOW_DUPLICATE = "AllowDuplicate"
    ALLOW_DUPLICATE_FAILED_ONLY = "AllowDuplicateFailedOnly"
    REJECT_DUPLICATE = "RejectDuplicate"
    TERMINATE_IF_RUNNING = "TerminateIfRunning"

    def to_temporal(self) -> WorkflowIDReusePolicy:
        return WorkflowIDReusePolicy[_upper_snake(self.value)]


class IdConflictPolicy(StrEnum):
    """What happens when the id is already running (Temporal's WorkflowIdConflictPolicy)."""

    FAIL = "Fail"
    USE_EXISTING = "UseExisting"
    TERMINATE_EXISTING = "TerminateExisting"

    def to_temporal(self) -> WorkflowIDConflictPolicy:
        return WorkflowIDConflictPolicy[_upper_snake(self.value)]


class Operation(StrEnum):
    """The HTTP operations a route may allow. The API's operation table
    (``gateway_api.api.operations``) gives each its method and path."""

    START = "start"
    """``POST /workflows/<path>/async``: start and return the id at once."""
    SYNC_START = "syncStart"
    """``POST /workflows/<path>``: start and wait for the result."""
    SIGNAL_WITH_START = "signalWithStart"
    """``POST /workflows/<path>/signal-with-start/{name}``."""
    UPDATE_WITH_START = "updateWithStart"
    """``POST /workflows/<path>/update-with-start/{name}``."""
    DESCRIBE = "describe"
    """``GET /workflows/{id}``."""
    STATUS = "status"
    """``GET /workflows/{id}/status`` for workflows started through this route."""
    RESULT = "result"
    """``GET /workflows/{id}/result`` for workflows started through this route."""
    EVENTS = "events"
    """``GET /workflows/{id}/events``: server-sent events until the workflow closes."""
    LIST = "list"
    """``GET /workflows`` and ``/workflows/count`` include this route's workflows."""
    SIGNAL = "signal"
    """``POST /workflows/{id}/signals/{name}``."""
    QUERY = "query"
    """``POST`` (or ``GET``) ``/workflows/{id}/queries/{name}``."""
    UPDATE = "update"
    """``POST /workflows/{id}/updates/{name}``."""
    CANCEL = "cancel"
    """``POST /workflows/{id}/cancel``: ask the workflow to cancel (it may clean up)."""
    TERMINATE = "terminate"
    """``POST /workflows/{id}/terminate``: stop it at once, with a reason."""
    CALLBACKS = "callbacks"
    """``GET /workflows/{id}/callbacks``: the completion webhook's state and attempts."""
    REDELIVER_CALLBACK = "redeliverCallback"
    """``POST /workflows/{id}/callbacks/redeliver``: send the completion webhook again."""


class Access(StrEnum):
    """What a route's ``authorization`` block grants, per kind of operation."""

    START = "start"
    """Start a workflow: ``POST /workflows/<path>``, ``/async`` and the with-start operations
    (which also need ``signal`` or ``update``)."""
    READ = "read"
    """Read a workflow started through the route: describe, status, result, events, list."""
    SIGNAL = "signal"
    QUERY = "query"
    UPDATE = "update"
    CANCEL = "cancel"
    TERMINATE = "terminate"


ACCESS_BY_OPERATION = {
    Operation.START: Access.START,
    Operation.SYNC_START: Access.START,
    Operation.SIGNAL_WITH_START: Access.START,
    Operation.UPDATE_WITH_START: Access.START,
    Operation.DESCRIBE: Access.READ,
    Operation.STATUS: Access.READ,
    Operation.RESULT: Access.READ,
    Operation.EVENTS: Access.READ,
    Operation.LIST: Access.READ,
    Operation.SIGNAL: Access.SIGNAL,
    Operation.QUERY: Access.QUERY,
    Operation.UPDATE: Access.UPDATE,
    Operation.CANCEL: Access.CANCEL,
    Operation.TERMINATE: Access.TERMINATE,
    Operation.CALLBACKS: Access.READ,
    # Starting a workflow with a callback causes a delivery too; a redelivery goes to the URL
    # the starter chose, so it reveals nothing to the caller that ``start`` does not.
    Operation.REDELIVER_CALLBACK: Access.START,
}
"""The kind of access each operation needs. The with-start operations need ``start`` and also
the access of the message they send (:data:`ALSO_NEEDS`)."""
ALSO_NEEDS = {
    Operation.SIGNAL_WITH_START: Access.SIGNAL,
    Operation.UPDATE_WITH_START: Access.UPDATE,
}


class MessageKind(StrEnum):
    """What a workflow can be sent once it runs; a route declares each by name."""

    SIGNAL = "signal"
    QUERY = "query"
    UPDATE = "update"


# Scope and group names end up in logs and problem documents: printable, no spaces.
GrantName = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")]
# Temporal accepts longer timeouts; a year is already past any HTTP caller's patience.
MAX_TIMEOUT_SECONDS = 365 * 24 * 3600


def _upper_snake(camel: str) -> str:
    return "".join("_" + c if c.isupper() else c.upper() for c in camel).lstrip("_")


class WorkflowIdSpec(_Model):
    """How the gateway names the workflows it starts."""

    prefix: str | None = Field(
        default=None, min_length=1, max_length=100, pattern=ID_PREFIX_PATTERN
    )
    """Prepended to the idempotency key (or to a random id when the caller sends none), so ids
    say which route started them. Unset: the route's path and a dash. Every id the gateway
    serves is found by its prefix, so no route's prefix may be a prefix of another's."""
    template: str | None = Field(
        default=None, min_length=1, max_length=200, pattern=ID_TEMPLATE_PATTERN
    )
    """The rest of the id, from ``{idempotencyKey}`` and ``{body.FIELD}`` placeholders (a
    business key). Unset: the caller's Idempotency-Key, or a random id when there is none."""
    reuse_policy: IdReusePolicy = IdReusePolicy.REJECT_DUPLICATE
    """RejectDuplicate by default: a retried request with the same key must find the first
    workflow, not start a second one after the first has closed."""
    conflict_policy: IdConflictPolicy = IdConflictPolicy.FAIL
    """Fail by default, so the gateway sees the conflict and can tell a retry (same body) from a
    reused key (different body)."""

    @field_validator("template")
    @classmethod
    def _has_placeholder(cls, template: str | None) -> str | None:
        if template is not None and not _PLACEHOLDER.search(template):
            raise ValueError("a template without a placeholder gives every request the same id")
        return template

    @property
    def body_fields(self) -> list[str]:
        """The body fields the template reads."""
        return [m[2] for m in _PLACEHOLDER.finditer(self.template or "") if m[2]]

    @property
    def needs_idempotency_key(self) -> bool:
        return "{idempotencyKey}" in (self.template or "")


class Requirement(_Model):
    """Who may do one kind of operation: holders of any of ``scopes``, members of any of
    ``groups``. At least one name is required, so an empty block cannot open a route."""

    scopes: tuple[GrantName, ...] = Field(default=(), max_length=32)
    """API key scopes or token scopes (printable, no spaces), any of which grants access."""
    groups: tuple[GrantName, ...] = Field(default=(), max_length=32)
    """Token groups, membership of any of which grants access."""

    @model_validator(mode="after")
    def _not_empty(self) -> Requirement:
        if not self.scopes and not self.groups:
            raise ValueError("name at least one scope or group")
        return self


class AuthorizationSpec(_Model):
    """Per kind of operation, who may do it; an operation left out is refused to everyone
    but administrators."""

    start: Requirement | None = None
    """Who may start workflows: ``POST /workflows/<path>``, ``/async`` and the with-start
    operations (which also need ``signal`` or ``update``)."""
    read: Requirement | None = None
    """Who may read workflows started through this route: describe, status, result, events,
    list."""
    signal: Requirement | None = None
    """Who may signal them."""
    query: Requirement | None = None
    """Who may query them."""
    update: Requirement | None = None
    """Who may send them updates."""
    cancel: Requirement | None = None
    """Who may cancel them."""
    terminate: Requirement | None = None
    """Who may terminate them."""

    def requirement(self, access: Access) -> Requirement | None:
        found: Requirement | None = getattr(self, access.value)
        return found


class MessageSpec(_Model):
    """A signal, query or update the route exposes by name."""

    name: str = Field(min_length=1, max_length=255, pattern=MESSAGE_NAME_PATTERN)
    """The handler's name in the workflow, and the last segment of its URL."""
    description: str | None = Field(default=None, max_length=1000)
    """Shown in the API's OpenAPI document."""
    input_schema: dict[str, Any] | None = None
    """JSON Schema (2020-12) for the argument, the request body. Unset: the handler takes no
    argument and the body must be empty."""


SECRET_NAME_PATTERN = r"^[A-Za-z0-9._-]{1,253}$"  # noqa: S105 (a name, not a secret)
"""A key of a Kubernetes Secret, which is also the file name it is mounted as."""


class CallbacksSpec(_Model):
    """Completion webhooks callers of the route may ask for (docs/webhooks.md)."""

    enabled: bool = True
    """False turns callbacks off without deleting the block."""
    allowed_destinations: tuple[str, ...] = Field(min_length=1, max_length=64)
    """Origin patterns a callback URL must match: ``https://hooks.example.com``,
    ``https://*.example.com``, ``https://hooks.example.com:8443``, ``http://127.0.0.1:*``. No
    default: a route names where its results may be sent. Plain ``http`` only works while the
    API runs with ``API_ENVIRONMENT=development``."""
    allow_private_networks: bool = False
    """Allow destinations resolving to private, loopback or link-local addresses (a receiver
    inside the cluster, a test on localhost). Off by default: with it on, a caller may make
    the gateway call whatever the allowlist admits inside your network."""
    signing_secret: str = Field(pattern=SECRET_NAME_PATTERN)
    """The name of the signing secret: a file in the worker's ``WORKER_CALLBACK_SECRETS_DIR``
    (a key of the mounted Secret) holding one ``whsec_…`` secret, or two during a rotation."""
    default_outcomes: tuple[Outcome, ...] = Field(default=tuple(Outcome), min_length=1)
    """What a callback reports when the caller does not say (``Callback-Outcomes``)."""

    @field_validator("allowed_destinations")
    @classmethod
    def _patterns(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in patterns:
            parse_origin_pattern(pattern)
        return patterns


class WorkflowRouteSpec(_Model):
    """What a route exposes and how."""

    path: str = Field(min_length=1, max_length=63, pattern=PATH_PATTERN)
    """The segment after ``/workflows/``."""
    workflow_type: str = Field(min_length=1, max_length=255)
    """The Temporal workflow type to start."""
    task_queue: str = Field(min_length=1, max_length=255)
    """The task queue a worker for that workflow polls."""
    namespace: str | None = Field(default=None, min_length=1, max_length=255)
    """Temporal namespace. Unset: the API's configured namespace."""
    input_schema: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})
    """JSON Schema (2020-12) for the request body; requests that fail it never reach Temporal."""
    workflow_id: WorkflowIdSpec = Field(default_factory=WorkflowIdSpec)
    """How the gateway names the workflows it starts."""
    execution_timeout_seconds: int | None = Field(default=None, gt=0, le=MAX_TIMEOUT_SECONDS)
    """Temporal's workflow execution timeout (all runs). Unset: none."""
    run_timeout_seconds: int | None = Field(default=None, gt=0, le=MAX_TIMEOUT_SECONDS)
    """Temporal's workflow run timeout (one run); at most the execution timeout."""
    sync_wait_seconds: float = Field(default=30.0, gt=0, le=300)
    """How long ``POST /workflows/<path>`` waits before answering 202 with a Location to poll;
    30 s stays below the 60 s idle timeout of common load balancers and ingresses."""
    operations: tuple[Operation, ...] = Field(default=tuple(Operation), min_length=1)
    """What the route serves; anything else answers 405. Unset: every operation."""
    signals: tuple[MessageSpec, ...] = Field(default=(), max_length=64)
    """The signals callers may send; any other name answers 404."""
    queries: tuple[MessageSpec, ...] = Field(default=(), max_length=64)
    """The queries callers may send; any other name answers 404."""
    updates: tuple[MessageSpec, ...] = Field(default=(), max_length=64)
    """The updates callers may send; any other name answers 404."""
    authorization: AuthorizationSpec | None = None
    """Scopes or groups required per kind of operation. Unset: only administrators (the API's
    admin scope) may use the route once authentication is on; nothing is open by accident."""
    callbacks: CallbacksSpec | None = None
    """Completion webhooks. Unset: a start asking for a callback is refused (422)."""

    @model_validator(mode="after")
    def _check(self) -> WorkflowRouteSpec:
        run, execution = self.run_timeout_seconds, self.execution_timeout_seconds
        if run is not None and execution is not None and run > execution:
            raise ValueError("runTimeoutSeconds must not exceed executionTimeoutSeconds")
        required = set(self.input_schema.get("required", []))
        for kind in ("signals", "queries", "updates"):
            names = [m.name for m in getattr(self, kind)]
            if len(names) != len(set(names)):
                raise ValueError(f"{kind}: each name may appear once")
        for name in self.workflow_id.body_fields:
            if name not in required:
                raise ValueError(
                    f"workflowId.template reads body.{name}, which inputSchema must require"
                )
        return self

    @property
    def id_prefix(self) -> str:
        """The prefix of every workflow id this route makes."""
        return self.workflow_id.prefix if self.workflow_id.prefix is not None else f"{self.path}-"

    def messages(self, kind: MessageKind) -> tuple[MessageSpec, ...]:
        found: tuple[MessageSpec, ...] = getattr(self, _MESSAGE_FIELDS[kind])
        return found


_MESSAGE_FIELDS = {MessageKind.SIGNAL: "signals", MessageKind.QUERY: "queries",
                   MessageKind.UPDATE: "updates"}  # fmt: skip


class RouteMetadata(_Model):
    """The part of Kubernetes object metadata a route needs."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    name: str = Field(min_length=1, max_length=253)
    namespace: str = "default"


class WorkflowRoute(_Model):
    """One WorkflowRoute document."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )

    api_version: Literal["temporal-gateway.dev/v1alpha1"]
    kind: Literal["WorkflowRoute"]
    metadata: RouteMetadata
    spec: WorkflowRouteSpec


def _is_strict_integer(_checker: object, instance: object) -> bool:
    # JSON Schema counts 5.0 as an integer; workflows typed `int` would then receive a float.
    return isinstance(instance, int) and not isinstance(instance, bool)


_BaseValidator = jsonschema.Draft202012Validator
StrictValidator: type[Validator] = jsonschema.validators.extend(  # type: ignore[no-untyped-call]
    _BaseValidator,
    type_checker=_BaseValidator.TYPE_CHECKER.redefine("integer", _is_strict_integer),
)


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


def _errors(validator: Validator, body: Any) -> list[FieldError]:
    errors = [e for err in validator.iter_errors(body) for e in _explain(err)]
    return sorted(set(errors), key=lambda e: (e.field, e.message))


@dataclass(frozen=True, slots=True)
class CompiledMessage:
    """A declared signal, query or update with its argument's schema compiled once."""

    kind: MessageKind
    spec: MessageSpec
    validator: Validator | None = field(repr=False, compare=False)
    """None: the handler takes no argument."""

    @property
    def name(self) -> str:
        return self.spec.name

    def validate(self, arg: Any) -> list[FieldError]:
        """Every way ``arg`` fails the declared schema; empty when valid."""
        return [] if self.validator is None else _errors(self.validator, arg)


@dataclass(frozen=True, slots=True)
class CompiledRoute:
    """A validated route with its schemas compiled once, ready for the request path."""

    document: WorkflowRoute
    validator: Validator = field(repr=False, compare=False)
    messages: Mapping[tuple[MessageKind, str], CompiledMessage] = field(
        default_factory=dict, repr=False, compare=False
    )
    grants: Mapping[Access, tuple[frozenset[str], frozenset[str]]] = field(
        default_factory=dict, repr=False, compare=False
    )
    """Per kind of operation, the scopes and the groups that grant it: the ``authorization``
    block as sets, for the check every request makes. A kind the block leaves out is absent."""

    @property
    def name(self) -> str:
        return self.document.metadata.name

    @property
    def namespace(self) -> str:
        return self.document.metadata.namespace

    @property
    def spec(self) -> WorkflowRouteSpec:
        return self.document.spec

    def validate(self, body: Any) -> list[FieldError]:
        """Every way ``body`` fails the route's schema, sorted by field; empty when valid."""
        return _errors(self.validator, body)

    def message(self, kind: MessageKind, name: str) -> CompiledMessage | None:
        """The declared signal, query or update called ``name``; None if not declared."""
        return self.messages.get((kind, name))

    def allows(self, operation: Operation) -> bool:
        return operation in self.spec.operations

    def workflow_id(self, body: Any, idempotency_key: str | None) -> tuple[str, bool]:
        """The id for a request to this route, and whether it is deterministic (so a repeat
        of the request must find the same workflow instead of starting another).

        Raises:
            WorkflowIdError: the template needs a key or body value the request lacks.
        """
        policy = self.spec.workflow_id
        if policy.template is None:
            if idempotency_key:
                return self.spec.id_prefix + idempotency_key, True
            return self.spec.id_prefix + uuid.uuid4().hex, False
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

        rendered = _PLACEHOLDER.sub(value, policy.template)
        if errors:
            raise WorkflowIdError(errors)
        return self.spec.id_prefix + rendered, True

    @property
    def execution_timeout(self) -> timedelta | None:
        s = self.spec.execution_timeout_seconds
        return timedelta(seconds=s) if s else None

    @property
    def run_timeout(self) -> timedelta | None:
        s = self.spec.run_timeout_seconds
        return timedelta(seconds=s) if s else None


def _compile_schema(schema: dict[str, Any], *, source: str, where: str) -> Validator:
    try:
        StrictValidator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        inner = ".".join(str(p) for p in exc.absolute_path)
        raise RouteConfigError(
            exc.message, source=source, field=where + (f".{inner}" if inner else "")
        ) from exc
    return StrictValidator(schema)


def compile_route(route: WorkflowRoute, *, source: str = "<memory>") -> CompiledRoute:
    """Check a route's JSON Schemas (its input's and its messages') and compile them.

    Raises:
        RouteConfigError: a schema is not a valid JSON Schema.
    """
    validator = _compile_schema(route.spec.input_schema, source=source, where="spec.inputSchema")
    messages: dict[tuple[MessageKind, str], CompiledMessage] = {}
    for kind, attr in _MESSAGE_FIELDS.items():
        for i, spec in enumerate(route.spec.messages(kind)):
            compiled = (
                None
                if spec.input_schema is None
                else _compile_schema(
                    spec.input_schema, source=source, where=f"spec.{attr}[{i}].inputSchema"
                )
            )
            messages[kind, spec.name] = CompiledMessage(kind, spec, compiled)
    policy = route.spec.authorization or AuthorizationSpec()  # none: administrators only
    grants = {
        access: (frozenset(requirement.scopes), frozenset(requirement.groups))
        for access in Access
        if (requirement := policy.requirement(access)) is not None
    }
    return CompiledRoute(document=route, validator=validator, messages=messages, grants=grants)


@dataclass(frozen=True, slots=True)
class RouteTable:
    """All routes the API serves, keyed by path; replaced as a whole, never mutated."""

    routes: Mapping[str, CompiledRoute]
    version: str
    by_prefix: tuple[tuple[str, CompiledRoute], ...] = field(default=(), repr=False)
    """Id prefixes and their routes; none is a prefix of another (:func:`build_table`)."""

    def get(self, path: str) -> CompiledRoute | None:
        return self.routes.get(path)

    def for_workflow_id(self, workflow_id: str) -> CompiledRoute | None:
        """The route whose id prefix ``workflow_id`` starts with: the route that made it."""
        for prefix, route in self.by_prefix:
            if workflow_id.startswith(prefix):
                return route
        return None


def prefix_conflict(prefix: str, others: Mapping[str, str]) -> str | None:
    """The name of a route in ``others`` (prefix to name) whose id prefix overlaps ``prefix``
    (one starts with the other, so an id could not name its route); None when it is free."""
    for other, name in others.items():
        if other.startswith(prefix) or prefix.startswith(other):
            return name
    return None


def build_table(routes: Iterable[CompiledRoute], *, source: str = "<memory>") -> RouteTable:
    """Index routes by path and by id prefix, and give the table a content-derived version.

    Raises:
        RouteConfigError: two routes claim the same path, or overlapping id prefixes.
    """
    by_path: dict[str, CompiledRoute] = {}
    prefixes: dict[str, str] = {}
    for route in routes:
        other = by_path.get(route.spec.path)
        if other is not None:
            raise RouteConfigError(
                f"path {route.spec.path!r} is claimed by routes {other.name!r} and {route.name!r}",
                source=source,
                field="spec.path",
            )
        prefix = route.spec.id_prefix
        clash = prefix_conflict(prefix, prefixes)
        if clash is not None:
            raise RouteConfigError(
                f"id prefix {prefix!r} of route {route.name!r} overlaps that of route {clash!r}: "
                "a workflow id must name one route",
                source=source,
                field="spec.workflowId.prefix",
            )
        by_path[route.spec.path] = route
        prefixes[prefix] = route.name
    canonical = json.dumps(
        [by_path[p].spec.model_dump(mode="json", by_alias=True) for p in sorted(by_path)],
        sort_keys=True,
        separators=(",", ":"),
    )
    version = hashlib.sha256(canonical.encode()).hexdigest()[:12]
    return RouteTable(
        routes=dict(sorted(by_path.items())),
        version=version,
        by_prefix=tuple((r.spec.id_prefix, r) for r in by_path.values()),
    )


def dump_table(table: RouteTable) -> str:
    """The table as a YAML stream of WorkflowRoute documents, sorted by path: what the operator
    writes into the route-table ConfigMap and :func:`parse_documents` reads back."""
    docs = [
        {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": {"name": route.name, "namespace": route.namespace},
            "spec": route.spec.model_dump(mode="json", by_alias=True, exclude_none=True),
        }
        for route in table.routes.values()
    ]
    header = f"# temporal-gateway route table {table.version}: {len(docs)} route(s)\n"
    return header + yaml.safe_dump_all(docs, sort_keys=True) if docs else header


def parse_documents(text: str, *, source: str) -> list[CompiledRoute]:
    """Parse a YAML stream of WorkflowRoute documents (other kinds are ignored).

    Raises:
        RouteConfigError: the YAML is malformed or a WorkflowRoute is invalid.
    """
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise RouteConfigError(f"invalid YAML: {exc}", source=source) from exc
    compiled = []
    for doc in docs:
        if not isinstance(doc, dict) or doc.get("kind") != KIND:
            continue
        try:
            route = WorkflowRoute.model_validate(doc)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise RouteConfigError(
                first["msg"], source=source, field=".".join(str(p) for p in first["loc"])
            ) from exc
        compiled.append(compile_route(route, source=source))
    return compiled


def load_routes(path: Path) -> RouteTable:
    """Load a route table from a YAML file or a directory of ``*.yaml``/``*.yml`` files.

    Raises:
        RouteConfigError: a file is missing, unreadable or invalid, or paths collide.
    """
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in {".yaml", ".yml"})
    else:
        files = [path]
    routes: list[CompiledRoute] = []
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise RouteConfigError(f"cannot read: {exc.strerror}", source=str(file)) from exc
        routes.extend(parse_documents(text, source=str(file)))
    return build_table(routes, source=str(path))

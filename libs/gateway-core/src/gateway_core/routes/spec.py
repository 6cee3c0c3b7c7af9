"""The WorkflowRoute document's shape: pydantic models, camelCase on the wire, Kubernetes style.

The CRD's ``openAPIV3Schema`` is generated from these models (``make crds``), so the attribute
docstrings are the fields' descriptions in ``kubectl explain`` too.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator, model_validator
from pydantic.alias_generators import to_camel
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from gateway_core.callbacks import Outcome, parse_origin_pattern
from gateway_core.routes.operations import (
    DEFAULT_OPERATIONS,
    OPERATIONS,
    SWITCHES,
    Access,
    MessageKind,
    Operation,
)

API_GROUP = "temporal-gateway.dev"
API_VERSION = f"{API_GROUP}/v1alpha1"
KIND = "WorkflowRoute"

# One path segment, DNS-label style: it is also safe in metric labels and Kubernetes names.
PATH_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
# Workflow ids end up in URLs and logs; keep the prefix to characters that need no escaping.
ID_PREFIX_PATTERN = r"^[A-Za-z0-9._:-]*$"
# A template is literal id characters and placeholders: {idempotencyKey} or {body.FIELD}.
ID_TEMPLATE_PATTERN = r"^([A-Za-z0-9._:-]|\{idempotencyKey\}|\{body\.[A-Za-z_][A-Za-z0-9_]*\})+$"
PLACEHOLDER = re.compile(r"\{(idempotencyKey|body\.([A-Za-z_][A-Za-z0-9_]*))\}")
# What a value taken from the body or the key may contain once in an id.
ID_VALUE_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# A message name is a URL segment and a Python/Go/TS handler name: no escaping anywhere.
MESSAGE_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.-]*$"
# A codec's name is a metric label and a log field: DNS-label style, as route paths are.
CODEC_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
NO_CODEC = "none"
"""A route's ``codec`` that opts out of its namespace's default codec."""
# A protobuf message's full name: its package and name, dot-separated identifiers.
PROTO_MESSAGE_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"
# A file in the API's descriptor set directory: a ConfigMap key, which is also its file name.
DESCRIPTOR_SET_PATTERN = r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,252}$"


_FIELDS_SETS: dict[frozenset[str], set[str]] = {}


def _shared_fields_set(model: BaseModel) -> None:
    """Make ``model``'s set of the fields it was given the one object every model given the
    same fields holds. A table of thousands of routes holds about fifteen models a route, and
    pydantic gives each its own set (216 bytes or more): about 8 MiB of equal sets at 2,000
    routes. Sharing is safe because the models are frozen, so pydantic never adds to the set
    (a copy gets a set of its own). The sets are of field names, so there are few."""
    given = model.__pydantic_fields_set__
    shared = _FIELDS_SETS.setdefault(frozenset(given), given)
    object.__setattr__(model, "__pydantic_fields_set__", shared)


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

    def model_post_init(self, context: Any, /) -> None:
        _shared_fields_set(self)


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


# What a route's ``operations`` may list: the operations that are their own switch (the
# schedule family is listed as ``schedule``), so the CRD's enum offers only those.
RouteOperation = Annotated[
    Operation,
    WithJsonSchema(
        {
            "type": "string",
            "enum": [op.value for op in SWITCHES],
            "description": "An operation a route may serve (`schedule` serves every schedule "
            "operation).",
        }
    ),
]

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
        if template is not None and not PLACEHOLDER.search(template):
            raise ValueError("a template without a placeholder gives every request the same id")
        return template

    @property
    def body_fields(self) -> list[str]:
        """The body fields the template reads."""
        return [m[2] for m in PLACEHOLDER.finditer(self.template or "") if m[2]]

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
    schedule: Requirement | None = None
    """Who may manage the route's schedules (create, list, describe, update, pause, unpause,
    trigger, backfill, delete); the workflows they start are read with ``read``."""
    owner_only: bool = False
    """A caller acts only on the workflows (and schedules) it started (administrators
    excepted): every id the route makes carries the caller's scope after the prefix, by-id
    operations on another caller's id answer 404 as a missing one would, and lists show only
    the caller's own. Off: the grants are the route's, and a holder acts on every caller's
    workflows and schedules of the route."""

    def requirement(self, access: Access) -> Requirement | None:
        found: Requirement | None = getattr(self, access.value)
        return found


class Arguments(StrEnum):
    """How a request body becomes the workflow's (or a handler's) arguments."""

    SINGLE = "single"
    """The body is the one argument."""
    POSITIONAL = "positional"
    """The body is a JSON array: each item is one positional argument, in order (a Go or Java
    function with several parameters)."""


class MessageSpec(_Model):
    """A signal, query or update the route exposes by name."""

    name: str = Field(min_length=1, max_length=255, pattern=MESSAGE_NAME_PATTERN)
    """The handler's name in the workflow, and the last segment of its URL."""
    description: str | None = Field(default=None, max_length=1000)
    """Shown in the API's OpenAPI document."""
    input_schema: dict[str, Any] | None = None
    """JSON Schema (2020-12) for the argument, the request body. Unset: the handler takes no
    argument and the body must be empty."""
    arguments: Arguments = Arguments.SINGLE
    """``single``: the body is the handler's one argument. ``positional``: the body is a JSON
    array of its arguments, and ``inputSchema`` an array schema whose ``prefixItems`` check
    each one."""
    input_message: str | None = Field(default=None, max_length=255, pattern=PROTO_MESSAGE_PATTERN)
    """The protobuf message (full name, ``pkg.Message``) the handler takes: the body, its
    proto JSON, is sent as ``json/protobuf`` with this ``messageType``. Unset: plain JSON."""

    @model_validator(mode="after")
    def _one_message_argument(self) -> MessageSpec:
        _check_input_message(self.input_message, self.arguments)
        return self


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
    (a key of the mounted Secret) holding one ``whsec_…`` secret, or two during a rotation.
    Give each route its own: receivers holding a secret trust every route that signs with it."""
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
    arguments: Arguments = Arguments.SINGLE
    """``single``: the body is the workflow's one argument. ``positional``: the body is a JSON
    array of its arguments (a Go or Java workflow with several parameters), and
    ``inputSchema`` an array schema whose ``prefixItems`` check each one."""
    input_message: str | None = Field(default=None, max_length=255, pattern=PROTO_MESSAGE_PATTERN)
    """The protobuf message (full name, ``pkg.Message``) the workflow takes: the body, its proto
    JSON, is sent as ``json/protobuf`` with this ``messageType``, as protobuf-aware converters
    expect. Unset: plain JSON (``json/plain``)."""
    descriptor_set: str | None = Field(default=None, pattern=DESCRIPTOR_SET_PATTERN)
    """A serialized ``google.protobuf.FileDescriptorSet`` (``buf build -o x.binpb``, ``protoc
    --include_imports --descriptor_set_out``): a file name in the API's
    ``API_DESCRIPTOR_SETS_DIR``. With it, ``binary/protobuf`` answers are decoded to proto JSON
    and an ``inputMessage`` body is checked against its message. Unset: ``binary/protobuf``
    answers are 502 ``undecodable-payload``."""
    workflow_id: WorkflowIdSpec = Field(default_factory=WorkflowIdSpec)
    """How the gateway names the workflows it starts."""
    execution_timeout_seconds: int | None = Field(default=None, gt=0, le=MAX_TIMEOUT_SECONDS)
    """Temporal's workflow execution timeout (all runs). Unset: none."""
    run_timeout_seconds: int | None = Field(default=None, gt=0, le=MAX_TIMEOUT_SECONDS)
    """Temporal's workflow run timeout (one run); at most the execution timeout."""
    refuse_starts_without_worker: bool = False
    """Answer starts with 503 ``no-worker`` (and ``Retry-After``) while no worker has polled
    ``taskQueue`` in the last two minutes, instead of starting a workflow nothing runs. Off by
    default: a start is accepted and waits for a worker, as Temporal's own are."""
    sync_wait_seconds: float = Field(default=30.0, gt=0, le=300)
    """How long ``POST /workflows/<path>`` waits before answering 202 with a Location to poll;
    30 s stays below the 60 s idle timeout of common load balancers and ingresses."""
    operations: tuple[RouteOperation, ...] = Field(default=DEFAULT_OPERATIONS, min_length=1)
    """What the route serves; anything else answers 405. Unset: the default list (every
    operation there was when this field got its default; operations added since are served
    only by routes that list them, such as ``schedule``)."""
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
    codec: str | None = Field(default=None, max_length=63, pattern=CODEC_NAME_PATTERN)
    """The payload codec (encryption, compression) of the route's workflows: the name of one
    the platform team configured in the API's ``API_CODECS`` (and the worker's
    ``WORKER_CODECS``, for webhooks), or ``none`` for plain payloads. Unset: the default of the
    route's Temporal namespace (``API_NAMESPACE_CODECS``), if any. A route names a codec; it
    never says where one is, so no route can make the gateway load code or call a URL."""

    @field_validator("operations")
    @classmethod
    def _switches(cls, operations: tuple[Operation, ...]) -> tuple[Operation, ...]:
        for operation in operations:
            switch = OPERATIONS[operation].switch
            if switch is not operation:
                raise ValueError(
                    f"{operation.value!r} is served with {switch.value!r}: list {switch.value!r}"
                )
        return operations

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
        _check_input_message(self.input_message, self.arguments)
        if self.arguments is Arguments.POSITIONAL and self.workflow_id.body_fields:
            raise ValueError(
                "workflowId.template reads body fields, but arguments: positional makes the "
                "body an array; use {idempotencyKey}"
            )
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
        found: tuple[MessageSpec, ...] = getattr(self, MESSAGE_FIELDS[kind])
        return found


def _check_input_message(input_message: str | None, arguments: Arguments) -> None:
    if input_message is not None and arguments is Arguments.POSITIONAL:
        raise ValueError("inputMessage names the one argument: it needs arguments: single")


MESSAGE_FIELDS = {MessageKind.SIGNAL: "signals", MessageKind.QUERY: "queries",
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

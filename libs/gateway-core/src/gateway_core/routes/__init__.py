"""WorkflowRoute documents: the data that puts a workflow behind an HTTP route.

A route is a Kubernetes-shaped document (``apiVersion``/``kind``/``metadata``/``spec``) so the
same file works as a local config under ``make run`` and as a custom resource reconciled by the
operator. This package parses and validates those documents (:mod:`.spec`), compiles each
route's JSON Schemas once (:mod:`.compiled`), and builds an immutable :class:`RouteTable` that
the API swaps as a whole (:mod:`.table`, read and written as YAML by :mod:`.documents`). The
operations a route may serve, and what each needs, are one table (:mod:`.operations`).

Import from here; the modules behind it are the package's own layout.
"""

from gateway_core.routes.compiled import (
    SAFE_INTEGER,
    CompiledMessage,
    CompiledRoute,
    FieldError,
    StrictValidator,
    WorkflowIdError,
    compile_route,
    positional_schema,
    spec_digest,
    with_integer_bounds,
)
from gateway_core.routes.documents import (
    RouteFiles,
    RouteSource,
    dump_table,
    fingerprint,
    load_routes,
    parse_documents,
)
from gateway_core.routes.operations import (
    ACCESS_BY_OPERATION,
    ALSO_NEEDS,
    DEFAULT_OPERATIONS,
    OPERATIONS,
    SWITCHES,
    Access,
    Addressed,
    MessageKind,
    Operation,
    OperationRow,
)
from gateway_core.routes.spec import (
    API_GROUP,
    API_VERSION,
    CODEC_NAME_PATTERN,
    DESCRIPTOR_SET_PATTERN,
    ID_PREFIX_PATTERN,
    ID_TEMPLATE_PATTERN,
    ID_VALUE_PATTERN,
    KIND,
    MAX_TIMEOUT_SECONDS,
    MESSAGE_NAME_PATTERN,
    NO_CODEC,
    PATH_PATTERN,
    PROTO_MESSAGE_PATTERN,
    SECRET_NAME_PATTERN,
    Arguments,
    AuthorizationSpec,
    CallbacksSpec,
    GrantName,
    IdConflictPolicy,
    IdReusePolicy,
    MessageSpec,
    Requirement,
    RouteMetadata,
    WorkflowIdSpec,
    WorkflowRoute,
    WorkflowRouteSpec,
)
from gateway_core.routes.table import EMPTY, PrefixIndex, RouteTable, build_table, prefix_conflict

__all__ = [
    "ACCESS_BY_OPERATION", "ALSO_NEEDS", "API_GROUP", "API_VERSION", "CODEC_NAME_PATTERN",
    "DEFAULT_OPERATIONS", "DESCRIPTOR_SET_PATTERN", "EMPTY", "ID_PREFIX_PATTERN",
    "ID_TEMPLATE_PATTERN", "ID_VALUE_PATTERN", "KIND", "MAX_TIMEOUT_SECONDS",
    "MESSAGE_NAME_PATTERN", "NO_CODEC", "OPERATIONS", "PATH_PATTERN", "PROTO_MESSAGE_PATTERN",
    "SAFE_INTEGER", "SECRET_NAME_PATTERN", "SWITCHES", "Access", "Addressed", "Arguments",
    "AuthorizationSpec", "CallbacksSpec", "CompiledMessage", "CompiledRoute", "FieldError",
    "GrantName", "IdConflictPolicy", "IdReusePolicy", "MessageKind", "MessageSpec", "Operation",
    "OperationRow", "PrefixIndex", "Requirement", "RouteFiles", "RouteMetadata", "RouteSource",
    "RouteTable",
    "StrictValidator", "WorkflowIdError", "WorkflowIdSpec", "WorkflowRoute", "WorkflowRouteSpec",
    "build_table", "compile_route", "dump_table", "fingerprint", "load_routes", "parse_documents",
    "positional_schema", "prefix_conflict", "spec_digest", "with_integer_bounds",
]  # fmt: skip

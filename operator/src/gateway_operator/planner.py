"""From what the cluster holds to what should change: pure data in, pure data out.

The operator observes every WorkflowRoute and the current route-table ConfigMap, asks
:func:`plan` what to do, then executes the plan. Keeping this step free of I/O makes every rule
(validation, path conflicts, condition transitions, "write only what changed") a table-driven
unit test.

Rules:
- A route is *accepted* when its spec is valid (the API server checked types and CEL rules; the
  model and the JSON Schema compilation are checked here), its path is free and its workflow id
  prefix overlaps no other's (the API finds a workflow's route by that prefix). Of two routes
  claiming a path or overlapping prefixes, the older (creation time, then namespace/name) keeps
  it, so :func:`~gateway_core.routes.build_table` never refuses the table.
- The table holds the accepted routes, sorted by path, with a content-derived version.
- Each route gets ``Accepted`` and ``Ready`` conditions with ``observedGeneration``, as Gateway
  API routes do; ``lastTransitionTime`` changes only when a condition's status does.
- Nothing is written unless it differs from what is there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from gateway_core.errors import RouteConfigError
from gateway_core.routes import (
    CompiledRoute,
    WorkflowRoute,
    build_table,
    compile_route,
    dump_table,
    prefix_conflict,
)

TABLE_KEY = "routes.yaml"
VERSION_KEY = "version"


@dataclass(frozen=True)
class ObservedRoute:
    """One WorkflowRoute as read from the API server."""

    namespace: str
    name: str
    generation: int
    created: str
    """``metadata.creationTimestamp`` (RFC 3339, so it sorts as text)."""
    body: Mapping[str, Any]
    status: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class StatusUpdate:
    namespace: str
    name: str
    status: dict[str, Any]


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    reason: str
    message: str


@dataclass(frozen=True)
class Plan:
    table: dict[str, str]
    """The ConfigMap data the API should see."""
    write_table: bool
    status_updates: tuple[StatusUpdate, ...]
    verdicts: dict[str, Verdict]
    """By ``namespace/name``: why each route is (not) accepted."""


def _compile(route: ObservedRoute) -> CompiledRoute | Verdict:
    try:
        document = WorkflowRoute.model_validate(route.body)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        return Verdict(False, "InvalidSpec", f"{where}: {err['msg']}")
    try:
        return compile_route(document, source=route.key)
    except RouteConfigError as exc:
        # spec.inputSchema..., or a message's: spec.signals[0].inputSchema...
        schema = "inputSchema" in (exc.field or "").split(".")[:3]
        return Verdict(
            False, "InvalidSchema" if schema else "InvalidSpec", f"{exc.field}: {exc.message}"
        )


def _condition(
    kind: str,
    ok: bool,
    reason: str,
    message: str,
    generation: int,
    previous: Mapping[str, Any],
    now: str,
) -> dict[str, Any]:
    status = "True" if ok else "False"
    same = previous.get("status") == status
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "observedGeneration": generation,
        "lastTransitionTime": previous.get("lastTransitionTime", now) if same else now,
    }


def _status(route: ObservedRoute, verdict: Verdict, path: str | None, now: str) -> dict[str, Any]:
    previous = {c.get("type"): c for c in route.status.get("conditions", []) if isinstance(c, dict)}
    ready_message = (
        f"served at /workflows/{path}"
        if verdict.accepted
        else "not served: see the Accepted condition"
    )
    return {
        "observedGeneration": route.generation,
        "conditions": [
            _condition("Accepted", verdict.accepted, verdict.reason, verdict.message,
                       route.generation, previous.get("Accepted", {}), now),
            _condition("Ready", verdict.accepted, "Ready" if verdict.accepted else "NotAccepted",
                       ready_message, route.generation, previous.get("Ready", {}), now),
        ],
    }  # fmt: skip


def plan(
    routes: Sequence[ObservedRoute], current_table: Mapping[str, str] | None, now: str
) -> Plan:
    """What to write so the table and every route's status match the routes.

    Args:
        routes: every WorkflowRoute the operator serves.
        current_table: the ConfigMap's data, None when it does not exist.
        now: the time to stamp on conditions that change (RFC 3339).
    """
    claimed: dict[str, CompiledRoute] = {}
    verdicts: dict[str, Verdict] = {}
    paths: dict[str, str] = {}
    prefixes: dict[str, str] = {}  # accepted routes' id prefixes, to their namespace/name
    for route in sorted(routes, key=lambda r: (r.created, r.namespace, r.name)):
        compiled = _compile(route)
        if isinstance(compiled, Verdict):
            verdicts[route.key] = compiled
            continue
        owner = claimed.get(compiled.spec.path)
        if owner is not None:
            verdicts[route.key] = Verdict(
                False,
                "PathConflict",
                f"path {compiled.spec.path!r} is already served by the older route "
                f"{owner.namespace}/{owner.name}",
            )
            continue
        prefix = compiled.spec.id_prefix
        holder = prefix_conflict(prefix, prefixes)
        if holder is not None:
            held = next(p for p, key in prefixes.items() if key == holder)
            verdicts[route.key] = Verdict(
                False,
                "IdPrefixConflict",
                f"workflow id prefix {prefix!r} overlaps the prefix {held!r} of the older route "
                f"{holder} (one starts with the other, so an id could not name its route); "
                "set spec.workflowId.prefix",
            )
            continue
        claimed[compiled.spec.path] = compiled
        paths[route.key] = compiled.spec.path
        prefixes[prefix] = route.key
        verdicts[route.key] = Verdict(True, "Accepted", "route accepted")

    table = build_table(claimed.values(), source="WorkflowRoutes")
    data = {TABLE_KEY: dump_table(table), VERSION_KEY: table.version}

    updates = []
    for route in routes:
        status = _status(route, verdicts[route.key], paths.get(route.key), now)
        if status != {k: route.status.get(k) for k in status}:
            updates.append(StatusUpdate(route.namespace, route.name, status))
    return Plan(
        table=data,
        write_table=dict(current_table) != data if current_table is not None else True,
        status_updates=tuple(updates),
        verdicts=verdicts,
    )

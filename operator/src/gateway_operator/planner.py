"""From what the cluster holds to what should change: pure data in, pure data out.

The operator observes every WorkflowRoute (kept in memory from kopf's watch) and the workers
polling each task queue, asks :func:`plan` what to do, then executes the plan. Keeping this
step free of I/O makes every rule (validation, path conflicts, condition transitions, "write
only what changed") a table-driven unit test.

Rules:
- A route is *accepted* when its spec is valid (the API server checked types and CEL rules; the
  model and the JSON Schema compilation are checked here), its path is free and its workflow id
  prefix overlaps no other's (the API finds a workflow's route by that prefix). Of two routes
  claiming a path or overlapping prefixes, the older (creation time, then namespace/name) keeps
  it. The API serves exactly the routes whose ``Accepted`` condition is True for their current
  generation (:mod:`gateway_core.routes.status`), so the accepted set is the route table.
- Each route gets ``Accepted`` and ``Ready`` conditions with ``observedGeneration``, as Gateway
  API routes do, and ``WorkerAvailable`` once its task queue has been checked;
  ``lastTransitionTime`` changes only when a condition's status does.
- Nothing is written unless it differs from what is there.

Cost: judging a route (its JSON Schemas checked and compiled, milliseconds) is done once per
generation by the caller's ``judge`` (a memo); the rest is dict and index work over the routes,
with id prefixes in a :class:`~gateway_core.routes.PrefixIndex`, so a plan over 2,000 routes
takes milliseconds and a route applied or changed costs one judgement.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from gateway_core.errors import RouteConfigError
from gateway_core.routes import (
    CompiledRoute,
    PrefixIndex,
    WorkflowRoute,
    compile_route,
)
from gateway_core.routes.status import ACCEPTED, READY, WORKER_AVAILABLE


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
    version: int = 0
    """``metadata.resourceVersion`` as a number (etcd's revision; 0 when it is not one): which
    of two copies of the route is the newer."""

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def queue(self) -> tuple[str | None, str]:
        """The Temporal namespace (None: the operator's default) and task queue it starts on."""
        spec = self.body.get("spec") or {}
        return spec.get("namespace"), str(spec.get("taskQueue", ""))


@dataclass(frozen=True)
class WorkerObservation:
    """What Temporal said about one task queue's workflow pollers."""

    reachable: bool
    pollers: int = 0
    newest_poll: str | None = None
    """The most recent poll among them (RFC 3339)."""
    error: str = ""


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
    status_updates: tuple[StatusUpdate, ...]
    verdicts: dict[str, Verdict]
    """By ``namespace/name``: why each route is (not) accepted."""
    paths: dict[str, str]
    """By ``namespace/name``: the path of each accepted route."""


def judge(route: ObservedRoute) -> CompiledRoute | Verdict:
    """The route compiled, or why it cannot be; depends only on the route's spec."""
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


MAX_MESSAGE = 32768
"""A condition's ``message``, as long as Kubernetes' Condition type lets it be."""


def condition(
    kind: str,
    ok: bool | str,
    reason: str,
    message: str,
    generation: int,
    previous: Mapping[str, Any],
    now: str,
) -> dict[str, Any]:
    """``ok``: True, False, or a status as Kubernetes writes it ("Unknown")."""
    status = ok if isinstance(ok, str) else ("True" if ok else "False")
    same = previous.get("status") == status
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message[:MAX_MESSAGE],
        "observedGeneration": generation,
        "lastTransitionTime": previous.get("lastTransitionTime", now) if same else now,
    }


def _worker_condition(
    route: ObservedRoute,
    seen: WorkerObservation,
    namespace: str,
    previous: Mapping[str, Any],
    now: str,
) -> dict[str, Any]:
    queue = route.queue[1]
    if not seen.reachable:
        status, reason = "Unknown", "TemporalUnreachable"
        message = f"cannot ask Temporal about task queue {queue!r}: {seen.error}"[:1024]
    elif seen.pollers:
        status, reason = "True", "PollersSeen"
        message = (
            f"{seen.pollers} worker poller(s) on task queue {queue!r} in namespace "
            f"{namespace!r}, the newest polled at {seen.newest_poll}"
        )
    else:
        status, reason = "False", "NoPollers"
        message = (
            f"no worker has polled task queue {queue!r} in namespace {namespace!r} recently: "
            "starts are accepted but nothing runs them"
        )
    same_count = reason != "PollersSeen" or str(previous.get("message", "")).startswith(
        f"{seen.pollers} worker"
    )
    if previous.get("status") == status and previous.get("reason") == reason and same_count:
        # The same answer: keep the message (and its poll time), so checking every queue every
        # half minute does not rewrite every route's status (and wake every API pod's watch).
        message = str(previous.get("message", message))
    return condition(WORKER_AVAILABLE, status, reason, message, route.generation, previous, now)


def _status(
    route: ObservedRoute,
    verdict: Verdict,
    path: str | None,
    now: str,
    workers: Mapping[tuple[str, str], WorkerObservation],
    default_namespace: str,
) -> dict[str, Any]:
    previous = {c.get("type"): c for c in route.status.get("conditions", []) if isinstance(c, dict)}
    ready_message = (
        f"served at /workflows/{path}"
        if verdict.accepted
        else "not served: see the Accepted condition"
    )
    conditions = [
        condition(ACCEPTED, verdict.accepted, verdict.reason, verdict.message,
                   route.generation, previous.get(ACCEPTED, {}), now),
        condition(READY, verdict.accepted, "Ready" if verdict.accepted else "NotAccepted",
                   ready_message, route.generation, previous.get(READY, {}), now),
    ]  # fmt: skip
    namespace = route.queue[0] or default_namespace
    seen = workers.get((namespace, route.queue[1]))
    if seen is not None:
        conditions.append(
            _worker_condition(route, seen, namespace, previous.get(WORKER_AVAILABLE, {}), now)
        )
    elif WORKER_AVAILABLE in previous:
        conditions.append(dict(previous[WORKER_AVAILABLE]))  # not checked yet: as it was
    return {"observedGeneration": route.generation, "conditions": conditions}


def plan(
    routes: Sequence[ObservedRoute],
    now: str,
    *,
    workers: Mapping[tuple[str, str], WorkerObservation] | None = None,
    default_namespace: str = "default",
    judge: Callable[[ObservedRoute], CompiledRoute | Verdict] = judge,
) -> Plan:
    """What to write so every route's status matches the routes and their task queues.

    Args:
        routes: every WorkflowRoute the operator serves.
        now: the time to stamp on conditions that change (RFC 3339).
        workers: what Temporal said about each (Temporal namespace, task queue); a route
            whose queue is not in it keeps its ``WorkerAvailable`` condition as it was.
        default_namespace: the Temporal namespace of a route that names none.
        judge: :func:`judge`, or a memo of it (the operator's, per generation).
    """
    claimed: dict[str, str] = {}  # path to the namespace/name of the route holding it
    verdicts: dict[str, Verdict] = {}
    paths: dict[str, str] = {}
    prefixes = PrefixIndex()  # accepted routes' id prefixes, to their namespace/name
    for route in sorted(routes, key=lambda r: (r.created, r.namespace, r.name)):
        compiled = judge(route)
        if isinstance(compiled, Verdict):
            verdicts[route.key] = compiled
            continue
        owner = claimed.get(compiled.spec.path)
        if owner is not None:
            verdicts[route.key] = Verdict(
                False,
                "PathConflict",
                f"path {compiled.spec.path!r} is already served by the older route {owner}",
            )
            continue
        prefix = compiled.spec.id_prefix
        clash = prefixes.conflict(prefix)
        if clash is not None:
            held, holder = clash
            verdicts[route.key] = Verdict(
                False,
                "IdPrefixConflict",
                f"workflow id prefix {prefix!r} overlaps the prefix {held!r} of the older route "
                f"{holder} (one starts with the other, so an id could not name its route); "
                "set spec.workflowId.prefix",
            )
            continue
        claimed[compiled.spec.path] = route.key
        paths[route.key] = compiled.spec.path
        prefixes.add(prefix, route.key)
        verdicts[route.key] = Verdict(True, "Accepted", "route accepted")

    updates = []
    for route in routes:
        status = _status(
            route, verdicts[route.key], paths.get(route.key), now, workers or {}, default_namespace
        )
        if status != {k: route.status.get(k) for k in status}:
            updates.append(StatusUpdate(route.namespace, route.name, status))
    return Plan(status_updates=tuple(updates), verdicts=verdicts, paths=paths)

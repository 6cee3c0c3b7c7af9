"""From a WorkflowSchedule, its route and what Temporal holds, to what to do: pure data in and
out, as the route planner is, so every rule is a table-driven unit test.

Rules:

- A schedule is *accepted* when its spec is valid (the API server checked types, enums and CEL
  rules; the model checks the rest, such as the time zone), its route exists in its namespace,
  is accepted by the operator and lists ``schedule``, the operator has the route's payload
  codec, and its input fits the route's ``inputSchema``. ``RouteFound`` says whether the route
  is there (and accepted); ``Accepted`` why the schedule is or is not.
- An accepted schedule is written to Temporal when it is not there (created; recreated, with a
  warning event, when it was deleted behind the operator's back), when its spec or its route's
  changed since the last write (``appliedDigest``), and when Temporal's copy no longer hashes to
  what it held right after that write (``temporalDigest``): someone changed it in Temporal, and
  it is set back, with a warning event naming what was changed.
- A schedule that is not accepted any more (its route deleted, its input no longer fitting a
  changed schema) is not deleted, nor left to fail every night: it is *paused*, with a note
  naming why (the field), once; a warning event says so. Fixed (the route back, the input or
  the schema changed), it is written again, and unpaused unless its spec says ``paused``.
- With ``pauseOnFailure``, Temporal pauses the schedule itself when a run fails: that is not
  drift. It stays paused (``Ready`` False, ``PausedOnFailure``) until the resource changes.
- Deleting the resource deletes the schedule first (a finalizer holds the resource until then);
  the workflows it started go on.
- The ``Ready`` condition is True when Temporal holds what the resource says.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from gateway_core import memo
from gateway_core.routes import CompiledRoute, Operation
from gateway_core.schedules import WorkflowSchedule
from gateway_operator.planner import condition

FINALIZER = "temporal-gateway.dev/schedule"
"""Held on every WorkflowSchedule until its Temporal schedule is deleted."""
ROUTE_FOUND, ACCEPTED, READY = "RouteFound", "Accepted", "Ready"
OPERATOR_NOTE = "paused by the temporal-gateway operator: "
"""How the operator's own pause notes begin (a note naming why)."""


@dataclass(frozen=True)
class ObservedSchedule:
    """One WorkflowSchedule as the watch delivered it."""

    namespace: str
    name: str
    generation: int
    body: Mapping[str, Any]
    status: Mapping[str, Any] = field(default_factory=dict)
    finalizers: tuple[str, ...] = ()
    deleting: bool = False
    """``metadata.deletionTimestamp`` is set: the resource waits for its finalizers."""
    uid: str = ""

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def route(self) -> str:
        return str((self.body.get("spec") or {}).get("route", ""))

    @property
    def principal(self) -> str:
        """Whom the schedule's runs are recorded as started by: the resource's namespace (no
        API key or token can be ``k8s:``, so none can pass for it)."""
        return f"k8s:{self.namespace}"

    @property
    def managed_by(self) -> str:
        return f"WorkflowSchedule {self.key}"


@dataclass(frozen=True)
class InTemporal:
    """What Temporal holds for a schedule (the operator's :func:`describe`)."""

    digest: str
    """:func:`gateway_core.schedules.digest`, without the state: spec, action, policies."""
    paused: bool
    note: str
    workflow_type: str
    managed_by: str | None
    next_runs: tuple[str, ...] = ()
    last_run: Mapping[str, Any] | None = None
    runs: int = 0

    @property
    def paused_on_failure(self) -> bool:
        """Paused, and the last run failed: Temporal's doing, under ``pauseOnFailure``."""
        result = (self.last_run or {}).get("result")
        return self.paused and result in ("FAILED", "TIMED_OUT", "TERMINATED", "CANCELED")


class Act(StrEnum):
    ADD_FINALIZER = "add-finalizer"
    WRITE = "write"
    """Create the schedule (or replace it) with the desired one, state included."""
    PAUSE = "pause"
    """Pause it, with the plan's note."""
    UNPAUSE = "unpause"
    DELETE = "delete"
    """Delete the schedule at the status's id and namespace (the one written last)."""
    REMOVE_FINALIZER = "remove-finalizer"


@dataclass(frozen=True)
class Desired:
    """The schedule the resource asks for, on its route."""

    route: CompiledRoute
    resource: WorkflowSchedule
    schedule_id: str
    temporal_namespace: str
    paused: bool
    note: str | None
    digest: str
    """Of the spec, the route's and where the schedule goes: changed, the schedule is written."""


@dataclass(frozen=True)
class Event:
    type: str
    """``Normal`` or ``Warning``."""
    reason: str
    message: str


@dataclass(frozen=True)
class SchedulePlan:
    actions: tuple[Act, ...]
    conditions: tuple[tuple[str, bool | str, str, str], ...]
    """(type, status, reason, message) of each condition."""
    desired: Desired | None = None
    note: str | None = None
    """The note to pause with (:attr:`Act.PAUSE`) or unpause with (:attr:`Act.UNPAUSE`)."""
    events: tuple[Event, ...] = ()


@dataclass(frozen=True)
class Refusal:
    """Why a schedule is not accepted: its ``Accepted`` reason and message; ``route_found``
    for the ``RouteFound`` condition."""

    reason: str
    message: str
    route_found: bool = True
    route_reason: str = "RouteFound"
    route_message: str = ""


RouteLookup = Callable[[str, str], "CompiledRoute | str | None"]
"""(namespace, name) → the accepted route, why it is not accepted (its Accepted reason), or
None when there is no such route."""
CodecCheck = Callable[[CompiledRoute], str | None]
"""Why the operator cannot encode the route's payloads (its codec is not configured), or None."""


def _field(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def judge(
    obs: ObservedSchedule, routes: RouteLookup, codecs: CodecCheck
) -> tuple[WorkflowSchedule, CompiledRoute] | Refusal:
    """The resource and its route, or why it cannot be scheduled."""
    try:
        resource = WorkflowSchedule.model_validate(
            {**obs.body, "metadata": {"name": obs.name, "namespace": obs.namespace}},
            by_alias=True,
            by_name=False,
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        message = str(err["msg"]).removeprefix("Value error, ")
        return Refusal("InvalidSpec", f"{_field(tuple(err['loc']))}: {message}")
    found = routes(obs.namespace, resource.spec.route)
    where = f"WorkflowRoute {resource.spec.route!r} in namespace {obs.namespace!r}"
    if found is None:
        return Refusal("RouteNotFound", f"no {where}", False, "RouteNotFound", f"no {where}")
    if isinstance(found, str):
        message = f"{where} is not accepted ({found}): see its Accepted condition"
        return Refusal("RouteNotAccepted", message, False, "RouteNotAccepted", message)
    if not found.allows(Operation.SCHEDULE):
        return Refusal(
            "OperationNotAllowed",
            f"{where} does not list `schedule` in its operations",
        )
    codec_problem = codecs(found)
    if codec_problem is not None:
        return Refusal("CodecUnavailable", codec_problem)
    errors = found.validate(resource.spec.input)
    if errors:
        first = errors[0]
        name = "spec.input" if first.field == "body" else (
            f"spec.input{first.field}" if first.field.startswith("[")
            else f"spec.input.{first.field}"
        )  # fmt: skip
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return Refusal(
            "InvalidInput",
            f"{name}: {first.message}{more} (the inputSchema of {where})",
        )
    return resource, found


def schedule_id(route: CompiledRoute, obs: ObservedSchedule) -> str:
    """The route's prefix, the namespace's scope and the resource's name: the route's by id,
    and never an id an API caller's key could make (their scope is their own)."""
    return f"{route.spec.id_prefix}{memo.scope(obs.principal)}.{obs.name}"


def desired(
    obs: ObservedSchedule,
    resource: WorkflowSchedule,
    route: CompiledRoute,
    default_namespace: str,
) -> Desired:
    namespace = route.spec.namespace or default_namespace
    sid = schedule_id(route, obs)
    spec = resource.spec
    note = spec.note if spec.note is not None else (
        f"paused by {obs.managed_by}" if spec.paused else None
    )  # fmt: skip
    text = json.dumps(
        [spec.model_dump(mode="json", by_alias=True), route.spec.model_dump(mode="json"),
         namespace, sid],
        sort_keys=True, separators=(",", ":"),
    )  # fmt: skip
    return Desired(
        route=route,
        resource=resource,
        schedule_id=sid,
        temporal_namespace=namespace,
        paused=spec.paused,
        note=note,
        digest=hashlib.sha256(text.encode()).hexdigest()[:32],
    )


def plan(
    obs: ObservedSchedule,
    judged: tuple[WorkflowSchedule, CompiledRoute] | Refusal,
    temporal: InTemporal | None,
    *,
    default_namespace: str = "default",
) -> SchedulePlan:
    """What to do about ``obs`` given its judgement and what Temporal holds at the schedule's
    id (the desired one when the resource is accepted, else the one last written)."""
    status = obs.status
    if obs.deleting:
        if FINALIZER not in obs.finalizers:
            return SchedulePlan((), ())
        if status.get("scheduleId"):
            return SchedulePlan((Act.DELETE, Act.REMOVE_FINALIZER), ())
        return SchedulePlan((Act.REMOVE_FINALIZER,), ())
    acts: list[Act] = [] if FINALIZER in obs.finalizers else [Act.ADD_FINALIZER]
    events: list[Event] = []
    if isinstance(judged, Refusal):
        conditions = (
            (ROUTE_FOUND, judged.route_found, judged.route_reason,
             judged.route_message or f"WorkflowRoute {obs.route!r} serves schedules"),
            (ACCEPTED, False, judged.reason, judged.message),
        )  # fmt: skip
        if temporal is None:
            return SchedulePlan(
                tuple(acts),
                (*conditions, (READY, False, "NotAccepted", "no schedule in Temporal")),
            )
        note = f"{OPERATOR_NOTE}{judged.reason}: {judged.message}"[:1000]
        if not temporal.paused or temporal.note != note:
            acts.append(Act.PAUSE)
            events.append(Event("Warning", "SchedulePaused", f"{judged.message}; paused"))
        ready = (READY, False, "Paused", f"paused until the resource is accepted again: {note}")
        return SchedulePlan(tuple(acts), (*conditions, ready), note=note, events=tuple(events))

    resource, route = judged
    want = desired(obs, resource, route, default_namespace)
    conditions_ok = (
        (ROUTE_FOUND, True, "RouteFound",
         f"WorkflowRoute {route.name!r} serves /workflows/{route.spec.path}"),
        (ACCEPTED, True, "Accepted", "schedule accepted"),
    )  # fmt: skip
    moved = status.get("scheduleId") and (
        status.get("scheduleId") != want.schedule_id
        or status.get("temporalNamespace") != want.temporal_namespace
    )
    if moved:
        # The route's prefix or namespace changed: the old schedule goes, a new one comes.
        acts += [Act.DELETE, Act.WRITE]
        events.append(Event("Normal", "ScheduleMoved", f"now {want.schedule_id} in "
                            f"namespace {want.temporal_namespace!r}"))  # fmt: skip
        return SchedulePlan(tuple(acts), (*conditions_ok, _scheduled(want)), want,
                            events=tuple(events))  # fmt: skip
    if temporal is None:
        acts.append(Act.WRITE)
        if status.get("temporalDigest"):
            events.append(Event("Warning", "ScheduleRecreated", f"schedule {want.schedule_id} "
                                "was deleted in Temporal; created again"))  # fmt: skip
        return SchedulePlan(tuple(acts), (*conditions_ok, _scheduled(want)), want,
                            events=tuple(events))  # fmt: skip
    if temporal.managed_by not in (None, obs.managed_by) or temporal.workflow_type != (
        route.spec.workflow_type
    ):
        # Another program's (or resource's) schedule holds the id: never take it over.
        message = (f"schedule {want.schedule_id} in Temporal is not this resource's (it starts "
                   f"{temporal.workflow_type}, managed by {temporal.managed_by})")  # fmt: skip
        return SchedulePlan(
            tuple(acts),
            (conditions_ok[0], (ACCEPTED, False, "ScheduleIdTaken", message),
             (READY, False, "ScheduleIdTaken", message)),
        )  # fmt: skip
    changed = status.get("appliedDigest") != want.digest
    drifted = not changed and status.get("temporalDigest") not in (None, temporal.digest)
    if changed or drifted:
        acts.append(Act.WRITE)
        if drifted:
            message = f"schedule {want.schedule_id} was changed in Temporal; set back to the spec"
            events.append(Event("Warning", "DriftCorrected", message))
        return SchedulePlan(tuple(acts), (*conditions_ok, _scheduled(want)), want,
                            events=tuple(events))  # fmt: skip
    # The same spec, as written: only the state may differ.
    if temporal.paused != want.paused or (temporal.paused and temporal.note != want.note):
        if (
            temporal.paused
            and not want.paused
            and resource.spec.policy.pause_on_failure
            and (temporal.paused_on_failure)
        ):
            ready = (READY, False, "PausedOnFailure",
                     f"Temporal paused it after a failed run ({temporal.note}); change the "
                     "resource (paused: true, then false) to resume")  # fmt: skip
            return SchedulePlan(tuple(acts), (*conditions_ok, ready), want)
        acts.append(Act.PAUSE if want.paused else Act.UNPAUSE)
        was = "paused" if temporal.paused else "unpaused"
        if not temporal.paused or not temporal.note.startswith(OPERATOR_NOTE):
            events.append(Event("Warning", "DriftCorrected", f"schedule {want.schedule_id} "
                                f"was {was} in Temporal; set back"))  # fmt: skip
        return SchedulePlan(tuple(acts), (*conditions_ok, _scheduled(want)), want,
                            note=want.note or "", events=tuple(events))  # fmt: skip
    return SchedulePlan(tuple(acts), (*conditions_ok, _scheduled(want)), want)


def _scheduled(want: Desired) -> tuple[str, bool, str, str]:
    return (READY, True, "Scheduled",
            f"schedule {want.schedule_id} in namespace {want.temporal_namespace!r} is the "
            "resource's")  # fmt: skip


def status(
    obs: ObservedSchedule,
    todo: SchedulePlan,
    temporal: InTemporal | None,
    now: str,
    *,
    written: bool,
    failure: str | None = None,
) -> dict[str, Any]:
    """The resource's status after ``todo`` was carried out: ``temporal`` is what Temporal held
    afterwards (None: no schedule), ``written`` whether the schedule was written now (its
    digests are then recorded), ``failure`` why an action could not be done (``Ready``
    Unknown, and the digests kept as they were, so it is tried again)."""
    previous = {c.get("type"): c for c in obs.status.get("conditions", []) if isinstance(c, dict)}
    conditions = [
        condition(kind, ok, reason, message, obs.generation, previous.get(kind, {}), now)
        for kind, ok, reason, message in todo.conditions
        if not (failure is not None and kind == READY)
    ]
    if failure is not None:
        conditions.append(condition(READY, "Unknown", "TemporalError", failure[:1024],
                                     obs.generation, previous.get(READY, {}), now))  # fmt: skip
    out: dict[str, Any] = {"observedGeneration": obs.generation, "conditions": conditions}
    want = todo.desired
    kept = {k: obs.status[k] for k in ("scheduleId", "temporalNamespace", "appliedDigest",
                                       "temporalDigest") if k in obs.status}  # fmt: skip
    if want is not None and failure is None and (written or Act.DELETE not in todo.actions):
        kept["scheduleId"], kept["temporalNamespace"] = want.schedule_id, want.temporal_namespace
    if written and failure is None and want is not None and temporal is not None:
        kept["appliedDigest"], kept["temporalDigest"] = want.digest, temporal.digest
    out.update(kept)
    if temporal is not None:
        out["paused"] = temporal.paused
        out["note"] = temporal.note
        out["nextRunTimes"] = list(temporal.next_runs)
        out["runs"] = temporal.runs
        if temporal.last_run is not None:
            out["lastRun"] = dict(temporal.last_run)
    return out

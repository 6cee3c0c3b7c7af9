"""The WorkflowSchedules' reconcile loop around their planner, with a fake Kubernetes and a fake
Temporal: what each round does, told by the operator's schedule metrics (docs/observability.md).

The metrics are the process's: each test reads how much they moved, not what they are.
"""

from __future__ import annotations

import copy
import dataclasses
from collections import Counter
from typing import Any

from prometheus_client import REGISTRY

from gateway_core.routes import CompiledRoute, Operation
from gateway_operator.config import OperatorSettings
from gateway_operator.schedules.planner import Desired, InTemporal, ObservedSchedule
from gateway_operator.schedules.reconciler import ScheduleReconciler
from support.gateway import counted, route

SHOP = route("shop", "ShoppingWorkflow", "q", operations=["start", Operation.SCHEDULE.value])
KEY = "apps/nightly"


class FakeKube:
    """One stored WorkflowSchedule that the reconciler's patches change; the watch's echo of
    them (:meth:`echo`) is left to the test."""

    def __init__(self) -> None:
        self.stored: dict[str, Any] = {
            "apiVersion": "temporal-gateway.dev/v1alpha1",
            "kind": "WorkflowSchedule",
            "metadata": {"name": "nightly", "namespace": "apps", "generation": 1, "uid": "u"},
            "spec": {"route": "shop", "input": {"items": [1]},
                     "schedule": {"cronExpressions": ["0 3 * * *"]}},
        }  # fmt: skip
        self.events: list[str] = []
        self.failing = False

    def echo(self) -> dict[str, Any]:
        return copy.deepcopy(self.stored)

    async def set_finalizers(self, obs: ObservedSchedule, finalizers: list[str]) -> bool:
        self.stored["metadata"]["finalizers"] = list(finalizers)
        return True

    async def patch_schedule_status(self, obs: ObservedSchedule, status: dict[str, Any]) -> bool:
        if self.failing:
            raise RuntimeError("the API server is away")
        kept = {**self.stored.get("status", {}), **status}
        self.stored["status"] = {k: v for k, v in kept.items() if v is not None}
        return True

    async def post_event(self, obs: ObservedSchedule, kind: str, reason: str, message: str) -> None:
        self.events.append(reason)


class FakeTemporal:
    """Temporal's schedules as the reconciler reads them: the test changes one behind its back
    by replacing it in :attr:`held`."""

    default_namespace = "default"

    def __init__(self) -> None:
        self.held: dict[str, InTemporal] = {}

    def codec_problem(self, route: CompiledRoute) -> str | None:
        return None

    def forget_connection(self) -> None:
        pass

    async def describe(
        self, namespace: str, schedule_id: str, route: CompiledRoute | None = None
    ) -> InTemporal | None:
        return self.held.get(schedule_id)

    async def write(self, obs: ObservedSchedule, want: Desired, *, exists: bool) -> InTemporal:
        # What Temporal holds hashes as what was written: a drift set back, the same again.
        self.held[want.schedule_id] = InTemporal(
            digest=f"of {want.digest}", paused=want.paused, note=want.note or "",
            workflow_type=want.route.spec.workflow_type, managed_by=obs.managed_by,
        )  # fmt: skip
        return self.held[want.schedule_id]

    async def pause(self, namespace: str, schedule_id: str, note: str) -> None:
        self.held[schedule_id] = dataclasses.replace(self.held[schedule_id], paused=True,
                                                     note=note)  # fmt: skip

    async def unpause(self, namespace: str, schedule_id: str, note: str) -> None:
        self.held[schedule_id] = dataclasses.replace(self.held[schedule_id], paused=False,
                                                     note=note)  # fmt: skip

    async def delete(self, namespace: str, schedule_id: str) -> None:
        self.held.pop(schedule_id, None)


def moved() -> Counter[tuple[str, ...]]:
    """The operator's schedule counters (and the duration histogram's count), by metric and
    label value."""
    prefix = "temporal_gateway_operator_schedule_"
    results = counted(f"{prefix}reconciles_total", "result")
    actions = counted(f"{prefix}actions_total", "action")
    found = Counter({("reconciles", r): v for (r,), v in results.items()})
    found.update({("actions", a): v for (a,), v in actions.items()})
    found["drift", ""] = counted(f"{prefix}drift_total")[()]
    found["rounds", ""] = counted(f"{prefix}reconcile_duration_seconds_count")[()]
    return found


def by_reason() -> dict[str, float]:
    return {
        s.labels["reason"]: s.value
        for family in REGISTRY.collect()
        if family.name == "temporal_gateway_operator_schedules"
        for s in family.samples
    }


async def test_each_round_is_counted_by_result_action_and_drift() -> None:
    kube, temporal = FakeKube(), FakeTemporal()
    loop = ScheduleReconciler(kube, OperatorSettings(), temporal)  # type: ignore[arg-type]
    loop.routes_planned({"apps/shop": SHOP})

    async def round_after(event: str = "MODIFIED") -> Counter[tuple[str, ...]]:
        """The watch delivers the stored resource, the loop reconciles it: what moved."""
        before = moved()
        loop.observe(event, kube.echo())
        await loop.reconcile()
        return moved() - before

    # Created: the finalizer, the schedule written, the status.
    assert await round_after("ADDED") == {("reconciles", "changed"): 1, ("actions", "write"): 1,
                                          ("rounds", ""): 1}  # fmt: skip
    assert by_reason()["Scheduled"] == 1
    assert by_reason()["Pending"] == 0
    # The watch's echo of that status: nothing to do.
    assert await round_after() == {("reconciles", "unchanged"): 1, ("rounds", ""): 1}

    # Changed in Temporal behind the operator's back: written again, once counted as drift.
    (sid,) = temporal.held
    temporal.held[sid] = dataclasses.replace(temporal.held[sid], digest="by hand")
    assert await round_after() == {("reconciles", "changed"): 1, ("actions", "write"): 1,
                                   ("drift", ""): 1, ("rounds", ""): 1}  # fmt: skip
    # Paused in Temporal by hand: unpaused, drift again.
    temporal.held[sid] = dataclasses.replace(temporal.held[sid], paused=True, note="by hand")
    assert await round_after() == {("reconciles", "changed"): 1, ("actions", "unpause"): 1,
                                   ("drift", ""): 1, ("rounds", ""): 1}  # fmt: skip
    # Deleted in Temporal: created again, drift again.
    del temporal.held[sid]
    assert await round_after() == {("reconciles", "changed"): 1, ("actions", "write"): 1,
                                   ("drift", ""): 1, ("rounds", ""): 1}  # fmt: skip
    assert kube.events == ["DriftCorrected", "DriftCorrected", "ScheduleRecreated"]

    # Its route refused: the operator pauses it (its own doing, not drift).
    before = moved()
    loop.routes_planned({"apps/shop": "InvalidSchema"})
    await loop.reconcile()
    assert moved() - before == {("reconciles", "changed"): 1, ("actions", "pause"): 1,
                                ("rounds", ""): 1}  # fmt: skip
    assert (by_reason()["Paused"], by_reason()["Scheduled"]) == (1, 0)
    assert kube.events[-1] == "SchedulePaused"

    # The status cannot be written: an error, and the schedule is tried again next round.
    loop.routes_planned({"apps/shop": SHOP})
    kube.failing = True
    before = moved()
    await loop.reconcile()
    assert moved() - before == {("reconciles", "error"): 1, ("actions", "unpause"): 1,
                                ("rounds", ""): 1}  # fmt: skip
    kube.failing = False
    assert await round_after() == {("reconciles", "changed"): 1, ("rounds", ""): 1}
    assert by_reason()["Scheduled"] == 1

    # Deleted: the schedule goes from Temporal, then the finalizer.
    kube.stored["metadata"]["deletionTimestamp"] = "2026-06-01T12:00:00Z"
    assert await round_after() == {("reconciles", "changed"): 1, ("actions", "delete"): 1,
                                   ("rounds", ""): 1}  # fmt: skip
    assert temporal.held == {}
    assert kube.stored["metadata"]["finalizers"] == []
    loop.observe("DELETED", kube.echo())
    before = moved()
    await loop.reconcile()
    assert moved() - before == {}, "nothing left to reconcile: no round"
    assert by_reason() == dict.fromkeys(by_reason(), 0)

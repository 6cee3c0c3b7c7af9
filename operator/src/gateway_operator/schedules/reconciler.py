"""The WorkflowSchedules' reconcile loop: observe, plan (:mod:`.planner`), execute.

kopf's watch feeds :meth:`ScheduleReconciler.observe`, which keeps every WorkflowSchedule in
memory, as the route reconciler keeps the routes; the route reconciler hands over, after each of
its plans, which routes are accepted (:meth:`routes_planned`). A schedule is reconciled when it
changes, when its route does (accepted, refused, gone, its spec changed), and every
``schedule_resync_seconds``, when every schedule's Temporal copy is read and compared with what
was written (drift). Only the leader writes, to Temporal as to Kubernetes.

One schedule: its judgement (spec, route, codec, input), what Temporal holds at its id, the
plan, then the plan's actions in order, the status (written only when it differs, with what
Temporal holds afterwards) and the plan's events. A Temporal call that fails leaves ``Ready``
Unknown and the digests as they were, so the next round tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import structlog

from gateway_core.routes import CompiledRoute
from gateway_operator import metrics
from gateway_operator.config import OperatorSettings
from gateway_operator.kube import Kube, observed_schedule
from gateway_operator.leader import Leadership
from gateway_operator.schedules import planner
from gateway_operator.schedules.planner import (
    FINALIZER,
    READY,
    Act,
    InTemporal,
    ObservedSchedule,
    Refusal,
)
from gateway_operator.schedules.temporal import Schedules

log = structlog.get_logger(__name__)

RouteVerdicts = Mapping[str, "CompiledRoute | str"]
"""By ``namespace/name``: the accepted route, or its ``Accepted`` reason when refused."""


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _same_verdict(before: CompiledRoute | str | None, now: CompiledRoute | str | None) -> bool:
    """The route reconciler judges a route once per generation: the same object, the same
    route; a refusal is its reason."""
    return before is now or (isinstance(before, str) and before == now)


def _same(planned: Mapping[str, Any], current: Mapping[str, Any]) -> bool:
    """Whether writing ``planned`` (None: remove) would change ``current``."""
    return all(current.get(k) == v for k, v in planned.items())


class ScheduleReconciler:
    STATUS_FIELDS = ("scheduleId", "temporalNamespace", "appliedDigest", "temporalDigest",
                     "paused", "note", "nextRunTimes", "lastRun", "runs")  # fmt: skip
    """The status fields besides the conditions: set to None (removed) when a plan has none."""

    def __init__(
        self,
        kube: Kube,
        settings: OperatorSettings,
        temporal: Schedules,
        *,
        leadership: Leadership | None = None,
    ) -> None:
        self._kube = kube
        self._settings = settings
        self._temporal = temporal
        self._leadership = leadership
        self._wanted = asyncio.Event()
        self._schedules: dict[str, ObservedSchedule] = {}
        self._dirty: set[str] = set()
        self._listed = False
        self._routes: dict[str, CompiledRoute | str] | None = None

    @property
    def leading(self) -> bool:
        return self._leadership is None or self._leadership.leading

    def trigger(self) -> None:
        self._wanted.set()

    def observe(self, event: str | None, body: Mapping[str, Any]) -> None:
        """A WorkflowSchedule event from kopf's watch; called on the event loop."""
        found = observed_schedule(body)
        if event == "DELETED":
            self._schedules.pop(found.key, None)
            self._dirty.discard(found.key)
            return
        self._schedules[found.key] = found
        self._dirty.add(found.key)
        self.trigger()

    def routes_planned(self, verdicts: RouteVerdicts) -> None:
        """The route reconciler's latest verdicts: reconcile the schedules whose route changed
        (accepted, refused, gone, or a new spec)."""
        before, self._routes = self._routes, dict(verdicts)
        if before is None:
            self._dirty.update(self._schedules)
        else:
            changed = {k for k in before.keys() | verdicts.keys()
                       if not _same_verdict(before.get(k), verdicts.get(k))}  # fmt: skip
            self._dirty.update(key for key, found in self._schedules.items()
                               if f"{found.namespace}/{found.route}" in changed)  # fmt: skip
        if self._dirty:
            self.trigger()

    async def run(self) -> None:
        """Reconcile what is dirty when triggered, and every schedule every
        ``schedule_resync_seconds``; until cancelled."""
        resynced = 0.0
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wanted.wait(), self._settings.schedule_resync_seconds)
            await asyncio.sleep(self._settings.debounce_seconds)
            self._wanted.clear()
            if not self.leading or self._routes is None:
                continue  # the routes' first plan comes first: a schedule needs its route
            try:
                if not self._listed or (
                    time.monotonic() - resynced >= self._settings.schedule_resync_seconds
                ):
                    await self.resync()
                    resynced = time.monotonic()
                await self.reconcile()
            except Exception:
                log.exception("schedule reconcile failed; retrying")
                self._listed = False
                await asyncio.sleep(1.0)
                self._wanted.set()

    async def resync(self) -> None:
        """A full list, every schedule then dirty (what a watch restart may have missed, and the
        periodic drift check)."""
        found = await self._kube.list_schedules(self._settings.namespaces)
        self._schedules = {s.key: s for s in found}
        self._dirty = set(self._schedules)
        self._listed = True

    async def reconcile(self) -> None:
        started = time.perf_counter()
        todo, self._dirty = sorted(self._dirty), set()
        limit = asyncio.Semaphore(self._settings.schedule_concurrency)
        results: Counter[str] = Counter()

        async def one(key: str) -> None:
            found = self._schedules.get(key)
            if found is None:
                return
            async with limit:
                if not self.leading:
                    return
                try:
                    results[await self._one(found)] += 1
                except Exception:
                    results["error"] += 1
                    log.exception("cannot reconcile schedule", schedule=key)
                    self._dirty.add(key)  # again next round

        await asyncio.gather(*(one(key) for key in todo))
        for result, count in results.items():
            metrics.SCHEDULE_RECONCILES.labels(result=result).inc(count)
        metrics.set_schedules(Counter(self._ready_reason(s) for s in self._schedules.values()))
        if todo:
            metrics.SCHEDULE_RECONCILE_SECONDS.observe(time.perf_counter() - started)

    @staticmethod
    def _ready_reason(found: ObservedSchedule) -> str:
        for condition in found.status.get("conditions", []):
            if isinstance(condition, dict) and condition.get("type") == READY:
                return str(condition.get("reason", ""))
        return "Pending"

    def _route(self, namespace: str, name: str) -> CompiledRoute | str | None:
        return (self._routes or {}).get(f"{namespace}/{name}")

    async def _one(self, obs: ObservedSchedule) -> str:
        """Reconcile one schedule; ``changed`` (something written, to Temporal or to the
        resource) or ``unchanged``."""
        judged = planner.judge(obs, self._route, self._temporal.codec_problem)
        failure: str | None = None
        route = judged[1] if not isinstance(judged, Refusal) else None
        where: tuple[str | None, str | None]
        if not isinstance(judged, Refusal):
            want = planner.desired(obs, judged[0], judged[1], self._temporal.default_namespace)
            where = (want.temporal_namespace, want.schedule_id)
        else:
            where = (obs.status.get("temporalNamespace"), obs.status.get("scheduleId"))
        in_temporal: InTemporal | None = None
        if not obs.deleting and where[0] and where[1]:
            try:
                in_temporal = await self._temporal.describe(where[0], where[1], route)
            except Exception as exc:  # Temporal away: say so, and try again next round
                failure = self._failed(exc)
        if failure is not None:
            todo = planner.SchedulePlan((), planner.plan(obs, judged, None).conditions)
            return await self._finish(obs, todo, None, written=False, failure=failure)
        todo = planner.plan(obs, judged, in_temporal,
                            default_namespace=self._temporal.default_namespace)  # fmt: skip
        written = acted = False
        for act in todo.actions:
            try:
                match act:
                    case Act.ADD_FINALIZER:
                        if not await self._kube.set_finalizers(obs, [*obs.finalizers, FINALIZER]):
                            return "unchanged"
                        obs = dataclasses.replace(obs, finalizers=(*obs.finalizers, FINALIZER))
                    case Act.DELETE:
                        await self._temporal.delete(obs.status["temporalNamespace"],
                                                    obs.status["scheduleId"])  # fmt: skip
                        metrics.SCHEDULE_ACTIONS.labels(action="delete").inc()
                        in_temporal = None
                    case Act.REMOVE_FINALIZER:
                        kept = [f for f in obs.finalizers if f != FINALIZER]
                        await self._kube.set_finalizers(obs, kept)
                        log.info("schedule deleted", schedule=obs.key,
                                 schedule_id=obs.status.get("scheduleId"))  # fmt: skip
                        return "changed"
                    case Act.WRITE:
                        assert todo.desired is not None
                        in_temporal = await self._temporal.write(
                            obs, todo.desired, exists=in_temporal is not None
                        )
                        written = True
                        metrics.SCHEDULE_ACTIONS.labels(action="write").inc()
                    case Act.PAUSE | Act.UNPAUSE:
                        await self._state(obs, todo, act, where)
                        namespace, schedule_id = where
                        assert namespace is not None
                        assert schedule_id is not None
                        in_temporal = await self._temporal.describe(namespace, schedule_id, route)
            except Exception as exc:
                failure = self._failed(exc)
                break
            acted = True
        for event in todo.events if failure is None else ():
            if "Drift" in event.reason or "Recreated" in event.reason:
                metrics.SCHEDULE_DRIFT.inc()
            try:
                await self._kube.post_event(obs, event.type, event.reason, event.message)
            except Exception:
                log.warning("cannot post an event", schedule=obs.key, reason=event.reason,
                            exc_info=True)  # fmt: skip
            log.info("schedule event", schedule=obs.key, reason=event.reason,
                     message=event.message)  # fmt: skip
        return await self._finish(
            obs, todo, in_temporal, written=written, failure=failure, acted=acted
        )

    async def _state(
        self, obs: ObservedSchedule, todo: planner.SchedulePlan, act: Act, where: tuple[Any, Any]
    ) -> None:
        namespace, schedule_id = where
        note = todo.note or ""
        if act is Act.PAUSE:
            await self._temporal.pause(namespace, schedule_id, note)
        else:
            await self._temporal.unpause(namespace, schedule_id, note)
        metrics.SCHEDULE_ACTIONS.labels(action=act.value).inc()

    def _failed(self, exc: Exception) -> str:
        if isinstance(exc, TimeoutError | OSError | RuntimeError):
            self._temporal.forget_connection()
        log.warning("temporal call for a schedule failed", error=str(exc) or type(exc).__name__)
        return f"{type(exc).__name__}: {exc}"[:1024]

    async def _finish(
        self,
        obs: ObservedSchedule,
        todo: planner.SchedulePlan,
        in_temporal: InTemporal | None,
        *,
        written: bool,
        failure: str | None,
        acted: bool = False,
    ) -> str:
        """Write the status when it differs; ``changed`` when it was written or ``acted`` (an
        action was carried out: a drift set back leaves the status as it was)."""
        if failure is not None:
            self._dirty.add(obs.key)
        status: dict[str, Any] = dict.fromkeys(self.STATUS_FIELDS)
        status.update(planner.status(obs, todo, in_temporal, _now(), written=written,
                                     failure=failure))  # fmt: skip
        unchanged = "changed" if acted else "unchanged"
        if _same(status, obs.status):
            return unchanged
        if not await self._kube.patch_schedule_status(obs, status):
            return unchanged
        kept = {k: v for k, v in status.items() if v is not None}
        # What the watch will echo: a round before the echo writes nothing again.
        self._schedules[obs.key] = dataclasses.replace(obs, status=kept)
        ready: dict[str, Any] = next((c for c in status["conditions"] if c["type"] == READY), {})
        log.info("schedule status updated", schedule=obs.key, ready=ready.get("status"),
                 reason=ready.get("reason"), schedule_id=status.get("scheduleId"))  # fmt: skip
        return "changed"

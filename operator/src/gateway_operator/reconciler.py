"""One reconcile loop for all routes: observe, plan, execute.

Routes interact (two may claim a path or overlapping id prefixes), so the plan covers the
whole set; but nothing is read again per event. kopf's watch feeds :meth:`Reconciler.observe`,
which keeps every route in memory; a route is judged (its schemas checked and compiled) once
per generation; the plan over the cached routes is index work (milliseconds for 2,000); and
only the statuses that differ are written, many at a time. Events arriving together are
merged (``debounce_seconds``); a full list every ``resync_seconds`` repairs anything a watch
restart may have missed, and retries what failed.

Only the leader (:mod:`gateway_operator.leader`) writes. Every replica keeps its cache warm,
so a new leader plans at once from what it already knows. A status written is kept in the
cache at once, so a reconcile that runs before the watch echoes the write does not write it
again (nor move its ``lastTransitionTime``).

Everything here runs on the event loop, kopf's event handler included: the cache is a plain
dict, and the wake-up an :class:`asyncio.Event`, neither safe to touch from another thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import structlog

from gateway_core.routes import CompiledRoute
from gateway_operator import metrics
from gateway_operator.config import OperatorSettings
from gateway_operator.kube import Kube, observed
from gateway_operator.leader import Leadership
from gateway_operator.planner import ObservedRoute, Plan, Verdict, judge, plan
from gateway_operator.workers import WorkerChecker

log = structlog.get_logger(__name__)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Judgements:
    """:func:`~gateway_operator.planner.judge`, once per route generation."""

    def __init__(self) -> None:
        self._done: dict[str, tuple[tuple[Any, int], CompiledRoute | Verdict]] = {}

    def __call__(self, route: ObservedRoute) -> CompiledRoute | Verdict:
        stamp = ((route.body.get("metadata") or {}).get("uid"), route.generation)
        found = self._done.get(route.key)
        if found is not None and found[0] == stamp:
            return found[1]
        result = judge(route)
        self._done[route.key] = (stamp, result)
        return result

    def forget(self, keep: Mapping[str, object]) -> None:
        for key in self._done.keys() - keep.keys():
            del self._done[key]


class Reconciler:
    def __init__(
        self,
        kube: Kube,
        settings: OperatorSettings,
        *,
        leadership: Leadership | None = None,
        workers: WorkerChecker | None = None,
        on_plan: Callable[[dict[str, CompiledRoute | str]], None] | None = None,
    ) -> None:
        self._kube = kube
        self._on_plan = on_plan
        """Told, after each plan, each route's compiled self when accepted, else its reason:
        the WorkflowSchedules' reconciler follows their routes so."""
        self._settings = settings
        self._leadership = leadership
        self._workers = workers
        self._wanted = asyncio.Event()
        self._routes: dict[str, ObservedRoute] = {}
        self._listed = False
        self._judgements = Judgements()
        self._checking: asyncio.Task[None] | None = None

    def trigger(self) -> None:
        """Ask for a reconcile soon; cheap and safe to call for every event."""
        self._wanted.set()

    def leadership_changed(self, leading: bool) -> None:
        """Leading: reconcile at once from what is known. Not any more: the routes by reason
        go to 0, so that the replicas' gauges add up to the leader's alone."""
        if leading:
            self.trigger()
        else:
            metrics.set_routes({})

    def observe(self, event: str | None, body: Mapping[str, Any]) -> None:
        """A WorkflowRoute event from kopf's watch (``DELETED``, or the object as it is now);
        called on the event loop."""
        route = observed(body)
        if event == "DELETED":
            self._routes.pop(route.key, None)
        elif not _older(route, self._routes.get(route.key)):
            # A late event (one a status write or a resync overtook) never takes back what is
            # known: its status would read as never written, and a condition's
            # lastTransitionTime would move on the next write.
            self._routes[route.key] = route
        self.trigger()

    @property
    def leading(self) -> bool:
        return self._leadership is None or self._leadership.leading

    async def run(self) -> None:
        """Reconcile when triggered, and at least every ``resync_seconds``; until cancelled."""
        self._wanted.set()
        resynced = 0.0
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wanted.wait(), self._settings.resync_seconds)
            await asyncio.sleep(self._settings.debounce_seconds)
            self._wanted.clear()
            if not self.leading:
                continue
            try:
                if not self._listed or time.monotonic() - resynced >= self._settings.resync_seconds:
                    await self.resync()
                    resynced = time.monotonic()
                await self.reconcile()
            except Exception:  # the API server may be briefly unreachable: try again soon
                log.exception("reconcile failed; retrying")
                self._listed = False
                await asyncio.sleep(1.0)
                self._wanted.set()

    async def resync(self) -> None:
        """Replace the cache with a full list (what a watch restart may have missed)."""
        routes = await self._kube.list_routes(self._settings.namespaces)
        known = self._routes  # the watch's events may have overtaken the list meanwhile
        self._routes = {
            route.key: known[route.key] if _older(route, known.get(route.key)) else route
            for route in routes
        }
        self._listed = True

    async def check_workers(self) -> None:
        """Every ``worker_check_seconds``: ask Temporal about each task queue, and reconcile
        when an answer changed. Runs until cancelled."""
        if self._workers is None:
            return
        while True:
            try:
                if (
                    self.leading
                    and self._routes
                    and await self._workers.refresh(self._queues(), force=True)
                ):
                    self.trigger()
            except Exception:  # never the end of the checks: the next round may succeed
                log.exception("cannot check the task queues' workers")
            await asyncio.sleep(self._settings.worker_check_seconds)

    def _queues(self) -> set[tuple[str, str]]:
        default = self._workers.default_namespace if self._workers else ""
        return {(ns or default, queue) for ns, queue in (r.queue for r in self._routes.values())}

    NEW_QUEUE_WAIT = 1.0
    """How long a reconcile waits for Temporal's answer about a task queue it has not asked
    about yet, so a new route's first status has its ``WorkerAvailable`` (one write, not two);
    past that (Temporal slow or away) it plans without, and the answer triggers another."""

    async def _check_new_queues(self) -> None:
        """Ask Temporal about the queues not asked lately, in a task of its own that a
        reconcile waits for at most :attr:`NEW_QUEUE_WAIT`."""
        assert self._workers is not None
        if self._checking is None or self._checking.done():
            workers, queues = self._workers, self._queues()

            async def check() -> None:
                try:
                    if await workers.refresh(queues):  # only queues not asked lately
                        self.trigger()
                except Exception:
                    log.exception("cannot check the task queues' workers")

            self._checking = asyncio.create_task(check())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._checking), self.NEW_QUEUE_WAIT)

    async def reconcile(self) -> Plan:
        started = time.perf_counter()
        result = "error"
        try:
            workers = None
            default_namespace = "default"
            if self._workers is not None:
                await self._check_new_queues()
                workers = self._workers.seen
                default_namespace = self._workers.default_namespace
            routes = list(self._routes.values())
            self._judgements.forget(self._routes)
            todo = plan(
                routes,
                _now(),
                workers=workers,
                default_namespace=default_namespace,
                judge=self._judgements,
            )
            metrics.PLAN_SECONDS.observe(time.perf_counter() - started)
            if self._on_plan is not None:
                verdicts: dict[str, CompiledRoute | str] = {}
                for route in routes:
                    verdict = todo.verdicts[route.key]
                    judged = self._judgements(route) if verdict.accepted else None
                    accepted = isinstance(judged, CompiledRoute)
                    verdicts[route.key] = judged if accepted else verdict.reason  # type: ignore[assignment]
                self._on_plan(verdicts)
            await self._execute(todo)
            metrics.set_routes(Counter(v.reason for v in todo.verdicts.values()))
            result = "changed" if todo.status_updates else "unchanged"
            return todo
        finally:
            metrics.RECONCILES.labels(result=result).inc()
            metrics.RECONCILE_SECONDS.observe(time.perf_counter() - started)

    async def _execute(self, todo: Plan) -> None:
        """Write the statuses that differ, ``write_concurrency`` at a time, while leading."""
        limit = asyncio.Semaphore(self._settings.write_concurrency)

        async def write(update: Any) -> None:
            async with limit:
                if not self.leading:
                    return
                version = await self._kube.patch_status(update)
                if version is None:
                    return
            key = f"{update.namespace}/{update.name}"
            cached = self._routes.get(key)
            if cached is not None and cached.generation == update.status["observedGeneration"]:
                # What the watch will echo: a reconcile before the echo has nothing to write.
                self._routes[key] = dataclasses.replace(
                    cached, status=update.status, version=max(version, cached.version)
                )
            verdict = todo.verdicts[key]
            log.info(
                "route status updated",
                route=key,
                accepted=verdict.accepted,
                reason=verdict.reason,
                message=verdict.message,
                generation=update.status["observedGeneration"],
            )

        await asyncio.gather(*(write(u) for u in todo.status_updates))


def _older(route: ObservedRoute, known: ObservedRoute | None) -> bool:
    """Whether ``route`` is an older copy than the one ``known`` (both numbered)."""
    return known is not None and 0 < route.version < known.version

"""One reconcile loop for all routes: observe, plan, execute.

Routes interact (two may claim a path; the table holds them all), so every event triggers a
reconcile of the whole set rather than of one object. Events arriving together are merged
(``debounce_seconds``), and a periodic resync retries anything that failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from datetime import UTC, datetime

import structlog

from gateway_operator import metrics
from gateway_operator.config import OperatorSettings
from gateway_operator.kube import Kube
from gateway_operator.planner import Plan, plan

log = structlog.get_logger(__name__)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Reconciler:
    def __init__(self, kube: Kube, settings: OperatorSettings) -> None:
        self._kube = kube
        self._settings = settings
        self._wanted = asyncio.Event()

    def trigger(self) -> None:
        """Ask for a reconcile soon; cheap and safe to call for every event."""
        self._wanted.set()

    async def run(self) -> None:
        """Reconcile when triggered, and at least every ``resync_seconds``; until cancelled."""
        self._wanted.set()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wanted.wait(), self._settings.resync_seconds)
            await asyncio.sleep(self._settings.debounce_seconds)
            self._wanted.clear()
            try:
                await self.reconcile()
            except Exception:  # the API server may be briefly unreachable: try again soon
                log.exception("reconcile failed; retrying")
                await asyncio.sleep(1.0)
                self._wanted.set()

    async def reconcile(self) -> Plan:
        started = time.perf_counter()
        result = "error"
        try:
            settings = self._settings
            routes = await self._kube.list_routes(settings.namespaces)
            current = await self._kube.read_table(settings.table_namespace, settings.table_name)
            todo = plan(routes, current, _now())
            if todo.write_table:
                await self._kube.write_table(
                    settings.table_namespace, settings.table_name, todo.table
                )
                log.info(
                    "route table written",
                    version=todo.table["version"],
                    configmap=f"{settings.table_namespace}/{settings.table_name}",
                    routes=sum(v.accepted for v in todo.verdicts.values()),
                )
            for update in todo.status_updates:
                if await self._kube.patch_status(update):
                    verdict = todo.verdicts[f"{update.namespace}/{update.name}"]
                    log.info(
                        "route status updated",
                        route=f"{update.namespace}/{update.name}",
                        accepted=verdict.accepted,
                        reason=verdict.reason,
                        message=verdict.message,
                    )
            metrics.set_routes(Counter(v.reason for v in todo.verdicts.values()))
            result = "changed" if todo.write_table or todo.status_updates else "unchanged"
            return todo
        finally:
            metrics.RECONCILES.labels(result=result).inc()
            metrics.RECONCILE_SECONDS.observe(time.perf_counter() - started)

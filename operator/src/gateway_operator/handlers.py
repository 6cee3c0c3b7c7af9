"""kopf wiring: start the reconcilers, leader election and the worker checks; feed events.

kopf watches WorkflowRoutes and WorkflowSchedules and calls :func:`on_event` and
:func:`on_schedule_event` for every change (including deletions, and each existing object once
at start); the :class:`~gateway_operator.reconciler.Reconciler` and the
:class:`~gateway_operator.schedules.reconciler.ScheduleReconciler` keep them in memory and do
the rest (the route reconciler tells the schedules' which routes are accepted). Their clients
reach handlers through ``kopf.Memo``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import kopf

from gateway_core.codecs import CodecSet
from gateway_core.routes import API_GROUP
from gateway_core.schedules import SCHEDULE_PLURAL
from gateway_core.temporal import connect_config
from gateway_operator.config import OperatorSettings
from gateway_operator.kube import PLURAL, VERSION, Kube, api_client
from gateway_operator.leader import Leadership
from gateway_operator.reconciler import Reconciler
from gateway_operator.schedules.reconciler import ScheduleReconciler
from gateway_operator.schedules.temporal import Schedules
from gateway_operator.workers import WorkerChecker


class _NoEssence(kopf.AnnotationsDiffBaseStorage):
    """No "essence" of each object for kopf to diff: with event handlers only, nothing reads
    it, and building it deep-copied every object on every event (about a sixth of the
    operator's CPU with 2,000 routes applied at once)."""

    def build(self, *, body: kopf.Body, extra_fields: Any = None) -> Any:
        return None

    def fetch(self, *, body: kopf.Body) -> Any:
        return None


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    settings.posting.level = logging.WARNING  # Kubernetes events for problems only
    # kopf logs each handler call at INFO: a line per event, 4,000 for 2,000 routes applied.
    logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    settings.watching.server_timeout = 300
    settings.persistence.diffbase_storage = _NoEssence()
    config: OperatorSettings = memo.settings
    if config.namespaces:
        # Watching named namespaces needs no list of namespaces (nor of CRDs). kopf would list
        # them anyway, which such an operator's RBAC refuses, and retry the refusal for 54 s
        # before it falls back to the names it was given: no route served for a minute.
        settings.scanning.disabled = True
    memo.api = await api_client()
    kube = Kube(memo.api)
    memo.leadership = None
    if config.leader_election:
        memo.leadership = Leadership(
            kube,
            config.lease_namespace,
            config.lease_name,
            duration=config.lease_seconds,
            renew_deadline=config.lease_seconds * 2 / 3,
            on_change=lambda leading: _leadership_changed(memo, leading),
        )
    workers = None
    if config.worker_check_seconds:
        workers = WorkerChecker(
            connect_config(),
            fresh_seconds=config.poller_fresh_seconds,
            max_age=config.worker_check_seconds,
        )
    memo.schedules = None
    if config.schedules:
        memo.codecs = CodecSet(config.codecs)
        temporal = Schedules(
            connect_config(),
            codecs=memo.codecs,
            namespace_codecs=config.namespace_codecs,
            timeout=config.temporal_timeout_seconds,
        )
        memo.schedules = ScheduleReconciler(kube, config, temporal, leadership=memo.leadership)
    memo.reconciler = Reconciler(
        kube, config, leadership=memo.leadership, workers=workers,
        on_plan=memo.schedules.routes_planned if memo.schedules is not None else None,
    )  # fmt: skip
    memo.tasks = [
        asyncio.create_task(memo.reconciler.run()),
        asyncio.create_task(memo.reconciler.check_workers()),
    ]
    if memo.schedules is not None:
        memo.tasks.append(asyncio.create_task(memo.schedules.run()))
    if memo.leadership is not None:
        memo.tasks.append(asyncio.create_task(memo.leadership.run()))


@kopf.on.event(API_GROUP, VERSION, PLURAL)
async def on_event(memo: kopf.Memo, event: kopf.RawEvent, **_: Any) -> None:
    # Async, so it runs on the event loop: kopf runs a plain function in a thread pool, where
    # it changed the routes while a reconcile iterated them, and its wake-up of the reconcile
    # (an asyncio.Event set from another thread) went unnoticed until the next resync, a
    # minute later. The raw event: the object as plain JSON data, not kopf's views of it.
    memo.reconciler.observe(event.get("type"), event["object"])


@kopf.on.event(API_GROUP, VERSION, SCHEDULE_PLURAL)
async def on_schedule_event(memo: kopf.Memo, event: kopf.RawEvent, **_: Any) -> None:
    if memo.schedules is not None:
        memo.schedules.observe(event.get("type"), event["object"])


def _leadership_changed(memo: kopf.Memo, leading: bool) -> None:
    memo.reconciler.leadership_changed(leading)
    if leading and memo.schedules is not None:
        memo.schedules.trigger()


@kopf.on.cleanup()
async def cleanup(memo: kopf.Memo, **_: Any) -> None:
    for task in memo.tasks:
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.gather(*memo.tasks, return_exceptions=True)
    if memo.leadership is not None:
        with contextlib.suppress(Exception):
            await memo.leadership.release()
    if getattr(memo, "codecs", None) is not None:
        with contextlib.suppress(Exception):
            await memo.codecs.aclose()
    await memo.api.close()

"""kopf wiring: start the reconciler, feed it events, stop it.

kopf watches WorkflowRoutes and calls :func:`on_event` for every change (including deletions);
the :class:`~gateway_operator.reconciler.Reconciler` does the rest. Its clients reach handlers
through ``kopf.Memo``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import kopf

from gateway_core.routes import API_GROUP
from gateway_operator.config import OperatorSettings
from gateway_operator.kube import PLURAL, VERSION, Kube, api_client
from gateway_operator.reconciler import Reconciler


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    settings.posting.level = logging.WARNING  # Kubernetes events for problems only
    settings.watching.server_timeout = 300
    config: OperatorSettings = memo.settings
    memo.api = await api_client()
    memo.reconciler = Reconciler(Kube(memo.api), config)
    memo.task = asyncio.create_task(memo.reconciler.run())


@kopf.on.event(API_GROUP, VERSION, PLURAL)
def on_event(memo: kopf.Memo, **_: Any) -> None:
    memo.reconciler.trigger()


@kopf.on.cleanup()
async def cleanup(memo: kopf.Memo, **_: Any) -> None:
    memo.task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await memo.task
    await memo.api.close()

"""The one list of what the worker hosts.

A workflow family is a folder (``workflows.py``, ``activities.py``, ``models.py``) and one line
of :data:`FAMILIES`; a route document (``k8s/routes/``) then exposes its workflows. The gateway's
own delivery workflow is listed apart (:data:`CALLBACK_WORKFLOWS`): it runs on the gateway's
queue, and its activities need the worker's Temporal client.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.client import Client
from temporalio.common import MetricCounter
from temporalio.converter import DataConverter

from gateway_core.routes import RouteSource
from gateway_workflows.callbacks.activities import CallbackActivities
from gateway_workflows.callbacks.workflows import CallbackDelivery
from gateway_workflows.shop.activities import OrderActivities, ShoppingActivities
from gateway_workflows.shop.workflows import OrderWorkflow, ShoppingWorkflow


@dataclass(frozen=True)
class Family:
    """A folder of workflows and the classes of the activities they call.

    Each activity class is built with no arguments and every ``@activity.defn`` method of it is
    registered; a class that comes to need a client (a real shop's, a payment provider's) is
    built in :func:`build_activities` with it.
    """

    workflows: Sequence[type]
    activities: Sequence[type] = ()


FAMILIES: Sequence[Family] = (
    Family((ShoppingWorkflow, OrderWorkflow), (ShoppingActivities, OrderActivities)),
)

WORKFLOWS: Sequence[type] = tuple(w for family in FAMILIES for w in family.workflows)
CALLBACK_WORKFLOWS: Sequence[type] = (CallbackDelivery,)
"""Hosted on the gateway's own callback queue, not on the routes' queue."""


def activity_methods(instance: object) -> list[Callable[..., Any]]:
    """The ``@activity.defn`` methods of ``instance``, bound, in the order the class defines
    them."""
    return [
        getattr(instance, name)
        for name, member in vars(type(instance)).items()
        if callable(member) and activity._Definition.from_callable(member) is not None
    ]


def build_activities() -> Sequence[Callable[..., Any]]:
    """Activity callables of every family, built with whatever clients they need."""
    return tuple(
        method
        for family in FAMILIES
        for cls in family.activities
        for method in activity_methods(cls())
    )


def build_callback_activities(
    client: Client,
    secrets_dir: Path | None,
    attempts: MetricCounter | None = None,
    converters: Mapping[str, DataConverter] | None = None,
    *,
    routes: RouteSource | None = None,
) -> Sequence[Callable[..., Any]]:
    """The delivery workflow's activities: they wait on ``client`` for the target to close,
    decode results a route's codec encoded with ``converters`` (by codec name), and check each
    attempt against the route's current block in ``routes``."""
    callbacks = CallbackActivities(
        client, secrets_dir, attempts, converters=converters, routes=routes
    )
    return (callbacks.await_close, callbacks.deliver)

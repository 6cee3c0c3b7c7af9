"""The one list of what the worker hosts. Add a workflow here and a route document, nothing else."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from temporalio.client import Client
from temporalio.common import MetricCounter
from temporalio.converter import DataConverter

from gateway_workflows.activities import OrderActivities, ShoppingActivities
from gateway_workflows.callbacks.activities import CallbackActivities
from gateway_workflows.callbacks.workflows import CallbackDelivery
from gateway_workflows.workflows import OrderWorkflow, ShoppingWorkflow

WORKFLOWS: Sequence[type] = (ShoppingWorkflow, OrderWorkflow)
CALLBACK_WORKFLOWS: Sequence[type] = (CallbackDelivery,)
"""Hosted on the gateway's own callback queue, not on the routes' queue."""


def build_activities() -> Sequence[Callable[..., Any]]:
    """Activity callables, built with whatever clients they need."""
    shop, orders = ShoppingActivities(), OrderActivities()
    return (shop.order_fruit, orders.reserve_stock, orders.charge_order, orders.release_stock)


def build_callback_activities(
    client: Client,
    secrets_dir: Path | None,
    attempts: MetricCounter | None = None,
    converters: Mapping[str, DataConverter] | None = None,
) -> Sequence[Callable[..., Any]]:
    """The delivery workflow's activities: they wait on ``client`` for the target to close,
    and decode results a route's codec encoded with ``converters`` (by codec name)."""
    callbacks = CallbackActivities(client, secrets_dir, attempts, converters=converters)
    return (callbacks.await_close, callbacks.deliver)

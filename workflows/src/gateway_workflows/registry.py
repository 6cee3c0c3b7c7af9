"""The one list of what the worker hosts. Add a workflow here and a route document, nothing else."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from gateway_workflows.activities import OrderActivities, ShoppingActivities
from gateway_workflows.workflows import OrderWorkflow, ShoppingWorkflow

WORKFLOWS: Sequence[type] = (ShoppingWorkflow, OrderWorkflow)


def build_activities() -> Sequence[Callable[..., Any]]:
    """Activity callables, built with whatever clients they need."""
    shop, orders = ShoppingActivities(), OrderActivities()
    return (shop.order_fruit, orders.reserve_stock, orders.charge_order, orders.release_stock)

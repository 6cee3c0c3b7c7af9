"""The one list of what the worker hosts. Add a workflow here and a route document, nothing else."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from gateway_workflows.activities import ShoppingActivities
from gateway_workflows.workflows import ShoppingWorkflow

WORKFLOWS: Sequence[type] = (ShoppingWorkflow,)


def build_activities() -> Sequence[Callable[..., Any]]:
    """Activity callables, built with whatever clients they need."""
    shop = ShoppingActivities()
    return (shop.order_fruit,)

"""The workflow endpoints, a module per family of operations; the app includes each of
:data:`ROUTERS`.

Each handler is registered at the method and path of its row in
:data:`gateway_core.routes.OPERATIONS`. Fixed paths come before ``{workflow_id}`` ones, so
``GET /workflows/count`` is never read as a workflow id.
"""

from __future__ import annotations

from fastapi import APIRouter

from gateway_api.api.endpoints import (
    control,
    events,
    listing,
    messages,
    reads,
    schedules,
    starts,
    webhooks,
)

ROUTERS: tuple[APIRouter, ...] = tuple(
    family.router
    for family in (starts, schedules, listing, reads, events, messages, control, webhooks)
)
"""In the order they are matched. The app includes them directly: one more level of routers
would be matched on every request too."""

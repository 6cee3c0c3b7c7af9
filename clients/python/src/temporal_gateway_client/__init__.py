"""Python client for the temporal-gateway HTTP API.

The seed guide's ``TemporalAPIClient`` with its three methods, plus one method per lifecycle
operation (signal, query, update, cancel, terminate, the with-start operations, list, count,
events) and per schedule operation, on httpx, with timeouts on every call and one exception
per kind of problem the API reports. :class:`AsyncTemporalAPIClient` has the same methods
for asyncio::

    from temporal_gateway_client import TemporalAPIClient

    with TemporalAPIClient() as client:
        print(client.trigger_shopping_workflow_sync([{"fruit": "APPLE", "amount": 5}])["result"])
"""

from __future__ import annotations

from temporal_gateway_client._calls import NO_ARG
from temporal_gateway_client.aio import AsyncTemporalAPIClient
from temporal_gateway_client.client import DEFAULT_BASE_URL, TemporalAPIClient
from temporal_gateway_client.errors import (
    GatewayError,
    GatewayUnavailable,
    InvalidRequest,
    PreconditionFailed,
    ScheduleNotFound,
    UndecodablePayload,
    UpdateRejected,
    WorkflowClosed,
    WorkflowFailed,
    WorkflowNotFound,
    WorkflowStillRunning,
)
from temporal_gateway_client.events import Event

__all__ = [
    "DEFAULT_BASE_URL",
    "NO_ARG",
    "AsyncTemporalAPIClient",
    "Event",
    "GatewayError",
    "GatewayUnavailable",
    "InvalidRequest",
    "PreconditionFailed",
    "ScheduleNotFound",
    "TemporalAPIClient",
    "UndecodablePayload",
    "UpdateRejected",
    "WorkflowClosed",
    "WorkflowFailed",
    "WorkflowNotFound",
    "WorkflowStillRunning",
]

"""The installable Python client against the live API: results and typed errors."""

from __future__ import annotations

import uuid

import pytest

from gateway_api.auth import DISABLED_WARNING
from gateway_core.routes import load_routes
from support.procs import ROOT, free_port
from temporal_gateway_client import (
    GatewayUnavailable,
    InvalidRequest,
    TemporalAPIClient,
    WorkflowNotFound,
)

ROUTES_VERSION = load_routes(ROOT / "k8s" / "routes").version

pytestmark = pytest.mark.e2e


@pytest.fixture
def client(stack):
    with TemporalAPIClient(stack.url, timeout=30) as client:
        yield client


def test_health(client) -> None:
    assert client.health() == {
        "service": "Temporal Workflow API",
        "status": "running",
        "temporal_connected": True,
        "routes_version": ROUTES_VERSION,
        "authentication": ["disabled"],
        "warning": DISABLED_WARNING,
    }


def test_sync_async_status_and_wait(client) -> None:
    done = client.trigger_shopping_workflow_sync([{"fruit": "ORANGE", "amount": 2}])
    assert done["result"] == "Ordered 2 Oranges..."
    started = client.trigger_shopping_workflow_async([{"fruit": "BANANA", "amount": 1}])
    assert started["status"] == "started"
    final = client.wait_for_workflow(started["workflow_id"], timeout=30)
    assert final["result"] == "Ordered 1 Banana..."
    assert client.get_status(started["workflow_id"])["status"] == "COMPLETED"


def test_idempotent_retries_return_the_same_workflow(client) -> None:
    key = uuid.uuid4().hex
    items = [{"fruit": "APPLE", "amount": 3}]
    first = client.trigger_shopping_workflow_async(items, idempotency_key=key)
    again = client.trigger_shopping_workflow_sync(items, idempotency_key=key)
    assert again["workflow_id"] == first["workflow_id"]
    with pytest.raises(InvalidRequest) as info:
        client.trigger_shopping_workflow_async(
            [{"fruit": "APPLE", "amount": 4}], idempotency_key=key
        )
    assert info.value.status == 409
    assert info.value.code == "idempotency-key-reused"


def test_invalid_request_names_the_fields(client) -> None:
    with pytest.raises(InvalidRequest) as info:
        client.trigger_shopping_workflow_sync([{"fruit": "KIWI", "amount": 0}])
    assert info.value.status == 422
    assert [e["field"] for e in info.value.errors] == ["items[0].amount", "items[0].fruit"]


def test_unknown_workflow(client) -> None:
    with pytest.raises(WorkflowNotFound) as info:
        client.get_status("no-such-workflow-" + uuid.uuid4().hex)
    assert info.value.code == "workflow-not-found"


def test_unreachable_api_is_gateway_unavailable() -> None:
    client = TemporalAPIClient(f"http://127.0.0.1:{free_port()}", timeout=2)
    with client, pytest.raises(GatewayUnavailable):
        client.health()

"""Inputs Temporal would refuse for their size are refused by the API first (413), with the
real dev server behind it to show what would happen otherwise."""

from __future__ import annotations

import pytest

from support.gateway import api_client, route

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("worker")]

BIG = {"s": "x" * (2 * 1024 * 1024 + 100)}  # just over Temporal's default 2 MiB blob limit
ROOMY = {"max_body_bytes": 4 * 1024 * 1024, "max_json_string_length": 4 * 1024 * 1024}


async def test_an_input_over_the_blob_limit_never_reaches_temporal(relay, task_queue) -> None:
    async with api_client(
        relay.address, [route("big", "SlowWorkflow", task_queue)], **ROOMY
    ) as api:
        response = await api.post("/workflows/big/async", json=BIG)
        calls = relay.workflow_calls()
        sentinel = await api.post("/workflows/big/async", json={"seconds": 0})
    assert response.status_code == 413
    assert response.json()["code"] == "payload-too-large"
    assert response.json()["limit_bytes"] == 2 * 1024 * 1024
    # Counted on the wire: no start for it; the small input after it is started as usual.
    assert "StartWorkflowExecution" not in calls
    assert sentinel.status_code == 200, sentinel.text
    assert relay.workflow_calls()[len(calls) :].count("StartWorkflowExecution") == 1


async def test_without_the_check_temporal_refuses_it_itself(temporal_server, task_queue) -> None:
    """The reason for the check: the same input with the limit raised past Temporal's."""
    async with api_client(
        temporal_server.address,
        [route("big", "SlowWorkflow", task_queue)],
        temporal_blob_limit_bytes=64 * 1024 * 1024,
        **ROOMY,
    ) as api:
        response = await api.post("/workflows/big/async", json=BIG)
    assert response.status_code == 400
    assert response.json()["code"] == "temporal-invalid-argument"

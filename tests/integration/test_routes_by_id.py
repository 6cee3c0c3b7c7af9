"""By id, the route comes from the id's prefix: its namespace and its ``operations`` apply.

Two regressions: status and result used to look for every workflow in the API's own namespace
(404 for the workflows of a route with ``spec.namespace``), and served any workflow whatever
its route allowed.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.client import Client
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.service import RPCError, RPCStatusCode

from gateway_api.temporal.connection import TemporalConnection
from support.gateway import api_client, lifecycle_route
from support.procs import EXTRA_NAMESPACE

pytestmark = pytest.mark.integration


@pytest.mark.usefixtures("extra_worker")
async def test_a_route_in_another_namespace_finds_its_workflows_there(
    temporal_server, client: Client, task_queue
) -> None:
    elsewhere = lifecycle_route("elsewhere", task_queue, namespace=EXTRA_NAMESPACE)
    async with api_client(temporal_server.address, [elsewhere]) as api:
        wid = (await api.post("/workflows/elsewhere/async", json={})).json()["workflow_id"]
        # Not in the API's own namespace.
        with pytest.raises(RPCError) as missing:
            await client.get_workflow_handle(wid).describe()
        assert missing.value.status == RPCStatusCode.NOT_FOUND

        assert (await api.get(f"/workflows/{wid}/status")).json()["status"] == "RUNNING"
        described = await api.get(f"/workflows/{wid}")
        assert described.status_code == 200, described.text
        assert described.json()["route"] == "elsewhere"
        signal = await api.post(f"/workflows/{wid}/signals/add_note", json={"text": "there"})
        assert signal.status_code == 202, signal.text
        query = await api.get(f"/workflows/{wid}/queries/state")
        assert query.json()["result"]["notes"] == ["there"]
        update = await api.post(f"/workflows/{wid}/updates/set_limit", json={"value": 3})
        assert update.json()["result"] == 0
        await api.post(f"/workflows/{wid}/signals/finish")
        result = await api.get(f"/workflows/{wid}/result")
        assert result.status_code == 200, result.text
        assert result.json()["result"]["notes"] == ["there"]

        # Cancel and terminate reach that namespace too.
        for action, status in (("cancel", "CANCELED"), ("terminate", "TERMINATED")):
            other = (await api.post("/workflows/elsewhere/async", json={})).json()["workflow_id"]
            assert (await api.post(f"/workflows/{other}/{action}")).is_success
            assert (await api.get(f"/workflows/{other}/result")).status_code == 409
            assert (await api.get(f"/workflows/{other}/status")).json()["status"] == status


@pytest.mark.usefixtures("worker")
async def test_a_start_only_route_serves_nothing_by_id(temporal_server, task_queue) -> None:
    start_only = lifecycle_route("startonly", task_queue, operations=["start"])
    async with api_client(temporal_server.address, [start_only]) as api:
        started = await api.post("/workflows/startonly/async", json={})
        assert started.status_code == 200
        wid = started.json()["workflow_id"]
        assert (await api.post("/workflows/startonly", json={})).status_code == 405
        for method, path, body in [
            ("GET", "", None),
            ("GET", "/status", None),
            ("GET", "/result", None),
            ("POST", "/signals/add_note", {"text": "a"}),
            ("GET", "/queries/state", None),
            ("POST", "/updates/set_limit", {"value": 1}),
            ("GET", "/updates/set_limit/some-id", None),
            ("POST", "/cancel", None),
            ("POST", "/terminate", None),
        ]:
            response = await api.request(method, f"/workflows/{wid}{path}", json=body)
            assert response.status_code == 405, (path, response.text)
            assert response.json()["code"] == "operation-not-allowed"
        for path in ("signal-with-start/add_note", "update-with-start/set_limit"):
            response = await api.post(
                f"/workflows/startonly/{path}", json={"input": {}, "arg": {"text": "a"}}
            )
            assert response.status_code == 405, (path, response.text)


async def test_the_client_for_another_namespace_keeps_the_interceptors(temporal_server) -> None:
    tracing = TracingInterceptor()
    connection = TemporalConnection(
        {"target_host": temporal_server.address},
        interval=timedelta(seconds=60),
        connect_timeout=timedelta(seconds=5),
        interceptors=[tracing],
    )
    await connection.refresh()
    other = connection.client_for(EXTRA_NAMESPACE)
    assert other.namespace == EXTRA_NAMESPACE
    assert other.config()["interceptors"] == [tracing]
    assert other.service_client is connection.client.service_client
    assert connection.client_for(EXTRA_NAMESPACE) is other

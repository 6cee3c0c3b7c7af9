"""The API starts while Temporal is down, says so, and recovers by itself when it comes back,
and again after Temporal goes away and returns (a real server stopped and started)."""

from __future__ import annotations

import time

import pytest
from temporalio.client import Client

from gateway_worker.config import WorkerSettings
from gateway_worker.worker import build_worker
from gateway_workflows.registry import WORKFLOWS, build_activities
from support.gateway import api_client, shopping_route
from support.procs import TemporalDevServer, assert_eventually, free_port

pytestmark = pytest.mark.integration

BODY = {"items": [{"fruit": "APPLE", "amount": 2}]}


async def test_api_survives_temporal_outages(tmp_path, logs_dir) -> None:
    port = free_port()
    address = f"127.0.0.1:{port}"
    db = tmp_path / "temporal.db"
    route = shopping_route("outage-queue")
    async with api_client(address, [route], health_interval_seconds=0.2) as api:
        # 1. Temporal was never there.
        assert (await api.get("/")).json()["temporal_connected"] is False
        assert (await api.get("/readyz")).status_code == 503
        down = await api.post("/workflows/shopping/async", json=BODY)
        assert down.status_code == 503
        assert down.headers["retry-after"]

        # 2. It starts: the API notices and serves without a restart.
        server = TemporalDevServer(logs_dir, port=port, db=db)
        try:
            server.wait_ready()

            async def connected() -> bool:
                return (await api.get("/")).json()["temporal_connected"] is True

            await assert_eventually(connected, timeout=30)
            assert (await api.get("/readyz")).status_code == 200
            started = await api.post("/workflows/shopping/async", json=BODY)
            assert started.status_code == 200
            workflow_id = started.json()["workflow_id"]
        finally:
            server.stop()

        # 3. It goes away after we were connected.
        async def disconnected() -> bool:
            return (await api.get("/")).json()["temporal_connected"] is False

        await assert_eventually(disconnected, timeout=30)
        # Once the probe has failed, every call answers 503 at once, not after the RPC timeout.
        for method, path, body in [
            ("GET", f"/workflows/{workflow_id}/status", None),
            ("GET", f"/workflows/{workflow_id}/result", None),
            ("POST", "/workflows/shopping/async", BODY),
            ("POST", "/workflows/shopping", BODY),
        ]:
            started_at = time.perf_counter()
            response = await api.request(method, path, json=body)
            assert time.perf_counter() - started_at < 1.0, (method, path)
            assert response.status_code == 503, (method, path, response.text)
            assert response.json()["code"] == "temporal-unavailable"
            assert response.headers["retry-after"]

        # 4. It returns, with its data (SQLite), and the same client works again.
        server = TemporalDevServer(logs_dir, port=port, db=db)
        try:
            server.wait_ready()
            await assert_eventually(connected, timeout=30)
            client = await Client.connect(address)
            worker = build_worker(client, WorkerSettings(task_queue="outage-queue"), WORKFLOWS,
                                  build_activities())  # fmt: skip
            async with worker:
                result = await api.get(f"/workflows/{workflow_id}/result")
            assert result.status_code == 200
            assert result.json()["result"] == "Ordered 2 Apples..."
        finally:
            server.stop()

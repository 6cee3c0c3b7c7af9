"""The worker's probes, served by its own event loop: alive while Temporal is unreachable, ready
only while it polls and Temporal answers."""

from __future__ import annotations

import httpx
import pytest

from support.procs import TemporalDevServer, WorkerProcess, eventually, free_port

pytestmark = pytest.mark.e2e


def worker(logs_dir, temporal: str) -> tuple[WorkerProcess, str]:
    port = free_port()
    process = WorkerProcess(logs_dir, temporal=temporal, env={"WORKER_HEALTH_PORT": str(port)})
    return process, f"http://127.0.0.1:{port}"


def status(url: str) -> int:
    return httpx.get(url, timeout=5).status_code


def test_ready_while_polling_and_not_ready_once_temporal_is_gone(logs_dir, temporal_server):
    process, url = worker(logs_dir, temporal_server.address)
    try:
        eventually(lambda: status(url + "/readyz") == 200, timeout=60)
        assert status(url + "/livez") == 200
        assert status(url + "/metrics") == 404
        assert httpx.head(url + "/livez", timeout=5).status_code == 200
    finally:
        assert process.stop() == 0


def test_alive_but_not_ready_while_temporal_is_unreachable(logs_dir):
    process, url = worker(logs_dir, f"127.0.0.1:{free_port()}")
    try:
        eventually(lambda: status(url + "/livez") == 200, timeout=60)
        assert status(url + "/readyz") == 503
        assert "temporal not reachable, retrying" in process.log()
    finally:
        assert process.stop() == 0


def test_not_ready_when_temporal_goes_away_and_ready_when_it_is_back(logs_dir, tmp_path):
    port = free_port()
    db = tmp_path / "temporal.db"
    temporal = TemporalDevServer(logs_dir, port=port, db=db)
    temporal.wait_ready()
    process, url = worker(logs_dir, temporal.address)
    try:
        eventually(lambda: status(url + "/readyz") == 200, timeout=60)
        temporal.stop()
        eventually(lambda: status(url + "/readyz") == 503, timeout=30)
        assert status(url + "/livez") == 200
        temporal = TemporalDevServer(logs_dir, port=port, db=db)
        temporal.wait_ready()
        eventually(lambda: status(url + "/readyz") == 200, timeout=60)
    finally:
        process.stop()
        temporal.stop()

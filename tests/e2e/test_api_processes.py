"""``API_WORKERS=2``: uvicorn's supervisor and two workers on one port, a real
``python -m gateway_api`` (and the ``gateway-api`` command the image runs) against the
session's real Temporal.

Both workers answer on the port (each access line carries its pid), the metrics port serves
their sum (checked against each worker's own files), the guarded protocol holds in each, and
SIGTERM drains both before the parent exits 0. A worker killed mid-request is replaced, and its
request stops counting as in flight while its totals stay.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from support.procs import VENV_BIN, ApiProcess, eventually, refuses_connections

pytestmark = pytest.mark.e2e

HEADER_TIMEOUT = 1.0
RESULT_WAIT = 6.0
# A route whose queue no worker polls: its workflows stay running, so a result wait lasts
# RESULT_WAIT and then answers 202.
ROUTE = """
apiVersion: temporal-gateway.dev/v1alpha1
kind: WorkflowRoute
metadata: {{name: idle}}
spec:
  path: idle
  workflowType: IdleWorkflow
  taskQueue: {task_queue}
  workflowId: {{prefix: idle-}}
  inputSchema: {{type: object}}
"""


def start_api(logs_dir, temporal_server, tmp_path, env: dict[str, str], **options) -> ApiProcess:
    routes = tmp_path / "routes.yaml"
    routes.write_text(ROUTE.format(task_queue=f"idle-{uuid.uuid4().hex[:8]}"))
    return ApiProcess(
        logs_dir,
        temporal=temporal_server.address,
        **options,
        env={
            "API_WORKERS": "2",
            "API_ROUTES_PATH": str(routes),
            "API_RESULT_WAIT_SECONDS": str(RESULT_WAIT),
            "API_HEADER_READ_TIMEOUT_SECONDS": str(HEADER_TIMEOUT),
            **env,
        },
    )


def log_lines(api: ApiProcess) -> list[dict[str, Any]]:
    lines = []
    for text in api.log().splitlines():
        # Not every line is JSON (a traceback's, say): the assertions then show the log.
        with contextlib.suppress(ValueError):
            lines.append(json.loads(text))
    return lines


def pids_that_logged(api: ApiProcess, event: str) -> list[int]:
    return [line["pid"] for line in log_lines(api) if line.get("event") == event]


def wait_for_workers(api: ApiProcess, count: int) -> list[int]:
    """The pids of the first ``count`` workers to finish startup, in order."""

    def started() -> list[int]:
        assert api.alive(), api.log()
        pids = pids_that_logged(api, "Application startup complete.")
        return pids[:count] if len(pids) >= count else []

    return eventually(started, timeout=90)  # two cold interpreters on a busy two-core machine


def children(pid: int) -> set[int]:
    return {int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


def running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")  # a zombie runs nothing


def answered_by(api: ApiProcess, request_ids: list[str]) -> Counter[int] | None:
    """How many of these requests each pid answered, once every one has its access line."""
    ids = set(request_ids)
    lines = [
        line for line in log_lines(api)
        if line.get("logger") == "gateway_api.access" and line.get("request_id") in ids
    ]  # fmt: skip
    assert len(lines) <= len(ids), "one access line per request"
    return Counter(line["pid"] for line in lines) if len(lines) == len(ids) else None


def serve_until_both_answer(api: ApiProcess, workers: list[int]) -> Counter[int]:
    """``GET /`` (the health endpoint) on a new connection each, in rounds, until each worker
    has answered some: how many each answered, from the access lines."""
    sent: list[str] = []

    def get(request_id: str) -> None:
        response = httpx.get(api.url + "/", headers={"X-Request-ID": request_id}, timeout=10)
        assert response.status_code == 200, response.text
        assert response.headers["x-request-id"] == request_id

    with ThreadPoolExecutor(8) as pool:
        for _ in range(10):
            batch = [f"both-{uuid.uuid4().hex}" for _ in range(40)]
            list(pool.map(get, batch))
            sent.extend(batch)
            served = eventually(lambda: answered_by(api, sent), timeout=10)
            if set(served) == set(workers):
                return served
    raise AssertionError(f"one worker answered every request: {served}")


def scrape(api: ApiProcess) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"http://127.0.0.1:{api.metrics_port}/metrics", timeout=5).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def from_files(*paths: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """What prometheus_client's collector makes of these files alone."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in MultiProcessCollector.merge([str(p) for p in paths])
        for sample in family.samples
    }


HEALTH_COUNT = (
    "http_server_request_duration_seconds_count",
    (("http_request_method", "GET"), ("http_response_status_code", "200"), ("http_route", "/")),
)
ACTIVE_GETS = ("http_server_active_requests", (("http_request_method", "GET"),))
CONNECTED = ("temporal_gateway_temporal_connected", ())


def partial_headers_get_408(api: ApiProcess, count: int) -> None:
    socks = [socket.create_connection(("127.0.0.1", api.port), timeout=5) for _ in range(count)]
    try:
        for s in socks:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-A: ")
        for s in socks:
            s.settimeout(HEADER_TIMEOUT + 5)
            answer = b""
            while chunk := s.recv(4096):
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 408 "), answer
    finally:
        for s in socks:
            s.close()


class ResultWait:
    """``GET /workflows/{id}/result`` of a running workflow from a thread: in flight for
    RESULT_WAIT, then 202."""

    def __init__(self, api: ApiProcess) -> None:
        started = httpx.post(api.url + "/workflows/idle/async", json={}, timeout=10)
        assert started.status_code == 200, started.text
        self.url = f"{api.url}/workflows/{started.json()['workflow_id']}/result"
        self.outcome: httpx.Response | Exception | None = None
        self.thread = threading.Thread(target=self._call)
        self.thread.start()

    def _call(self) -> None:
        try:
            self.outcome = httpx.get(self.url, timeout=30)
        except httpx.HTTPError as exc:
            self.outcome = exc


def test_two_workers_share_the_port_the_guards_and_one_metrics_endpoint(
    logs_dir, temporal_server, tmp_path
) -> None:
    metrics_dir = tmp_path / "metrics"  # as the chart mounts it: given, existing
    metrics_dir.mkdir()
    (metrics_dir / "counter_1.db").write_bytes(b"stale")  # a previous container's
    api = start_api(
        logs_dir, temporal_server, tmp_path, {"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    )
    try:
        workers = wait_for_workers(api, 2)
        assert set(workers) <= children(api.pid)
        api.wait_ready()

        served = serve_until_both_answer(api, workers)
        total = sum(served.values())
        # Each worker's own files count what its access lines say; the port serves the sum,
        # scrape after scrape, with the parent's own (import-time) metrics not in it.
        for pid in workers:
            assert from_files(metrics_dir / f"histogram_{pid}.db")[HEALTH_COUNT] == served[pid]
        for _ in range(3):
            metrics = scrape(api)
            assert metrics[HEALTH_COUNT] == total
            assert metrics[CONNECTED] == 1, "every worker connected; the parent is not counted"
        assert not (metrics_dir / "counter_1.db").exists()
        assert {p.name.rpartition("_")[2] for p in metrics_dir.glob("*.db")} == {
            f"{pid}.db" for pid in workers
        }

        # The guarded protocol, in each worker: headers that do not arrive in time get 408.
        def both_guarded() -> bool:
            partial_headers_get_408(api, 4)
            slow = pids_that_logged(api, "connection closed: request headers too slow")
            return set(slow) == set(workers)

        eventually(both_guarded, timeout=30, interval=0)

        # SIGTERM to the parent: new connections are refused, the in-flight request finishes,
        # both workers shut down, the parent exits 0.
        before = children(api.pid)
        waiting = ResultWait(api)
        eventually(lambda: scrape(api)[ACTIVE_GETS] == 1)
        api.signal(signal.SIGTERM)

        eventually(lambda: refuses_connections(api.url), timeout=10)
        assert waiting.thread.is_alive(), "the in-flight request should still be waiting"
        waiting.thread.join(30)
        assert isinstance(waiting.outcome, httpx.Response), waiting.outcome
        assert waiting.outcome.status_code == 202
        assert waiting.outcome.json()["status"] == "running"
        assert api.popen.wait(30) == 0
        eventually(lambda: not any(running(pid) for pid in before), timeout=10)
        assert sorted(pids_that_logged(api, "Application shutdown complete.")) == sorted(workers)
        assert not list(metrics_dir.glob("gauge_live*")), "exited workers stop counting"
        assert {p.name for p in metrics_dir.glob("histogram_*.db")} == {
            f"histogram_{pid}.db" for pid in workers
        }, "totals stay"
        assert not [line for line in log_lines(api) if line.get("logger") == "uvicorn.access"]
    finally:
        api.stop()


def test_a_worker_killed_mid_request_is_replaced_and_stops_counting_as_in_flight(
    logs_dir, temporal_server, tmp_path
) -> None:
    # The gateway-api command, as the image runs it; no directory given: a private one.
    api = start_api(logs_dir, temporal_server, tmp_path, {}, args=[VENV_BIN / "gateway-api"])
    try:
        workers = wait_for_workers(api, 2)
        (line,) = [line for line in log_lines(api) if line.get("event") == "starting workers"]
        metrics_dir = Path(line["metrics_dir"])
        assert metrics_dir.is_dir()
        api.wait_ready()
        total = sum(serve_until_both_answer(api, workers).values())

        waiting = ResultWait(api)

        def busy_worker() -> int | None:
            busy = [
                pid for pid in workers
                if from_files(*metrics_dir.glob(f"gauge_livesum_{pid}.db")).get(ACTIVE_GETS)
            ]  # fmt: skip
            return busy[0] if busy else None

        victim = eventually(busy_worker)
        assert victim in children(api.pid)
        assert scrape(api)[ACTIVE_GETS] == 1
        os.kill(victim, signal.SIGKILL)

        # uvicorn starts a third worker; the killed one's request no longer counts as in
        # flight, its totals still count.
        (replacement,) = wait_for_workers(api, 3)[2:]
        assert replacement not in workers
        eventually(lambda: not list(metrics_dir.glob(f"gauge_live*_{victim}.db")))
        metrics = scrape(api)
        assert metrics[ACTIVE_GETS] == 0
        assert metrics[HEALTH_COUNT] == total
        waiting.thread.join(30)
        assert isinstance(waiting.outcome, httpx.HTTPError), "the killed worker's connection"
        api.wait_ready()

        api.signal(signal.SIGTERM)
        assert api.popen.wait(30) == 0
        assert not metrics_dir.exists(), "the private directory goes with the parent"
    finally:
        api.stop()

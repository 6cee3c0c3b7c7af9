"""Every dashboard panel and every alert, evaluated by a real Prometheus (Debian's package)
scraping the real API, workers and operator after a short, mixed load.

A panel whose expression is invalid, or that names a metric or label no service exports, fails
here: Prometheus answers an error, or no series.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from temporalio.client import Client

from support.procs import ROOT, ApiProcess, Process, eventually, free_port, sample_worker
from support.tools import prometheus_dir

pytestmark = pytest.mark.e2e

CHART = ROOT / "charts" / "temporal-gateway"
ALERTS = CHART / "files" / "alerts.yaml"
RATE_INTERVAL = "30s"  # what Grafana's $__rate_interval becomes at a 1 s scrape interval

# Routes to the test workflows that fail: in their workflow, in an activity (once), in a bug.
TEST_WORKFLOWS = {"flaky": "FlakyWorkflow", "failing": "FailingWorkflow", "buggy": "BuggyWorkflow"}


def failing_routes(task_queue: str) -> str:
    return yaml.safe_dump_all(
        {
            "apiVersion": "temporal-gateway.dev/v1alpha1",
            "kind": "WorkflowRoute",
            "metadata": {"name": path},
            "spec": {
                "path": path,
                "workflowType": workflow_type,
                "taskQueue": task_queue,
                "workflowId": {"prefix": f"{path}-"},
                "inputSchema": {"type": "object"},
                # Completion webhooks to loopback, where nothing listens: failed attempts.
                "callbacks": {
                    "allowedDestinations": ["http://127.0.0.1:*"],
                    "allowPrivateNetworks": True,
                    "signingSecret": "hooks",
                },
            },
        }
        for path, workflow_type in TEST_WORKFLOWS.items()
    )


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])  # panels inside a collapsed row


def dashboard_queries() -> list[tuple[str, str]]:
    """(``dashboard / panel [refId]``, PromQL) for every target of every shipped dashboard."""
    queries = []
    for path in sorted((CHART / "dashboards").glob("*.json")):
        dashboard = json.loads(path.read_text())
        for panel in panels(dashboard):
            for target in panel.get("targets", []):
                expr = target["expr"].replace("$__rate_interval", RATE_INTERVAL)
                queries.append((f"{path.stem} / {panel['title']} [{target['refId']}]", expr))
    return queries


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


# `signal > 0.05`, `signal == 0`: the threshold an alert compares its signal with.
THRESHOLD = re.compile(r"\s*(?:==|!=|>=|<=|>|<)\s*[0-9.]+(?=\s*(?:$|\bor\b|\band\b|\)))", re.M)


def alert_signal(expr: str) -> str:
    """The alert's expression without its thresholds: the series it watches, which must exist
    whether or not the alert fires."""
    return THRESHOLD.sub("", expr)


def test_alert_signal_strips_only_thresholds() -> None:
    assert alert_signal("up == 0") == "up"
    assert alert_signal("a > 5\n  or\nb > 5") == "a\n  or\nb"
    assert alert_signal("rate(x[5m]) / sum(y) > 0.05") == "rate(x[5m]) / sum(y)"
    assert alert_signal('x{code=~"5.."}') == 'x{code=~"5.."}'


class Prometheus:
    def __init__(self, workdir: Path, log_dir: Path, targets: dict[str, list[str]]) -> None:
        binaries = prometheus_dir()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        shutil.copy(ALERTS, workdir / "alerts.yaml")
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(workdir / "alerts.yaml")],
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": addresses}]}
                for job, addresses in targets.items()
            ],
        }
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
        check = subprocess.run(
            [binaries / "promtool", "check", "config", workdir / "prometheus.yml"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert check.returncode == 0, check.stdout + check.stderr
        self.proc = Process(
            f"prometheus-{self.port}",
            [
                binaries / "prometheus",
                f"--config.file={workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            log_dir=log_dir,
        )

    def api(self, path: str, **params: str) -> Any:
        response = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=10)
        body = response.json()
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self.api("query", query=expr)
        assert data["resultType"] == "vector", data
        return list(data["result"])


@pytest.fixture(scope="module")
def monitored(stack, operator, temporal_server, logs_dir, tmp_path_factory) -> Iterator[Any]:
    """The shopping stack, a worker of test workflows with an API routing to them, the
    operator, and a Prometheus scraping all of them every second."""
    task_queue = f"monitoring-{uuid.uuid4().hex[:8]}"
    routes = tmp_path_factory.mktemp("monitoring-routes")
    shutil.copy(ROOT / "k8s" / "routes" / "shopping.yaml", routes / "shopping.yaml")
    (routes / "tests.yaml").write_text(failing_routes(task_queue))
    test_worker = sample_worker(logs_dir, temporal=temporal_server.address, task_queue=task_queue)
    api = ApiProcess(
        logs_dir, temporal=temporal_server.address, env={"API_ROUTES_PATH": str(routes)}
    )
    prometheus = None
    try:
        api.wait_ready()
        prometheus = Prometheus(
            tmp_path_factory.mktemp("prometheus"),
            logs_dir,
            {
                "api": [f"127.0.0.1:{api.metrics_port}", f"127.0.0.1:{stack.api.metrics_port}"],
                "worker": [
                    f"127.0.0.1:{stack.worker.metrics_port}",
                    f"127.0.0.1:{test_worker.metrics_port}",
                ],
                "operator": [f"127.0.0.1:{operator.metrics_port}"],
            },
        )
        eventually(lambda: httpx.get(prometheus.url + "/-/ready", timeout=2).status_code == 200)
        yield prometheus, api, temporal_server
    finally:
        if prometheus is not None:
            prometheus.proc.stop()
        api.stop()
        test_worker.stop()


def load(api: ApiProcess) -> list[str]:
    """A short mixed load: sync and async starts, bad input, unknown ids, a workflow that fails,
    one whose activity fails once, one with a bug. Returns the buggy workflow's ids."""
    order = {"items": [{"fruit": "APPLE", "amount": 2}, {"fruit": "ORANGE", "amount": 1}]}
    with httpx.Client(base_url=api.url, timeout=60) as http:
        for _ in range(10):
            assert http.post("/workflows/shopping", json=order).status_code == 200
            started = http.post("/workflows/shopping/async", json=order).json()
            assert http.get(f"/workflows/{started['workflow_id']}/result").status_code == 200
            assert http.post("/workflows/shopping", json={"items": []}).status_code == 422
        assert http.get("/workflows/shopping-workflow-missing/status").status_code == 404
        assert http.post("/workflows/flaky", json={}).status_code == 200
        nobody = {"Callback-Url": f"http://127.0.0.1:{free_port()}/hook"}  # refused: retried
        assert http.post("/workflows/flaky", json={}, headers=nobody).status_code == 200
        failed = http.post("/workflows/failing", json={})
        assert failed.status_code == 500, failed.text
        buggy = http.post("/workflows/buggy/async", json={}).json()["workflow_id"]
    return [buggy]


async def test_every_dashboard_panel_and_alert_returns_series(monitored) -> None:
    prometheus, api, temporal = monitored
    buggy = load(api)
    try:
        # Every target is scraped, and the worker has counted the buggy workflow's task failure.
        eventually(
            lambda: (
                len(prometheus.query("up == 1")) == 5
                and prometheus.query("temporal_workflow_task_execution_failed_total")
            ),
            timeout=60,
        )
        queries = dashboard_queries() + [
            (f"alert {rule['alert']}", alert_signal(rule["expr"])) for rule in alert_rules()
        ]

        def all_answer() -> dict[str, int]:
            counts = {name: len(prometheus.query(expr)) for name, expr in queries}
            missing = [name for name, count in counts.items() if count == 0]
            assert not missing, f"no series for: {missing}"
            return counts

        counts = eventually(all_answer, timeout=60, interval=1)
    finally:
        client = await Client.connect(temporal.address)
        for workflow_id in buggy:
            await client.get_workflow_handle(workflow_id).terminate("test over")

    print("\npanel / alert: series returned")
    for name, count in counts.items():
        print(f"  {count:3d}  {name}")
    # Prometheus itself evaluates the alerting rules, without error.
    rules = prometheus.api("rules")["groups"][0]["rules"]
    assert {rule["name"] for rule in rules} == {rule["alert"] for rule in alert_rules()}
    assert all(rule["health"] == "ok" for rule in rules), rules

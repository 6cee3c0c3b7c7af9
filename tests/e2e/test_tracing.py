"""One trace from the caller's ``traceparent`` to the activity, read back from a real Jaeger.

Jaeger v2 (``hack/jaeger.sh``, in-memory storage, ``hack/jaeger-local.yaml``) runs on free ports;
a worker and an API export to its OTLP/HTTP receiver; a request carrying a W3C ``traceparent``
starts the shopping workflow; the trace is then read from Jaeger's query API and its parent
chain checked: the caller's span, the API's HTTP server span, ``StartWorkflow``, then the
worker's ``RunWorkflow``, ``StartActivity`` (and its ``RunActivity``) and ``CompleteWorkflow``.

Temporal's ``TracingInterceptor`` makes the spans inside a workflow zero-length markers (so that
a replay never leaves one open) and parents all of them on the workflow's trace context, the
``StartWorkflow`` span that travelled in its headers: ``StartActivity`` is a sibling of
``RunWorkflow``, not its child.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.procs import (
    ROOT,
    ApiProcess,
    Process,
    TemporalDevServer,
    WorkerProcess,
    eventually,
    free_port,
)

pytestmark = pytest.mark.e2e

API_SERVICE = "tracing-test-api"
WORKER_SERVICE = "tracing-test-worker"
# Building Jaeger the first time takes minutes on two cores; `make test` builds it before
# pytest starts (JAEGER_BIN_DIR), so only a bare `pytest` pays for it here.
BUILD_TIMEOUT = 1500


def jaeger_bin_dir(log_dir: Path) -> Path:
    given = os.environ.get("JAEGER_BIN_DIR")
    if given:
        return Path(given)
    with (log_dir / "jaeger-build.log").open("ab") as log:
        done = subprocess.run(
            [ROOT / "hack" / "jaeger.sh"],
            stdout=subprocess.PIPE,
            stderr=log,
            check=True,
            timeout=BUILD_TIMEOUT,
        )
    return Path(done.stdout.decode().strip())


class JaegerProcess(Process):
    """``jaeger --config hack/jaeger-local.yaml``: all-in-one, in memory, every port free."""

    def __init__(self, bin_dir: Path, log_dir: Path) -> None:
        self.otlp_http_port = free_port()
        self.query_port = free_port()
        self.health_port = free_port()
        self.query_url = f"http://127.0.0.1:{self.query_port}"
        self.otlp_endpoint = f"http://127.0.0.1:{self.otlp_http_port}"
        super().__init__(
            f"jaeger-{self.query_port}",
            [bin_dir / "jaeger", "--config", ROOT / "hack" / "jaeger-local.yaml"],
            log_dir=log_dir,
            env={
                "JAEGER_LISTEN_HOST": "127.0.0.1",
                "JAEGER_OTLP_GRPC_PORT": str(free_port()),
                "JAEGER_OTLP_HTTP_PORT": str(self.otlp_http_port),
                "JAEGER_QUERY_HTTP_PORT": str(self.query_port),
                "JAEGER_QUERY_GRPC_PORT": str(free_port()),
                "JAEGER_HEALTH_PORT": str(self.health_port),
                "JAEGER_METRICS_PORT": str(free_port()),
                "JAEGER_LOG_LEVEL": "warn",
            },
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        def healthy() -> bool:
            assert self.alive(), f"jaeger exited:\n{self.log()}"
            url = f"http://127.0.0.1:{self.health_port}/status"
            return httpx.get(url, timeout=2).status_code == 200

        eventually(healthy, timeout=timeout, interval=0.2)


@pytest.fixture(scope="module")
def jaeger_bin(logs_dir: Path) -> Path:
    return jaeger_bin_dir(logs_dir)


@pytest.fixture(scope="module")
def jaeger(jaeger_bin: Path, logs_dir: Path) -> Iterator[JaegerProcess]:
    server = JaegerProcess(jaeger_bin, logs_dir)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@dataclass
class TracedStack:
    api: ApiProcess
    worker: WorkerProcess


@pytest.fixture(scope="module")
def traced(
    jaeger: JaegerProcess,
    temporal_server: TemporalDevServer,
    logs_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[TracedStack]:
    """A worker and an API exporting to ``jaeger``, on a task queue of their own (the session's
    ``stack`` worker, which exports nowhere, must not take these workflows)."""
    task_queue = f"tracing-{secrets.token_hex(4)}"
    shipped = (ROOT / "k8s" / "routes" / "shopping.yaml").read_text()
    route = shipped.replace("taskQueue: shopping-task-queue", f"taskQueue: {task_queue}")
    assert route != shipped
    routes = tmp_path_factory.mktemp("tracing-routes") / "shopping.yaml"
    routes.write_text(route)

    otel = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": jaeger.otlp_endpoint,
        "OTEL_TRACES_SAMPLER": "parentbased_always_on",
        "OTEL_BSP_SCHEDULE_DELAY": "100",  # ms; the default (5 s) would only slow the test
    }
    worker = WorkerProcess(
        logs_dir,
        temporal=temporal_server.address,
        task_queue=task_queue,
        env={**otel, "OTEL_SERVICE_NAME": WORKER_SERVICE},
    )
    api = ApiProcess(
        logs_dir,
        temporal=temporal_server.address,
        env={**otel, "OTEL_SERVICE_NAME": API_SERVICE, "API_ROUTES_PATH": str(routes)},
    )
    try:
        api.wait_ready()
        yield TracedStack(api, worker)
    finally:
        api.stop()
        worker.stop()


@dataclass(frozen=True)
class Span:
    name: str
    span_id: str
    parent_id: str | None
    service: str
    kind: str | None
    start: int


def spans_of(trace: dict[str, Any]) -> dict[str, Span]:
    """Spans of one trace from Jaeger's JSON API (``GET /api/traces/<id>``), by span id."""
    services = {key: p["serviceName"] for key, p in trace["processes"].items()}
    spans = {}
    for raw in trace["spans"]:
        parents = [r["spanID"] for r in raw.get("references", []) if r["refType"] == "CHILD_OF"]
        tags = {t["key"]: t["value"] for t in raw.get("tags", [])}
        span = Span(
            name=raw["operationName"],
            span_id=raw["spanID"],
            parent_id=parents[0] if parents else None,
            service=services[raw["processID"]],
            kind=tags.get("span.kind"),
            start=raw["startTime"],
        )
        spans[span.span_id] = span
    return spans


def fetch_trace(query_url: str, trace_id: str) -> dict[str, Span] | None:
    got = httpx.get(f"{query_url}/api/traces/{trace_id}", timeout=5)
    if got.status_code == 404:
        return None
    got.raise_for_status()
    (trace,) = got.json()["data"]
    return spans_of(trace)


def _rank(name: str) -> int:
    return {"RunWorkflow": 0, "CompleteWorkflow": 2}.get(name.split(":")[0], 1)


def render(spans: dict[str, Span], root_parent: str) -> str:
    """The tree under ``root_parent`` (the caller's span, which Jaeger never saw)."""
    children: dict[str | None, list[Span]] = {}
    for span in spans.values():
        children.setdefault(span.parent_id, []).append(span)
    lines = [f"{root_parent}  (the caller's span, from traceparent)"]

    def walk(parent: str | None, depth: int) -> None:
        # A workflow's spans share one timestamp (its task's time): order them as they happen.
        for span in sorted(children.get(parent, []), key=lambda s: (s.start, _rank(s.name))):
            lines.append(
                f"{'    ' * depth}{span.name}  span={span.span_id} parent={span.parent_id}"
                f"  service={span.service}"
            )
            walk(span.span_id, depth + 1)

    walk(root_parent, 1)
    unattached = [
        s for s in spans.values() if s.parent_id not in spans and s.parent_id != root_parent
    ]
    lines += [f"(unattached) {s.name} span={s.span_id} parent={s.parent_id}" for s in unattached]
    return "\n".join(lines)


def one(spans: dict[str, Span], name: str) -> Span:
    found = [s for s in spans.values() if s.name == name]
    assert len(found) == 1, (
        f"{len(found)} spans named {name!r}: {sorted(s.name for s in spans.values())}"
    )
    return found[0]


def descends_from(spans: dict[str, Span], span: Span, ancestor: Span) -> bool:
    parent = span.parent_id
    while parent is not None and parent in spans:
        if parent == ancestor.span_id:
            return True
        parent = spans[parent].parent_id
    return False


EXPECTED = (
    "StartWorkflow:ShoppingWorkflow",
    "RunWorkflow:ShoppingWorkflow",
    "StartActivity:order_fruit",
    "RunActivity:order_fruit",
    "CompleteWorkflow:ShoppingWorkflow",
)


@pytest.mark.timeout(BUILD_TIMEOUT + 300)  # the module's fixtures may build Jaeger first
def test_one_trace_from_the_callers_traceparent_to_the_activity(
    traced: TracedStack, jaeger: JaegerProcess
) -> None:
    trace_id = secrets.token_hex(16)
    caller_span_id = secrets.token_hex(8)
    response = httpx.post(
        f"{traced.api.url}/workflows/shopping",
        json={"items": [{"fruit": "APPLE", "amount": 5}]},
        headers={"traceparent": f"00-{trace_id}-{caller_span_id}-01"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "completed"
    assert response.headers["x-trace-id"] == trace_id

    def complete_trace() -> dict[str, Span] | None:
        spans = fetch_trace(jaeger.query_url, trace_id)
        if spans is None:
            return None
        names = {s.name for s in spans.values()}
        server = [s for s in spans.values() if s.parent_id == caller_span_id]
        return spans if server and set(EXPECTED) <= names else None

    spans = eventually(complete_trace, timeout=60, interval=0.5)
    print(f"\ntrace {trace_id}\n{render(spans, caller_span_id)}")

    (server,) = [s for s in spans.values() if s.parent_id == caller_span_id]
    assert server.kind == "server"
    assert server.service == API_SERVICE
    assert server.name.startswith("POST /workflows/")

    start, run, schedule, execute, complete = (one(spans, name) for name in EXPECTED)
    assert descends_from(spans, start, server)
    assert start.service == API_SERVICE
    # The workflow's trace context is the StartWorkflow span, carried in its headers.
    for in_workflow in (run, schedule, complete):
        assert in_workflow.parent_id == start.span_id, in_workflow
        assert in_workflow.service == WORKER_SERVICE
    assert run.start <= schedule.start <= complete.start
    # The activity task carries the StartActivity span's context.
    assert execute.parent_id == schedule.span_id
    assert execute.service == WORKER_SERVICE
    assert {s.service for s in spans.values()} == {API_SERVICE, WORKER_SERVICE}

    # The logs of both services join the same trace.
    workflow_id = response.json()["workflow_id"]
    access = eventually(lambda: log_lines(traced.api, event="request", trace_id=trace_id))
    assert access[0]["span_id"] == server.span_id
    assert access[0]["workflow_id"] == workflow_id
    assert access[0]["route"] == "shopping"
    assert access[0]["request_id"] == response.headers["x-request-id"]
    ordered = eventually(lambda: log_lines(traced.worker, event="ordered fruit", trace_id=trace_id))
    assert ordered[0]["span_id"] == execute.span_id
    assert ordered[0]["workflow_id"] == workflow_id


def log_lines(process: Process, **fields: str) -> list[dict[str, Any]]:
    """The JSON log lines of ``process`` that have all of ``fields``."""
    lines = []
    for line in process.log().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and all(record.get(k) == v for k, v in fields.items()):
            lines.append(record)
    return lines


@pytest.mark.timeout(BUILD_TIMEOUT + 300)
def test_make_run_with_tracing_starts_jaeger_and_stops_it_after_the_worker(
    jaeger_bin: Path, tmp_path: Path
) -> None:
    """``make run TRACING=1`` (``scripts/run.sh``): Jaeger starts with the rest, the API's and
    the worker's spans reach it, and Ctrl-C stops the API, the worker, Jaeger, then Temporal."""
    ports = {
        name: str(free_port())
        for name in (
            "API_PORT", "API_METRICS_PORT", "WORKER_METRICS_PORT", "TEMPORAL_PORT",
            "TEMPORAL_UI_PORT", "JAEGER_OTLP_GRPC_PORT", "JAEGER_OTLP_HTTP_PORT",
            "JAEGER_QUERY_HTTP_PORT", "JAEGER_QUERY_GRPC_PORT", "JAEGER_HEALTH_PORT",
            "JAEGER_METRICS_PORT",
        )
    }  # fmt: skip
    env = {
        **ports,
        "TRACING": "1",
        "JAEGER_BIN_DIR": str(jaeger_bin),
        "RUN_DIR": str(tmp_path / "run"),
        "LOG_DIR": str(tmp_path / "logs"),
        "DATA_DIR": str(tmp_path / "data"),
    }
    run = Process(
        "make-run-tracing", ["bash", ROOT / "scripts" / "run.sh"], log_dir=tmp_path, env=env
    )
    api = f"http://127.0.0.1:{ports['API_PORT']}"
    query = f"http://127.0.0.1:{ports['JAEGER_QUERY_HTTP_PORT']}"
    try:
        eventually(lambda: "Ctrl-C" in run.log(), timeout=120, interval=0.5)
        assert run.alive(), run.log()
        started = {p.stem for p in (tmp_path / "run").glob("*.pid")}
        assert started == {"temporal", "jaeger", "worker", "api"}
        assert f"curl http://localhost:{ports['JAEGER_QUERY_HTTP_PORT']}/api/traces/" in run.log()

        response = httpx.post(
            f"{api}/workflows/shopping", json={"items": [{"fruit": "BANANA", "amount": 2}]},
            timeout=60,
        )  # fmt: skip
        assert response.status_code == 200, response.text
        trace_id = response.headers["x-trace-id"]

        def exported() -> dict[str, Span] | None:
            # Each service exports in its own batches: the API's HTTP span ends after the
            # activity's, with the sync start's answer.
            spans = fetch_trace(query, trace_id) or {}
            names = {s.name for s in spans.values()}
            server = any(
                s.kind == "server" and s.service == "temporal-gateway-api" for s in spans.values()
            )
            return spans if server and "RunActivity:order_fruit" in names else None

        spans = eventually(exported, timeout=60, interval=0.5)
        services = {s.service for s in spans.values()}
        assert services == {"temporal-gateway-api", "temporal-gateway-worker"}

        run.signal(signal.SIGINT)  # what Ctrl-C sends
        assert run.popen.wait(90) == 0, run.log()
        stopped = re.findall(r"^stopped (\w+) ", run.log(), flags=re.MULTILINE)
        assert stopped == ["api", "worker", "jaeger", "temporal"]
        assert list((tmp_path / "run").glob("*.pid")) == []
        assert (tmp_path / "logs" / "jaeger.log").stat().st_size > 0
    finally:
        run.stop()
        subprocess.run(
            ["bash", ROOT / "scripts" / "stop_api_services.sh"],
            env={**os.environ, **env}, check=False, capture_output=True, timeout=120,
        )  # fmt: skip

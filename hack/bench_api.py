"""``make bench``: what the gateway's hop costs, against what a user would run instead.

One real ``temporal server start-dev`` (in memory, its HTTP API on), one worker, and the API as
``python -m gateway_api``. The start-only contenders (A, B, C) start workflows in a namespace of
their own that no worker polls, so that the thousands they start do not queue in front of the
executions (D, E) on the worker's namespace, nor run in the background of the next round. Then,
at each concurrency, the contenders in rounds whose order is reversed every other round (and
rotated every two), so that every contender's mean place in the sequence is the same. The
machine drifts during a run (the Temporal server holds more workflows, the executions of D and
E finish in the background), and a contender always measured after another pays for it: a
rotation alone kept B+auth four places after B and right after E, and B+auth/B read 0.83 to
0.94 in every run, for an auth cost of under 0.1 ms a start:

- A  bare SDK ``start_workflow``, with the interceptors the API's client has (the limit);
- B  the gateway's async start, ``POST /workflows/shopping/async``;
- C  Temporal's own HTTP API, ``POST /api/v1/namespaces/default/workflows/{id}`` (the peer);
- D  bare SDK ``execute_workflow``;
- E  the gateway's sync start, ``POST /workflows/shopping``;
- B+auth  B against a second API with an API key and rate limits on (limits never reached);
- B+trace B against a third API exporting its spans to a real Jaeger (``hack/jaeger.sh``);
- B+workers  B against an API of ``API_WORKERS=2`` processes on one port (``--workers``);
- B+codec  B against an API whose route encrypts with the example AES-GCM codec in process
  (``API_CODECS``' ``import``, ``examples/codec``): one encryption of the input and memo a start;
- B+codec-server  the same through the example Go codec server (``hack/workers.sh``), one HTTP
  round trip to it a start, its CPU counted with the API's (``--no-codecs`` leaves both out);
- A.signal / B.signal  the SDK's ``handle.signal`` against ``POST /workflows/{id}/signals/approve``,
  each on an order of its own in the namespace of the starts (so every signal is only recorded);
- A.query / B.query  the SDK's ``handle.query`` against ``GET /workflows/{id}/queries/progress``,
  on one order waiting for approval on the worker's namespace (the worker answers each one).

The HTTP contenders are driven by ``wrk`` (``apt-get install wrk``) with ``hack/bench/post.lua``,
the SDK ones by ``hack/bench/sdk_load.py``: each load generator is a process of its own, never
the API's event loop. Prints throughput, p50/p95/p99, errors, the ratios and the issue's goals
beside them, the CPU time each request costs the process that serves it (the API, or the SDK
load process: a figure the machine's other load moves far less than latency), and each API's peak
RSS (``VmHWM``); writes every round's raw figures to
``.bench/`` (gitignored). A benchmark prints: it never fails on a missed goal. Absolute figures
move with the machine's load; compare ratios within one run.

Usage: ``make bench`` or ``.venv/bin/python hack/bench_api.py [--seconds S] [--rounds R]
[--concurrency 1,16,64] [--only A,B] [--workers N] [--no-auth] [--no-trace] [--no-codecs]
[--api-args ...]
[--servers uvicorn-h11,uvicorn-httptools,granian] [--baseline OTHER/.venv/bin/python]``

``--baseline`` adds ``B@baseline`` (and ``B+auth@baseline``, the signal and the query): B served
by another checkout (``git worktree add ../before HEAD~1 && make -C ../before install``), in the
same rounds, with the CPU a start costs there against here: a change's before and after from
one run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from gateway_api.security.keys import entry_yaml, new_key  # noqa: E402
from support.codecs import AES_IMPORT, GoCodecServer, codec_env, write_key  # noqa: E402
from support.procs import (  # noqa: E402
    ApiProcess,
    Process,
    TemporalDevServer,
    WorkerProcess,
    eventually,
    free_port,
)

BODY = {"items": [{"fruit": "APPLE", "amount": 5}, {"fruit": "BANANA", "amount": 3}]}
TEMPORAL_BODY = {
    "workflowType": {"name": "ShoppingWorkflow"},
    "taskQueue": {"name": "shopping-task-queue"},
    "input": [BODY],  # the HTTP API's payload shorthand: each JSON value one json/plain payload
}
ORDER = {"customer": "bench", "items": [{"fruit": "APPLE", "amount": 1}]}
APPROVAL = {"approver": "bench"}
POST_LUA = ROOT / "hack" / "bench" / "post.lua"
SDK_LOAD = ROOT / "hack" / "bench" / "sdk_load.py"
SERVE = ROOT / "hack" / "bench" / "serve.py"
QUIET = {"LOG_LEVEL": "WARNING"}
STARTS_NAMESPACE = "bench-starts"  # no worker polls it
NO_LIMITS = {"API_RATE_LIMIT": "off", "API_RATE_LIMIT_GLOBAL": "off"}


@dataclass
class Contender:
    key: str
    what: str
    url: str = ""  # wrk's target; empty for the SDK contenders
    path: str = ""
    body: Any = None
    header: str = ""
    sdk_mode: str = ""  # "start", "execute", or "signal <id>" / "query <id>"
    method: str = "POST"
    # Called before each round, for a workflow of the round's own (Temporal caps the signals
    # one execution takes); the contender's path or sdk_mode holds "{target}".
    fresh_target: Callable[[], str] | None = None
    pid: int = 0  # the process whose CPU time a request costs: the API's, or the SDK load's
    helper_pid: int = 0  # a process doing part of the API's work (the codec server), counted in
    rounds: dict[int, list[dict[str, int]]] = field(default_factory=dict)


class SdkLoad:
    """``hack/bench/sdk_load.py`` as a child process, one JSON line per round."""

    def __init__(self, temporal: str, logs: Path) -> None:
        self.stderr = (logs / "sdk-load.log").open("ab")
        self.popen = subprocess.Popen(
            [sys.executable, str(SDK_LOAD), temporal, STARTS_NAMESPACE, "default"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
            env={**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": ""},
        )
        assert json.loads(self._line())["ready"]

    def _line(self) -> str:
        assert self.popen.stdout is not None
        line = self.popen.stdout.readline()
        if not line:
            raise RuntimeError(f"sdk load process exited: see {self.stderr.name}")
        return line

    def run(self, mode: str, concurrency: int, seconds: float) -> dict[str, int]:
        assert self.popen.stdin is not None
        name, *target = mode.split()  # "signal <id>": the id goes last
        self.popen.stdin.write(" ".join([name, str(concurrency), str(seconds), *target]) + "\n")
        self.popen.stdin.flush()
        return dict(json.loads(self._line()))

    def stop(self) -> None:
        if self.popen.stdin is not None:
            self.popen.stdin.close()
        try:
            self.popen.wait(10)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
        self.stderr.close()


def run_wrk(c: Contender, concurrency: int, seconds: float, out: Path) -> dict[str, int]:
    env = {
        **os.environ,
        "BENCH_PATH": c.path,
        "BENCH_BODY": json.dumps(c.body),
        "BENCH_HEADER": c.header,
        "BENCH_METHOD": c.method,
        "BENCH_ID_PREFIX": f"bench-{c.key.lower()}-{uuid.uuid4().hex[:12]}",
        "BENCH_OUT": str(out),
    }
    subprocess.run(
        ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds:g}s", "--timeout", "60s",
         "-s", str(POST_LUA), c.url],
        env=env, check=True, capture_output=True, timeout=seconds + 120,
    )  # fmt: skip
    return dict(json.loads(out.read_text()))


def summarize(rows: list[dict[str, int]]) -> dict[str, float]:
    requests = sum(r["requests"] for r in rows)
    seconds = sum(r["duration_us"] for r in rows) / 1e6
    cpu_us = sum(r.get("cpu_us", 0) for r in rows)
    temporal_us = sum(r.get("temporal_cpu_us", 0) for r in rows)
    return {
        "cpu_ms": cpu_us / requests / 1000 if requests else 0.0,
        "temporal_cpu_ms": temporal_us / requests / 1000 if requests else 0.0,
        "rps": requests / seconds if seconds else 0.0,
        "p50": statistics.median(r["p50_us"] for r in rows) / 1000,
        "p95": statistics.median(r["p95_us"] for r in rows) / 1000,
        "p99": statistics.median(r["p99_us"] for r in rows) / 1000,
        "errors": sum(r["socket_errors"] + r["status_errors"] for r in rows),
        "requests": requests,
    }


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_us(pid: int) -> int:
    """User and system CPU time of ``pid`` and its descendants, in microseconds (0 for 0)."""
    if not pid:
        return 0
    total = 0
    for p in process_tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total * 1_000_000 // CLOCK_TICKS


QUIET_CORES = 0.1
"""Below this share of one core, the Temporal server has finished what the last contender left."""


def settle(pid: int, limit: float = 20.0) -> float:
    """Wait until ``pid`` (the Temporal server) is quiet, or ``limit`` seconds; the seconds
    waited. The executions of D and E, and thousands of starts, leave it work for seconds
    after their last answer, and the next contender would pay for it."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        before = cpu_us(pid)
        time.sleep(0.25)
        if (cpu_us(pid) - before) / 250_000 < QUIET_CORES:
            break
    return time.monotonic() - started


def peak_rss_mib(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (a server with worker processes)."""
    found = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        for child in children.read_text().split():
            found += process_tree(int(child))
    return found


def auth_env(logs: Path) -> tuple[dict[str, str], str]:
    key = new_key()
    keys = logs / "keys.yaml"
    entry = entry_yaml("bench", key, ["shopping:start", "shopping:read"], [])
    keys.write_text("keys:\n" + "".join(f"  {line}\n" for line in entry.splitlines()))
    env = {
        "API_ENVIRONMENT": "production",
        "API_AUTH_DISABLED": "false",
        "API_KEYS_FILE": str(keys),
        # Per key and route, and for all callers: on, checked on every request, never reached.
        "API_RATE_LIMIT": "1000000/s",
        "API_RATE_LIMIT_GLOBAL": "1000000/s",
    }
    return env, f"X-API-Key: {key}"


def start_jaeger(logs: Path) -> tuple[Process, str] | None:
    try:
        done = subprocess.run(
            [ROOT / "hack" / "jaeger.sh"], capture_output=True, check=True, timeout=1500
        )
    except (subprocess.SubprocessError, OSError) as exc:
        print(f"no Jaeger ({exc}): skipping B+trace")
        return None
    bin_dir = Path(done.stdout.decode().strip())
    otlp, health = free_port(), free_port()
    jaeger = Process(
        "jaeger",
        [bin_dir / "jaeger", "--config", ROOT / "hack" / "jaeger-local.yaml"],
        log_dir=logs,
        env={
            "JAEGER_LISTEN_HOST": "127.0.0.1",
            "JAEGER_OTLP_GRPC_PORT": str(free_port()),
            "JAEGER_OTLP_HTTP_PORT": str(otlp),
            "JAEGER_QUERY_HTTP_PORT": str(free_port()),
            "JAEGER_QUERY_GRPC_PORT": str(free_port()),
            "JAEGER_HEALTH_PORT": str(health),
            "JAEGER_METRICS_PORT": str(free_port()),
            "JAEGER_LOG_LEVEL": "warn",
        },
    )
    url = f"http://127.0.0.1:{health}/status"
    eventually(lambda: httpx.get(url, timeout=2).status_code == 200, timeout=60)
    return jaeger, f"http://127.0.0.1:{otlp}"


async def check_temporal_http_api_starts(temporal: TemporalDevServer) -> None:
    """C must really start the workflow, with our input: checked in the worker's namespace,
    where it also runs to completion."""
    workflow_id = f"bench-c-check-{uuid.uuid4().hex}"
    url = f"http://127.0.0.1:{temporal.http_port}/api/v1/namespaces/default/workflows/{workflow_id}"
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(url, json=TEMPORAL_BODY)
    assert response.status_code == 200, response.text
    client = await Client.connect(temporal.address)
    result = await client.get_workflow_handle(workflow_id).result()
    assert result, result
    print(f"C checked: {workflow_id} started over Temporal's HTTP API and completed: {result!r}")


def fmt_row(key: str, what: str, s: dict[str, float]) -> str:
    return (
        f"  {key:<17} {what:<32}{s['rps']:9.1f}/s  p50 {s['p50']:7.2f}  p95 {s['p95']:7.2f}  "
        f"p99 {s['p99']:7.2f} ms  cpu {s['cpu_ms']:5.2f} + temporal {s['temporal_cpu_ms']:5.2f} "
        f"ms/req  errors {s['errors']:.0f}"
    )


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def report(
    contenders: list[Contender], concurrencies: list[int], rss: dict[str, float | None]
) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    lines: list[str] = []
    for c in concurrencies:
        rows = {k.key: summarize(k.rounds[c]) for k in contenders if k.rounds.get(c)}
        summary[str(c)] = rows
        lines.append(f"\nconcurrency {c}")
        lines += [fmt_row(k.key, k.what, rows[k.key]) for k in contenders if k.key in rows]

        def ratio(a: str, b: str, rows: dict[str, dict[str, float]] = rows) -> float | None:
            if a in rows and b in rows and rows[b]["rps"]:
                return rows[a]["rps"] / rows[b]["rps"]
            return None

        def show(
            label: str,
            value: float | None,
            goal: str = "",
            ok: bool | None = None,
            lines: list[str] = lines,
        ) -> None:
            if value is None:
                return
            tail = f"   goal {goal}: {verdict(ok)}" if goal and ok is not None else ""
            lines.append(f"    {label:<34}x{value:5.2f}{tail}")

        b_a = ratio("B", "A")
        show("B/A throughput", b_a, *(("≥ 0.80", b_a >= 0.8) if c == 64 and b_a else ()))
        if c == 1 and "A" in rows and "B" in rows:
            gap = rows["B"]["p50"] - rows["A"]["p50"]
            lines.append(
                f"    {'B p50 - A p50':<34}{gap:+6.2f} ms   goal ≤ 2 ms: {verdict(gap <= 2)}"
            )
        if "A" in rows and "B" in rows:
            hop = rows["B"]["cpu_ms"] - rows["A"]["cpu_ms"]
            lines.append(f"    {'B cpu - A cpu (the hop, per start)':<34}{hop:+6.2f} ms")
        b_c = ratio("B", "C")
        show("B/C throughput", b_c, "> 1.00", b_c > 1 if b_c else None)
        if "B" in rows and "C" in rows:
            # What a start costs the machine, the load generator aside: C's is all Temporal's.
            b_total = rows["B"]["cpu_ms"] + rows["B"]["temporal_cpu_ms"]
            c_total = rows["C"]["temporal_cpu_ms"]
            lines.append(
                f"    {'B cpu + temporal (C: temporal)':<34}{b_total:6.2f} ms against "
                f"{c_total:.2f} ms"
            )
        e_d = ratio("E", "D")
        show("E/D throughput", e_d, "≥ 0.90", e_d >= 0.9 if e_d else None)
        auth = ratio("B+auth", "B")
        show("B+auth/B (auth + limits)", auth, "≥ 0.95", auth >= 0.95 if auth else None)
        show("B+trace/B (tracing exporting)", ratio("B+trace", "B"))
        show("B+workers/B (the process model)", ratio("B+workers", "B"))
        show("B+codec/B (codec in process)", ratio("B+codec", "B"))
        show("B+codec-server/B (codec server)", ratio("B+codec-server", "B"))
        for key in ("B+codec", "B+codec-server"):
            if key in rows and "B" in rows:
                cost = rows[key]["cpu_ms"] - rows["B"]["cpu_ms"]
                lines.append(f"    {key + ' cpu - B cpu':<34}{cost:+6.2f} ms")
        show("B.signal/A.signal (signal)", ratio("B.signal", "A.signal"))
        show("B.query/A.query (query)", ratio("B.query", "A.query"))
        for key in rows:
            # B@server, B@baseline, B.signal@baseline: each against the same contender here.
            base = key.partition("@")[0]
            if key != base and base in rows:
                show(f"{key}/{base}", ratio(key, base))
                cpu = rows[base]["cpu_ms"] - rows[key]["cpu_ms"]
                lines.append(f"    {base + ' cpu - ' + key + ' cpu':<34}{cpu:+6.2f} ms")
    lines.append("\npeak RSS (VmHWM, summed over a server's processes)")
    for name, mib in rss.items():
        if mib is not None:
            # The goal is one process's; the workers' sum is their supervisor's and theirs.
            goal = "" if name == "api+workers" else f"   goal ≤ 150 MiB: {verdict(mib <= 150)}"
            lines.append(f"  {name:<17}{mib:7.1f} MiB{goal}")
    print("\n".join(lines))
    return summary


def start_order(api: ApiProcess) -> str:
    """An order through the gateway (so the gateway may act on it): it waits for approval."""
    answer = httpx.post(f"{api.url}/workflows/orders/async", json=ORDER, timeout=30)
    answer.raise_for_status()
    return str(answer.json()["workflow_id"])


def lifecycle_contenders(
    plain: ApiProcess, sync: ApiProcess, baseline: tuple[ApiProcess, ApiProcess] | None
) -> list[Contender]:
    """Signal and query, the SDK's calls against the gateway's, on orders started for them:
    a fresh order for each round of signals, one order for every query. With ``--baseline``,
    the same two against the other checkout's API processes (``plain``'s and ``sync``'s)."""
    queried = start_order(sync)
    signals = [("B.signal", "gateway signal", plain)]
    queries = [("B.query", "gateway query", sync)]
    if baseline is not None:
        signals.append(("B.signal@baseline", "B.signal, the --baseline checkout", baseline[0]))
        queries.append(("B.query@baseline", "B.query, the --baseline checkout", baseline[1]))
    return [
        Contender("A.signal", "SDK signal", sdk_mode="signal {target}",
                  fresh_target=lambda: start_order(plain)),
        *(Contender(key, what, api.url, "/workflows/{target}/signals/approve", APPROVAL,
                    fresh_target=lambda: start_order(plain)) for key, what, api in signals),
        Contender("A.query", "SDK query", sdk_mode=f"query {queried}"),
        *(Contender(key, what, api.url, f"/workflows/{queried}/queries/progress", method="GET")
          for key, what, api in queries),
    ]  # fmt: skip


async def bench(args: argparse.Namespace, logs: Path) -> None:
    options = args
    if shutil.which("wrk") is None:
        raise SystemExit("make bench needs wrk: apt-get install wrk")
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    api_args = shlex.split(args.api_args) if args.api_args else None
    procs: list[Any] = []
    sdk: SdkLoad | None = None
    try:
        temporal = TemporalDevServer(logs, namespaces=[STARTS_NAMESPACE])
        procs.append(temporal)
        temporal.wait_ready()
        procs.append(WorkerProcess(logs, temporal=temporal.address, env=QUIET))

        def api(
            name: str,
            env: dict[str, str],
            namespace: str = STARTS_NAMESPACE,
            args: list[str] | None = api_args,
        ) -> ApiProcess:
            kwargs = {"args": args} if args else {}
            env = {**QUIET, "TEMPORAL_NAMESPACE": namespace, **env, **options.api_env}
            proc = ApiProcess(logs, temporal=temporal.address, env=env, **kwargs)
            procs.append(proc)
            apis[name] = proc
            return proc

        apis: dict[str, ApiProcess] = {}
        untraced = {"OTEL_EXPORTER_OTLP_ENDPOINT": ""}
        plain = api("api", {**NO_LIMITS, **untraced})
        sync = api("api-sync", {**NO_LIMITS, **untraced}, namespace="default")
        http_api = f"http://127.0.0.1:{temporal.http_port}"
        contenders = [
            Contender("A", "SDK start_workflow", sdk_mode="start"),
            Contender("B", "gateway async start", plain.url, "/workflows/shopping/async", BODY),
            Contender("C", "Temporal HTTP API start", http_api,
                      f"/api/v1/namespaces/{STARTS_NAMESPACE}/workflows/{{id}}", TEMPORAL_BODY),
            Contender("D", "SDK execute_workflow", sdk_mode="execute"),
            Contender("E", "gateway sync start", sync.url, "/workflows/shopping", BODY),
        ]  # fmt: skip
        if args.auth:
            env, header = auth_env(logs)
            secured = api("api+auth", {**env, **untraced})
            contenders.append(
                Contender("B+auth", "B, API key and rate limits on", secured.url,
                          "/workflows/shopping/async", BODY, header)
            )  # fmt: skip
        if args.trace and (found := start_jaeger(logs)) is not None:
            jaeger, endpoint = found
            procs.append(jaeger)
            traced = api("api+trace", {
                **NO_LIMITS, "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
                "OTEL_SERVICE_NAME": "bench-api",
            })  # fmt: skip
            contenders.append(
                Contender("B+trace", "B, exporting spans to Jaeger", traced.url,
                          "/workflows/shopping/async", BODY)
            )  # fmt: skip
        if args.codecs:
            # The codec's cost: every start of B's route encrypted, in process, then through
            # the Go codec server (its HTTP round trip on loopback), the same key for both.
            key_file = write_key(logs)
            in_process = {"aes": {"import": AES_IMPORT}}
            coded = api("api+codec", {
                **NO_LIMITS, **untraced, **codec_env(key_file),
                "API_CODECS": json.dumps(in_process),
                "API_NAMESPACE_CODECS": json.dumps({STARTS_NAMESPACE: "aes"}),
            })  # fmt: skip
            codec_server = GoCodecServer(logs, key_file)
            procs.append(codec_server)
            codec_server.wait_ready()
            remote = {"aes": {"endpoint": codec_server.url}}
            served = api("api+codec-server", {
                **NO_LIMITS, **untraced,
                "API_CODECS": json.dumps(remote),
                "API_NAMESPACE_CODECS": json.dumps({STARTS_NAMESPACE: "aes"}),
            })  # fmt: skip
            contenders += [
                Contender("B+codec", "B, AES-GCM codec in process", coded.url,
                          "/workflows/shopping/async", BODY),
                Contender("B+codec-server", "B, AES-GCM codec server", served.url,
                          "/workflows/shopping/async", BODY, helper_pid=codec_server.pid),
            ]  # fmt: skip
        if args.workers > 1:
            # The process model: the same API, API_WORKERS processes sharing its port.
            several = api(
                "api+workers", {**NO_LIMITS, **untraced, "API_WORKERS": str(args.workers)}
            )
            contenders.append(
                Contender("B+workers", f"B, API_WORKERS={args.workers}", several.url,
                          "/workflows/shopping/async", BODY)
            )  # fmt: skip
        for server in filter(None, args.servers.split(",")):
            # The same app under another HTTP server (hack/bench/serve.py), in the same rounds.
            other = api(f"api@{server}", {**NO_LIMITS, **untraced},
                        args=[sys.executable, str(SERVE), server])  # fmt: skip
            contenders.append(
                Contender(f"B@{server}", f"B under {server}", other.url,
                          "/workflows/shopping/async", BODY)
            )  # fmt: skip
        if args.baseline:
            # The same B from another checkout (its own venv's python), to measure a change
            # in one run: like with like, on the same machine at the same moment.
            before = api("api@baseline", {**NO_LIMITS, **untraced},
                         args=[args.baseline, "-m", "gateway_api"])  # fmt: skip
            before_sync = api("api-sync@baseline", {**NO_LIMITS, **untraced},
                              namespace="default",
                              args=[args.baseline, "-m", "gateway_api"])  # fmt: skip
            contenders.append(
                Contender("B@baseline", "B from the --baseline checkout", before.url,
                          "/workflows/shopping/async", BODY)
            )  # fmt: skip
            if args.auth:  # and B+auth, for a change to authentication or limits
                before_auth = api("api+auth@baseline", {**env, **untraced},
                                  args=[args.baseline, "-m", "gateway_api"])  # fmt: skip
                contenders.append(
                    Contender("B+auth@baseline", "B+auth from the --baseline checkout",
                              before_auth.url, "/workflows/shopping/async", BODY, header)
                )  # fmt: skip
        for proc in apis.values():
            proc.wait_ready()
        contenders += lifecycle_contenders(
            plain, sync, (before, before_sync) if args.baseline else None
        )
        if args.only:
            keep = set(args.only.split(","))
            contenders = [c for c in contenders if c.key in keep]
        await check_temporal_http_api_starts(temporal)
        sdk = SdkLoad(temporal.address, logs)

        for c in contenders:
            if c.sdk_mode:
                c.pid = sdk.popen.pid
            elif c.url != http_api:
                c.pid = next(p.pid for p in apis.values() if p.url == c.url)

        def run(c: Contender, concurrency: int, seconds: float) -> dict[str, int]:
            if c.fresh_target is not None:
                target = c.fresh_target()
                c = replace(c, path=c.path.replace("{target}", target),
                            sdk_mode=c.sdk_mode.replace("{target}", target))  # fmt: skip
            before = cpu_us(c.pid) + cpu_us(c.helper_pid) if c.pid else 0
            temporal_before = cpu_us(temporal.pid)
            if c.sdk_mode:
                assert sdk is not None
                row = sdk.run(c.sdk_mode, concurrency, seconds)
            else:
                row = run_wrk(c, concurrency, seconds, logs / "wrk.json")
            if c.pid:
                row["cpu_us"] = cpu_us(c.pid) + cpu_us(c.helper_pid) - before
            row["temporal_cpu_us"] = cpu_us(temporal.pid) - temporal_before
            return row

        print(f"warming up; then {args.rounds} rounds of {args.seconds}s per contender and "
              f"concurrency {concurrencies}, {len(contenders)} contenders")  # fmt: skip
        for c in contenders:
            run(c, 8, 1.0)
        started, settling = time.monotonic(), 0.0
        for concurrency in concurrencies:
            for r in range(args.rounds):
                shift = r // 2 % len(contenders)
                order = contenders[shift:] + contenders[:shift]
                for c in order[::-1] if r % 2 else order:
                    settling += settle(temporal.pid)
                    row = run(c, concurrency, args.seconds)
                    c.rounds.setdefault(concurrency, []).append(row)
        elapsed = time.monotonic() - started
        rss = {
            name: sum(peak_rss_mib(pid) or 0.0 for pid in process_tree(proc.pid))
            for name, proc in apis.items()
        }
        print(f"\nmeasured for {elapsed:.0f}s, {settling:.0f}s of it waiting for the Temporal "
              "server to go quiet before each contender; throughput over all rounds, "
              "percentiles the median of the rounds'")  # fmt: skip
        summary = report(contenders, concurrencies, rss)
        out_dir = ROOT / ".bench"
        out_dir.mkdir(exist_ok=True)
        out = out_dir / time.strftime("bench-%Y%m%d-%H%M%S.json")
        out.write_text(json.dumps({
            "git": args.git, "label": args.label, "seconds": args.seconds, "rounds": args.rounds,
            "api_args": args.api_args, "api_env": args.api_env, "rss_mib": rss,
            "summary": summary,
            "raw": {c.key: {str(k): v for k, v in c.rounds.items()} for c in contenders},
        }, indent=2))  # fmt: skip
        print(f"\nraw figures: {out.relative_to(ROOT)}")
    finally:
        if sdk is not None:
            sdk.stop()
        for proc in reversed(procs):
            proc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per contender and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", default="1,16,64")
    parser.add_argument("--only", default="", help="contender keys, e.g. A,B,C")
    parser.add_argument("--workers", type=int, default=2, help="B+workers' API_WORKERS; 1: none")
    parser.add_argument("--no-auth", dest="auth", action="store_false")
    parser.add_argument("--no-trace", dest="trace", action="store_false")
    parser.add_argument("--no-codecs", dest="codecs", action="store_false")
    parser.add_argument("--label", default="", help="kept in the JSON")
    parser.add_argument("--api-args", default="", help="another command for the API processes")
    parser.add_argument(
        "--servers", default="", help="also B under these servers: uvicorn-h11,granian,..."
    )
    parser.add_argument(
        "--baseline",
        default="",
        help="also B served by this python (another checkout's .venv/bin/python)",
    )
    parser.add_argument(
        "--api-env", default=[], action="append", help="NAME=value for the API processes"
    )
    args = parser.parse_args()
    args.api_env = dict(item.split("=", 1) for item in args.api_env)
    args.git = subprocess.run(
        ["git", "describe", "--always", "--dirty"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # as Ctrl-C: servers stopped
    try:
        with tempfile.TemporaryDirectory(prefix="bench-") as logs:
            asyncio.run(bench(args, Path(logs)))
    except KeyboardInterrupt:
        raise SystemExit("interrupted; the servers it started are stopped") from None


if __name__ == "__main__":
    main()

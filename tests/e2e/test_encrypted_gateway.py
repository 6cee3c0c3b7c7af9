"""Payload codecs end to end, every process real: the API (``python -m gateway_api``) with named
codecs, the example Go codec server (AES-GCM, its key from a file; TLS from a test CA, a bearer
token from a file), a Python worker (the worker service) whose own client encrypts with the
same key in process, the Go, TypeScript and Java example workers with the same key (each SDK's
codec), and a webhook receiver.

What Temporal stores is read with the SDK and no codec: ``binary/encrypted`` everywhere but in
search attributes. What the HTTP answers and webhook bodies carry is plaintext. The plaintext
never shows in the processes' logs, the API's metrics, nor the spans the API and the worker
export (to the same recording receiver, as OTLP/HTTP). Last, the codec server is killed
under a steady load of careful clients: 503 ``codec-unavailable`` with ``Retry-After`` while it
is down, a webhook attempt retried, nothing lost or started twice, service back when it is.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import signal
import ssl
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from temporalio.client import Client

from gateway_core.callbacks import delivery_workflow_id
from gateway_core.routes import build_table, dump_table
from gateway_workflows.callbacks.signing import new_secret
from support.careful import CarefulLoad
from support.codecs import (
    AES_IMPORT,
    ENCRYPTED,
    GoCodecServer,
    codec_env,
    history,
    payload_encodings,
    sealed_worker,
    started_input,
    write_key,
)
from support.gateway import LIFECYCLE_MESSAGES, route
from support.procs import (
    ApiProcess,
    Process,
    WorkerProcess,
    assert_eventually,
    eventually,
    free_port,
    polled,
)
from support.tls import Authority
from support.tools import workers_dir
from temporal_gateway_client import webhooks

pytestmark = pytest.mark.e2e

SECRET = "plaintext-marker-e2e-4b1d"
TOKEN = "codec-e2e-token"
API_SERVICE, WORKER_SERVICE = "codec-test-api", "codec-test-worker"


@dataclass
class Receiver:
    """A webhook receiver on loopback that records every POST."""

    server: ThreadingHTTPServer
    bodies: dict[str, list[bytes]] = field(default_factory=dict)
    headers: dict[str, list[dict[str, str]]] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


def _receiver() -> Receiver:
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            receiver.bodies.setdefault(self.path, []).append(body)
            receiver.headers.setdefault(self.path, []).append(
                {k.lower(): v for k, v in self.headers.items()}
            )
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    receiver = Receiver(ThreadingHTTPServer(("127.0.0.1", 0), Handler))
    return receiver


@dataclass
class Stack:
    api: ApiProcess
    worker: WorkerProcess
    example_workers: dict[str, Process]
    codec_server: GoCodecServer
    receiver: Receiver
    key_file: Path
    signing_secret: str
    outage_port: int
    queue: str
    logs: list[Path]

    def post(self, path: str, body: Any = None, **headers: str) -> httpx.Response:
        return httpx.post(f"{self.api.url}{path}", json=body, headers=headers, timeout=60)

    def get(self, path: str) -> httpx.Response:
        return httpx.get(f"{self.api.url}{path}", timeout=60)


EXAMPLE_WORKERS = {"go": ("Go", "aes-remote"), "ts": ("Ts", "aes-remote"), "java": ("Java", "aes")}
"""The example workers run with the codec: their workflow types' prefix and the codec their
routes name (the Go codec server for Go's and TypeScript's, the Python codec in the API for
Java's)."""


def _example_command(lang: str, built: Path) -> list[str | Path]:
    return {"go": [built / "go" / "worker"],
            "ts": ["node", built / "typescript" / "lib" / "worker.js"],
            "java": ["java", "-jar", built / "java" / "worker.jar"]}[lang]  # fmt: skip


def _routes(queue: str, example_queues: dict[str, str]) -> str:
    hooks = {"allowedDestinations": ["http://127.0.0.1:*"], "allowPrivateNetworks": True,
             "signingSecret": "hooks"}  # fmt: skip
    routes = [
        route("sealed", "LifecycleWorkflow", queue, codec="aes-remote", **LIFECYCLE_MESSAGES),
        route("local", "LifecycleWorkflow", queue, codec="aes", **LIFECYCLE_MESSAGES),
        route("hooked", "SlowWorkflow", queue, codec="aes-remote", callbacks=hooks),
        route("failing-hooked", "FailingWorkflow", queue, codec="aes-remote", callbacks=hooks),
        route("wrong-token", "SlowWorkflow", queue, codec="aes-wrong-token"),
        route("brief", "BriefWorkflow", queue, codec="outage"),
        route("outage-hooked", "SlowWorkflow", queue, codec="outage", callbacks=hooks),
    ]
    for lang, (prefix, codec) in EXAMPLE_WORKERS.items():
        for family in ("integer", "failure"):
            workflow_type = f"{prefix}{family.title()}Workflow"
            routes.append(
                route(f"{lang}-{family}s", workflow_type, example_queues[lang], codec=codec)
            )
        quantity_of = {
            "name": "quantity_of",
            "inputSchema": {"type": "object", "properties": {"sku": {"type": "string"}}},
        }
        routes.append(route(f"{lang}-orders", f"{prefix}OrderWorkflow", example_queues[lang],
                            codec=codec, queries=[quantity_of]))  # fmt: skip
    return dump_table(build_table(routes))


@pytest.fixture(scope="module")
def stack(temporal_server, logs_dir, tmp_path_factory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("codecs")
    run = uuid.uuid4().hex[:8]
    queue, callback_queue = f"codec-{run}", f"codec-{run}-hooks"
    example_queues = {lang: f"{lang}-codec-{run}" for lang in EXAMPLE_WORKERS}
    key_file = write_key(tmp)
    token = tmp / "token"
    token.write_text(TOKEN + "\n")
    bearer = tmp / "authorization"
    bearer.write_text(f"Bearer {TOKEN}\n")
    wrong = tmp / "wrong-authorization"
    wrong.write_text("Bearer not-the-token\n")
    authority = Authority(tmp / "pki")
    cert = authority.issue("codec-server", server=True)
    codec_server = GoCodecServer(logs_dir, key_file, token_file=token, tls=(cert.cert, cert.key))
    outage_port = free_port()
    remote = {"endpoint": codec_server.url.replace("127.0.0.1", "localhost"),
              "authorization_file": str(bearer), "ca_file": str(authority.cert)}  # fmt: skip
    codecs = {
        "aes": {"import": AES_IMPORT},
        "aes-remote": remote,
        "aes-wrong-token": {**remote, "authorization_file": str(wrong)},
        "outage": {"endpoint": f"http://127.0.0.1:{outage_port}", "timeout_seconds": 2},
    }
    secrets = tmp / "secrets"
    secrets.mkdir()
    signing_secret = new_secret()
    (secrets / "hooks").write_text(signing_secret + "\n")
    (tmp / "routes.yaml").write_text(_routes(queue, example_queues))
    receiver = _receiver()
    threading.Thread(target=receiver.server.serve_forever, daemon=True).start()
    # Spans go to the receiver too (``/v1/traces``), every one sampled and sent within 100 ms.
    otel = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.base,
        "OTEL_TRACES_SAMPLER": "parentbased_always_on",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    address = temporal_server.address
    worker = sealed_worker(
        logs_dir, temporal=address, task_queue=queue, key_file=key_file,
        WORKER_CODECS=json.dumps(codecs), WORKER_CALLBACK_TASK_QUEUE=callback_queue,
        WORKER_CALLBACK_SECRETS_DIR=str(secrets), WORKER_GRACEFUL_SHUTDOWN_SECONDS="1",
        WORKER_ROUTES_PATH=str(tmp / "routes.yaml"), OTEL_SERVICE_NAME=WORKER_SERVICE, **otel,
    )  # fmt: skip
    example_workers = {
        lang: Process(
            f"{lang}-codec-worker-{run}", _example_command(lang, workers_dir()), log_dir=logs_dir,
            env={"TEMPORAL_ADDRESS": address, "CODEC_KEY_FILE": str(key_file),
                 "WORKER_TASK_QUEUE": example_queues[lang]},
        )
        for lang in EXAMPLE_WORKERS
    }  # fmt: skip
    api = ApiProcess(
        logs_dir,
        temporal=address,
        env={
            "API_ROUTES_PATH": str(tmp / "routes.yaml"),
            "API_CODECS": json.dumps({k: v for k, v in codecs.items()}),
            "API_CALLBACK_TASK_QUEUE": callback_queue,
            "API_CALLBACK_RETRY_INITIAL_SECONDS": "0.3",
            "API_CALLBACK_RETRY_BACKOFF": "1.5",
            "API_CALLBACK_RETRY_MAX_INTERVAL_SECONDS": "1",
            "API_CALLBACK_RETRY_MAX_TOTAL_SECONDS": "120",
            "API_HEALTH_INTERVAL_SECONDS": "0.5",
            "OTEL_SERVICE_NAME": API_SERVICE,
            **otel,
            **codec_env(key_file),
        },
    )
    stack = Stack(
        api, worker, example_workers, codec_server, receiver, key_file, signing_secret,
        outage_port, queue,
        [api.log_path, worker.log_path, codec_server.log_path,
         *(w.log_path for w in example_workers.values())],
    )  # fmt: skip
    try:
        codec_server.wait_ready(verify=ssl.create_default_context(cafile=authority.cert))
        api.wait_ready()
        for lang, example in example_workers.items():
            eventually(
                lambda w=example, q=example_queues[lang]: w.alive() and polled(address, q),
                timeout=60,
            )
        eventually(lambda: worker.alive() and polled(address, queue), timeout=60)
        yield stack
    finally:
        api.stop()
        worker.stop()
        for example in example_workers.values():
            example.stop()
        stack.codec_server.stop()
        receiver.server.shutdown()
        receiver.server.server_close()


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def exported_spans(receiver: Receiver) -> list[tuple[str, str]]:
    """Every span exported so far, as (service name, the span in protobuf's text format)."""
    spans = []
    bodies, headers_of = (
        receiver.bodies.get("/v1/traces", []),
        receiver.headers.get("/v1/traces", []),
    )
    # A body is recorded just before its headers: one still without them is read next time.
    for body, headers in list(zip(bodies, headers_of, strict=False)):
        raw = gzip.decompress(body) if headers.get("content-encoding") == "gzip" else body
        for resource in ExportTraceServiceRequest.FromString(raw).resource_spans:
            attributes = {a.key: a.value.string_value for a in resource.resource.attributes}
            for scope in resource.scope_spans:
                spans += [(attributes["service.name"], str(span)) for span in scope.spans]
    return spans


def assert_no_plaintext(stack: Stack, workflow_id: str) -> None:
    """Nothing the tests sent in plaintext is in any process's log, in the metrics, nor in a
    span, once the API and the worker have exported spans of ``workflow_id`` (the positive
    signal that this workflow's spans, wherever plaintext could have gone, are there)."""
    for log in stack.logs:
        assert SECRET not in log.read_text(errors="replace"), log
    metrics = httpx.get(f"http://127.0.0.1:{stack.api.metrics_port}/metrics", timeout=10).text
    assert SECRET not in metrics
    assert 'codec="aes-remote",operation="encode",result="ok"' in metrics

    def traced() -> set[str]:
        return {service for service, span in exported_spans(stack.receiver) if workflow_id in span}

    eventually(lambda: traced() >= {API_SERVICE, WORKER_SERVICE}, timeout=30)
    spans = exported_spans(stack.receiver)
    assert not [span for _, span in spans if SECRET in span]


async def test_every_operation_through_the_codec_server(stack: Stack, temporal_server) -> None:
    wid = ok(stack.post("/workflows/sealed/async", {"label": SECRET}))["workflow_id"]
    ok(stack.post(f"/workflows/{wid}/signals/add_note", {"text": SECRET}), 202)
    assert ok(stack.post(f"/workflows/{wid}/queries/note", {"index": 0}))["result"] == SECRET
    assert ok(stack.post(f"/workflows/{wid}/updates/set_limit", {"value": 9}))["result"] == 0
    rejected = stack.post(f"/workflows/{wid}/updates/set_limit", {"value": 101})
    assert rejected.json()["detail"] == "limit 101 is above the maximum of 100", rejected.text
    ok(stack.post(f"/workflows/{wid}/signals/finish"), 202)
    result = ok(stack.get(f"/workflows/{wid}/result"))["result"]
    assert result == {"label": SECRET, "notes": [SECRET], "limit": 9}

    client = await Client.connect(temporal_server.address)
    stored = await history(client, wid)
    assert payload_encodings(started_input(stored)) == [ENCRYPTED]
    completed = stored.events[-1].workflow_execution_completed_event_attributes
    assert payload_encodings(completed.result.payloads) == [ENCRYPTED]
    assert SECRET.encode() not in stored.SerializeToString()

    # The in-process codec, in the API process: the same key, the same ciphertext format.
    local = ok(stack.post("/workflows/local/async", {"label": SECRET}))["workflow_id"]
    ok(stack.post(f"/workflows/{local}/signals/finish"), 202)
    assert ok(stack.get(f"/workflows/{local}/result"))["result"]["label"] == SECRET
    assert payload_encodings(started_input(await history(client, local))) == [ENCRYPTED]
    assert_no_plaintext(stack, wid)


def test_a_codec_server_refusing_the_token_is_503(stack: Stack) -> None:
    refused = stack.post("/workflows/wrong-token/async", {"seconds": 0})
    assert refused.status_code == 503, refused.text
    problem = refused.json()
    assert (problem["code"], problem["codec"]) == ("codec-unavailable", "aes-wrong-token")
    assert problem["detail"].endswith("could not encode: HTTP 401")
    assert refused.headers["retry-after"] == "5"


@pytest.mark.parametrize("lang", list(EXAMPLE_WORKERS))
async def test_another_languages_worker_through_the_gateway(
    stack: Stack, temporal_server, lang: str
) -> None:
    """Another language's worker, the same key: its payloads and failure messages, sealed by
    that SDK's codec (Go's converter.PayloadCodec, TypeScript's PayloadCodec with a failure
    converter that encodes common attributes, Java's PayloadCodec in a CodecDataConverter), are
    stored sealed and answered in plaintext."""
    client = await Client.connect(temporal_server.address)
    answer = ok(stack.post(f"/workflows/{lang}-integers", {"value": 41}))
    assert (answer["result"]["value"], answer["result"]["next"]) == (41, 42)
    stored = await history(client, answer["workflow_id"])
    result = stored.events[-1].workflow_execution_completed_event_attributes.result.payloads
    assert payload_encodings([*started_input(stored), *result]) == [ENCRYPTED, ENCRYPTED]
    failed = stack.post(f"/workflows/{lang}-failures", {"kind": "declined"})
    problem = failed.json()
    assert (failed.status_code, problem["code"]) == (500, "workflow-failed"), failed.text
    assert problem["failure_type"] == "PaymentDeclined"
    assert problem["detail"].endswith("payment declined")
    stored = await history(client, problem["workflow_id"])
    failure = stored.events[-1].workflow_execution_failed_event_attributes.failure
    assert failure.message == "Encoded failure"
    # A query's failure, sealed by the worker's codec on its way back, answered in the one
    # failure mapping. TypeScript's SDK sends a query's message only, and with its failures
    # encoded that message is Temporal's placeholder: the answer says so.
    order = ok(stack.post(f"/workflows/{lang}-orders/async",
                          {"customer": "ann", "items": [{"sku": "A", "quantity": 2}]}))  # fmt: skip
    asked = f"/workflows/{order['workflow_id']}/queries/quantity_of"
    assert ok(stack.post(asked, {"sku": "A"}))["result"] == {"sku": "A", "quantity": 2}
    missing = stack.post(asked, {"sku": "Z"})
    problem = missing.json()
    assert (missing.status_code, problem["code"]) == (500, "query-failed"), missing.text
    if lang == "ts":
        assert problem["failure_type"] is None
        assert "codec sealed its message" in problem["detail"], problem
    else:
        assert problem["detail"] == "the order has no item Z"
        assert problem["failure_type"] == "ItemNotFound"
    await client.get_workflow_handle(order["workflow_id"]).terminate("done")


async def test_webhook_bodies_are_decoded_and_never_stored(stack: Stack, temporal_server) -> None:
    hooked = stack.post(
        "/workflows/hooked/async", {"seconds": 0.1},
        **{"Callback-Url": stack.receiver.base + "/done"},
    )  # fmt: skip
    failed = stack.post(
        "/workflows/failing-hooked/async", {},
        **{"Callback-Url": stack.receiver.base + "/failed"},
    )  # fmt: skip
    wids = {"done": ok(hooked)["workflow_id"], "failed": ok(failed)["workflow_id"]}
    events = {}
    for path in wids:
        (body,) = eventually(lambda p=path: stack.receiver.bodies.get(f"/{p}"), timeout=60)
        (headers,) = stack.receiver.headers[f"/{path}"]
        events[path] = webhooks.verify(body, headers, [stack.signing_secret])["data"]
    assert events["done"]["result"] == "slept 0.1s on attempt 1"
    failure = events["failed"]["failure"]
    assert (failure["type"], failure["message"]) == ("OutOfStock", "the shop is out of stock")
    assert failure["chain"][0]["message"] == "the shop is out of stock"
    client = await Client.connect(temporal_server.address)
    for wid in wids.values():
        run_id = (await client.get_workflow_handle(wid).describe()).run_id
        delivery = await history(client, delivery_workflow_id(wid, run_id))
        stored = delivery.SerializeToString()
        assert b"slept 0.1s" not in stored
        assert b"out of stock" not in stored
    assert_no_plaintext(stack, wids["done"])


def _count(workflow_ids: list[str]) -> tuple[int, int]:
    counts = Counter(workflow_ids)
    return sum(counts.values()), sum(1 for n in counts.values() if n > 1)


async def test_the_codec_server_stopped_under_load(stack: Stack, temporal_server, logs_dir):
    """Careful clients start ``brief`` workflows (sync starts: the input encoded, the result
    decoded) while the codec server is killed for a while, then started again."""
    server = GoCodecServer(logs_dir, stack.key_file, port=stack.outage_port)
    stack.logs.append(server.log_path)
    client = await Client.connect(temporal_server.address)
    try:
        server.wait_ready()
        done = ok(stack.post("/workflows/brief/async", {"seconds": 0}))["workflow_id"]
        await assert_eventually(lambda: stack.get(f"/workflows/{done}/status").json()["status"]
                                == "COMPLETED")  # fmt: skip
        async with CarefulLoad([stack.api.url], "/workflows/brief", {"seconds": 0.2}) as load:
            await load.acknowledged(8)
            # A workflow that closes while the codec server is down, with a webhook.
            hooked = stack.post(
                "/workflows/outage-hooked/async", {"seconds": 4},
                **{"Callback-Url": stack.receiver.base + "/outage"},
            )  # fmt: skip
            hooked_id = ok(hooked)["workflow_id"]
            stopped_at = time.monotonic()
            server.signal(signal.SIGKILL)
            server.popen.wait()

            probe = stack.post("/workflows/brief", {"seconds": 0}, **{"Idempotency-Key": "probe"})
            assert probe.status_code == 503, probe.text
            assert probe.json()["code"] == "codec-unavailable"
            assert probe.headers["retry-after"] == "5"
            # Reading a result needs the codec too; the problem keeps the workflow's id.
            unread = stack.get(f"/workflows/{done}/result")
            assert (unread.status_code, unread.json()["code"]) == (503, "codec-unavailable")
            assert unread.json()["workflow_id"] == done
            # The webhook's attempt fails for want of the codec, and is retried.
            state = await assert_eventually(
                lambda: (s := stack.get(f"/workflows/{hooked_id}/callbacks").json())
                .get("last_error") and s, timeout=30,
            )  # fmt: skip
            assert "codec 'outage' could not decode: could not connect" in state["last_error"]
            assert state["status"] == "delivering"

            async def down_for_10_seconds() -> bool:
                return time.monotonic() - stopped_at >= 10

            await assert_eventually(down_for_10_seconds, timeout=20, interval=0.5)
            outage = load.tally.errors_between(stopped_at, time.monotonic())
            assert outage, "no request was answered during the outage"
            assert {a.status for a in outage} == {503}
            server = GoCodecServer(logs_dir, stack.key_file, port=stack.outage_port)
            server.wait_ready()
            back_at = time.monotonic()
            await load.acknowledged(8, timeout=60)
        tally = load.tally
        # Every workflow the load started, counted in Temporal (visibility catches up).
        prefix_query = f"TaskQueue = '{stack.queue}' AND WorkflowType = 'BriefWorkflow'"

        async def counted() -> tuple[int, int] | None:
            ids = [wf.id async for wf in client.list_workflows(prefix_query)]
            ids = [i for i in ids if i != done]
            seen = _count(ids)
            return seen if seen[0] >= len(tally.acknowledged) else None

        workflows, duplicates = await assert_eventually(counted, timeout=60, interval=0.5)
        summary = tally.summary(workflows, duplicates, stopped_at, back_at)
        print(f"\n[codecs] codec server killed for {back_at - stopped_at:.1f}s: {summary}")
        assert not tally.server_errors, tally.server_errors[:3]
        assert not tally.unfinished, f"{len(tally.unfinished)} requests never acknowledged"
        assert duplicates == 0, summary
        assert workflows == len(tally.acknowledged), summary  # none lost, none extra
        assert len(set(tally.acknowledged.values())) == len(tally.acknowledged)
        # The probe's 503 started nothing (its answer named the id it would have had).
        probe_id = probe.json()["workflow_id"]
        assert not [wf async for wf in client.list_workflows(f"WorkflowId = '{probe_id}'")]
        # The webhook went out once the codec was back, decoded.
        (body,) = eventually(lambda: stack.receiver.bodies.get("/outage"), timeout=60)
        assert json.loads(body)["data"]["result"] == "slept 4.0s on attempt 1"
        state = stack.get(f"/workflows/{hooked_id}/callbacks").json()
        assert state["status"] == "delivered", state
        assert state["attempt_count"] >= 2, state
    finally:
        with contextlib.suppress(Exception):
            server.stop()

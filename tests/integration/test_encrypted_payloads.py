"""Payload codecs against a real Temporal, in process: a worker whose client encrypts with the
example AES-GCM codec (``examples/codec``, as a team's Python clients would load it), and the
API with the same codec by import path. Every operation round-trips: what Temporal stores is
``binary/encrypted`` (read with the SDK, without the codec), what the HTTP answers carry is
plaintext.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import yaml
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, Interceptor, OutboundInterceptor, StartWorkflowInput

from gateway_api import app as gateway_app
from gateway_api.temporal.executions import MEMO_PRINCIPAL, MEMO_REQUEST_SHA256, MEMO_ROUTE
from gateway_core.codecs import CodecSet, CodecSettings
from gateway_core.routes import CompiledRoute, parse_documents
from gateway_worker.config import WorkerSettings
from gateway_worker.worker import build_worker, with_codec
from support.codecs import (
    AES_IMPORT,
    ENCRYPTED,
    history,
    memo_payloads,
    payload_encodings,
    started_input,
    write_key,
)
from support.gateway import api_client, lifecycle_route, route
from support.payload_workflows import ParcelWorkflow
from support.procs import ROOT, assert_eventually, free_port
from support.sample_workflows import TEST_ACTIVITIES, TEST_WORKFLOWS

pytestmark = pytest.mark.integration

SECRET = "plaintext-marker-7f3a"
"""Sent in inputs and arguments: it must never be stored, only answered."""
AES = {"aes": {"import": AES_IMPORT}}


@pytest.fixture
def key_file(tmp_path, monkeypatch):
    path = write_key(tmp_path)
    monkeypatch.setenv("CODEC_KEY_FILE", str(path))
    return path


@pytest.fixture
async def sealed_worker(client: Client, task_queue: str, key_file) -> AsyncIterator[Client]:
    """The test workflows on a worker whose client has the AES codec; the codec client."""
    codecs = CodecSet({"aes": CodecSettings(import_path=AES_IMPORT)})
    sealed = with_codec(client, codecs, "aes")
    settings = WorkerSettings(task_queue=task_queue, graceful_shutdown_seconds=1)
    async with build_worker(sealed, settings, [*TEST_WORKFLOWS, ParcelWorkflow], TEST_ACTIVITIES):
        yield sealed


@pytest.fixture
async def api(temporal_server, task_queue, sealed_worker) -> AsyncIterator[httpx.AsyncClient]:
    routes = [
        lifecycle_route("life", task_queue),  # the namespace's codec
        route("failing", "FailingWorkflow", task_queue),
        route("retrying", "RetryingWorkflow", task_queue),
        route("plain", "GateWorkflow", task_queue, codec="none"),
        route("slow", "SlowWorkflow", task_queue),
        _parcels(task_queue),
    ]
    async with api_client(
        temporal_server.address, routes, codecs=AES, namespace_codecs={"default": "aes"}
    ) as client:
        yield client


def _parcels(task_queue: str) -> CompiledRoute:
    """The positional-arguments route of ``support/polyglot_routes`` on ``task_queue``."""
    (doc, *_) = yaml.safe_load_all(
        (ROOT / "tests/support/polyglot_routes/parcels.yaml").read_text()
    )
    doc["spec"]["taskQueue"] = task_queue
    (parcels,) = parse_documents(yaml.safe_dump(doc), source="parcels.yaml")
    return parcels


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code, body
    return body


def all_payloads(message: Message) -> list[Payload]:
    """Every payload anywhere in ``message`` (a history: every event's), search attributes
    and headers aside (Temporal reads the former; the latter carry trace context)."""
    found: list[Payload] = []
    for field, value in message.ListFields():
        if field.type != field.TYPE_MESSAGE or field.name in ("search_attributes", "header"):
            continue
        if field.message_type.GetOptions().map_entry:
            entry = field.message_type.fields_by_name["value"]
            items = list(value.values()) if entry.type == entry.TYPE_MESSAGE else []
        else:
            items = list(value) if field.is_repeated else [value]
        for item in items:
            found += [item] if isinstance(item, Payload) else all_payloads(item)
    return found


async def test_every_operation_round_trips_encrypted(api, client) -> None:
    """Start, signal, query, update (its answer too), result: plaintext over HTTP, only
    ciphertext in Temporal."""
    started = ok(await api.post("/workflows/life/async", json={"label": SECRET}))
    wid = started["workflow_id"]
    ok(await api.post(f"/workflows/{wid}/signals/add_note", json={"text": SECRET + "-note"}), 202)
    note = ok(await api.post(f"/workflows/{wid}/queries/note", json={"index": 0}))
    assert note["result"] == SECRET + "-note"
    state = ok(await api.get(f"/workflows/{wid}/queries/state"))["result"]
    assert state["notes"] == [SECRET + "-note"]
    updated = ok(await api.post(f"/workflows/{wid}/updates/set_limit", json={"value": 42}))
    assert updated["result"] == 0
    again = ok(await api.post(f"/workflows/{wid}/updates/set_limit", json={"value": 43}))
    assert again["result"] == 42
    ok(await api.post(f"/workflows/{wid}/signals/finish"), 202)
    result = ok(await api.get(f"/workflows/{wid}/result"))
    assert result["result"] == {"label": SECRET, "notes": [SECRET + "-note"], "limit": 43}

    stored = await history(client, wid)
    payloads = all_payloads(stored)
    # The input, the signal's and the updates' arguments, the updates' answers, the result and
    # the memo (the gateway's own fields included): all sealed, all under the example's key.
    assert len(payloads) >= 9
    assert set(payload_encodings(payloads)) == {ENCRYPTED}
    assert SECRET.encode() not in stored.SerializeToString()
    assert payload_encodings(started_input(stored)) == [ENCRYPTED]
    memo = memo_payloads(stored)
    assert {MEMO_ROUTE, MEMO_PRINCIPAL} <= set(memo)
    assert set(payload_encodings(memo.values())) == {ENCRYPTED}

    # Read back through the gateway, the memo is plaintext; the body's digest stays hidden.
    described = ok(await api.get(f"/workflows/{wid}"))
    assert described["memo"][MEMO_ROUTE] == "life"
    assert MEMO_REQUEST_SHA256 not in described["memo"]


async def test_the_sync_start_and_the_with_start_operations(api, client, sealed_worker) -> None:
    sync = ok(await api.post("/workflows/slow", json={"seconds": 0}))
    assert sync["result"] == "slept 0.0s on attempt 1"
    stored = await history(client, sync["workflow_id"])
    completed = stored.events[-1].workflow_execution_completed_event_attributes
    assert payload_encodings(completed.result.payloads) == [ENCRYPTED]
    key = uuid.uuid4().hex
    signaled = ok(
        await api.post(
            "/workflows/life/signal-with-start/add_note",
            json={"input": {"label": SECRET}, "arg": {"text": "first"}},
            headers={"Idempotency-Key": key},
        ),
        202,
    )
    wid = signaled["workflow_id"]
    updated = ok(
        await api.post(
            "/workflows/life/update-with-start/set_limit",
            json={"input": {"label": SECRET}, "arg": {"value": 7}},
            headers={"Idempotency-Key": key},
        )
    )
    assert (updated["workflow_id"], updated["result"]) == (wid, 0)
    stored = await history(client, wid)
    (sealed,) = started_input(stored)
    assert sealed.metadata["encoding"] == ENCRYPTED
    # Encoded once: the worker's codec opens it straight into the JSON the route received.
    (label,) = await sealed_worker.data_converter.decode([sealed])
    assert label == {"label": SECRET}
    signal = next(
        e.workflow_execution_signaled_event_attributes
        for e in stored.events
        if e.HasField("workflow_execution_signaled_event_attributes")
    )
    assert payload_encodings(signal.input.payloads) == [ENCRYPTED]
    ok(await api.post(f"/workflows/{wid}/signals/finish"), 202)
    assert ok(await api.get(f"/workflows/{wid}/result"))["result"]["limit"] == 7


async def test_positional_arguments_are_each_encoded_once(api, client, sealed_worker) -> None:
    wid = ok(await api.post("/workflows/parcels/async", json=[SECRET, 2, False]))["workflow_id"]
    stored = await history(client, wid)
    sealed = started_input(stored)
    assert payload_encodings(sealed) == [ENCRYPTED] * 3
    assert await sealed_worker.data_converter.decode(sealed) == [SECRET, 2, False]
    weighed = await api.post(f"/workflows/{wid}/updates/weigh", json=["A", 2**62])
    assert ok(weighed)["result"] == {"A": 2**62}
    label = await api.post(f"/workflows/{wid}/queries/label", json=["A", True])
    assert ok(label)["result"] == f"A: {2**62} G"
    ok(await api.post(f"/workflows/{wid}/signals/ship", json=["ups", 3]), 202)
    result = ok(await api.get(f"/workflows/{wid}/result?wait=10"))["result"]
    assert (result["customer"], result["carrier"], result["grams"]) == (SECRET, "ups", 2**62)
    assert SECRET.encode() not in (await history(client, wid)).SerializeToString()


async def test_an_idempotent_retry_reads_the_encrypted_memo(api, client) -> None:
    headers = {"Idempotency-Key": f"order-{uuid.uuid4().hex}"}
    first = ok(await api.post("/workflows/life/async", json={"label": "a"}, headers=headers))
    again = ok(await api.post("/workflows/life/async", json={"label": "a"}, headers=headers))
    assert again["workflow_id"] == first["workflow_id"]
    other = await api.post("/workflows/life/async", json={"label": "b"}, headers=headers)
    problem(other, 422, "idempotency-key-reused")
    memo = memo_payloads(await history(client, first["workflow_id"]))
    assert memo[MEMO_REQUEST_SHA256].metadata["encoding"] == ENCRYPTED
    ok(await api.post(f"/workflows/{first['workflow_id']}/signals/finish"), 202)


async def test_failures_encoded_by_the_worker_are_decoded(api, client) -> None:
    """The worker moves failure messages into encoded attributes, which its codec seals:
    Temporal stores "Encoded failure"; the answers carry the workflow's own words."""
    failed = await api.post("/workflows/failing", json={})
    body = problem(failed, 500, "workflow-failed")
    assert body["detail"].endswith("the shop is out of stock")
    assert body["failure_type"] == "OutOfStock"
    stored = await history(client, body["workflow_id"])
    failure = stored.events[-1].workflow_execution_failed_event_attributes.failure
    assert failure.message == "Encoded failure"
    assert failure.encoded_attributes.metadata["encoding"] == ENCRYPTED

    wid = ok(await api.post("/workflows/life/async", json={}))["workflow_id"]
    rejected = problem(
        await api.post(f"/workflows/{wid}/updates/set_limit", json={"value": 1000}),
        422,
        "update-rejected",
    )
    assert rejected["detail"] == "limit 1000 is above the maximum of 100"
    exploded = problem(await api.post(f"/workflows/{wid}/updates/explode"), 500, "update-failed")
    assert exploded["detail"] == "the handler failed on purpose"
    ok(await api.post(f"/workflows/{wid}/signals/finish"), 202)

    # A pending activity's last failure, in the description.
    retrying = ok(await api.post("/workflows/retrying/async", json={"label": SECRET}))
    rid = retrying["workflow_id"]

    async def pending_failure() -> str | None:
        described = ok(await api.get(f"/workflows/{rid}"))
        pending = described["pending_activities"]
        return pending[0]["last_failure"] if pending else None

    message = await assert_eventually(pending_failure)
    assert message == f"the warehouse is closed ({SECRET})"
    ok(await api.post(f"/workflows/{rid}/terminate", json={"reason": "done"}))


async def test_a_route_may_opt_out_of_its_namespaces_codec(api, client) -> None:
    wid = ok(await api.post("/workflows/plain/async", json={"note": "x"}))["workflow_id"]
    stored = await history(client, wid)
    assert payload_encodings(started_input(stored)) == [b"json/plain"]
    await client.get_workflow_handle(wid).terminate()


class _CountStarts(Interceptor):
    def __init__(self) -> None:
        self.starts = 0

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        counter = self

        class Counting(OutboundInterceptor):
            async def start_workflow(self, input: StartWorkflowInput) -> Any:
                counter.starts += 1
                return await super().start_workflow(input)

        return Counting(next)


async def test_a_codec_server_that_cannot_be_reached_starts_nothing(
    temporal_server, task_queue, monkeypatch
) -> None:
    """503 codec-unavailable with Retry-After, and no start reached the Temporal client."""
    counted = _CountStarts()
    monkeypatch.setattr(gateway_app, "temporal_interceptors", lambda: [counted])
    nowhere = {"down": {"endpoint": f"http://127.0.0.1:{free_port()}", "timeout_seconds": 2}}
    routes = [lifecycle_route("life", task_queue, codec="down"), route("ok", "GateWorkflow",
              task_queue)]  # fmt: skip
    async with api_client(temporal_server.address, routes, codecs=nowhere) as api:
        answer = await api.post("/workflows/life/async", json={"label": SECRET})
        body = problem(answer, 503, "codec-unavailable")
        assert answer.headers["retry-after"] == "5"
        assert body["codec"] == "down"
        assert SECRET not in json.dumps(body)
        assert "workflow_id" in body  # the id it would have had: the caller may retry with it
        gate = ok(await api.post("/workflows/ok/async", json={}))["workflow_id"]
    assert counted.starts == 1  # the other route's start only
    plain = await Client.connect(temporal_server.address)
    await plain.get_workflow_handle(gate).terminate()

"""Payloads other SDKs write, and arguments as they take them, against a real Temporal and a
real (Python) worker, through the API: protobuf answers (``json/protobuf`` with their type,
``binary/protobuf`` with and without the route's descriptor set), payloads nothing can decode
(502 ``undecodable-payload``, never a 500, always with the workflow id), protobuf inputs
(``inputMessage``), and workflows, signals, queries and updates with several parameters
(``arguments: positional``), the with-start operations included.

The workflows are :mod:`support.payload_workflows`; the routes, ``support/polyglot_routes``.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from temporalio.client import Client
from temporalio.worker import Worker

from gateway_core.routes import CompiledRoute, parse_documents
from support.gateway import api_client, route
from support.payload_workflows import PAYLOAD_WORKFLOWS
from support.procs import ROOT
from support.protos import PARCEL, SAMPLE_JSON, descriptor_set, sample_bytes

pytestmark = pytest.mark.integration

ROUTES = ROOT / "tests" / "support" / "polyglot_routes"


def _routes(task_queue: str) -> list[CompiledRoute]:
    """The polyglot routes on ``task_queue``, and PayloadWorkflow behind three routes: with the
    descriptor set, without one, and naming one that is not there."""
    docs = list(yaml.safe_load_all((ROUTES / "parcels.yaml").read_text()))
    for doc in docs:
        doc["spec"]["taskQueue"] = task_queue
    payload_routes = [
        route(path, "PayloadWorkflow", task_queue, sync_wait_seconds=5, **spec,
              queries=[{"name": "payload", "inputSchema": {"type": "object"}}],
              updates=[{"name": "payload", "inputSchema": {"type": "object"}}],
              signals=[{"name": "release"}])
        for path, spec in (("payloads", {"descriptor_set": "parcels.binpb"}),
                           ("bare", {}), ("missing", {"descriptor_set": "absent.binpb"}))
    ]  # fmt: skip
    return [*parse_documents(yaml.safe_dump_all(docs), source="parcels.yaml"), *payload_routes]


@pytest.fixture
async def api(
    temporal_server, client: Client, task_queue: str, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    (tmp_path / "parcels.binpb").write_bytes(descriptor_set())
    async with (
        Worker(client, task_queue=task_queue, workflows=PAYLOAD_WORKFLOWS),
        api_client(
            temporal_server.address, _routes(task_queue), descriptor_sets_dir=tmp_path
        ) as http,
    ):
        yield http


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == code, body
    return body


def spec(encoding: str, data: bytes = b"", message_type: str | None = None, **more: Any) -> dict:
    """PayloadWorkflow's input: answer with this payload."""
    return {"encoding": encoding, "message_type": message_type,
            "data": base64.b64encode(data).decode(), **more}  # fmt: skip


BINARY_PARCEL = spec("binary/protobuf", sample_bytes(), PARCEL)


async def test_a_binary_protobuf_result_is_proto_json_with_its_type(api) -> None:
    answer = ok(await api.post("/workflows/payloads", json=BINARY_PARCEL))
    assert answer["status"] == "completed"
    assert answer["result"] == SAMPLE_JSON  # as Go's protojson writes it: int64 as a string
    assert answer["result_type"] == PARCEL
    again = ok(await api.get(f"/workflows/{answer['workflow_id']}/result"))
    assert again == answer


async def test_json_plain_results_keep_the_seeds_shape_and_big_integers(api) -> None:
    big = 2**64 + 3
    answer = ok(await api.post("/workflows/bare", json=spec("json/plain", f"[{big}]".encode())))
    assert set(answer) == {"workflow_id", "status", "result"}  # no result_type
    assert answer["result"] == [big]
    raw = await api.post("/workflows/bare", json=spec("binary/plain", b"\x00\xff"))
    assert ok(raw)["result"] == base64.b64encode(b"\x00\xff").decode()
    assert ok(await api.post("/workflows/bare", json=spec("binary/null")))["result"] is None


@pytest.mark.parametrize(
    ("path", "payload", "encoding", "message_type", "says"),
    [
        ("bare", BINARY_PARCEL, "binary/protobuf", PARCEL, "spec.descriptorSet"),
        ("missing", BINARY_PARCEL, "binary/protobuf", PARCEL, "'absent.binpb' cannot be read"),
        ("payloads", spec("binary/protobuf", b"\x0a\x02", PARCEL), "binary/protobuf", PARCEL,
         "does not parse"),
        ("payloads", spec("binary/zlib", b"x\x9c"), "binary/zlib", None, "no converter or codec"),
        ("payloads", spec("binary/encrypted", b"\x01", "temporal.api.common.v1.Payload"),
         "binary/encrypted", "temporal.api.common.v1.Payload", "no converter or codec"),
    ],
)  # fmt: skip
async def test_what_the_gateway_cannot_decode_is_502_with_the_workflow_id(
    api, path, payload, encoding, message_type, says
) -> None:
    body = problem(await api.post(f"/workflows/{path}", json=payload), 502, "undecodable-payload")
    workflow_id = body["workflow_id"]
    assert workflow_id.startswith(f"{path}-")
    assert (body["encoding"], body["message_type"]) == (encoding, message_type)
    assert encoding in body["detail"]
    assert says in body["detail"]
    # The workflow completed: its result answers the same, and it describes as any other.
    again = problem(await api.get(f"/workflows/{workflow_id}/result"), 502, "undecodable-payload")
    assert again["workflow_id"] == workflow_id
    assert ok(await api.get(f"/workflows/{workflow_id}/status"))["status"] == "COMPLETED"


async def test_query_and_update_answers_are_read_the_same_way(api) -> None:
    started = ok(await api.post("/workflows/bare/async", json=spec("binary/null", wait=True)))
    workflow_id = started["workflow_id"]
    big = spec("json/plain", str(2**70).encode())
    assert ok(await api.post(f"/workflows/{workflow_id}/queries/payload", json=big))["result"] == (
        2**70
    )
    struct = spec("json/protobuf", b'{"paid":true}', "google.protobuf.Struct")
    answer = ok(await api.post(f"/workflows/{workflow_id}/updates/payload", json=struct))
    assert (answer["result"], answer["result_type"]) == ({"paid": True}, "google.protobuf.Struct")
    for kind in ("queries", "updates"):
        refused = await api.post(f"/workflows/{workflow_id}/{kind}/payload", json=BINARY_PARCEL)
        body = problem(refused, 502, "undecodable-payload")
        assert body["workflow_id"] == workflow_id
        assert body["message_type"] == PARCEL
    assert ok(await api.post(f"/workflows/{workflow_id}/signals/release"), 202)
    assert ok(await api.get(f"/workflows/{workflow_id}/result"))["result"] is None


async def test_a_failure_with_undecodable_details_is_still_the_workflows_failure(api) -> None:
    """The details are decoded by the SDK's failure converter: it used to raise (500)."""
    response = await api.post("/workflows/bare", json={**BINARY_PARCEL, "fail": True})
    body = problem(response, 500, "workflow-failed")
    assert body["failure_type"] == "Refused"
    assert body["workflow_id"].startswith("bare-")
    # The detail is shown for what it is, in the failure's details.
    [detail] = body["failure"]["details"]
    assert (detail["encoding"], detail["message_type"]) == ("binary/protobuf", PARCEL)
    assert "descriptorSet" in detail["reason"]


async def test_a_protobuf_input_and_answer_through_the_python_sdks_own_proto_support(api) -> None:
    """StructWorkflow takes a google.protobuf.Struct, which the Python SDK decodes only from a
    json/protobuf payload of that type: inputMessage sends the body so."""
    answer = ok(await api.post("/workflows/structs", json={"lines": [{"cents": 5}, {"cents": 7}]}))
    assert answer["result"] == {"lines": [{"cents": 5}, {"cents": 7}], "total": 12}
    assert answer["result_type"] == "google.protobuf.Struct"


async def test_a_protobuf_input_is_sent_as_json_protobuf_and_checked_against_its_message(
    api,
) -> None:
    body = {"parcelId": "p-9", "grams": "12", "items": [{"sku": "A", "quantity": 1}]}
    workflow_id = ok(await api.post("/workflows/received/async", json=body))["workflow_id"]
    inspected = ok(await api.post(f"/workflows/{workflow_id}/updates/inspect", json=SAMPLE_JSON))
    assert inspected["result"] == {
        "encoding": "json/protobuf", "message_type": PARCEL, "data": SAMPLE_JSON,
    }  # fmt: skip
    bad = await api.post(f"/workflows/{workflow_id}/updates/inspect", json={"grams": "heavy"})
    assert [e["field"] for e in problem(bad, 422, "validation-error")["errors"]] == ["grams"]
    assert ok(await api.post(f"/workflows/{workflow_id}/signals/finish"), 202)
    result = ok(await api.get(f"/workflows/{workflow_id}/result?wait=10"))["result"]
    assert result == {"encoding": "json/protobuf", "message_type": PARCEL, "data": body}

    refused = await api.post(
        "/workflows/received", json={"parcelId": "p", "items": [{"sku": "A", "colour": "red"}]}
    )
    errors = problem(refused, 422, "validation-error")["errors"]
    assert [e["field"] for e in errors] == ["items[0].colour"]
    assert "workflow_id" not in refused.json()  # refused before anything started


async def test_several_parameters_for_the_workflow_and_each_message(api) -> None:
    done = ok(await api.post("/workflows/parcels", json=["ann", 3, True]))
    assert done["result"] == {"customer": "ann", "count": 3, "express": True,
                              "carrier": "express", "day": 0, "grams": 0}  # fmt: skip

    workflow_id = ok(await api.post("/workflows/parcels/async", json=["bob", 2, False]))[
        "workflow_id"
    ]
    weighed = await api.post(f"/workflows/{workflow_id}/updates/weigh", json=["A", 2**62])
    assert ok(weighed)["result"] == {"A": 2**62}
    label = await api.post(f"/workflows/{workflow_id}/queries/label", json=["A", True])
    assert ok(label)["result"] == f"A: {2**62} G"
    assert ok(await api.post(f"/workflows/{workflow_id}/signals/ship", json=["ups", 3]), 202)
    result = ok(await api.get(f"/workflows/{workflow_id}/result?wait=10"))["result"]
    assert (result["carrier"], result["day"], result["grams"]) == ("ups", 3, 2**62)


@pytest.mark.parametrize(
    ("url", "body", "fields"),
    [
        ("/workflows/parcels", ["ann", 3], ["body"]),
        ("/workflows/parcels", ["ann", 3, True, "extra"], ["body"]),
        ("/workflows/parcels", ["ann", "3", True], ["[1]"]),
        ("/workflows/parcels", {"customer": "ann", "count": 3, "express": True}, ["body"]),
        ("/workflows/parcels/update-with-start/weigh",
         {"input": ["ann", 1, False], "arg": ["A", 2**63]}, ["arg[1]"]),
        ("/workflows/parcels/signal-with-start/ship",
         {"input": ["ann", 1, False], "arg": ["ups"]}, ["arg"]),
    ],
)  # fmt: skip
async def test_positional_bodies_are_checked_before_temporal(api, url, body, fields) -> None:
    response = await api.post(url, json=body)
    assert [e["field"] for e in problem(response, 422, "validation-error")["errors"]] == fields


async def test_with_start_operations_take_argument_arrays(api) -> None:
    key = uuid.uuid4().hex
    body = {"input": ["cid", 4, False], "arg": ["B", 500]}
    headers = {"Idempotency-Key": key}
    updated = await api.post("/workflows/parcels/update-with-start/weigh", json=body,
                             headers=headers)  # fmt: skip
    answer = ok(updated)
    assert answer["result"] == {"B": 500}
    workflow_id = answer["workflow_id"]
    signaled = await api.post(
        "/workflows/parcels/signal-with-start/ship",
        json={"input": ["cid", 4, False], "arg": ["dhl", 9]},
        headers=headers,
    )
    assert ok(signaled, 202)["workflow_id"] == workflow_id
    result = ok(await api.get(f"/workflows/{workflow_id}/result?wait=10"))["result"]
    assert result == {"customer": "cid", "count": 4, "express": False, "carrier": "dhl",
                      "day": 9, "grams": 500}  # fmt: skip
    # The idempotency digest is the body's as sent: the same array finds the same workflow.
    again = await api.post("/workflows/parcels/async", json=["cid", 4, False], headers=headers)
    assert ok(again)["workflow_id"] == workflow_id
    other = await api.post("/workflows/parcels/async", json=["cid", 5, False], headers=headers)
    problem(other, 422, "idempotency-key-reused")

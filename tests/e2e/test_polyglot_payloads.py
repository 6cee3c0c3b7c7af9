"""Protobuf payloads, several parameters and int64s from real Go, TypeScript and Java workers
(``examples/workers``, built by ``hack/workers.sh``), through the API as a process over HTTP.

The Go worker runs three times: with its default converter (proto messages as
``json/protobuf``), with ``--binary-protobuf``, and with the AES-GCM codec (an API without that
codec gets ``binary/encrypted`` payloads). The descriptor set its routes name is made from the
descriptors compiled into the worker's module (``cmd/descriptor-set``), as a user makes one
with ``buf build``, and put in ``API_DESCRIPTOR_SETS_DIR``. Java's default converter and
TypeScript's protobuf payload converter send their messages as ``json/protobuf`` too.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from temporalio.client import Client

from support.procs import ROOT, ApiProcess, Process, eventually, polled
from support.tools import workers_dir

pytestmark = pytest.mark.e2e

EXAMPLES = ROOT / "examples" / "workers"
RECEIPT = "gateway.examples.v1.Receipt"
DESCRIPTOR_SET = "gateway.examples.v1.binpb"
ZLIB_CODEC = "gateway_core.zlib_codec:always_encoded"
LANGS = {"go": ("go", ("./go/worker",)),
         "ts": ("typescript", ("node", "./typescript/lib/worker.js")),
         "java": ("java", ("java", "-jar", "./java/worker.jar"))}  # fmt: skip
"""Each worker's folder and command (``./`` is the built workers' directory)."""


@dataclass
class Workers:
    api: ApiProcess

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.api.url, timeout=30)


def _docs(folder: str, queue: str) -> list[dict[str, Any]]:
    docs = list(yaml.safe_load_all((EXAMPLES / folder / "routes.yaml").read_text()))
    for doc in docs:
        doc["spec"]["taskQueue"] = queue
    return docs


def _copies(go_docs: list[dict[str, Any]], queues: dict[str, str]) -> list[dict[str, Any]]:
    """go-receipts and go-pb-structs again, served by the --binary-protobuf worker, and
    go-receipts once more without its descriptor set; go-integers served by the worker with a
    codec the API lacks, and by the --zlib worker with the API's zlib codec."""
    by_name = {doc["metadata"]["name"]: doc for doc in go_docs}
    copies = []
    for source, path, prefix, keep_set, queue in (
        ("go-receipts", "go-bin-receipts", "go-binreceipt-", True, queues["gobin"]),
        ("go-receipts", "go-bin-bare", "go-binbare-", False, queues["gobin"]),
        ("go-pb-structs", "go-bin-structs", "go-binstruct-", False, queues["gobin"]),
        ("go-integers", "go-enc-integers", "go-encint-", False, queues["gocodec"]),
        ("go-failures", "go-enc-failures", "go-encfail-", False, queues["gocodec"]),
        ("go-integers", "go-zlib-integers", "go-zlibint-", False, queues["gozlib"]),
    ):
        doc = copy.deepcopy(by_name[source])
        doc["metadata"]["name"] = path
        doc["spec"].update(path=path, taskQueue=queue, workflowId={"prefix": prefix})
        if not keep_set:
            doc["spec"].pop("descriptorSet", None)
        if queue == queues["gozlib"]:
            doc["spec"]["codec"] = "zlib"
        copies.append(doc)
    return copies


def _descriptor_set(directory: Path) -> None:
    """The worker module's descriptor set, made as its README says (the Go build cache that
    hack/workers.sh filled makes this quick)."""
    directory.mkdir()
    subprocess.run(
        ["go", "run", "./cmd/descriptor-set", "-o", str(directory / DESCRIPTOR_SET)],
        cwd=EXAMPLES / "go", env={**os.environ, "GOWORK": "off", "GOFLAGS": "-mod=readonly"},
        check=True, timeout=300, capture_output=True,
    )  # fmt: skip


@pytest.fixture(scope="module")
def workers(temporal_server, logs_dir, tmp_path_factory) -> Iterator[Workers]:
    built = workers_dir()
    tmp = tmp_path_factory.mktemp("polyglot-payloads")
    _descriptor_set(tmp / "descriptors")
    run = uuid.uuid4().hex[:8]
    queues = {name: f"{name}-payloads-{run}" for name in (*LANGS, "gobin", "gocodec", "gozlib")}
    docs = [doc for name, (folder, _) in LANGS.items() for doc in _docs(folder, queues[name])]
    docs += _copies(_docs("go", queues["go"]), queues)
    (tmp / "key.hex").write_text(os.urandom(32).hex())
    (tmp / "routes.yaml").write_text(yaml.safe_dump_all(docs))
    env = {"TEMPORAL_ADDRESS": temporal_server.address}
    procs: list[Process] = []
    try:
        polling: dict[str, Process] = {}
        commands = {name: command for name, (_, command) in LANGS.items()}
        extras = {"gobin": {"BINARY_PROTOBUF": "true"},
                  "gocodec": {"CODEC_KEY_FILE": str(tmp / "key.hex")},
                  "gozlib": {"ZLIB_CODEC": "true"}}  # fmt: skip
        for name, command in (*commands.items(), *((n, commands["go"]) for n in extras)):
            args = [built / a[2:] if a.startswith("./") else a for a in command]
            extra = extras.get(name, {})
            polling[queues[name]] = Process(
                f"{name}-worker-{run}", args, log_dir=logs_dir,
                env={**env, "WORKER_TASK_QUEUE": queues[name], **extra},
            )  # fmt: skip
            procs.append(polling[queues[name]])
        api = ApiProcess(
            logs_dir,
            temporal=temporal_server.address,
            env={
                "API_ROUTES_PATH": str(tmp / "routes.yaml"),
                "API_DESCRIPTOR_SETS_DIR": str(tmp / "descriptors"),
                "API_CODECS": json.dumps({"zlib": {"import": ZLIB_CODEC}}),
            },
        )
        procs.append(api)
        api.wait_ready()
        for queue, worker in polling.items():
            eventually(
                lambda w=worker, q=queue: w.alive() and polled(temporal_server.address, q),
                timeout=60,
            )
        yield Workers(api)
    finally:
        for proc in reversed(procs):
            proc.stop()


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == code, body
    return body


ORDER = {"order_id": "o-1", "customer": "Zoë", "units": 3, "unit_cents": 2**40}


def _receipt(answer: dict[str, Any]) -> dict[str, Any]:
    """The Receipt Go's and TypeScript's workflows make of ORDER, in proto JSON (issuedAt is
    the workflow's clock)."""
    assert answer["result_type"] == RECEIPT
    result = dict(answer["result"])
    assert result.pop("issuedAt").endswith("Z")
    return result


RECEIPT_JSON = {
    "orderId": "o-1",
    "customer": "Zoë",
    "lines": [{"sku": "APPLE-1", "quantity": 3, "unitCents": str(2**40)}],
    "totalCents": str(3 * 2**40),  # an int64: a string in proto JSON
    "status": "STATUS_PAID",
}


@pytest.mark.parametrize("path", ["go-receipts", "go-bin-receipts", "ts-receipts"])
def test_a_workflows_own_protobuf_message_is_its_proto_json(workers, path) -> None:
    """json/protobuf needs no descriptor; binary/protobuf is decoded with the route's descriptor
    set, to the same proto JSON. TypeScript defines the same message by reflection (no generated
    code) and writes the same proto JSON."""
    with workers.http() as http:
        answer = ok(http.post(f"/workflows/{path}", json=ORDER))
        assert _receipt(answer) == RECEIPT_JSON
        again = ok(http.get(f"/workflows/{answer['workflow_id']}/result"))
        assert _receipt(again) == RECEIPT_JSON


@pytest.mark.parametrize(
    "path", ["go-pb-structs", "go-bin-structs", "java-pb-structs", "ts-pb-structs"]
)
def test_a_google_protobuf_struct_is_its_json(workers, path) -> None:
    """Go's and Java's default converters and TypeScript's protobuf payload converter all send
    the Struct as json/protobuf (Go's --binary-protobuf worker as binary/protobuf): one answer
    whoever wrote it."""
    with workers.http() as http:
        answer = ok(http.post(f"/workflows/{path}", json=ORDER))
        assert answer["result"] == {"order_id": "o-1", "customer": "Zoë", "total": 3 * 2**40,
                                    "tags": ["struct", "protobuf"], "paid": True}  # fmt: skip
        assert answer["result_type"] == "google.protobuf.Struct"


@pytest.mark.parametrize("path", ["go-receipts", "ts-receipts"])
def test_an_int64_field_beyond_2_53_is_exact(workers, path) -> None:
    """An int64 is a string in proto JSON: TypeScript's (a Long, multiplied as a BigInt) is
    exact where a JavaScript number would round."""
    order = {**ORDER, "units": 3, "unit_cents": 2**53 - 1}
    with workers.http() as http:
        answer = ok(http.post(f"/workflows/{path}", json=order))
        # 27021597764222973: odd and above 2^53, so no double holds it.
        assert answer["result"]["totalCents"] == str(3 * (2**53 - 1))
        assert answer["result"]["lines"][0]["unitCents"] == str(2**53 - 1)


def test_binary_protobuf_without_a_descriptor_set_is_502_naming_it(workers) -> None:
    with workers.http() as http:
        body = problem(http.post("/workflows/go-bin-bare", json=ORDER), 502, "undecodable-payload")
        assert body["workflow_id"].startswith("go-binbare-")
        assert (body["encoding"], body["message_type"]) == ("binary/protobuf", RECEIPT)
        assert "descriptorSet" in body["detail"]
        status = ok(http.get(f"/workflows/{body['workflow_id']}/status"))
        assert status["status"] == "COMPLETED"  # the workflow is fine; the gateway cannot read it


def test_an_encrypted_answer_without_the_codec_is_502_naming_its_encoding(workers) -> None:
    """The API has no codec here: the worker's answer is binary/encrypted, which nothing but
    the codec reads. (Starting works: the codec's decode passes plain payloads through.)"""
    with workers.http() as http:
        response = http.post("/workflows/go-enc-integers", json={"value": 5})
        body = problem(response, 502, "undecodable-payload")
        assert body["workflow_id"].startswith("go-encint-")
        assert (body["encoding"], body["message_type"]) == ("binary/encrypted", None)
        # A failure's encrypted details no longer make a 500 internal-error of it.
        response = http.post("/workflows/go-enc-failures", json={"kind": "declined"})
        failed = problem(response, 500, "workflow-failed")
        assert failed["workflow_id"].startswith("go-encfail-")
        assert failed["failure_type"] == "PaymentDeclined"
        assert "Encoded failure" in failed["detail"]


async def test_the_go_sdks_zlib_codec_is_read_with_the_shipped_one(workers, temporal_server):
    """Issue 26's first reproduction: a Go worker whose client uses the SDK's zlib codec. The
    route names the API's codec of that format (gateway_core.zlib_codec, every payload
    compressed): the input goes in compressed and the Go worker reads it, its answer comes back
    plain, and Temporal stores binary/zlib both ways."""
    with workers.http() as http:
        answer = ok(http.post("/workflows/go-zlib-integers", json={"value": 2**53 + 1}))
        assert (answer["result"]["value"], answer["result"]["text"]) == (2**53 + 1, str(2**53 + 1))
        again = ok(http.get(f"/workflows/{answer['workflow_id']}/result"))
        assert again["result"] == answer["result"]
    client = await Client.connect(temporal_server.address)
    events = [
        e async for e in client.get_workflow_handle(answer["workflow_id"]).fetch_history_events()
    ]
    started = events[0].workflow_execution_started_event_attributes.input.payloads
    completed = events[-1].workflow_execution_completed_event_attributes.result.payloads
    assert [p.metadata["encoding"] for p in (*started, *completed)] == [b"binary/zlib"] * 2


def test_a_protobuf_input_reaches_the_go_workflow_as_its_message(workers) -> None:
    receipt = {"orderId": "o-7", "customer": "ann", "totalCents": "1500", "status": "STATUS_PAID",
               "issuedAt": "2026-01-02T03:04:05Z",
               "lines": [{"sku": "A", "quantity": 2, "unitCents": "750"}]}  # fmt: skip
    with workers.http() as http:
        result = ok(http.post("/workflows/go-pb-inputs", json=receipt))["result"]
        assert result == {
            "order_id": "o-7", "customer": "ann", "lines": 1, "total_cents": 1500,
            "status": "STATUS_PAID", "issued_at": "2026-01-02T03:04:05Z",
            "summary": "receipt o-7 for ann: 1 lines, 1500 cents, STATUS_PAID",
        }  # fmt: skip
        # The schema lets a string through where the message wants an int64: the descriptor
        # set catches it, naming the field, before anything starts.
        bad = {**receipt, "lines": [{"sku": "A", "quantity": 2, "unitCents": "lots"}]}
        refused = problem(http.post("/workflows/go-pb-inputs", json=bad), 422, "validation-error")
        assert [e["field"] for e in refused["errors"]] == ["lines[0].unitCents"]


LANG_IDS = pytest.mark.parametrize("lang", list(LANGS))


@LANG_IDS
def test_a_workflow_with_several_parameters(workers, lang) -> None:
    with workers.http() as http:
        result = ok(http.post(f"/workflows/{lang}-ship", json=["ann", 3, True]))["result"]
        assert result == {"customer": "ann", "count": 3, "express": True,
                          "summary": "3 parcels for ann, express"}  # fmt: skip
        refused = http.post(f"/workflows/{lang}-ship", json={"customer": "ann", "count": 3})
        problem(refused, 422, "validation-error")


@LANG_IDS
def test_an_update_and_a_signal_with_several_parameters(workers, lang) -> None:
    order = {"customer": "ann", "items": [{"sku": "A", "quantity": 2}]}
    with workers.http() as http:
        workflow_id = ok(http.post(f"/workflows/{lang}-orders/async", json=order))["workflow_id"]
        updated = ok(http.post(f"/workflows/{workflow_id}/updates/set_quantity", json=["B", 7]))
        assert {"sku": "B", "quantity": 7} in updated["result"]["items"]
        if lang == "ts":  # note(author, text)
            ok(http.post(f"/workflows/{workflow_id}/signals/note", json=["bob", "hi"]), 202)
            status = ok(http.get(f"/workflows/{workflow_id}/queries/status"))["result"]
            assert status["notes"] == ["bob: hi"]
        ok(http.post(f"/workflows/{workflow_id}/terminate", json={"reason": "done"}))


@pytest.mark.parametrize(
    ("lang", "value"),
    [("go", 2**63 - 1), ("go", -(2**63)), ("java", 2**63 - 1), ("ts", 2**53 - 1),
     ("ts", -(2**53 - 1))],
)  # fmt: skip
def test_integers_each_worker_holds_come_back_exact(workers, lang, value) -> None:
    with workers.http() as http:
        result = ok(http.post(f"/workflows/{lang}-integers", json={"value": value}))["result"]
        assert (result["value"], result["text"]) == (value, str(value))


@pytest.mark.parametrize(
    ("lang", "value", "says"),
    [("go", 2**63, "greater than the maximum"), ("java", -(2**63) - 1, "less than the minimum"),
     ("ts", 2**53, "integers must be within ±(2^53-1)"),
     ("ts", -(2**53), "integers must be within ±(2^53-1)")],
)  # fmt: skip
def test_integers_a_worker_cannot_hold_are_422_naming_the_field(workers, lang, value, says) -> None:
    """A Go int64 failed the workflow with wrapError (a 500), and TypeScript rounded silently:
    now neither reaches the worker."""
    with workers.http() as http:
        response = http.post(f"/workflows/{lang}-integers", json={"value": value})
        [error] = problem(response, 422, "validation-error")["errors"]
        assert error["field"] == "value"
        assert says in error["message"]

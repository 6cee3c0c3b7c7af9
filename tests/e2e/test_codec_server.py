"""One AES-GCM codec in five implementations, shown byte-compatible by real round trips: the
Python module (``examples/codec/python``) against the Go codec server's ``/encode`` and
``/decode`` (Temporal's codec server protocol), and a Python Temporal client with the Python
codec against the Go, TypeScript and Java workers running with the same key.

The gateway itself is not involved: whether it decodes such payloads is its own tests' business.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.client import Client, WorkflowFailureError
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.exceptions import ApplicationError

from gateway_codec_example import aes
from support.procs import Process, eventually, free_port, polled
from support.tools import workers_dir

pytestmark = pytest.mark.e2e

KEY = bytes.fromhex("8f" * 8 + "00112233445566778899aabbccddeeff" + "42" * 8)
TOKEN = "codec-test-token"
UI = "http://localhost:8080"


@dataclass
class CodecServer:
    url: str
    key_file: Path

    def post(self, path: str, payloads: list[Payload], **headers: str) -> httpx.Response:
        body = json_format.MessageToJson(Payloads(payloads=payloads))
        return httpx.post(
            self.url + path,
            content=body,
            headers={
                "Content-Type": "application/json",
                "X-Namespace": "default",
                "Authorization": f"Bearer {TOKEN}",
                **headers,
            },
            timeout=10,
        )


def _payloads(response: httpx.Response) -> list[Payload]:
    assert response.status_code == 200, response.text
    return list(json_format.Parse(response.text, Payloads()).payloads)


def _originals() -> list[Payload]:
    return [
        Payload(metadata={"encoding": b"json/plain"}, data='{"customer":"Zoë 🍏"}'.encode()),
        Payload(
            metadata={"messageType": b"gateway.examples.v1.Receipt", "encoding": b"json/protobuf"},
            data=b'{"orderId":"o-1","totalCents":"1500"}',
        ),
        Payload(metadata={"encoding": b"binary/null"}),
    ]


@pytest.fixture(scope="module")
def key_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("codec") / "key.hex"
    path.write_text(f"\n  {KEY.hex()}  \n")  # the codecs trim surrounding whitespace
    return path


@pytest.fixture(scope="module")
def codec_server(key_file, logs_dir) -> Iterator[CodecServer]:
    token_file = key_file.parent / "token"
    token_file.write_text(TOKEN + "\n")
    port = free_port()
    proc = Process(
        f"codec-server-{port}",
        [workers_dir() / "go" / "codec-server", "--listen", f"127.0.0.1:{port}",
         "--codec-key-file", key_file, "--token-file", token_file, "--cors-origins", UI,
         "--max-body-bytes", "65536"],
        log_dir=logs_dir,
    )  # fmt: skip
    server = CodecServer(f"http://127.0.0.1:{port}", key_file)
    try:
        eventually(
            lambda: proc.alive() and httpx.get(server.url + "/healthz", timeout=1).is_success,
            timeout=30,
        )
        yield server
    finally:
        proc.stop()


async def test_python_encodes_and_go_decodes(codec_server, key_file) -> None:
    codec = aes.AesGcmCodec(aes.load_key_file(key_file))
    sealed = await codec.encode(_originals())
    assert _payloads(codec_server.post("/decode", sealed)) == _originals()


async def test_go_encodes_and_python_decodes_the_same_plaintext(codec_server, key_file) -> None:
    sealed = _payloads(codec_server.post("/encode", _originals()))
    for payload, original in zip(sealed, _originals(), strict=True):
        assert dict(payload.metadata) == {
            "encoding": b"binary/encrypted",
            "encryption-key-id": aes.key_id(KEY).encode(),
        }
        # Byte for byte: Go's deterministic proto.Marshal is Python's deterministic serializer.
        nonce, box = payload.data[:12], payload.data[12:]
        assert AESGCM(KEY).decrypt(nonce, box, None) == original.SerializeToString(
            deterministic=True
        )
    codec = aes.AesGcmCodec(aes.load_key_file(key_file))
    assert await codec.decode(sealed) == _originals()


def test_decode_passes_other_encodings_through(codec_server) -> None:
    assert _payloads(codec_server.post("/decode", _originals())) == _originals()


def test_the_protocol_refusals(codec_server) -> None:
    originals = _originals()
    missing_namespace = codec_server.post("/decode", originals, **{"X-Namespace": ""})
    assert missing_namespace.status_code == 400
    unauthenticated = codec_server.post("/decode", originals, Authorization="Bearer nope")
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["www-authenticate"].startswith("Bearer")
    other_key = [aes.AesGcmCodec(bytes(32)).seal(originals[0])]
    refused = codec_server.post("/decode", other_key)
    assert refused.status_code == 400
    assert "unknown key id" in refused.text
    headers = {"X-Namespace": "default", "Authorization": f"Bearer {TOKEN}"}
    not_json = httpx.post(codec_server.url + "/decode", content=b"[1]", headers=headers)
    assert not_json.status_code == 400
    huge = [Payload(metadata={"encoding": b"binary/plain"}, data=b"x" * 70_000)]
    assert codec_server.post("/encode", huge).status_code == 413
    assert httpx.get(codec_server.url + "/decode").status_code == 405


def test_cors_for_the_temporal_ui(codec_server) -> None:
    asked = {
        "Origin": UI,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-namespace,authorization",
    }
    preflight = httpx.options(codec_server.url + "/decode", headers=asked)
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == UI
    assert "X-Namespace" in preflight.headers["access-control-allow-headers"]
    stranger = httpx.options(codec_server.url + "/decode", headers={**asked, "Origin": "http://x"})
    assert "access-control-allow-origin" not in stranger.headers


@pytest.fixture(scope="module")
def encrypted_workers(temporal_server, key_file, logs_dir) -> Iterator[dict[str, str]]:
    """The Go, TypeScript and Java workers with the codec on, each on its own task queue."""
    built = workers_dir()
    run = uuid.uuid4().hex[:8]
    queues = {lang: f"{lang}-codec-{run}" for lang in ("go", "ts", "java")}
    env = {"TEMPORAL_ADDRESS": temporal_server.address, "CODEC_KEY_FILE": str(key_file)}
    procs = [
        Process(f"go-codec-worker-{run}", [built / "go" / "worker"], log_dir=logs_dir,
                env={**env, "WORKER_TASK_QUEUE": queues["go"]}),
        Process(f"ts-codec-worker-{run}", ["node", built / "typescript" / "lib" / "worker.js"],
                log_dir=logs_dir, env={**env, "WORKER_TASK_QUEUE": queues["ts"]}),
        Process(f"java-codec-worker-{run}", ["java", "-jar", built / "java" / "worker.jar"],
                log_dir=logs_dir, env={**env, "WORKER_TASK_QUEUE": queues["java"]}),
    ]  # fmt: skip
    try:
        for proc, queue in zip(procs, queues.values(), strict=True):
            eventually(
                lambda p=proc, q=queue: p.alive() and polled(temporal_server.address, q),
                timeout=60,
            )
        yield queues
    finally:
        for proc in procs:
            proc.stop()


@pytest.mark.parametrize(("lang", "prefix"), [("go", "Go"), ("ts", "Ts"), ("java", "Java")])
async def test_workers_and_a_python_client_share_the_codec(
    temporal_server, encrypted_workers, key_file, monkeypatch, lang, prefix
) -> None:
    """A Python client with ``make_codec()`` runs the workers' workflows: what it sends, what
    they answer and their failures (message included) are sealed, and each side opens the
    other's payloads."""
    monkeypatch.setenv("CODEC_KEY_FILE", str(key_file))
    converter = DataConverter(
        payload_codec=aes.make_codec(),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )
    client = await Client.connect(temporal_server.address, data_converter=converter)
    plain = await Client.connect(temporal_server.address)
    queue = encrypted_workers[lang]
    run = uuid.uuid4().hex[:8]

    result = await client.execute_workflow(
        f"{prefix}IntegerWorkflow", {"value": 41}, id=f"codec-int-{run}", task_queue=queue
    )
    assert (result["value"], result["next"]) == (41, 42)
    # What Temporal stored is sealed: the client without the codec sees ciphertext only.
    history = await plain.get_workflow_handle(f"codec-int-{run}").fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    completed = history.events[-1].workflow_execution_completed_event_attributes
    for payload in (*started.input.payloads, *completed.result.payloads):
        assert payload.metadata["encoding"] == b"binary/encrypted"
        assert payload.metadata["encryption-key-id"] == aes.key_id(KEY).encode()

    with pytest.raises(WorkflowFailureError) as failed:
        await client.execute_workflow(
            f"{prefix}FailureWorkflow", {"kind": "declined"}, id=f"codec-fail-{run}",
            task_queue=queue,
        )  # fmt: skip
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError)
    assert (cause.type, cause.message) == ("PaymentDeclined", "payment declined")
    assert list(cause.details) == [
        {"reason": "insufficient funds", "amount_cents": 4200},
        "card ending 4242",
    ]
    stored = (await plain.get_workflow_handle(f"codec-fail-{run}").fetch_history()).events[-1]
    assert stored.workflow_execution_failed_event_attributes.failure.message == "Encoded failure"

"""Payload codecs for tests: the example AES-GCM codec (``examples/codec``), in process and as
the Go codec server (``examples/workers/go/cmd/codec-server``, built by ``hack/workers.sh``),
and what Temporal stores, read with the SDK."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
from temporalio.api.common.v1 import Payload
from temporalio.api.history.v1 import History
from temporalio.client import Client
from temporalio.converter import PayloadCodec

from support.procs import ROOT, Process, WorkerProcess, eventually, free_port
from support.tools import workers_dir

AES_IMPORT = "gateway_codec_example.aes:make_codec"
ENCRYPTED = b"binary/encrypted"
KEY = bytes.fromhex("5e" * 8 + "0123456789abcdef0123456789abcdef" + "a7" * 8)
EXAMPLE_PATH = ROOT / "examples" / "codec" / "python"


PADDING_FAILS = False
"""Set by a test: the padding codec then raises, quoting the payload as a careless codec might."""


class PaddingCodec(PayloadCodec):
    """Makes each payload 1000 bytes larger (``binary/padded``): Temporal's size limit applies
    to what it stores, after encoding."""

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        if PADDING_FAILS:
            raise ValueError(f"cannot pad {payloads[0].data!r}")
        return [
            Payload(
                metadata={"encoding": b"binary/padded"}, data=p.SerializeToString() + bytes(1000)
            )
            for p in payloads
        ]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [
            Payload.FromString(p.data[:-1000])
            if p.metadata.get("encoding") == b"binary/padded"
            else p
            for p in payloads
        ]


def make_padding_codec() -> PaddingCodec:
    """``support.codecs:make_padding_codec``, as ``API_CODECS`` names a factory."""
    return PaddingCodec()


def write_key(folder: Path, key: bytes = KEY) -> Path:
    """A key file as the codecs read it: 64 hex characters (whitespace around is trimmed)."""
    path = folder / "codec-key.hex"
    path.write_text(key.hex() + "\n")
    return path


def codec_env(key_file: Path) -> dict[str, str]:
    """What a process needs to load ``AES_IMPORT``: the key, and the example on its path."""
    return {
        "CODEC_KEY_FILE": str(key_file),
        "PYTHONPATH": os.pathsep.join([str(EXAMPLE_PATH), str(ROOT / "tests"), *sys.path]),
    }


def sealed_worker(
    log_dir: Path, *, temporal: str, task_queue: str, key_file: Path, **env: str
) -> WorkerProcess:
    """The sample workflows (:mod:`support.slow_worker`, the real worker service) with the AES
    codec on the worker's own client (``WORKER_CODEC``), and the same codec for webhooks."""
    return WorkerProcess(
        log_dir,
        temporal=temporal,
        module="support.slow_worker",
        env={
            "WORKER_TASK_QUEUE": task_queue,
            "WORKER_CODECS": json.dumps({"aes": {"import": AES_IMPORT}}),
            "WORKER_CODEC": "aes",
            **codec_env(key_file),
            **env,
        },
    )


class GoCodecServer(Process):
    """The example codec server, on a free port (or ``port``, to restart it in place)."""

    def __init__(
        self,
        log_dir: Path,
        key_file: Path,
        *,
        token_file: Path | None = None,
        tls: tuple[Path, Path] | None = None,
        port: int | None = None,
    ) -> None:
        self.port = port or free_port()
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        args: list[Any] = [
            workers_dir() / "go" / "codec-server",
            *("--listen", f"127.0.0.1:{self.port}", "--codec-key-file", key_file),
        ]
        if token_file is not None:
            args += ["--token-file", token_file]
        if tls is not None:
            args += ["--tls-cert", tls[0], "--tls-key", tls[1]]
        super().__init__(f"codec-server-{self.port}", args, log_dir=log_dir)

    def wait_ready(self, verify: Any = True) -> None:
        def up() -> bool:
            assert self.alive(), f"codec server exited:\n{self.log()}"
            return httpx.get(self.url + "/healthz", timeout=1, verify=verify).is_success

        eventually(up, timeout=30)


def codecs_setting(**codecs: Mapping[str, Any]) -> str:
    """``API_CODECS``/``WORKER_CODECS`` as the environment gives them."""
    return json.dumps(codecs)


def payload_encodings(payloads: Any) -> list[bytes]:
    return [p.metadata.get("encoding", b"") for p in payloads]


async def history(client: Client, workflow_id: str) -> History:
    """What Temporal stores for the workflow's latest run, read without any codec."""
    fetched = await client.get_workflow_handle(workflow_id).fetch_history()
    return History(events=fetched.events)


def started_input(stored: History) -> list[Payload]:
    return list(stored.events[0].workflow_execution_started_event_attributes.input.payloads)


def memo_payloads(stored: History) -> dict[str, Payload]:
    memo = stored.events[0].workflow_execution_started_event_attributes.memo
    return dict(memo.fields)

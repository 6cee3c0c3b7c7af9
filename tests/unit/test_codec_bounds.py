"""Payload codecs without Temporal: the named-codec settings, the codec server client's bounds
against a real HTTP server on loopback, and the API's 503 ``codec-unavailable`` before any
Temporal call (nothing listens where Temporal should be).

The server here is :class:`MisbehavingCodecServer`: a codec server that can be made to fail in
the ways the example Go server cannot be made to (an error status, a redirect, silence, a
trickled, huge, compressed or malformed answer, the wrong number of payloads). Answering well,
it is the identity codec.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import structlog
from asgi_lifespan import LifespanManager
from google.protobuf import json_format
from pydantic import ValidationError
from temporalio.api.common.v1 import Payload, Payloads

from gateway_api.app import create_app
from gateway_api.config import ApiSettings
from gateway_core.codecs import (
    MAX_IN_FLIGHT,
    AuthorizationFile,
    CodecConfigError,
    CodecError,
    CodecSettings,
    RemoteCodec,
    answer_limit,
    http_client,
    load_local,
)
from gateway_core.routes import build_table
from gateway_worker.config import WorkerSettings
from support.gateway import dev_settings, route
from support.procs import free_port
from support.tls import Authority

SECRET = "plaintext-marker-51c9"


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class MisbehavingCodecServer:
    """An HTTP/1.1 server on loopback that answers ``/encode`` and ``/decode`` as ``mode``
    says; :attr:`seen` records each request, :attr:`sent` the body bytes it got out."""

    mode: str = "identity"
    seen: list[Seen] = field(default_factory=list)
    sent: int = 0
    server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            line, *lines = head.decode().split("\r\n")
            headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in lines if h)}
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.seen.append(Seen(line.split()[1], headers, body))
            await self.answer(writer, body)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client hung up, as it should when it has had enough
        finally:
            writer.close()

    async def answer(self, writer: asyncio.StreamWriter, body: bytes) -> None:
        mode = self.mode
        if mode == "silent":
            await asyncio.sleep(3600)
        if mode.startswith("slow-"):  # "slow-identity", "slow-status-503": after 0.2 s
            await asyncio.sleep(0.2)
            mode = mode.removeprefix("slow-")
        if mode.startswith("status-"):
            status = int(mode.removeprefix("status-"))
            extra = "Location: http://127.0.0.1:1/elsewhere\r\n" if 300 <= status < 400 else ""
            writer.write(f"HTTP/1.1 {status} X\r\n{extra}Content-Length: 0\r\n\r\n".encode())
            return
        payloads = json_format.Parse(body, Payloads())
        answer = json_format.MessageToJson(payloads, indent=None).encode()
        content_type, coding = "application/json", ""
        if mode == "gzip":
            answer, coding = gzip.compress(answer), "Content-Encoding: gzip\r\n"
        elif mode == "malformed":
            answer = b'{"payloads": [{"metadata": 7}]}'
        elif mode == "not-json":
            answer = b"<html>hello</html>"
        elif mode == "deep":
            answer = b"[" * 100_000 + b"]" * 100_000
        elif mode == "fewer":
            answer = json_format.MessageToJson(Payloads(payloads=payloads.payloads[:-1])).encode()
        if mode in ("huge", "trickle", "huge-undeclared"):
            # Declared, a huge length is refused unread; undeclared, the body runs to the close.
            length = "Content-Length: 1000000000\r\n" if mode == "huge" else ""
            writer.write(f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\n{length}"
                         "Connection: close\r\n\r\n".encode())  # fmt: skip
            chunk = b" " * (1 if mode == "trickle" else 65536)
            for _ in range(15_000):  # up to about 1 GB, or a byte every 10 ms for 150 s
                writer.write(chunk)
                await writer.drain()
                self.sent += len(chunk)
                if mode == "trickle":
                    await asyncio.sleep(0.01)
            return
        writer.write(
            f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\n{coding}"
            f"Content-Length: {len(answer)}\r\n\r\n".encode()
            + answer
        )
        self.sent += len(answer)


@pytest.fixture
async def codec_server() -> AsyncIterator[MisbehavingCodecServer]:
    server = MisbehavingCodecServer()
    server.server = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    try:
        yield server
    finally:
        server.server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.server.wait_closed(), 1)


def payloads(*texts: str) -> list[Payload]:
    return [
        Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(t).encode()) for t in texts
    ]


@contextlib.asynccontextmanager
async def remote(
    url: str, *, timeout: float = 1.0, max_payload_bytes: int = 2 * 1024 * 1024, **extra: Any
) -> AsyncIterator[RemoteCodec]:
    settings = CodecSettings(endpoint=url, timeout_seconds=timeout, **extra)
    async with http_client(settings) as http:
        yield RemoteCodec(
            "vault", settings, http, namespace="orders", max_payload_bytes=max_payload_bytes
        )


# -- settings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({}, "exactly one"),
        ({"import": "a.b:c", "endpoint": "https://codec.example.com"}, "exactly one"),
        ({"import": "not an import path"}, "pattern"),
        ({"endpoint": "ftp://codec.example.com"}, "https"),
        ({"endpoint": "http://codec.example.com"}, "loopback"),
        ({"endpoint": "https://user:pw@codec.example.com"}, "credentials"),
        ({"endpoint": "https://codec.example.com/?key=1"}, "query"),
        ({"import": "a.b:c", "ca_file": "/ca.pem"}, "endpoint"),
        ({"endpoint": "https://codec.example.com", "timeout_seconds": 0}, "greater than"),
        ({"endpoint": "https://codec.example.com", "retries": 3}, "Extra inputs"),
    ],
)
def test_a_codec_setting_says_exactly_what_and_where(given, message) -> None:
    with pytest.raises(ValidationError, match=message):
        CodecSettings.model_validate(given)


def test_loopback_endpoints_may_be_plain_http() -> None:
    for url in ("http://127.0.0.1:8089", "http://localhost:8089/", "http://[::1]:8089"):
        assert CodecSettings(endpoint=url).endpoint == url.rstrip("/")


def test_the_api_and_worker_settings_name_known_codecs(monkeypatch) -> None:
    aes = {"aes": {"import": "gateway_codec_example.aes:make_codec"}}
    with pytest.raises(ValidationError, match="reserved"):
        dev_settings(codecs={"none": aes["aes"]})
    with pytest.raises(ValidationError, match="no codec 'vault' in API_CODECS"):
        dev_settings(codecs=aes, namespace_codecs={"default": "vault"})
    with pytest.raises(ValidationError, match="pattern"):
        dev_settings(codecs={"AES": aes["aes"]})
    monkeypatch.setenv("API_CODECS", json.dumps(aes))
    monkeypatch.setenv("API_NAMESPACE_CODECS", '{"orders": "aes"}')
    monkeypatch.setenv("API_ENVIRONMENT", "development")
    monkeypatch.setenv("API_AUTH_DISABLED", "true")
    settings = ApiSettings()
    assert settings.namespace_codecs == {"orders": "aes"}
    assert settings.codecs["aes"].import_path == "gateway_codec_example.aes:make_codec"
    with pytest.raises(ValidationError, match="WORKER_CODEC: no codec 'vault'"):
        WorkerSettings(task_queue="q", codecs=aes, codec="vault")
    assert WorkerSettings(task_queue="q", codecs=aes, codec="aes").codec == "aes"


def test_a_broken_import_path_stops_the_service_naming_the_codec() -> None:
    with pytest.raises(CodecConfigError, match="vault: cannot import nothere:make"):
        load_local({"vault": CodecSettings.model_validate({"import": "nothere:make"})})
    with pytest.raises(CodecConfigError, match="returned str, not a PayloadCodec"):
        load_local({"vault": CodecSettings.model_validate({"import": "os:getcwd"})})


# -- the codec server client ---------------------------------------------------------------


async def test_the_protocol_as_temporals_codec_servers_speak_it(codec_server, tmp_path) -> None:
    token = tmp_path / "token"
    token.write_text("Bearer first\n")
    async with remote(codec_server.url, authorization_file=token) as codec:
        sent = payloads("a", "b")
        assert await codec.encode(sent) == sent
        assert await codec.decode(sent) == sent
        assert await codec.decode([]) == []  # no call for nothing
        token.write_text("Bearer second")  # a rotated Secret is used at once
        await codec.decode(sent)
    encode, decode, rotated = codec_server.seen
    assert (encode.path, decode.path) == ("/encode", "/decode")
    assert encode.headers["x-namespace"] == "orders"
    assert encode.headers["content-type"] == "application/json"
    assert encode.headers["accept-encoding"] == "identity"
    assert encode.headers["authorization"] == "Bearer first"
    assert rotated.headers["authorization"] == "Bearer second"
    assert json_format.Parse(encode.body, Payloads()).payloads == sent


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("status-500", "HTTP 500"),
        ("status-401", "HTTP 401"),
        ("status-307", "HTTP 307"),  # redirects are not followed
        ("malformed", "an answer that is not proto JSON Payloads"),
        ("not-json", "an answer that is not proto JSON Payloads"),
        ("deep", "an answer that is not proto JSON Payloads"),
        ("gzip", "a 'gzip'-encoded answer"),
        ("fewer", "1 payloads answered for 2"),
    ],
)
async def test_every_wrong_answer_is_a_codec_error(codec_server, mode, reason) -> None:
    codec_server.mode = mode
    async with remote(codec_server.url) as codec:
        with pytest.raises(CodecError) as failed:
            await codec.decode(payloads(SECRET, "b"))
    assert failed.value.reason == reason
    assert SECRET not in str(failed.value)
    assert len(codec_server.seen) == 1  # no retry, no redirect followed


async def test_a_silent_or_trickling_server_is_cut_off_at_the_deadline(codec_server) -> None:
    for mode in ("silent", "trickle"):
        codec_server.mode = mode
        async with remote(codec_server.url, timeout=0.5) as codec:
            began = time.monotonic()
            with pytest.raises(CodecError, match=r"no complete answer within 0\.5s"):
                await codec.encode(payloads("a"))
            assert time.monotonic() - began < 2.0, mode


@pytest.mark.parametrize("mode", ["huge", "huge-undeclared"])
async def test_an_oversized_answer_is_refused_without_reading_it(codec_server, mode) -> None:
    codec_server.mode = mode
    async with remote(codec_server.url, timeout=20, max_payload_bytes=100_000) as codec:
        with pytest.raises(CodecError, match="an answer larger than"):
            await codec.decode(payloads("a", "b"))
    limit = answer_limit(2, 100_000)
    assert limit < 300_000
    await asyncio.sleep(0.2)
    # What the server got out before the client let go: the bound, plus socket buffers.
    assert codec_server.sent < limit + 8 * 1024 * 1024


async def test_concurrent_calls_share_requests(codec_server) -> None:
    """Calls arriving while requests are in flight go together in the next one; each caller
    gets its own payloads back, and a caller that goes away leaves the others theirs."""
    codec_server.mode = "slow-identity"
    async with remote(codec_server.url, timeout=5) as codec:
        calls = [asyncio.create_task(codec.encode(payloads(f"call-{n}"))) for n in range(20)]
        await asyncio.sleep(0.05)
        calls[-1].cancel()
        answers = await asyncio.gather(*calls[:-1])
        assert answers == [payloads(f"call-{n}") for n in range(19)]
        assert len(codec_server.seen) <= MAX_IN_FLIGHT + 1  # 4 at once, then the 15 others

        codec_server.mode, codec_server.seen = "slow-status-503", []
        failing = [asyncio.create_task(codec.decode(payloads(f"call-{n}"))) for n in range(10)]
        errors = await asyncio.gather(*failing, return_exceptions=True)
    assert all(isinstance(e, CodecError) and e.reason == "HTTP 503" for e in errors)
    assert len({id(e) for e in errors}) == 10
    assert len(codec_server.seen) <= MAX_IN_FLIGHT + 1


async def test_nothing_listening_and_an_unusable_token_file(codec_server, tmp_path) -> None:
    async with remote(f"http://127.0.0.1:{free_port()}") as codec:
        with pytest.raises(CodecError, match="could not connect"):
            await codec.encode(payloads("a"))
    async with remote(codec_server.url, authorization_file=tmp_path / "missing") as codec:
        with pytest.raises(CodecError, match=r"authorization file unusable \(FileNotFoundError\)"):
            await codec.encode(payloads("a"))
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(ValueError, match="single line"):
        AuthorizationFile(empty).value()
    assert codec_server.seen == []


async def test_tls_is_verified_against_the_ca_file(tmp_path) -> None:
    """A codec server whose certificate does not chain to the trust store is never sent a
    payload; with its CA as ``ca_file``, it is."""
    authority = Authority(tmp_path / "pki")
    issued = authority.issue("codec", server=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(issued.cert, issued.key)
    server = MisbehavingCodecServer()
    server.server = await asyncio.start_server(server.handle, "127.0.0.1", 0, ssl=context)
    url = server.url.replace("http://", "https://")
    try:
        async with remote(url) as codec:
            with pytest.raises(CodecError, match="could not connect"):
                await codec.encode(payloads(SECRET))
        assert server.seen == []
        async with remote(url, ca_file=authority.cert) as codec:
            assert await codec.encode(payloads("a")) == payloads("a")
        assert len(server.seen) == 1
    finally:
        server.server.close()


# -- the API --------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def offline_api(**settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    routes = [
        route("vaulted", "W", "q", codec="vault"),
        route("typo", "W", "q", codec="vualt"),
        route("padded", "W", "q", codec="padding"),
        route("plain", "W", "q"),
    ]
    app = create_app(
        dev_settings(connect_timeout_seconds=0.5, **settings),
        temporal={"target_host": f"127.0.0.1:{free_port()}"},
        routes=build_table(routes),
    )
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            yield client


def codecs_for(server: MisbehavingCodecServer) -> dict[str, Any]:
    return {
        "vault": {"endpoint": server.url, "timeout_seconds": 1},
        "padding": {"import": "support.codecs:make_padding_codec"},
    }


async def test_a_codec_that_fails_is_503_before_temporal_is_called(codec_server) -> None:
    codec_server.mode = "status-502"
    with structlog.testing.capture_logs() as logs:
        async with offline_api(codecs=codecs_for(codec_server)) as api:
            answer = await api.post("/workflows/vaulted/async", json={"secret": SECRET})
            # The plain route, with Temporal down: the other 503.
            plain = await api.post("/workflows/plain/async", json={"secret": SECRET})
    assert answer.status_code == 503, answer.text
    problem = answer.json()
    assert problem["code"] == "codec-unavailable"
    assert problem["codec"] == "vault"
    assert problem["detail"] == "the payload codec 'vault' could not encode: HTTP 502"
    assert answer.headers["retry-after"] == "5"
    assert problem["workflow_id"].startswith("vaulted-")
    assert plain.json()["code"] == "temporal-unavailable"
    assert len(codec_server.seen) == 1
    assert SECRET not in json.dumps(logs, default=str)
    assert any(e["event"] == "codec unavailable" and e["reason"] == "HTTP 502" for e in logs)


async def test_a_route_naming_an_unknown_codec_is_logged_and_refused(codec_server) -> None:
    with structlog.testing.capture_logs() as logs:
        async with offline_api(codecs=codecs_for(codec_server)) as api:
            answer = await api.post("/workflows/typo/async", json={})
    assert answer.json()["code"] == "codec-unavailable", answer.text
    assert "not configured on this API" in answer.json()["detail"]
    (logged,) = [e for e in logs if e["event"].startswith("route names a payload codec")]
    assert (logged["route"], logged["codec"]) == ("typo", "vualt")
    assert logged["configured"] == ["padding", "vault"]
    assert codec_server.seen == []


async def test_the_size_limit_applies_after_encoding(codec_server) -> None:
    """The padding codec makes each payload 1000 bytes larger: a body far under the blob
    limit in plaintext is over it as Temporal would store it."""
    async with offline_api(codecs=codecs_for(codec_server), temporal_blob_limit_bytes=1500) as api:
        small = await api.post("/workflows/plain/async", json={"s": "x" * 600})
        padded = await api.post("/workflows/padded/async", json={"s": "x" * 600})
    assert small.json()["code"] == "temporal-unavailable"
    problem = padded.json()
    assert problem["code"] == "payload-too-large", problem
    assert problem["size_bytes"] > 1500 > problem["size_bytes"] - 1000


async def test_an_in_process_codec_that_raises_is_503_without_its_message(
    codec_server, monkeypatch
) -> None:
    from support import codecs as support_codecs

    monkeypatch.setattr(support_codecs, "PADDING_FAILS", True)
    with structlog.testing.capture_logs() as logs:
        async with offline_api(codecs=codecs_for(codec_server)) as api:
            answer = await api.post("/workflows/padded/async", json={"secret": SECRET})
    problem = answer.json()
    assert problem["code"] == "codec-unavailable"
    assert (
        problem["detail"]
        == "the payload codec 'padding' could not encode: the codec raised ValueError"
    )
    assert SECRET not in answer.text
    assert SECRET not in json.dumps(logs, default=str)

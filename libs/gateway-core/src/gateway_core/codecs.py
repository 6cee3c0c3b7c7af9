"""Named payload codecs: the settings the API and the worker read (``API_CODECS``,
``WORKER_CODECS``), and the two kinds of codec a name stands for.

A codec (encryption, compression) sits under Temporal's payload converter: what a client
encodes, Temporal stores and workers decode, and the other way round. The gateway needs the
codec its workers' clients use, or it can neither start their workflows with readable inputs
nor read their results. The platform team names codecs in the services' settings; a route only
names one (``spec.codec``), so no route author can make the gateway import a module or call a
URL. Two kinds:

- ``{"import": "module:factory"}``: in process, the ``temporalio.converter.PayloadCodec`` a team
  already uses in its Python clients, made once at start by calling ``factory()``;
- ``{"endpoint": "https://…"}``: a codec server, in Temporal's protocol (``POST <endpoint>/encode``
  and ``/decode``, the proto JSON of ``temporal.api.common.v1.Payloads``, ``X-Namespace``), as the
  Temporal UI and CLI use one (:class:`RemoteCodec`).

A codec server is another party on the network: each call has one deadline for the whole
exchange, the answer is read raw (``Accept-Encoding: identity``) up to a bound set by Temporal's
blob limit, TLS is verified (against ``ca_file`` when given), redirects are not followed and no
proxy is used. Anything else than a well-formed answer with one payload per payload sent is a
:class:`CodecError`, whose ``reason`` never holds payload data: neither what was sent nor what
came back is ever put into an error, a log line or a metric.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import ipaddress
import os
import ssl
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import httpx
from google.protobuf import json_format
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.converter import PayloadCodec

from gateway_core.errors import GatewayError
from gateway_core.routes import CODEC_NAME_PATTERN, NO_CODEC

DEFAULT_BLOB_LIMIT_BYTES = 2 * 1024 * 1024
"""Temporal's ``limit.blobSize.error``: no payload it stores is larger."""
_IMPORT_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*$"
_ANSWER_OVERHEAD_BYTES = 4096
"""Per payload, room for its metadata and the JSON around it, beyond the base64 of its data."""
_LOOPBACK_NAMES = frozenset({"localhost"})
MAX_IN_FLIGHT = 4
"""Requests one codec server has in flight at once, per namespace and operation. Calls that
arrive meanwhile wait, and go together in the next request (:class:`_Batches`): an idle gateway
sends each call at once, a busy one a few larger requests rather than one per call."""
MAX_BATCH_PAYLOADS = 64
"""The most payloads one request gathers from waiting calls."""


class CodecError(GatewayError):
    """A codec could not encode or decode: unreachable, too slow, an error status, an answer
    too large or malformed, an in-process codec that raised. ``reason`` is safe to show (it
    never holds payload data)."""

    def __init__(self, codec: str, operation: str, reason: str) -> None:
        super().__init__(f"codec {codec!r} could not {operation}: {reason}")
        self.codec, self.operation, self.reason = codec, operation, reason


class CodecConfigError(GatewayError):
    """A named codec cannot be made: its module or factory is missing, or the factory failed
    or made no ``PayloadCodec``. The service refuses to start."""


CodecName = Annotated[str, Field(min_length=1, max_length=63, pattern=CODEC_NAME_PATTERN)]


class CodecSettings(BaseModel):
    """One named codec: ``import`` or ``endpoint``, and for an endpoint how to reach it."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    import_path: str | None = Field(default=None, alias="import", pattern=_IMPORT_PATTERN)
    """``module:factory``: ``factory()`` returns the ``PayloadCodec`` (a class works too). The
    module must be installed in the service's image."""
    endpoint: str | None = Field(default=None, max_length=2048)
    """A codec server's base URL: ``https://…``, or ``http://`` to a loopback address only (a
    sidecar in the same pod, where the plaintext never leaves it)."""
    authorization_file: Path | None = None
    """A file whose content (surrounding whitespace trimmed) is the whole ``Authorization``
    header sent to the codec server, e.g. ``Bearer …``: a mounted Secret. Read again when it
    changes, so the token rotates without a restart."""
    ca_file: Path | None = None
    """PEM certificates the codec server's TLS certificate must chain to (a private CA);
    unset: the system's trust store."""
    timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    """One deadline for each whole call (connect, send, the complete answer): five seconds is
    far beyond an encryption's milliseconds and short enough that a caller gets its 503 before
    its own timeout."""

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, endpoint: str | None) -> str | None:
        if endpoint is None:
            return None
        parts = urlsplit(endpoint)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("an absolute https:// URL")
        if parts.username or parts.password or parts.query or parts.fragment:
            raise ValueError("no credentials, query or fragment: credentials go in the file")
        if parts.scheme == "http" and not _loopback(parts.hostname):
            raise ValueError("plain http only to a loopback address (a sidecar); else https://")
        return endpoint.rstrip("/")

    @model_validator(mode="after")
    def _one_kind(self) -> CodecSettings:
        if (self.import_path is None) == (self.endpoint is None):
            raise ValueError('give exactly one of "import" or "endpoint"')
        if self.import_path is not None and (self.authorization_file or self.ca_file):
            raise ValueError('"authorization_file" and "ca_file" are for an "endpoint"')
        return self


def _loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_names(codecs: Mapping[str, CodecSettings], setting: str) -> None:
    """
    Raises:
        ValueError: a codec is named ``none``, which routes use to opt out of codecs.
    """
    if NO_CODEC in codecs:
        raise ValueError(f"{setting}: {NO_CODEC!r} is reserved (a route's codec: none is no codec)")


class AuthorizationFile:
    """The ``Authorization`` value in a file, read again when the file changes (a Secret the
    kubelet updates by swapping a symlink changes its inode and times)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int, int] | None = None
        self._value = ""

    def value(self) -> str:
        """
        Raises:
            OSError: the file cannot be read.
            ValueError: it is empty, or not one line of text.
        """
        stat = os.stat(self.path)
        seen = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if seen != self._seen:
            value = self.path.read_text().strip()
            if not value or "\n" in value or "\r" in value:
                raise ValueError("not a single line of text")
            self._value, self._seen = value, seen
        return self._value


def answer_limit(count: int, max_payload_bytes: int) -> int:
    """The most bytes a codec server may answer for ``count`` payloads: each as large as
    Temporal stores, in base64 (4/3), with room for its metadata."""
    return count * (max_payload_bytes * 4 // 3 + _ANSWER_OVERHEAD_BYTES) + _ANSWER_OVERHEAD_BYTES


def http_client(settings: CodecSettings) -> httpx.AsyncClient:
    """The HTTP client of one codec server: its own, since a ``ca_file`` is per client. No
    proxy from the environment, no redirects, TLS verified."""
    verify: ssl.SSLContext | bool = True
    if settings.ca_file is not None:
        verify = ssl.create_default_context(cafile=str(settings.ca_file))
    return httpx.AsyncClient(
        verify=verify,
        trust_env=False,
        follow_redirects=False,
        timeout=settings.timeout_seconds,
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
    )


@dataclass(eq=False)
class _Waiting:
    payloads: Sequence[Payload]
    answer: asyncio.Future[list[Payload]]


class _Batches:
    """One operation's calls to a codec server: at most :data:`MAX_IN_FLIGHT` requests at once;
    calls waiting for a free one are sent together, each getting its own slice of the answer
    (or the request's error). A call waits at most for the requests ahead of it, each bounded
    by the codec's timeout."""

    def __init__(self, send: Callable[[list[Payload]], Awaitable[list[Payload]]]) -> None:
        self._send = send
        self._queue: list[_Waiting] = []
        self._in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def call(self, payloads: Sequence[Payload]) -> list[Payload]:
        waiting = _Waiting(payloads, asyncio.get_running_loop().create_future())
        self._queue.append(waiting)
        if self._in_flight < MAX_IN_FLIGHT:
            self._in_flight += 1
            # Its own task: a caller that goes away (a client disconnects) cancels only its
            # own wait, never the request the others share.
            task = asyncio.create_task(self._drain())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await waiting.answer

    async def _drain(self) -> None:
        try:
            while self._queue:
                await self._one(self._take())
        finally:
            self._in_flight -= 1

    def _take(self) -> list[_Waiting]:
        batch: list[_Waiting] = []
        count = 0
        while self._queue and (
            not batch or count + len(self._queue[0].payloads) <= MAX_BATCH_PAYLOADS
        ):
            waiting = self._queue.pop(0)
            if not waiting.answer.done():  # done: its caller gave up
                batch.append(waiting)
                count += len(waiting.payloads)
        return batch

    async def _one(self, batch: list[_Waiting]) -> None:
        if not batch:
            return
        try:
            answered = await self._send([p for w in batch for p in w.payloads])
        except BaseException as exc:
            error = exc if isinstance(exc, CodecError) else None
            for waiting in batch:
                if not waiting.answer.done():
                    # One exception object each: they are raised in several tasks.
                    waiting.answer.set_exception(
                        CodecError(error.codec, error.operation, error.reason)
                        if error is not None
                        else CodecError("?", "call", f"the request failed ({type(exc).__name__})")
                    )
            if not isinstance(exc, Exception):
                raise
            return
        at = 0
        for waiting in batch:
            count = len(waiting.payloads)
            if not waiting.answer.done():
                waiting.answer.set_result(answered[at : at + count])
            at += count


class RemoteCodec(PayloadCodec):
    """A codec server, for one Temporal namespace (sent as ``X-Namespace``).

    Raises :class:`CodecError` from :meth:`encode` and :meth:`decode` for anything but a
    well-formed answer with one payload per payload sent, within ``timeout_seconds`` per
    request. Concurrent calls share requests (:class:`_Batches`).
    """

    def __init__(
        self,
        name: str,
        settings: CodecSettings,
        http: httpx.AsyncClient,
        *,
        namespace: str,
        max_payload_bytes: int = DEFAULT_BLOB_LIMIT_BYTES,
        authorization: AuthorizationFile | None = None,
    ) -> None:
        assert settings.endpoint is not None
        self.name, self.namespace = name, namespace
        self._endpoint = settings.endpoint
        self._timeout = settings.timeout_seconds
        self._http = http
        self._max_payload_bytes = max_payload_bytes
        if authorization is None and settings.authorization_file is not None:
            authorization = AuthorizationFile(settings.authorization_file)
        self._authorization = authorization
        self._settings = settings
        self._batches = {
            operation: _Batches(functools.partial(self._call, operation))
            for operation in ("encode", "decode")
        }

    def for_namespace(self, namespace: str) -> RemoteCodec:
        """The same codec server (client, token) for another namespace."""
        return RemoteCodec(
            self.name, self._settings, self._http, namespace=namespace,
            max_payload_bytes=self._max_payload_bytes, authorization=self._authorization,
        )  # fmt: skip

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return await self._batches["encode"].call(payloads) if payloads else []

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return await self._batches["decode"].call(payloads) if payloads else []

    def _headers(self, operation: str) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Accept-Encoding": "identity",
            "X-Namespace": self.namespace,
        }
        if self._authorization is not None:
            try:
                headers["Authorization"] = self._authorization.value()
            except (OSError, ValueError) as exc:
                # The file's path is the platform team's; its content is never shown.
                raise CodecError(
                    self.name, operation, f"authorization file unusable ({type(exc).__name__})"
                ) from None
        return headers

    async def _call(self, operation: str, payloads: Sequence[Payload]) -> list[Payload]:
        if not payloads:
            return []
        body = json_format.MessageToJson(Payloads(payloads=payloads), indent=None).encode()
        headers = self._headers(operation)
        limit = answer_limit(len(payloads), self._max_payload_bytes)
        try:
            async with (
                asyncio.timeout(self._timeout),
                self._http.stream(
                    "POST", f"{self._endpoint}/{operation}", content=body, headers=headers
                ) as response,
            ):
                status = response.status_code
                if not 200 <= status < 300:
                    raise CodecError(self.name, operation, f"HTTP {status}")
                coding = response.headers.get("content-encoding", "identity").lower()
                if coding != "identity":
                    raise CodecError(self.name, operation, f"a {coding!r}-encoded answer")
                declared = response.headers.get("content-length", "")
                too_long = declared.isdigit() and int(declared) > limit
                raw = None if too_long else await _read_at_most(response, limit)
        except TimeoutError:
            raise CodecError(
                self.name, operation, f"no complete answer within {self._timeout:g}s"
            ) from None
        except httpx.HTTPError as exc:
            raise CodecError(self.name, operation, _transport_reason(exc)) from None
        if raw is None:
            raise CodecError(self.name, operation, f"an answer larger than {limit} bytes")
        return self._parse(operation, raw, len(payloads))

    def _parse(self, operation: str, raw: bytes, count: int) -> list[Payload]:
        answer = Payloads()
        try:
            json_format.Parse(raw, answer, ignore_unknown_fields=True)
        except Exception:  # ParseError, a bad encoding, JSON nested past the recursion limit
            reason = "an answer that is not proto JSON Payloads"
            raise CodecError(self.name, operation, reason) from None
        if len(answer.payloads) != count:
            raise CodecError(
                self.name, operation, f"{len(answer.payloads)} payloads answered for {count}"
            )
        return list(answer.payloads)


def _transport_reason(exc: httpx.HTTPError) -> str:
    """Why the exchange failed, from the exception's type: its text may quote the URL."""
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.ConnectError):
        return "could not connect"
    return f"transport error ({type(exc).__name__})"


async def _read_at_most(response: httpx.Response, limit: int) -> bytes | None:
    """The body as sent, or None once it passes ``limit`` bytes (the rest is never read)."""
    body = bytearray()
    async for chunk in response.aiter_raw():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


def load_factory(import_path: str) -> PayloadCodec:
    """Call ``module:factory`` and check it made a codec.

    Raises:
        CodecConfigError: the module or the name is missing, the call failed, or it returned
            no ``PayloadCodec``.
    """
    module_name, _, attribute = import_path.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise CodecConfigError(f"cannot import {import_path}: {exc}") from None
    try:
        codec = factory()
    except Exception as exc:  # the team's code: whatever it raises means the same here
        raise CodecConfigError(f"{import_path}() failed: {type(exc).__name__}: {exc}") from None
    if not isinstance(codec, PayloadCodec):
        made = type(codec).__name__
        raise CodecConfigError(f"{import_path}() returned {made}, not a PayloadCodec")
    return codec


def load_local(settings: Mapping[str, CodecSettings]) -> dict[str, PayloadCodec]:
    """The in-process codecs of ``settings``, made (services also call this before they
    start, to refuse a broken one in one line).

    Raises:
        CodecConfigError: one cannot be made; the message names it.
    """
    made: dict[str, PayloadCodec] = {}
    for name, one in settings.items():
        if one.import_path is not None:
            try:
                made[name] = load_factory(one.import_path)
            except CodecConfigError as exc:
                raise CodecConfigError(f"{name}: {exc}") from None
    return made


@dataclass(frozen=True, slots=True)
class _Remote:
    codec: RemoteCodec
    http: httpx.AsyncClient


class CodecSet:
    """The named codecs of one process, made once from its settings; :meth:`codec` gives a
    name's codec for a namespace (the same object for every call).

    In-process codecs are made (their factories called) by the constructor, so a broken one
    stops the service at start; a codec server is not called until a payload needs it.
    """

    def __init__(
        self,
        settings: Mapping[str, CodecSettings],
        *,
        max_payload_bytes: int = DEFAULT_BLOB_LIMIT_BYTES,
    ) -> None:
        """
        Raises:
            CodecConfigError: an in-process codec cannot be made.
        """
        self.settings = dict(settings)
        self._local = load_local(self.settings)
        self._remote: dict[str, _Remote] = {}
        self._views: dict[tuple[str, str], PayloadCodec] = {}
        for name, one in self.settings.items():
            if one.endpoint is not None:
                http = http_client(one)
                codec = RemoteCodec(
                    name, one, http, namespace="", max_payload_bytes=max_payload_bytes
                )
                self._remote[name] = _Remote(codec, http)

    def __contains__(self, name: object) -> bool:
        return name in self.settings

    def names(self) -> list[str]:
        return sorted(self.settings)

    def codec(self, name: str, namespace: str) -> PayloadCodec:
        """
        Raises:
            KeyError: no codec has this name.
        """
        key = (name, namespace)
        found = self._views.get(key)
        if found is None:
            if name in self._local:
                found = self._local[name]
            else:
                found = self._remote[name].codec.for_namespace(namespace)
            self._views[key] = found
        return found

    async def aclose(self) -> None:
        """Close the codec servers' connections."""
        for remote in self._remote.values():
            await remote.http.aclose()


def describe(settings: Mapping[str, CodecSettings]) -> dict[str, Any]:
    """The codecs for a log line: kinds and hosts, never files' contents."""
    return {
        name: one.import_path or urlsplit(one.endpoint or "").netloc
        for name, one in sorted(settings.items())
    }

"""A relay in front of the Temporal dev server that sees every gRPC call going through it.

:class:`GrpcRelay` listens on a free port and relays the bytes to the dev server's port,
unchanged; it decodes the HPACK header blocks the client sends (the hyper project's ``hpack``),
so a test can read each call's ``:path`` (the method) and metadata. Counting calls this way
shows what reached Temporal whatever code path made them, with nothing patched in the client:
an API given the relay's address as its Temporal speaks real gRPC through it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from dataclasses import dataclass, field

import hpack

from support.procs import free_port

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
HEADERS, CONTINUATION = 0x1, 0x9
END_HEADERS, PADDED, PRIORITY = 0x4, 0x8, 0x20
WORKFLOW_SERVICE = "/temporal.api.workflowservice.v1.WorkflowService/"


@dataclass
class GrpcRelay:
    """A free port relayed to ``upstream`` (``host:port``), every request header recorded."""

    upstream: str
    port: int = field(default_factory=free_port)
    headers: list[dict[str, str]] = field(default_factory=list)
    """The header block of every request the clients sent, decoded."""

    def __post_init__(self) -> None:
        self.address = f"127.0.0.1:{self.port}"
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def workflow_calls(self) -> list[str]:
        """The WorkflowService methods called so far, in order (health checks and the like
        left out)."""
        paths = [h.get(":path", "") for h in list(self.headers)]
        return [p.removeprefix(WORKFLOW_SERVICE) for p in paths if p.startswith(WORKFLOW_SERVICE)]

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", self.port)
        )
        self._ready.set()
        self._loop.run_forever()

    def stop(self) -> None:
        async def close() -> None:
            self._server.close()
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in others:  # relays of connections still open
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _accept(self, writer: asyncio.StreamWriter) -> bool:
        """Whether to relay this connection (a subclass may do a handshake first)."""
        return True

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if not await self._accept(writer):
                return
            host, port = self.upstream.rsplit(":", 1)
            try:
                up_reader, up_writer = await asyncio.open_connection(host, int(port))
            except OSError:
                return
            decoder = _HeaderReader(self.headers)
            await asyncio.gather(
                _pipe(reader, up_writer, decoder.feed), _pipe(up_reader, writer, None),
                return_exceptions=True,
            )  # fmt: skip
        except asyncio.CancelledError:
            pass  # stop() ends it; raised, Python 3.11's start_server would log it as an error
        finally:
            writer.transport.abort()  # closed now, whatever state (TLS included) it is in


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, tap) -> None:  # type: ignore[no-untyped-def]
    try:
        while data := await reader.read(65536):
            if tap is not None:
                tap(data)
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError, asyncio.IncompleteReadError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


class _HeaderReader:
    """Splits the client's HTTP/2 byte stream into frames and decodes its header blocks."""

    def __init__(self, out: list[dict[str, str]]) -> None:
        self._out = out
        self._buffer = b""
        self._preface_seen = False
        self._decoder = hpack.Decoder()
        self._block = b""

    def feed(self, data: bytes) -> None:
        self._buffer += data
        if not self._preface_seen:
            if len(self._buffer) < len(PREFACE):
                return
            self._buffer = self._buffer[len(PREFACE) :]
            self._preface_seen = True
        while len(self._buffer) >= 9:
            length = int.from_bytes(self._buffer[:3], "big")
            if len(self._buffer) < 9 + length:
                return
            kind, flags = self._buffer[3], self._buffer[4]
            payload = self._buffer[9 : 9 + length]
            self._buffer = self._buffer[9 + length :]
            if kind == HEADERS:
                pad = payload[0] if flags & PADDED else 0
                start = (1 if flags & PADDED else 0) + (5 if flags & PRIORITY else 0)
                self._block = payload[start : len(payload) - pad]
            elif kind == CONTINUATION:
                self._block += payload
            else:
                continue
            if flags & END_HEADERS:
                decoded = self._decoder.decode(self._block)
                self._out.append({str(k): str(v) for k, v in decoded})
                self._block = b""

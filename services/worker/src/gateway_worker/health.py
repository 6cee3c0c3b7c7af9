"""The worker's probes: ``/livez`` and ``/readyz`` on ``WORKER_HEALTH_PORT``.

The SDK's metrics endpoint is served by its Rust core, so it keeps answering when the Python
event loop that runs activities is stuck; these are answered by that event loop itself.

- ``/livez``: 200 while the event loop serves requests, also while Temporal is unreachable
  (restarting the pod would not bring Temporal back).
- ``/readyz``: 200 while the worker polls and Temporal answers a health check, else 503.

The server is the standard library's: two fixed paths need no web framework in the image.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from http import HTTPStatus

import structlog
from temporalio.client import Client
from temporalio.worker import Worker

log = structlog.get_logger(__name__)

_MAX_REQUEST_LINE = 1024


class Health:
    """What the probes report; the worker's ``run`` sets ``client`` and ``worker``."""

    def __init__(self, check_timeout_seconds: float = 2.0) -> None:
        self.client: Client | None = None
        self.worker: Worker | None = None
        self._timeout = timedelta(seconds=check_timeout_seconds)

    async def ready(self) -> bool:
        if self.client is None or self.worker is None or not self.worker.is_running:
            return False
        try:
            return await self.client.service_client.check_health(timeout=self._timeout)
        except Exception:  # unreachable, timed out, refused: not ready, whatever the cause
            return False

    async def answer(self, path: str) -> HTTPStatus:
        if path == "/livez":
            return HTTPStatus.OK
        if path == "/readyz":
            return HTTPStatus.OK if await self.ready() else HTTPStatus.SERVICE_UNAVAILABLE
        return HTTPStatus.NOT_FOUND

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), 5)
            parts = line[:_MAX_REQUEST_LINE].decode("latin-1").split()
            path = parts[1] if len(parts) >= 2 and parts[0] in ("GET", "HEAD") else ""
            status = await self.answer(path) if path else HTTPStatus.BAD_REQUEST
            body = f"{status.phrase}\n".encode()
            writer.write(
                f"HTTP/1.1 {status.value} {status.phrase}\r\nContent-Type: text/plain\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + (body if parts[:1] != ["HEAD"] else b"")
            )
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def serve(self, host: str, port: int) -> asyncio.Server:
        server = await asyncio.start_server(self._serve_one, host, port)
        log.info("health endpoint listening", host=host, port=port)
        return server

"""End-to-end fixtures: the real worker and API processes on the session's Temporal server."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.procs import ApiProcess, TemporalDevServer, WorkerProcess

pytestmark = pytest.mark.e2e


@dataclass
class Stack:
    temporal: TemporalDevServer
    worker: WorkerProcess
    api: ApiProcess

    @property
    def url(self) -> str:
        return self.api.url


@pytest.fixture(scope="session")
def stack(temporal_server: TemporalDevServer, logs_dir: Path) -> Iterator[Stack]:
    """``python -m gateway_worker`` and ``python -m gateway_api`` with their defaults (the
    shipped routes, the shopping task queue), as ``make run`` starts them."""
    worker = WorkerProcess(logs_dir, temporal=temporal_server.address)
    api = ApiProcess(logs_dir, temporal=temporal_server.address)
    try:
        api.wait_ready()
        yield Stack(temporal_server, worker, api)
    finally:
        api.stop()
        worker.stop()

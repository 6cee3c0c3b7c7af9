"""Fixtures shared by every suite. Servers are real, on free ports, stopped by pid."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.procs import EXTRA_NAMESPACE, TemporalDevServer


@pytest.fixture(scope="session")
def logs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="session")
def temporal_server(logs_dir: Path) -> Iterator[TemporalDevServer]:
    """One real Temporal dev server for the session; tests isolate by task queue."""
    server = TemporalDevServer(logs_dir, namespaces=[EXTRA_NAMESPACE])
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()

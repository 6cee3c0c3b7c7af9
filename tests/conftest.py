"""Fixtures shared by every suite. Servers are real, on free ports, stopped by pid."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.procs import EXTRA_NAMESPACE, TemporalDevServer


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under pytest-xdist (``make test`` runs two workers), the end-to-end suite runs on one
    worker, in its order, and every other suite on the other, beside it: each worker starts the
    servers its own tests need, and the two never share a port (``free_port``). (xdist's
    ``loadgroup`` cannot say this under pytest 9: the group it appends to a test's id is lost.)"""
    from xdist.scheduler import LoadScopeScheduling

    class BySuite(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "e2e" if nodeid.startswith("tests/e2e/") else "others"

    return BySuite(config, log)


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

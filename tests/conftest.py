"""Fixtures shared by every suite. Servers are real, on free ports, stopped by pid."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.procs import EXTRA_NAMESPACE, TemporalDevServer


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist with ``--dist loadgroup`` (``make test``), the end-to-end suite runs
    on one worker, in its order, and every other suite on another, beside it: each worker
    starts the servers its own tests need, and the two never share a port (``free_port``)."""
    for item in items:
        suite = "e2e" if item.path.is_relative_to(_E2E) else "others"
        item.add_marker(pytest.mark.xdist_group(suite))


_E2E = Path(__file__).parent / "e2e"


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

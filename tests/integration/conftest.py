"""Integration fixtures: a real Temporal dev server (session-wide), one task queue per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.worker import Worker

from gateway_worker.config import WorkerSettings
from gateway_worker.worker import build_worker
from gateway_workflows.registry import WORKFLOWS, build_activities
from support.grpc_relay import GrpcRelay
from support.procs import EXTRA_NAMESPACE, TemporalDevServer
from support.sample_workflows import TEST_ACTIVITIES, TEST_WORKFLOWS

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(temporal_server: TemporalDevServer) -> Client:
    return await Client.connect(temporal_server.address)


@pytest.fixture
def task_queue() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


def _worker(client: Client, task_queue: str) -> Worker:
    return build_worker(
        client,
        WorkerSettings(task_queue=task_queue, graceful_shutdown_seconds=1),
        [*WORKFLOWS, *TEST_WORKFLOWS],
        [*build_activities(), *TEST_ACTIVITIES],
    )


@pytest.fixture
async def worker(client: Client, task_queue: str) -> AsyncIterator[None]:
    """The real worker (built as the service builds it, sandbox included) plus test workflows."""
    async with _worker(client, task_queue):
        yield


@pytest.fixture
async def extra_worker(temporal_server: TemporalDevServer, task_queue: str) -> AsyncIterator[None]:
    """The same worker, on the same task queue name, in the session's second namespace."""
    client = await Client.connect(temporal_server.address, namespace=EXTRA_NAMESPACE)
    async with _worker(client, task_queue):
        yield


@pytest.fixture
def relay(temporal_server: TemporalDevServer) -> Iterator[GrpcRelay]:
    """A way to the session's Temporal that records every gRPC call made through it: give an
    API its ``address`` to count what that API asked Temporal (``workflow_calls()``)."""
    relay = GrpcRelay(temporal_server.address)
    yield relay
    relay.stop()


@pytest.fixture
def keys_file(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """The test module's ``KEYS`` (a :class:`support.gateway.ApiKeys`) as an API key file."""
    keys = request.module.KEYS
    path: Path = keys.write(tmp_path / "keys.yaml")
    return path

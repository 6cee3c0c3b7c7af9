"""Integration fixtures: a real Temporal dev server (session-wide), one task queue per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from temporalio.client import Client

from gateway_worker.config import WorkerSettings
from gateway_worker.worker import build_worker
from gateway_workflows.registry import WORKFLOWS, build_activities
from support.procs import TemporalDevServer
from support.sample_workflows import TEST_ACTIVITIES, TEST_WORKFLOWS

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(temporal_server: TemporalDevServer) -> Client:
    return await Client.connect(temporal_server.address)


@pytest.fixture
def task_queue() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def worker(client: Client, task_queue: str) -> AsyncIterator[None]:
    """The real worker (built as the service builds it, sandbox included) plus test workflows."""
    worker = build_worker(
        client,
        WorkerSettings(task_queue=task_queue, graceful_shutdown_seconds=1),
        [*WORKFLOWS, *TEST_WORKFLOWS],
        [*build_activities(), *TEST_ACTIVITIES],
    )
    async with worker:
        yield

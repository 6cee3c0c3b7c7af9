"""Fixtures of the workflow tests: Temporal's Java time-skipping test server (built once from
Maven Central by ``hack/test-server.sh``), one per test module, and one task queue per test.

The server keeps one clock for everything on it and skips it forward whenever a test waits for
a workflow's result and no task is in hand, or on ``env.sleep``: a week of timers passes in a
second. Tests in a module share it one after another (never concurrently), each with its own
queue, and leave no workflow running.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from support.tools import test_server_dir


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    launcher = test_server_dir() / "temporal-test-server"
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(launcher),
        # A JVM starting on a busy two-core machine: the SDK's 5 s default is too tight.
        test_server_startup_timeout=timedelta(seconds=60),
    ) as started:
        yield started


@pytest.fixture
def task_queue() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"

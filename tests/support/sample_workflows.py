"""Workflows that exist only for tests: one that fails, one that takes a while.

Sandbox-safe like the real ones (imports only temporalio and dataclasses).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError


@dataclass
class SlowInput:
    seconds: float


@activity.defn
async def slow_activity(seconds: float) -> str:
    """Sleeps, so a test can act (SIGTERM, wait limits) while it runs."""
    await asyncio.sleep(seconds)
    return f"slept {seconds}s on attempt {activity.info().attempt}"


@workflow.defn
class SlowWorkflow:
    @workflow.run
    async def run(self, params: SlowInput) -> str:
        return await workflow.execute_activity(
            slow_activity,
            params.seconds,
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=RetryPolicy(maximum_attempts=3),
        )


@workflow.defn
class FailingWorkflow:
    @workflow.run
    async def run(self, _params: dict[str, object]) -> str:
        raise ApplicationError("the shop is out of stock", type="OutOfStock", non_retryable=True)


TEST_WORKFLOWS = (SlowWorkflow, FailingWorkflow)
TEST_ACTIVITIES = (slow_activity,)

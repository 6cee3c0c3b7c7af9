"""Workflows that exist only for tests: one that fails, one that takes a while, one whose
activity fails once before it succeeds, one with a bug (its workflow task fails until it is
terminated), so the worker's failure metrics have something real to count, and one that waits
for a signal, so a test decides when it closes.

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


@activity.defn
async def flaky_activity(label: str) -> str:
    """Fails on its first attempt, as a call to a briefly unavailable service does."""
    if activity.info().attempt == 1:
        raise ApplicationError("the shop did not answer", type="ShopUnavailable")
    return f"{label} on attempt {activity.info().attempt}"


@workflow.defn
class FlakyWorkflow:
    @workflow.run
    async def run(self, params: dict[str, str]) -> str:
        return await workflow.execute_activity(
            flaky_activity,
            params.get("label", "flaky"),
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=100)),
        )


@workflow.defn
class BuggyWorkflow:
    @workflow.run
    async def run(self, _params: dict[str, object]) -> str:
        # Not an ApplicationError: Temporal treats this as a bug in the workflow code and fails
        # the workflow task (retrying it) rather than the workflow.
        raise RuntimeError("a bug in the workflow code")


@workflow.defn
class BriefWorkflow:
    """Like SlowWorkflow, with a short activity timeout: an activity lost with a killed worker
    is retried within seconds, which the fault tests wait for."""

    @workflow.run
    async def run(self, params: SlowInput) -> str:
        return await workflow.execute_activity(
            slow_activity,
            params.seconds,
            start_to_close_timeout=timedelta(seconds=3),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=200)),
        )


@workflow.defn
class GateWorkflow:
    """Runs until it is sent ``finish``, then returns what the signal carried."""

    def __init__(self) -> None:
        self._finish: str | None = None

    @workflow.run
    async def run(self, _params: dict[str, object]) -> str:
        await workflow.wait_condition(lambda: self._finish is not None)
        return f"finished: {self._finish}"

    @workflow.signal
    def finish(self, note: str) -> None:
        self._finish = note


TEST_WORKFLOWS = (
    SlowWorkflow, FailingWorkflow, FlakyWorkflow, BuggyWorkflow, BriefWorkflow, GateWorkflow,
)  # fmt: skip
TEST_ACTIVITIES = (slow_activity, flaky_activity)

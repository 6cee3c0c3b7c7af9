"""Workflows that exist only for tests: one that fails, one that takes a while, one whose
activity fails once before it succeeds, and one with a bug (its workflow task fails until it is
terminated), so the worker's failure metrics have something real to count; one with every kind
of message handler and cancellation cleanup, for the by-id endpoints, and one whose activity
keeps failing, so a description has a pending activity with attempts and a last failure; one that
waits for a signal, so a test decides when it closes; and one with a short activity timeout, for
the fault tests.

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
async def out_of_stock_activity(sku: str) -> str:
    """Fails for good, with details, as a shop's "no such stock" would."""
    raise ApplicationError(
        f"out of stock: {sku}", {"sku": sku}, type="OutOfStock", non_retryable=True
    )


@workflow.defn
class ChargeWorkflow:
    """Lets its activity's failure propagate, as most workflows do (Go's ``return nil, err``):
    the workflow's failure is an ActivityError whose cause is the activity's OutOfStock."""

    @workflow.run
    async def run(self, params: dict[str, str]) -> str:
        return await workflow.execute_activity(
            out_of_stock_activity,
            params.get("sku", "sku-1"),
            start_to_close_timeout=timedelta(seconds=10),
        )


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


@dataclass
class LifecycleInput:
    label: str = "lifecycle"


@dataclass
class Note:
    text: str


@dataclass
class NoteIndex:
    index: int


@dataclass
class Limit:
    value: int


MAX_LIMIT = 100
"""The update validator's bound; the route's schema allows more, so only the workflow refuses."""


@activity.defn
async def record_cleanup(label: str) -> str:
    """What a canceled workflow runs before it closes (a release of held resources)."""
    return f"cleaned up {label}"


@workflow.defn
class LifecycleWorkflow:
    """Runs until signaled ``finish`` (or canceled), answering every kind of message:

    - signals ``add_note`` (an argument), ``finish`` and ``release`` (none);
    - queries ``state`` (none) and ``note`` (an index);
    - updates ``set_limit`` (a validator refuses values above :data:`MAX_LIMIT`; it counts its
      runs, so a test can tell a deduplicated retry from a second run), ``explode`` (the handler
      fails) and ``wait_for_release`` (blocks until signaled ``release``: the 202 path).

    Canceled, it runs a cleanup activity and then re-raises, so it closes CANCELED.
    """

    def __init__(self) -> None:
        self.notes: list[str] = []
        self.limit = 0
        self.set_limit_runs = 0
        self.finished = False
        self.released = False
        self.cleaned_up = False

    @workflow.run
    async def run(self, params: LifecycleInput) -> dict[str, object]:
        try:
            await workflow.wait_condition(lambda: self.finished)
        except asyncio.CancelledError:
            await workflow.execute_activity(
                record_cleanup,
                params.label,
                start_to_close_timeout=timedelta(seconds=10),
                retry_policy=RetryPolicy(maximum_attempts=3),
            )
            self.cleaned_up = True
            raise
        await workflow.wait_condition(workflow.all_handlers_finished)
        return {"label": params.label, "notes": self.notes, "limit": self.limit}

    @workflow.signal
    def add_note(self, note: Note) -> None:
        self.notes.append(note.text)

    @workflow.signal
    def finish(self) -> None:
        self.finished = True

    @workflow.signal
    def release(self) -> None:
        self.released = True

    @workflow.query
    def state(self) -> dict[str, object]:
        return {
            "notes": self.notes,
            "limit": self.limit,
            "set_limit_runs": self.set_limit_runs,
            "released": self.released,
            "cleaned_up": self.cleaned_up,
        }

    @workflow.query
    def note(self, which: NoteIndex) -> str:
        return self.notes[which.index]

    @workflow.update
    def set_limit(self, limit: Limit) -> int:
        """The previous limit."""
        self.set_limit_runs += 1
        previous, self.limit = self.limit, limit.value
        return previous

    @set_limit.validator
    def _check_limit(self, limit: Limit) -> None:
        if limit.value > MAX_LIMIT:
            raise ApplicationError(
                f"limit {limit.value} is above the maximum of {MAX_LIMIT}", type="LimitTooHigh"
            )

    @workflow.update
    async def explode(self) -> None:
        raise ApplicationError("the handler failed on purpose", type="Exploded")

    @workflow.update
    async def wait_for_release(self) -> str:
        await workflow.wait_condition(lambda: self.released)
        return "released"


@activity.defn
async def failing_activity(label: str) -> str:
    """Fails on every attempt, as a call to a service that stays down does."""
    raise ApplicationError(f"the warehouse is closed ({label})", type="WarehouseClosed")


@workflow.defn
class RetryingWorkflow:
    """Retries its activity until terminated: its description has a pending activity."""

    @workflow.run
    async def run(self, params: dict[str, str]) -> str:
        return await workflow.execute_activity(
            failing_activity,
            params.get("label", "retrying"),
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(
                initial_interval=timedelta(milliseconds=200), backoff_coefficient=1.0
            ),
        )


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
    SlowWorkflow, FailingWorkflow, FlakyWorkflow, BuggyWorkflow, LifecycleWorkflow,
    RetryingWorkflow, BriefWorkflow, GateWorkflow, ChargeWorkflow,
)  # fmt: skip
TEST_ACTIVITIES = (
    slow_activity, flaky_activity, record_cleanup, failing_activity, out_of_stock_activity,
)  # fmt: skip

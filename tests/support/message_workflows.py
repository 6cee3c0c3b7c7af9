"""A test workflow that takes every kind of message: a tally a caller adds to (signal), reads
(query) and sets (update) until it is told to finish (a signal without an argument).

Sandbox-safe like the real workflows (imports only temporalio and dataclasses). The route that
exposes it is ``support/routes/tally.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass

from temporalio import workflow
from temporalio.exceptions import ApplicationError


@dataclass
class TallyInput:
    start: int
    open: bool = True
    """False: return ``start`` at once, so a synchronous start gets its result."""


@dataclass
class Amount:
    amount: int


@dataclass
class NewTotal:
    value: int


@workflow.defn
class TallyWorkflow:
    def __init__(self) -> None:
        self.total = 0
        self.finished = False

    @workflow.run
    async def run(self, params: TallyInput) -> int:
        self.total += params.start
        if params.open:
            await workflow.wait_condition(lambda: self.finished)
        return self.total

    @workflow.signal
    def add(self, arg: Amount) -> None:
        self.total += arg.amount

    @workflow.signal
    def finish(self) -> None:
        self.finished = True

    @workflow.query
    def total_now(self) -> int:
        return self.total

    @workflow.query
    def exceeds(self, arg: NewTotal) -> bool:
        return self.total > arg.value

    @workflow.update
    def set_total(self, arg: NewTotal) -> int:
        before, self.total = self.total, arg.value
        return before

    @set_total.validator
    def _check_total(self, arg: NewTotal) -> None:
        if self.finished:
            raise ApplicationError("the tally is finished", type="TallyFinished")


MESSAGE_WORKFLOWS = (TallyWorkflow,)

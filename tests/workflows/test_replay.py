"""Every shipped workflow replayed from committed histories.

A running workflow is rebuilt from its history whenever a worker picks it up again (after a
deploy, a restart, a cache eviction): code that no longer issues the commands its history
recorded (an activity or timer added, dropped or reordered without ``workflow.patched``) fails
those workflows at their next task. The Replayer runs the shipped workflow classes, in the
default sandbox, against the histories in ``histories/`` (written by
``hack/record-histories.py`` on each main path), so such a change fails here first. No server.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from gateway_workflows.registry import CALLBACK_WORKFLOWS, WORKFLOWS

pytestmark = pytest.mark.workflows

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))
SHIPPED = [*WORKFLOWS, *CALLBACK_WORKFLOWS]


def history(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, json.loads(path.read_text()))


def workflow_type(history: WorkflowHistory) -> str:
    started = history.events[0].workflow_execution_started_event_attributes
    return started.workflow_type.name


@pytest.mark.parametrize("path", HISTORIES, ids=lambda path: path.stem)
async def test_the_shipped_code_replays_the_history(path: Path) -> None:
    result = await Replayer(workflows=SHIPPED).replay_workflow(history(path))
    assert result.replay_failure is None


def test_every_shipped_workflow_has_histories_of_its_paths() -> None:
    names = {workflow._Definition.must_from_class(cls).name for cls in SHIPPED}
    recorded: dict[str, list[str]] = {}
    for path in HISTORIES:
        recorded.setdefault(workflow_type(history(path)), []).append(path.stem)
    assert set(recorded) == names
    assert recorded == {
        "CallbackDelivery": [
            "callback-carried", "callback-continued", "callback-decoded", "callback-delivered",
            "callback-redelivered", "callback-retried",
        ],
        "OrderWorkflow": [
            "order-approved-charged", "order-cancelled", "order-charge-declined",
            "order-timed-out", "order-update-rejected",
        ],
        "ShoppingWorkflow": ["shopping-ordered"],
    }  # fmt: skip

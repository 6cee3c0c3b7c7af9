"""The seed guide's client examples, run unchanged against the live API (API_URL points them
at the test's port instead of 8000)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from gateway_workflows.callbacks.signing import new_secret, parse_secret, sign
from support.procs import ROOT

pytestmark = pytest.mark.e2e
EXAMPLES = ROOT / "examples"


def run(args: list[str], api_url: str, cwd=ROOT) -> str:
    done = subprocess.run(
        args, cwd=cwd, env={**os.environ, "API_URL": api_url}, capture_output=True, text=True,
        timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def need(tool: str) -> str:
    path = shutil.which(tool)
    assert path, f"{tool} is required by the examples' tests; install it (see README)"
    return path


def test_curl_example(stack) -> None:
    lines = run(["bash", str(EXAMPLES / "curl.sh")], stack.url).strip().splitlines()
    sync, started, status, result = (json.loads(line) for line in lines)
    assert sync["status"] == "completed"
    assert sync["result"] == "Ordered 5 Apples..."
    assert started["status"] == "started"
    assert started["result"] is None
    assert status["workflow_id"] == started["workflow_id"]
    assert status["status"] in ("RUNNING", "COMPLETED")
    assert set(status) == {"workflow_id", "status", "start_time", "close_time"}
    assert result == {
        "workflow_id": started["workflow_id"],
        "status": "completed",
        "result": "Ordered 3 Bananas...",
    }


def test_python_requests_example(stack) -> None:
    out = run([sys.executable, str(EXAMPLES / "python_requests.py")], stack.url)
    assert "Workflow ID: shopping-workflow-" in out
    assert "Result: Ordered 5 Apples...Ordered 3 Bananas..." in out


def test_python_client_example(stack) -> None:
    out = run([sys.executable, str(EXAMPLES / "python_client.py")], stack.url)
    assert out.splitlines() == ["Ordered 5 Apples...", "Ordered 3 Bananas..."]


def test_javascript_fetch_example(stack) -> None:
    out = run([need("node"), str(EXAMPLES / "javascript_fetch.mjs")], stack.url)
    assert "Workflow ID: shopping-workflow-" in out
    assert "Result: Ordered 5 Apples...Ordered 3 Bananas..." in out


def test_go_example(stack) -> None:
    out = run([need("go"), "run", "."], stack.url, cwd=EXAMPLES / "go")
    assert "Result: Ordered 5 Apples...Ordered 3 Bananas..." in out


def test_lifecycle_example(stack) -> None:
    """examples/lifecycle.sh: every lifecycle operation on the shipped orders route."""
    answers = {}
    for line in run(["bash", str(EXAMPLES / "lifecycle.sh")], stack.url).strip().splitlines():
        label, rest = line.split(" ", 1)
        body, _, status = rest.rpartition(" ")
        answers[label] = (int(status) if status.isdigit() else None, json.loads(body or rest))
    assert answers["progress"][1]["result"]["state"] == "awaiting-approval"
    added = answers["add_item"]
    assert added[0] == 200
    assert added[1]["result"] == {"items": 2, "total_cents": 180}
    assert answers["add_item_again"] == added  # the same key: the update ran once
    assert answers["bad_item"][0] == 422
    assert answers["bad_item"][1]["errors"][0]["field"] == "fruit"
    assert answers["approve"][0] == 202
    assert answers["result"] == (
        200,
        {
            "workflow_id": answers["start"][1]["workflow_id"],
            "status": "completed",
            "result": "Charged 180 cents to alice for 2 items (approved by bob)",
        },
    )
    assert answers["describe"][1]["status"] == "COMPLETED"
    assert answers["late_item"][0] == 409
    assert answers["late_item"][1]["code"] == "workflow-closed"
    assert answers["cancel"][0] == 202
    assert answers["cancelled_result"][1]["code"] == "workflow-canceled"
    assert answers["terminate"] == (200, {**answers["terminate"][1], "status": "terminated"})
    assert answers["update_with_start"][1]["result"] == {"items": 2, "total_cents": 100}
    assert answers["signal_with_start"][0] == 202
    assert answers["with_start_result"][1]["result"] == (
        "Charged 100 cents to erin for 2 items (approved by frank)"
    )
    assert answers["list"][0] == 200
    assert len(answers["list"][1]["workflows"]) <= 2
    assert answers["count"][0] == 200
    assert answers["count"][1]["count"] >= 1
    created, schedule = answers["schedule"]
    assert created == 201
    assert schedule["schedule_id"].startswith("order-")
    assert schedule["spec"]["cron_expressions"] == ["0 9 * * 1"]
    assert (schedule["paused"], schedule["note"]) == (True, "created by lifecycle.sh")
    assert answers["schedule_describe"][1]["next_action_times"]
    assert answers["schedule_trigger"] == (
        202, {"schedule_id": schedule["schedule_id"], "status": "triggered"}
    )  # fmt: skip
    assert answers["scheduled_order_cancel"][0] == 202
    assert answers["schedule_pause"][1]["note"] == "shop closed for the holidays"
    assert answers["schedule_delete"][1]["status"] == "deleted"


def _signed(
    secrets: list[str], *, age: int = 0, body: bytes | None = None, route: str = "orders"
) -> dict[str, str]:
    """The environment of the webhook verifier examples: a delivery of the route ``orders``,
    signed as the worker signs, to a receiver of ``route``'s deliveries."""
    signed_body = (
        b'{"type":"workflow.completed","data":{"workflow_id":"orders-1","route":"orders"}}'
    )
    stamp = int(time.time()) - age
    return {
        "WEBHOOK_ROUTE": route,
        "WEBHOOK_SECRETS": " ".join(secrets),
        "WEBHOOK_ID": "msg_example",
        "WEBHOOK_TIMESTAMP": str(stamp),
        "WEBHOOK_SIGNATURE": sign([parse_secret(s) for s in secrets], "msg_example", stamp,
                                  signed_body),
        "BODY": (body or signed_body).decode(),
    }  # fmt: skip


@pytest.mark.parametrize(
    "command",
    [["node", "verify.mjs"], ["go", "run", "."]],
    ids=["node", "go"],
)
def test_webhook_verifier_examples(command) -> None:
    cwd = EXAMPLES / "webhooks" / ("go" if command[0] == "go" else "")
    old, new = new_secret(), new_secret()

    def verify(env: dict[str, str], secrets: str) -> subprocess.CompletedProcess[str]:
        body = env.pop("BODY")
        return subprocess.run(
            [need(command[0]), *command[1:]], cwd=cwd, input=body, capture_output=True,
            text=True, timeout=180, check=False,
            env={**os.environ, **env, "WEBHOOK_SECRETS": secrets},
        )  # fmt: skip

    ok = verify(_signed([new, old]), new)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "verified msg_example" in ok.stdout
    assert verify(_signed([new, old]), old).returncode == 0, "either key of a rotation"
    for env, secrets, why in (
        (_signed([new]), new_secret(), "no signature matches"),
        (_signed([new], body=b'{"type":"forged"}'), new, "no signature matches"),
        (_signed([new], age=301), new, "tolerance"),
        # Signed with the receiver's secret, but for another route (a secret two routes share).
        (_signed([new], route="payments"), new, 'for route "orders", not "payments"'),
    ):
        refused = verify(env, secrets)
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert why in refused.stdout

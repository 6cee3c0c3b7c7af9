"""The worker's settings: its task queue has no default, and a worker started without one
stops at once with one line naming the variable (not a traceback, not a worker polling a queue
no route names)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from gateway_worker.config import load_settings


def test_the_task_queue_is_read_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("WORKER_TASK_QUEUE", "refunds")
    assert load_settings().task_queue == "refunds"


@pytest.mark.parametrize(("value", "problem"), [(None, " is required: "), ("", ": String")])
def test_a_missing_or_empty_task_queue_is_one_line(monkeypatch, capsys, value, problem) -> None:
    if value is None:
        monkeypatch.delenv("WORKER_TASK_QUEUE", raising=False)
    else:
        monkeypatch.setenv("WORKER_TASK_QUEUE", value)
    with pytest.raises(SystemExit) as exited:
        load_settings()
    assert exited.value.code == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"configuration error: WORKER_TASK_QUEUE{problem}"), line


def test_a_setting_read_through_its_alias_is_named_by_it(monkeypatch, capsys) -> None:
    monkeypatch.setenv("WORKER_TASK_QUEUE", "q")
    monkeypatch.setenv("LOG_FORMAT", "xml")
    with pytest.raises(SystemExit):
        load_settings()
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("configuration error: LOG_FORMAT: "), line


def test_the_worker_process_stops_at_start_without_a_queue() -> None:
    env = {k: v for k, v in os.environ.items() if k != "WORKER_TASK_QUEUE"}
    env["TEMPORAL_ADDRESS"] = "127.0.0.1:1"  # never reached: the settings fail first
    done = subprocess.run(
        [sys.executable, "-m", "gateway_worker"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        "configuration error: WORKER_TASK_QUEUE is required: the task queue to poll, the "
        "spec.taskQueue of the routes this worker serves (the shipped routes': "
        "shopping-task-queue)"
    ]
    assert done.stdout == ""

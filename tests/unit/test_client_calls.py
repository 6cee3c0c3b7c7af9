"""The Python client sends every operation of the API's table at the row's method and path."""

from __future__ import annotations

import inspect
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway_core.routes import OPERATIONS, Operation
from temporal_gateway_client import _calls

_SAMPLES = {"route": "r1", "workflow_id": "w1", "name": "n1", "workflow_input": {"a": 1},
            "body": {"a": 1}, "schedule_id": "s1", "spec": {"cron_expressions": ["@daily"]},
            "start_time": datetime(2026, 1, 1, tzinfo=UTC),
            "end_time": datetime(2026, 1, 2, tzinfo=UTC)}  # fmt: skip


def _pattern(path: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(path)) + "$")


@pytest.mark.parametrize("operation", list(Operation), ids=str)
def test_the_client_sends_each_operation_at_its_rows_method_and_path(operation) -> None:
    row = OPERATIONS[operation]
    build = _calls.BY_OPERATION[operation.value]
    names = [
        n for n, p in inspect.signature(build).parameters.items()
        if p.default is inspect.Parameter.empty and p.kind is not p.KEYWORD_ONLY
    ]  # fmt: skip
    request = build(*(_SAMPLES[n] for n in names))
    assert request.method == row.method
    assert _pattern(row.path).match(request.path), (request.path, row.path)


def test_the_client_names_no_operation_the_api_lacks() -> None:
    assert set(_calls.BY_OPERATION) == {o.value for o in Operation}


def test_a_positional_input_is_sent_as_the_array_of_arguments() -> None:
    start = _calls.start("r1", ("ann", 3, True), wait=False, idempotency_key=None)
    assert start.json == ["ann", 3, True]
    with_start = _calls.update_with_start("r1", "n1", ["ann", 3], ["A", 7])
    assert with_start.json == {"input": ["ann", 3], "arg": ["A", 7]}
    assert _calls.start("r1", {"a": 1}, wait=True, idempotency_key=None).json == {"a": 1}


@pytest.mark.parametrize("module", ["client", "aio"])
def test_both_clients_have_a_method_for_each_operation(module) -> None:
    # A row with a request builder but no public method would be an operation the client's
    # users cannot call: each builder is called by a method of each client.
    source = (Path(_calls.__file__).parent / f"{module}.py").read_text()
    called = set(re.findall(r"_calls\.(\w+)\(", source))
    for operation, build in _calls.BY_OPERATION.items():
        name = getattr(build, "func", build).__name__
        assert name in called, f"{module}.py has no method that sends {operation} ({name})"

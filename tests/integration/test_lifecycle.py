"""Every by-id endpoint, and the with-start ones, against a real Temporal and a real worker:
describe, status, result, signals, queries, updates, cancel and terminate, with their errors.

The workflow is :class:`support.sample_workflows.LifecycleWorkflow`, behind a route that
declares its messages with JSON Schemas (:func:`support.gateway.lifecycle_route`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from gateway_api.security.principals import ANONYMOUS
from gateway_api.temporal.executions import MEMO_REQUEST_SHA256, MEMO_ROUTE
from gateway_api.temporal.idempotency import scoped
from support.gateway import api_client, lifecycle_route, route
from support.procs import assert_eventually

ANON = ANONYMOUS.id  # the caller with authentication off

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("worker")]

CONTROL = ("signals/finish", "updates/explode", "cancel", "terminate")
"""The operations a closed workflow refuses with 409 (each takes an empty body)."""


@pytest.fixture
async def api(temporal_server, task_queue) -> AsyncIterator[httpx.AsyncClient]:
    routes = [
        lifecycle_route("life", task_queue),
        route("failing", "FailingWorkflow", task_queue),
        route("retrying", "RetryingWorkflow", task_queue),
    ]
    async with api_client(temporal_server.address, routes) as client:
        yield client


async def start(api: httpx.AsyncClient, path: str = "life", body: dict | None = None) -> str:
    response = await api.post(f"/workflows/{path}/async", json=body or {})
    assert response.status_code == 200, response.text
    return response.json()["workflow_id"]


def problem(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == code, body
    return body


def fields(response: httpx.Response) -> list[str]:
    return [e["field"] for e in response.json()["errors"]]


async def state(api: httpx.AsyncClient, workflow_id: str) -> dict:
    response = await api.get(f"/workflows/{workflow_id}/queries/state")
    assert response.status_code == 200, response.text
    return response.json()["result"]


async def event_types(client: Client, workflow_id: str) -> list[int]:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return [e.event_type for e in history.events]


async def test_signals_and_queries_with_and_without_arguments(api) -> None:
    wid = await start(api)
    sent = await api.post(f"/workflows/{wid}/signals/add_note", json={"text": "first"})
    assert sent.status_code == 202
    assert sent.json() == {"workflow_id": wid, "signal": "add_note", "status": "signaled"}
    assert (await api.post(f"/workflows/{wid}/signals/add_note", json={"text": "2"})).is_success

    note = await api.post(f"/workflows/{wid}/queries/note", json={"index": 1})
    assert note.json() == {"workflow_id": wid, "query": "note", "result": "2"}
    # A query without an argument is also a GET, and a POST without a body.
    assert (await state(api, wid))["notes"] == ["first", "2"]
    posted = await api.post(f"/workflows/{wid}/queries/state")
    assert posted.json()["result"]["notes"] == ["first", "2"]
    # The workflow raising in its query handler is the query's failure, not the gateway's, in
    # the shape of every failure. The Python SDK's worker sends only the message (Go's sends
    # the whole failure: tests/e2e/test_polyglot.py), so the type is not known here.
    failed = problem(
        await api.post(f"/workflows/{wid}/queries/note", json={"index": 7}), 500, "query-failed"
    )
    assert failed["failure_type"] is None
    assert failed["detail"] == failed["failure"]["message"] == "list index out of range"
    assert [link["message"] for link in failed["failure"]["chain"]] == ["list index out of range"]

    assert (await api.post(f"/workflows/{wid}/signals/finish")).status_code == 202
    result = await api.get(f"/workflows/{wid}/result")
    assert result.json() == {
        "workflow_id": wid,
        "status": "completed",
        "result": {"label": "lifecycle", "notes": ["first", "2"], "limit": 0},
    }


async def test_messages_the_route_does_not_declare_are_404(api) -> None:
    wid = await start(api)
    for kind, code in (("signals", "signal"), ("queries", "query"), ("updates", "update")):
        # `note` is a query, `state` no signal: each kind has its own names.
        for name in ("nope", "note" if kind != "queries" else "add_note"):
            response = await api.post(f"/workflows/{wid}/{kind}/{name}", json={})
            problem(response, 404, f"{code}-not-found")
    problem(await api.get(f"/workflows/{wid}/queries/nope"), 404, "query-not-found")


@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        ("signals/add_note", {"text": 5}, ["text"]),
        ("signals/add_note", {"txt": "a"}, ["text", "txt"]),
        ("signals/add_note", {"text": "x" * 101}, ["text"]),
        ("signals/add_note", None, ["body"]),  # it takes an argument
        ("signals/finish", {}, ["body"]),  # it takes none
        ("queries/note", {"index": -1}, ["index"]),
        ("queries/note", None, ["body"]),
        ("queries/state", {"index": 0}, ["body"]),
        ("updates/set_limit", {"value": "5"}, ["value"]),
        ("updates/set_limit", {"value": 1.5}, ["value"]),
        ("updates/set_limit", None, ["body"]),
        ("updates/explode", {}, ["body"]),
    ],
)
async def test_bad_arguments_are_422_naming_the_field(api, path, body, expected) -> None:
    wid = await start(api)
    response = await api.post(f"/workflows/{wid}/{path}", json=body)
    problem(response, 422, "validation-error")
    assert fields(response) == expected
    # Nothing reached the workflow.
    assert await state(api, wid) == {
        "notes": [], "limit": 0, "set_limit_runs": 0, "released": False, "cleaned_up": False,
    }  # fmt: skip


async def test_a_query_that_needs_an_argument_is_not_a_get(api) -> None:
    wid = await start(api)
    response = await api.get(f"/workflows/{wid}/queries/note")
    problem(response, 422, "validation-error")
    assert "POST" in response.json()["detail"]


async def test_unknown_workflows_are_404_for_every_operation(api) -> None:
    for wid in (f"life-{uuid.uuid4().hex}", f"no-route-claims-{uuid.uuid4().hex}"):
        for method, path, body in [
            ("GET", "", None),
            ("GET", "/status", None),
            ("GET", "/result", None),
            ("POST", "/signals/finish", None),
            ("POST", "/signals/add_note", {"text": "a"}),
            ("GET", "/queries/state", None),
            ("POST", "/updates/set_limit", {"value": 1}),
            ("GET", "/updates/set_limit/some-update", None),
            ("POST", "/cancel", None),
            ("POST", "/terminate", None),
        ]:
            response = await api.request(method, f"/workflows/{wid}{path}", json=body)
            assert problem(response, 404, "workflow-not-found")["workflow_id"] == wid, path


async def test_a_closed_workflow_refuses_messages_and_control_with_409(api) -> None:
    wid = await start(api)
    await api.post(f"/workflows/{wid}/signals/finish")
    assert (await api.get(f"/workflows/{wid}/result")).status_code == 200
    for path in CONTROL:
        response = await api.post(f"/workflows/{wid}/{path}")
        assert problem(response, 409, "workflow-closed")["workflow_status"] == "COMPLETED", path
    response = await api.post(f"/workflows/{wid}/updates/set_limit", json={"value": 1})
    problem(response, 409, "workflow-closed")
    # Queries still answer: Temporal replays the closed workflow's history.
    assert (await state(api, wid))["limit"] == 0


async def test_result_long_polls_then_answers_202_then_200(api) -> None:
    wid = await start(api)
    began = time.monotonic()
    waiting = await api.get(f"/workflows/{wid}/result", params={"wait": 1})
    assert 1 <= time.monotonic() - began < 10
    assert waiting.status_code == 202
    assert waiting.json() == {"workflow_id": wid, "status": "running", "result": None}
    assert waiting.headers["location"] == f"/workflows/{wid}/result"
    assert int(waiting.headers["retry-after"]) >= 1

    # ?wait= is no preference: nothing says one was applied.
    assert "preference-applied" not in waiting.headers
    began = time.monotonic()
    preferred = await api.get(f"/workflows/{wid}/result", headers={"Prefer": "wait=1"})
    assert 1 <= time.monotonic() - began < 10
    assert preferred.status_code == 202
    assert preferred.headers["preference-applied"] == "wait=1"

    # Asked for one run, the Location names that run.
    run_id = (await api.get(f"/workflows/{wid}")).json()["run_id"]
    of_run = await api.get(f"/workflows/{wid}/result", params={"wait": 0, "run_id": run_id})
    assert of_run.status_code == 202
    assert of_run.headers["location"] == f"/workflows/{wid}/result?run_id={run_id}"

    await api.post(f"/workflows/{wid}/signals/finish")
    assert (await api.get(of_run.headers["location"])).status_code == 200
    done = await api.get(waiting.headers["location"])
    assert done.status_code == 200
    assert done.json()["status"] == "completed"


async def test_results_of_workflows_that_did_not_complete_are_never_200(api) -> None:
    failing = await start(api, "failing")
    body = problem(await api.get(f"/workflows/{failing}/result"), 500, "workflow-failed")
    assert body["failure_type"] == "OutOfStock"

    canceled = await start(api)
    assert (await api.post(f"/workflows/{canceled}/cancel")).status_code == 202
    body = problem(await api.get(f"/workflows/{canceled}/result"), 409, "workflow-canceled")

    terminated = await start(api)
    assert (await api.post(f"/workflows/{terminated}/terminate")).status_code == 200
    problem(await api.get(f"/workflows/{terminated}/result"), 409, "workflow-terminated")


async def test_an_update_answers_with_its_result(api) -> None:
    wid = await start(api)
    response = await api.post(f"/workflows/{wid}/updates/set_limit", json={"value": 40})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["workflow_id"] == wid
    assert body["update"] == "set_limit"
    assert body["status"] == "completed"
    assert body["result"] == 0  # the previous limit
    assert body["update_id"]
    assert (await state(api, wid))["limit"] == 40


async def test_an_update_that_is_done_at_once_is_200_even_asked_not_to_wait(api) -> None:
    wid = await start(api)
    for value in range(3):
        response = await api.post(
            f"/workflows/{wid}/updates/set_limit",
            json={"value": value},
            headers={"Prefer": "wait=0"},
        )
        assert response.status_code == 200, response.text
        assert response.headers["preference-applied"] == "wait=0"
        assert response.json()["result"] == max(value - 1, 0)


async def test_the_workflows_validator_rejects_an_update_with_422(api) -> None:
    wid = await start(api)
    response = await api.post(f"/workflows/{wid}/updates/set_limit", json={"value": 500})
    body = problem(response, 422, "update-rejected")
    assert body["detail"] == "limit 500 is above the maximum of 100"
    assert body["failure_type"] == "LimitTooHigh"
    assert (await state(api, wid))["set_limit_runs"] == 0


async def test_an_update_handler_that_fails_is_500(api) -> None:
    wid = await start(api)
    body = problem(await api.post(f"/workflows/{wid}/updates/explode"), 500, "update-failed")
    assert body["detail"] == "the handler failed on purpose"
    assert body["failure_type"] == "Exploded"


async def test_an_update_retried_with_the_same_key_runs_once(api) -> None:
    wid = await start(api)
    key = {"Idempotency-Key": f"limit-{uuid.uuid4().hex}"}
    answers = [
        await api.post(f"/workflows/{wid}/updates/set_limit", json={"value": 9}, headers=key)
        for _ in range(3)
    ]
    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert answer.json()["update_id"] == scoped(ANON, key["Idempotency-Key"])
        assert answer.json()["result"] == 0  # a second run would have returned 9
    assert (await state(api, wid))["set_limit_runs"] == 1
    # Another key is another update.
    again = await api.post(f"/workflows/{wid}/updates/set_limit", json={"value": 3})
    assert again.json()["result"] == 9
    assert (await state(api, wid))["set_limit_runs"] == 2


async def test_a_slow_update_answers_202_and_its_location_answers_once_done(api) -> None:
    wid = await start(api)
    slow = await api.post(
        f"/workflows/{wid}/updates/wait_for_release",
        headers={"Prefer": "wait=1", "Idempotency-Key": "slow-1"},
    )
    assert slow.status_code == 202, slow.text
    assert slow.headers["preference-applied"] == "wait=1"
    location = slow.headers["location"]
    assert location == f"/workflows/{wid}/updates/wait_for_release/{scoped(ANON, 'slow-1')}"
    assert int(slow.headers["retry-after"]) >= 1
    assert slow.json() == {
        "workflow_id": wid, "update": "wait_for_release", "update_id": scoped(ANON, "slow-1"),
        "status": "running", "result": None,
    }  # fmt: skip

    still = await api.get(location, params={"wait": 1})
    assert still.status_code == 202
    assert still.headers["location"] == location

    await api.post(f"/workflows/{wid}/signals/release")
    done = await api.get(location)
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "completed"
    assert done.json()["result"] == "released"

    problem(
        await api.get(f"/workflows/{wid}/updates/wait_for_release/never-sent"),
        404,
        "update-not-found",
    )


async def test_signal_with_start_starts_then_signals_the_same_workflow(api, client) -> None:
    key = {"Idempotency-Key": uuid.uuid4().hex}
    url = "/workflows/life/signal-with-start/add_note"
    first = await api.post(url, json={"input": {"label": "sws"}, "arg": {"text": "a"}}, headers=key)
    assert first.status_code == 202, first.text
    wid = first.json()["workflow_id"]
    assert wid == f"life-{scoped(ANON, key['Idempotency-Key'])}"
    assert first.json()["status"] == "signaled"
    run_id = (await api.get(f"/workflows/{wid}")).json()["run_id"]

    second = await api.post(
        url, json={"input": {"label": "sws"}, "arg": {"text": "b"}}, headers=key
    )
    assert second.status_code == 202
    assert second.json()["workflow_id"] == wid
    assert (await api.get(f"/workflows/{wid}")).json()["run_id"] == run_id
    assert (await state(api, wid))["notes"] == ["a", "b"]

    # A signal without an argument: no `arg`.
    finish = await api.post(
        "/workflows/life/signal-with-start/finish", json={"input": {}}, headers=key
    )
    assert finish.status_code == 202
    result = (await api.get(f"/workflows/{wid}/result")).json()["result"]
    assert result == {"label": "sws", "notes": ["a", "b"], "limit": 0}

    # The same caller's same key after the workflow closed: its own closed workflow (409
    # workflow-closed), not another caller's (workflow-already-started).
    again = await api.post(url, json={"input": {"label": "sws"}, "arg": {"text": "c"}},
                           headers=key)  # fmt: skip
    closed = problem(again, 409, "workflow-closed")
    assert closed["workflow_status"] == "COMPLETED"
    assert closed["workflow_id"] == wid
    updated = await api.post(
        "/workflows/life/update-with-start/set_limit",
        json={"input": {"label": "sws"}, "arg": {"value": 1}}, headers=key,
    )  # fmt: skip
    assert problem(updated, 409, "workflow-closed")["workflow_status"] == "COMPLETED"


@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        ("signal-with-start/add_note", {"arg": {"text": "a"}}, ["input"]),
        ("signal-with-start/add_note", {"input": {}}, ["arg"]),
        ("signal-with-start/add_note", {"input": {}, "arg": {"text": 1}}, ["arg.text"]),
        ("signal-with-start/finish", {"input": {}, "arg": {}}, ["arg"]),
        ("signal-with-start/add_note", {"input": {"x": 1}, "arg": {"text": "a"}}, ["x"]),
        ("update-with-start/set_limit", {"input": {}, "arg": {"value": -1}}, ["arg.value"]),
        ("update-with-start/set_limit", {"input": {}, "arg": 1, "extra": 2}, ["extra"]),
    ],
)
async def test_with_start_bodies_are_checked(api, client, path, body, expected) -> None:
    key = {"Idempotency-Key": uuid.uuid4().hex}
    response = await api.post(f"/workflows/life/{path}", json=body, headers=key)
    problem(response, 422, "validation-error")
    assert fields(response) == expected
    missing = f"/workflows/life-{scoped(ANON, key['Idempotency-Key'])}"
    problem(await api.get(missing), 404, "workflow-not-found")


async def test_with_start_of_an_undeclared_message_is_404(api) -> None:
    for path, code in (("signal-with-start", "signal"), ("update-with-start", "update")):
        response = await api.post(f"/workflows/life/{path}/nope", json={"input": {}})
        problem(response, 404, f"{code}-not-found")


async def test_update_with_start_starts_and_answers_with_the_update_result(api) -> None:
    key = {"Idempotency-Key": uuid.uuid4().hex}
    url = "/workflows/life/update-with-start/set_limit"
    first = await api.post(url, json={"input": {}, "arg": {"value": 7}}, headers=key)
    assert first.status_code == 200, first.text
    wid = first.json()["workflow_id"]
    assert wid == f"life-{scoped(ANON, key['Idempotency-Key'])}"
    assert first.json()["update_id"] == scoped(ANON, key["Idempotency-Key"])
    assert first.json()["result"] == 0
    assert first.json()["status"] == "completed"

    # The same key again: the same workflow and the same update, which ran once.
    again = await api.post(url, json={"input": {}, "arg": {"value": 7}}, headers=key)
    assert again.json() == first.json()
    assert (await state(api, wid))["set_limit_runs"] == 1

    # Without a key: a new workflow each time.
    other = await api.post(url, json={"input": {}, "arg": {"value": 8}})
    assert other.status_code == 200
    assert other.json()["workflow_id"] != wid
    assert other.json()["result"] == 0


async def test_update_with_start_rejected_by_the_validator_is_422(api) -> None:
    url = "/workflows/life/update-with-start/set_limit"
    response = await api.post(url, json={"input": {}, "arg": {"value": 101}})
    assert problem(response, 422, "update-rejected")["failure_type"] == "LimitTooHigh"


async def test_describe_shows_the_run_and_its_retrying_activity(api, task_queue) -> None:
    wid = await start(api, "retrying", {"label": "desc"})

    async def retried() -> dict:
        body = (await api.get(f"/workflows/{wid}")).json()
        pending = body["pending_activities"]
        return body if pending and pending[0]["attempt"] >= 2 else {}

    desc = await assert_eventually(retried)
    assert desc["workflow_id"] == wid
    assert desc["run_id"]
    assert desc["route"] == "retrying"
    assert desc["workflow_type"] == "RetryingWorkflow"
    assert desc["task_queue"] == task_queue
    assert desc["status"] == "RUNNING"
    assert desc["start_time"]
    assert desc["execution_time"]
    assert desc["close_time"] is None
    assert desc["history_length"] >= 3
    [activity] = desc["pending_activities"]
    assert activity["activity_type"] == "failing_activity"
    assert activity["last_failure"] == "the warehouse is closed (desc)"
    assert activity["state"] in {"SCHEDULED", "STARTED"}
    assert desc["memo"][MEMO_ROUTE] == "retrying"
    assert MEMO_REQUEST_SHA256 not in desc["memo"]

    by_run = await api.get(f"/workflows/{wid}", params={"run_id": desc["run_id"]})
    assert by_run.json()["run_id"] == desc["run_id"]
    assert (await api.post(f"/workflows/{wid}/terminate")).status_code == 200
    closed = (await api.get(f"/workflows/{wid}")).json()
    assert closed["status"] == "TERMINATED"
    assert closed["close_time"] >= closed["start_time"]


async def test_cancel_lets_the_workflow_clean_up(api, client) -> None:
    wid = await start(api)
    response = await api.post(f"/workflows/{wid}/cancel")
    assert response.status_code == 202
    assert response.json() == {"workflow_id": wid, "status": "cancel-requested"}

    async def canceled() -> bool:
        return (await api.get(f"/workflows/{wid}/status")).json()["status"] == "CANCELED"

    await assert_eventually(canceled)
    assert (await state(api, wid))["cleaned_up"] is True
    history = await client.get_workflow_handle(wid).fetch_history()
    scheduled = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    assert scheduled == ["record_cleanup"]
    assert EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED in await event_types(client, wid)


async def test_terminate_records_the_reason(api, client) -> None:
    wid = await start(api)
    # Its first workflow task has run (a query answers): a workflow terminated before that has
    # no state a query could read afterwards.
    assert (await state(api, wid))["cleaned_up"] is False
    response = await api.post(f"/workflows/{wid}/terminate", json={"reason": "stuck order"})
    assert response.status_code == 200
    assert response.json() == {"workflow_id": wid, "status": "terminated"}
    assert (await api.get(f"/workflows/{wid}/status")).json()["status"] == "TERMINATED"
    history = await client.get_workflow_handle(wid).fetch_history()
    [event] = [
        e
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED
    ]
    reason = event.workflow_execution_terminated_event_attributes.reason
    assert reason == "stuck order (by anonymous)"
    # Terminated, the workflow ran no cleanup.
    assert (await state(api, wid))["cleaned_up"] is False


@pytest.mark.parametrize(
    ("body", "expected"),
    [({"reason": 5}, ["reason"]), ({"why": "x"}, ["why"]), ({"reason": "x" * 1001}, ["reason"])],
)
async def test_terminate_refuses_a_bad_body(api, body, expected) -> None:
    wid = await start(api)
    response = await api.post(f"/workflows/{wid}/terminate", json=body)
    problem(response, 422, "validation-error")
    assert fields(response) == expected
    assert (await api.get(f"/workflows/{wid}/status")).json()["status"] == "RUNNING"

"""The gateway serves workflows whatever their SDK: the Go, TypeScript and Java example workers
(``examples/workers``, built by ``hack/workers.sh``) as real processes on their own task queues,
their shipped route files pointed at those queues, and every operation the gateway has driven
over HTTP against each.

Drift between a route and its workers is refused before anything is sent: copies of the orders
routes declare messages no worker handles.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from temporalio.client import Client

from support.procs import ROOT, ApiProcess, Process, eventually, polled
from support.tools import workers_dir

pytestmark = pytest.mark.e2e

EXAMPLES = ROOT / "examples" / "workers"
UNICODE = 'Zoë 🍏 "quoted" \\ </script> 日本'


@dataclass(frozen=True)
class Lang:
    """One worker: its folder, how to run its build, and the names its route file and code
    give (every path starts with ``name``, every workflow type with ``type_prefix``)."""

    name: str
    folder: str
    type_prefix: str
    charge_activity: str
    command: tuple[str, ...]  # relative to the built workers' directory, where starting "./"

    def path(self, family: str) -> str:
        return f"{self.name}-{family}"

    def args(self, built: Path) -> list[str | Path]:
        return [built / a[2:] if a.startswith("./") else a for a in self.command]


GO = Lang("go", "go", "Go", "GoChargeOrder", ("./go/worker",))
TS = Lang("ts", "typescript", "Ts", "tsChargeOrder", ("node", "./typescript/lib/worker.js"))
JAVA = Lang("java", "java", "Java", "JavaChargeOrder", ("java", "-jar", "./java/worker.jar"))
ALL = (GO, TS, JAVA)
LANGS = pytest.mark.parametrize("lang", ALL, ids=lambda lang: lang.name)


@dataclass
class Polyglot:
    api: ApiProcess
    temporal: str
    queues: dict[str, str]

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.api.url, timeout=30)


def _route_docs(lang: Lang) -> list[dict[str, Any]]:
    return list(yaml.safe_load_all((EXAMPLES / lang.folder / "routes.yaml").read_text()))


DRIFTED = {"signals": "hold", "queries": "total", "updates": "apply_coupon"}
"""What the drifted copies of the orders routes declare and no worker handles."""


def _drifted(doc: dict[str, Any], lang: Lang) -> dict[str, Any]:
    """A copy of ``lang``'s orders route that declares one more of each kind of message."""
    spec = {**doc["spec"], "path": lang.path("drifted"),
            "workflowId": {"prefix": f"{lang.name}-drifted-"}}  # fmt: skip
    for key, name in DRIFTED.items():
        spec[key] = [*spec.get(key, []), {"name": name}]
    return {**doc, "metadata": {"name": lang.path("drifted")}, "spec": spec}


def _routes(queues: dict[str, str]) -> list[dict[str, Any]]:
    """The shipped route files, each route moved to its worker's test queue, and a drifted
    copy of each orders route."""
    docs = []
    for lang in ALL:
        for doc in _route_docs(lang):
            doc["spec"]["taskQueue"] = queues[lang.name]
            docs.append(doc)
            if doc["spec"]["path"] == lang.path("orders"):
                docs.append(_drifted(doc, lang))
    return docs


@pytest.fixture(scope="module")
def polyglot(temporal_server, logs_dir, tmp_path_factory) -> Iterator[Polyglot]:
    built = workers_dir()
    tmp = tmp_path_factory.mktemp("polyglot")
    run = uuid.uuid4().hex[:8]
    queues = {lang.name: f"{lang.name}-workers-{run}" for lang in ALL}
    (tmp / "routes.yaml").write_text(yaml.safe_dump_all(_routes(queues)))
    env = {"TEMPORAL_ADDRESS": temporal_server.address}
    workers = {
        lang.name: Process(f"{lang.name}-worker-{run}", lang.args(built), log_dir=logs_dir,
                           env={**env, "WORKER_TASK_QUEUE": queues[lang.name]})
        for lang in ALL
    }  # fmt: skip
    procs: list[Process] = list(workers.values())
    try:
        api = ApiProcess(
            logs_dir,
            temporal=temporal_server.address,
            env={"API_ROUTES_PATH": str(tmp / "routes.yaml")},
        )
        procs.append(api)
        api.wait_ready()
        for lang, worker in workers.items():
            eventually(
                lambda w=worker, q=queues[lang]: w.alive() and polled(temporal_server.address, q),
                timeout=60,
            )
        yield Polyglot(api, temporal_server.address, queues)
    finally:
        for proc in reversed(procs):
            proc.stop()


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == code, body
    return body


def _order_input(customer: str = "ann") -> dict[str, Any]:
    return {"customer": customer, "items": [{"sku": "A", "quantity": 2}]}


def _start_order(http: httpx.Client, lang: Lang, body: dict[str, Any] | None = None) -> str:
    started = _ok(http.post(f"/workflows/{lang.path('orders')}/async", json=body or _order_input()))
    assert started["status"] == "started"
    assert started["workflow_id"].startswith(f"{lang.name}-order-")
    return str(started["workflow_id"])


def _terminate(http: httpx.Client, workflow_id: str, reason: str = "done") -> None:
    answer = _ok(http.post(f"/workflows/{workflow_id}/terminate", json={"reason": reason}))
    assert answer["status"] == "terminated"


def _sse(text: str) -> list[tuple[str, dict[str, Any]]]:
    """(event, data) pairs of a server-sent event stream (sse-starlette ends lines with CRLF)."""
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in block.splitlines() if ": " in line and line[0] != ":"
        )
        if "event" in fields:
            events.append((fields["event"], json.loads(fields["data"])))
    return events


@LANGS
def test_sync_start_returns_the_result_with_json_round_trip_exact(polyglot, lang) -> None:
    """A synchronous start returns the workflow's result; values pass through both SDKs'
    JSON unchanged (strings with escapes and astral characters, nested objects, integers)."""
    with polyglot.http() as http:
        answer = _ok(http.post(f"/workflows/{lang.path('integers')}", json={"value": -123456789}))
        assert answer["status"] == "completed"
        assert answer["workflow_id"].startswith(f"{lang.name}-int-")
        result = answer["result"]
        assert (result["value"], result["text"], result["next"]) == (-123456789, "-123456789",
                                                                     -123456788)  # fmt: skip

        workflow_id = _start_order(http, lang, _order_input(UNICODE))
        status = _ok(http.get(f"/workflows/{workflow_id}/queries/status"))["result"]
        assert status["customer"] == UNICODE
        assert status["items"] == [{"sku": "A", "quantity": 2}]
        _terminate(http, workflow_id)


def test_go_int64_round_trips_exactly_beyond_double_precision(polyglot) -> None:
    """Python's JSON and Go's int64 both keep every integer digit: 2^53 + 1 and the int64
    extremes come back as they went (a JavaScript client would round them; the gateway does
    not)."""
    with polyglot.http() as http:
        for value in (2**53 + 1, 2**63 - 2, -(2**63)):
            result = _ok(http.post("/workflows/go-integers", json={"value": value}))["result"]
            assert result["value"] == value
            assert result["text"] == str(value)
            assert result["next"] == value + 1


@LANGS
def test_order_lifecycle(polyglot, lang) -> None:
    """Async start, status, describe, queries by GET and POST, updates (accepted, refused by the
    validator, failed in the handler), a signal, the result, then the closed workflow."""
    with polyglot.http() as http:
        workflow_id = _start_order(http, lang)
        status = _ok(http.get(f"/workflows/{workflow_id}/status"))
        assert status["status"] == "RUNNING"
        desc = _ok(http.get(f"/workflows/{workflow_id}"))
        assert desc["workflow_type"] == f"{lang.type_prefix}OrderWorkflow"
        assert desc["task_queue"] == polyglot.queues[lang.name]
        assert desc["route"] == lang.path("orders")
        assert desc["status"] == "RUNNING"

        query = _ok(http.get(f"/workflows/{workflow_id}/queries/status"))
        assert query["query"] == "status"
        assert query["result"]["state"] == "awaiting-approval"
        assert query["result"]["units"] == 2
        by_post = _ok(http.post(f"/workflows/{workflow_id}/queries/status"))
        assert by_post["result"] == query["result"]
        quantity = http.post(f"/workflows/{workflow_id}/queries/quantity_of", json={"sku": "A"})
        assert _ok(quantity)["result"] == {"sku": "A", "quantity": 2}
        missing = _problem(
            http.post(f"/workflows/{workflow_id}/queries/quantity_of", json={"sku": "Z"}),
            500, "query-failed",
        )  # fmt: skip
        # A query's failure in the one mapping. Go sends the whole failure, Java its text (the
        # stack trace dropped, the ApplicationFailure's type read), TypeScript the message only.
        assert missing["detail"] == "the order has no item Z"
        assert missing["failure_type"] == (None if lang is TS else "ItemNotFound")
        assert missing["failure"]["chain"][-1]["message"] == "the order has no item Z"

        added = _ok(http.post(f"/workflows/{workflow_id}/updates/add_item",
                              json={"sku": "B", "quantity": 3}))  # fmt: skip
        assert added["result"]["units"] == 5
        assert added["result"]["items"] == [{"sku": "A", "quantity": 2},
                                            {"sku": "B", "quantity": 3}]  # fmt: skip

        too_many = {"sku": "B", "quantity": 500}
        refused = _problem(
            http.post(f"/workflows/{workflow_id}/updates/add_item", json=too_many),
            422, "update-rejected",
        )  # fmt: skip
        assert refused["detail"] == "quantity must be 1 to 100, got 500"
        # The Java SDK sends a validator's ApplicationFailure as its own internal
        # WorkflowExecutionException, without the author's type: null, never the SDK's class.
        assert refused["failure_type"] == (None if lang is JAVA else "InvalidItem")
        failed = _problem(
            http.post(f"/workflows/{workflow_id}/updates/remove_item", json={"sku": "Z"}),
            500, "update-failed",
        )  # fmt: skip
        assert failed["detail"] == "the order has no item Z"
        # Go's handler fails with a plain errors.New: no type of its author's.
        assert failed["failure_type"] == (None if lang is GO else "ItemNotFound")
        # Neither changed the order.
        after = _ok(http.get(f"/workflows/{workflow_id}/queries/status"))["result"]
        assert after["units"] == 5

        signaled = _ok(http.post(f"/workflows/{workflow_id}/signals/approve",
                                 json={"approver": "bob"}), 202)  # fmt: skip
        assert signaled["status"] == "signaled"
        result = _ok(http.get(f"/workflows/{workflow_id}/result", params={"wait": 20}))
        assert result["status"] == "completed"
        assert result["result"]["approved_by"] == "bob"
        assert result["result"]["units"] == 5
        assert result["result"]["charge"] == "charged ann for 5 units"

        assert _ok(http.get(f"/workflows/{workflow_id}/status"))["status"] == "COMPLETED"
        _problem(http.post(f"/workflows/{workflow_id}/signals/approve", json={"approver": "x"}),
                 409, "workflow-closed")  # fmt: skip
        _problem(http.post(f"/workflows/{workflow_id}/cancel"), 409, "workflow-closed")


@LANGS
def test_events_stream_the_history(polyglot, lang) -> None:
    """The SSE stream of a workflow that ran to its end: signal, update and activity by name,
    then the closing status and ``end``."""
    with polyglot.http() as http:
        workflow_id = _start_order(http, lang)
        _ok(http.post(f"/workflows/{workflow_id}/updates/add_item",
                      json={"sku": "C", "quantity": 1}))  # fmt: skip
        _ok(http.post(f"/workflows/{workflow_id}/signals/approve", json={"approver": "eve"}), 202)
        _ok(http.get(f"/workflows/{workflow_id}/result", params={"wait": 20}))
        response = http.get(f"/workflows/{workflow_id}/events")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/event-stream")
    events = _sse(response.text)
    history = [data for event, data in events if event == "history"]
    kinds = [h["event_type"] for h in history]
    assert kinds[0] == "WorkflowExecutionStarted"
    assert history[0]["workflow_type"] == f"{lang.type_prefix}OrderWorkflow"
    assert kinds[-1] == "WorkflowExecutionCompleted"
    first = {h["event_type"]: h for h in reversed(history)}
    assert first["WorkflowExecutionSignaled"]["signal_name"] == "approve"
    assert first["WorkflowExecutionUpdateAccepted"]["update_name"] == "add_item"
    assert first["ActivityTaskScheduled"]["activity_type"] == lang.charge_activity
    assert events[-1] == ("end", {"status": "COMPLETED"})


@LANGS
def test_cancel_and_terminate(polyglot, lang) -> None:
    with polyglot.http() as http:
        cancelled = _start_order(http, lang)
        _ok(http.post(f"/workflows/{cancelled}/cancel"), 202)
        _problem(http.get(f"/workflows/{cancelled}/result", params={"wait": 20}),
                 409, "workflow-canceled")  # fmt: skip
        assert _ok(http.get(f"/workflows/{cancelled}/status"))["status"] == "CANCELED"

        terminated = _start_order(http, lang)
        _terminate(http, terminated, "duplicate")
        _problem(http.get(f"/workflows/{terminated}/result"), 409, "workflow-terminated")
        assert _ok(http.get(f"/workflows/{terminated}/status"))["status"] == "TERMINATED"


@LANGS
def test_signal_with_start_and_update_with_start(polyglot, lang) -> None:
    orders = lang.path("orders")
    with polyglot.http() as http:
        key = f"swS-{uuid.uuid4().hex[:8]}"
        body = {"input": _order_input("carol"), "arg": {"approver": "dave"}}
        signaled = _ok(http.post(f"/workflows/{orders}/signal-with-start/approve", json=body,
                                 headers={"Idempotency-Key": key}), 202)  # fmt: skip
        assert signaled["status"] == "signaled"
        result = _ok(http.get(f"/workflows/{signaled['workflow_id']}/result", params={"wait": 20}))
        assert result["result"]["approved_by"] == "dave"
        assert result["result"]["customer"] == "carol"

        key = f"uwS-{uuid.uuid4().hex[:8]}"
        body = {"input": _order_input("erin"), "arg": {"sku": "D", "quantity": 4}}
        updated = _ok(http.post(f"/workflows/{orders}/update-with-start/add_item", json=body,
                                headers={"Idempotency-Key": key}))  # fmt: skip
        assert updated["result"]["units"] == 6
        assert updated["result"]["customer"] == "erin"
        # The same key again: the same workflow and the same update, which ran once.
        again = _ok(http.post(f"/workflows/{orders}/update-with-start/add_item", json=body,
                              headers={"Idempotency-Key": key}))  # fmt: skip
        assert again["workflow_id"] == updated["workflow_id"]
        assert again["result"] == updated["result"]
        status = _ok(http.get(f"/workflows/{updated['workflow_id']}/queries/status"))["result"]
        assert status["units"] == 6
        _terminate(http, updated["workflow_id"])


@LANGS
def test_idempotency_key(polyglot, lang) -> None:
    """A repeated start with the same key finds the first workflow; another body with that
    key is refused; a repeated update with the same key runs once."""
    orders = f"/workflows/{lang.path('orders')}/async"
    key = {"Idempotency-Key": f"idem-{uuid.uuid4().hex[:8]}"}
    with polyglot.http() as http:
        first = _ok(http.post(orders, json=_order_input("fay"), headers=key))
        again = _ok(http.post(orders, json=_order_input("fay"), headers=key))
        assert again["workflow_id"] == first["workflow_id"]
        _problem(http.post(orders, json=_order_input("gus"), headers=key), 422,
                 "idempotency-key-reused")  # fmt: skip

        workflow_id = first["workflow_id"]
        update = f"/workflows/{workflow_id}/updates/add_item"
        item = {"sku": "A", "quantity": 1}
        once = _ok(http.post(update, json=item, headers={"Idempotency-Key": "add-a-1"}))
        twice = _ok(http.post(update, json=item, headers={"Idempotency-Key": "add-a-1"}))
        assert once["result"] == twice["result"]
        assert once["result"]["units"] == 3
        _terminate(http, workflow_id)


@LANGS
def test_list_and_count(polyglot, lang) -> None:
    with polyglot.http() as http:
        workflow_id = _start_order(http, lang, _order_input("hal"))
        params = {"route": lang.path("orders"), "query": f"WorkflowId = '{workflow_id}'"}

        def listed() -> list[dict[str, Any]]:
            return _ok(http.get("/workflows", params=params))["workflows"]

        (item,) = eventually(listed, timeout=30)
        assert item["workflow_id"] == workflow_id
        assert item["workflow_type"] == f"{lang.type_prefix}OrderWorkflow"
        assert item["route"] == lang.path("orders")
        assert item["status"] == "RUNNING"
        assert _ok(http.get("/workflows/count", params=params)) == {"count": 1}
        # Another language's route does not list this workflow.
        other = next(o for o in ALL if o is not lang)
        others = _ok(http.get("/workflows", params={**params, "route": other.path("orders")}))
        assert others["workflows"] == []
        _terminate(http, workflow_id)


@LANGS
def test_a_failed_workflow_is_a_problem(polyglot, lang) -> None:
    """A workflow that fails (here with an ApplicationError/ApplicationFailure of its own) is
    500 workflow-failed with its message, on a synchronous start and on the result."""
    with polyglot.http() as http:
        response = http.post(f"/workflows/{lang.path('failures')}", json={"kind": "declined"})
        problem = _problem(response, 500, "workflow-failed")
        assert "payment declined" in problem["detail"]
        assert problem["workflow_id"].startswith(f"{lang.name}-failure-")
        _problem(http.get(f"/workflows/{problem['workflow_id']}/result"), 500, "workflow-failed")
        fine = http.post(f"/workflows/{lang.path('failures')}", json={"kind": "none"})
        assert _ok(fine)["result"] == "no failure"


@LANGS
async def test_the_routes_declare_what_the_workers_register(polyglot, lang) -> None:
    """Each route's signals, queries and updates are handlers the workflow registers by name
    (Temporal's built-in ``__temporal_workflow_metadata`` query), so the example route files
    and workers cannot drift apart unnoticed."""
    with polyglot.http() as http:
        workflow_id = _start_order(http, lang)
    client = await Client.connect(polyglot.temporal)
    handle = client.get_workflow_handle(workflow_id)
    metadata = await handle.query("__temporal_workflow_metadata")
    # Go and Java answer with the proto message (json/protobuf), TypeScript with JSON.
    if isinstance(metadata, Message):
        metadata = MessageToDict(metadata)
    definition = metadata["definition"]
    registered = {
        kind: {d["name"] for d in definition.get(f"{kind}Definitions", [])}
        for kind in ("signal", "query", "update")
    }
    route = next(d["spec"] for d in _route_docs(lang) if d["spec"]["path"] == lang.path("orders"))
    for kind, key in (("signal", "signals"), ("query", "queries"), ("update", "updates")):
        declared = {m["name"] for m in route[key]}
        assert declared <= registered[kind], (kind, declared - registered[kind])
    await handle.terminate("done")


@LANGS
async def test_a_message_the_worker_lacks_is_refused_before_it_is_sent(polyglot, lang) -> None:
    """The route declares ``hold``, ``total`` and ``apply_coupon``; the worker has none of them.
    Each is 502 route-worker-mismatch naming both lists, and nothing reaches the workflow: its
    history has no signal and no update (the sentinel: the ``approve`` sent after them is
    there)."""
    path = lang.path("drifted")
    with polyglot.http() as http:
        started = _ok(http.post(f"/workflows/{path}/async", json=_order_input()))
        workflow_id = started["workflow_id"]
        for kind, (method, url) in {
            "signal": ("POST", f"/workflows/{workflow_id}/signals/hold"),
            "query": ("GET", f"/workflows/{workflow_id}/queries/total"),
            "update": ("POST", f"/workflows/{workflow_id}/updates/apply_coupon"),
        }.items():
            problem = _problem(http.request(method, url), 502, "route-worker-mismatch")
            assert problem["message_kind"] == kind
            assert (
                DRIFTED[f"{kind}s" if kind != "query" else "queries"] in problem["route_declares"]
            )
            assert problem["message_name"] not in problem["worker_handles"]
            assert problem["worker_handles"], "the worker's own handlers are named"
            assert problem["workflow_id"] == workflow_id
        # What the worker does handle still goes through.
        _ok(http.post(f"/workflows/{workflow_id}/signals/approve", json={"approver": "bob"}), 202)
    client = await Client.connect(polyglot.temporal)
    handle = client.get_workflow_handle(workflow_id)
    signals, updates = [], []
    async for event in handle.fetch_history_events():
        if event.HasField("workflow_execution_signaled_event_attributes"):
            signals.append(event.workflow_execution_signaled_event_attributes.signal_name)
        if event.HasField("workflow_execution_update_admitted_event_attributes"):
            updates.append(event.workflow_execution_update_admitted_event_attributes)
    assert signals == ["approve"]
    assert updates == []


@LANGS
def test_a_failure_through_an_activity_is_its_authors_type(polyglot, lang) -> None:
    """The activity's OutOfStock, left to propagate (Go's return err, TypeScript's and Java's
    uncaught ActivityFailure): failure_type OutOfStock with its message and details, never an
    SDK's class name; the chain's first link is the activity."""
    with polyglot.http() as http:
        response = http.post(f"/workflows/{lang.path('failures')}", json={"kind": "activity"})
        problem = _problem(response, 500, "workflow-failed")
    assert problem["failure_type"] == "OutOfStock"
    assert problem["non_retryable"] is True
    assert "out of stock" in problem["detail"]
    failure = problem["failure"]
    assert failure["details"][0]["sku"]
    assert [link["kind"] for link in failure["chain"]][-2:] == ["activity", "application"]
    assert failure["chain"][-1]["type"] == "OutOfStock"


@LANGS
def test_a_typed_failure_keeps_its_details(polyglot, lang) -> None:
    with polyglot.http() as http:
        response = http.post(f"/workflows/{lang.path('failures')}", json={"kind": "declined"})
        problem = _problem(response, 500, "workflow-failed")
    assert problem["failure_type"] == "PaymentDeclined"
    assert problem["detail"] == "payment declined"
    assert len(problem["failure"]["details"]) == 2


def test_go_wrapping_and_plain_errors_are_not_types(polyglot) -> None:
    with polyglot.http() as http:
        wrapped = _problem(
            http.post(f"/workflows/{GO.path('failures')}", json={"kind": "wrapped"}),
            500, "workflow-failed",
        )  # fmt: skip
        plain = _problem(
            http.post(f"/workflows/{GO.path('failures')}", json={"kind": "plain"}),
            500, "workflow-failed",
        )  # fmt: skip
    assert wrapped["failure_type"] == "OutOfStock"
    first = wrapped["failure"]["chain"][0]
    assert (first["kind"], first["type"]) == ("application", None)
    assert first["message"].startswith("charging failed")
    assert (plain["failure_type"], plain["detail"]) == (None, "the warehouse robot is stuck")


FAILING_TASK = {"go": "panic", "ts": "plain", "java": "plain"}
"""The failure kind that fails each language's workflow task rather than its workflow."""


@LANGS
def test_a_workflow_task_that_keeps_failing_is_said_everywhere(polyglot, lang) -> None:
    """A Go panic, a TypeScript plain Error, a Java RuntimeException: the workflow shows
    RUNNING for ever while its workflow task fails. The sync start's 202, status, describe and
    the event stream say workflow_task_failing, with the failure's message."""
    with polyglot.http() as http:
        response = http.post(
            f"/workflows/{lang.path('failures')}", json={"kind": FAILING_TASK[lang.name]},
            headers={"Prefer": "wait=3"},
        )  # fmt: skip
        running = _ok(response, 202)
        workflow_id = running["workflow_id"]

        def failing() -> dict[str, Any]:
            status = _ok(http.get(f"/workflows/{workflow_id}/status"))
            assert status["status"] == "RUNNING"
            return status.get("workflow_task_failing") or {}

        said = eventually(failing, timeout=30)
        assert said["attempt"] >= 2
        assert said["message"], said
        described = _ok(http.get(f"/workflows/{workflow_id}"))
        assert described["workflow_task_failing"]["message"] == said["message"]
        with http.stream("GET", f"/workflows/{workflow_id}/events") as stream:
            for line in stream.iter_lines():
                if "workflow_task_failing" in line:
                    event = json.loads(line.removeprefix("data: "))
                    break
        assert event["status"] == "RUNNING"
        assert event["workflow_task_failing"]["message"]
        _ok(http.post(f"/workflows/{workflow_id}/terminate"))


def test_workers_stay_up(polyglot) -> None:
    """Both workers are still up after the suite (a crash would hide behind timeouts)."""
    with polyglot.http() as http:
        assert _ok(http.get("/readyz"))
    for queue in polyglot.queues.values():
        assert polled(polyglot.temporal, queue)

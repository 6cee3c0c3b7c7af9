"""Completion webhooks end to end: the real API and worker processes, a real HTTP receiver on
loopback (the test routes opt in to private destinations), every delivery checked with the
client's shipped verifier."""

from __future__ import annotations

import asyncio
import base64
import json
import signal
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from temporalio.client import Client

from gateway_api.temporal.webhooks import delivery_handle
from gateway_core.callbacks import STATE_QUERY, DeliveryState, DeliveryStatus
from gateway_workflows.callbacks.signing import new_secret
from support.gateway import ApiKeys
from support.procs import ROOT, ApiProcess, WorkerProcess, eventually
from support.receiver import Delivery, Receiver
from temporal_gateway_client import TemporalAPIClient, WorkflowNotFound, webhooks

pytestmark = pytest.mark.e2e


@dataclass
class Hooks:
    api: ApiProcess
    receiver: Receiver
    secrets: Path
    secret: str
    worker_args: dict
    workers: list[WorkerProcess]
    api_args: dict
    routes_file: Path
    queue: str

    def write_routes(self, policy: dict | None = None) -> None:
        """Rewrite the route file the API and the worker read: ``cb-policy``'s callbacks block
        updated with ``policy`` (its ``{"deleted": True}``: the route gone); returns once the
        API serves the new table (the worker reads the file before each attempt)."""
        routes = _routes(self.queue)
        if policy is not None:
            (route,) = [r for r in routes if r["metadata"]["name"] == "cb-policy"]
            if policy.get("deleted"):
                routes.remove(route)
            else:
                route["spec"]["callbacks"] = {**route["spec"]["callbacks"], **policy}
        text = yaml.safe_dump_all(routes)
        if text == self.routes_file.read_text():
            return
        served = httpx.get(self.api.url, timeout=10).json()["routes_version"]
        self.routes_file.write_text(text)
        eventually(lambda: httpx.get(self.api.url, timeout=10).json()["routes_version"] != served)

    def restart_api(self) -> None:
        """Kill the API and start another on its port: it plays no part after the start."""
        self.api.signal(signal.SIGKILL)
        self.api.popen.wait(10)
        self.api = ApiProcess(**self.api_args, port=self.api.port)
        self.api.wait_ready()

    @property
    def worker(self) -> WorkerProcess:
        return self.workers[-1]

    def restart_worker(self) -> None:
        self.workers.append(WorkerProcess(**self.worker_args))


def _routes(task_queue: str) -> list[dict]:
    hooks = {"allowedDestinations": ["http://127.0.0.1:*"], "allowPrivateNetworks": True,
             "signingSecret": "hooks"}  # fmt: skip
    specs = {
        "cb-ok": {"workflowType": "SlowWorkflow", "callbacks": hooks},
        "cb-fail": {"workflowType": "FailingWorkflow", "callbacks": hooks},
        "cb-payload": {"workflowType": "PayloadWorkflow", "callbacks": hooks},
        "cb-timeout": {"workflowType": "SlowWorkflow", "executionTimeoutSeconds": 2,
                       "callbacks": hooks},
        "cb-closed": {"workflowType": "SlowWorkflow",
                      "callbacks": {**hooks, "allowPrivateNetworks": False}},
        # A route with a secret of its own, which no one has mounted when the test begins.
        "cb-own": {"workflowType": "SlowWorkflow",
                   "callbacks": {**hooks, "signingSecret": "cb-own"}},
        # A route whose callbacks block the tests change while deliveries are under way.
        "cb-policy": {"workflowType": "SlowWorkflow", "callbacks": hooks},
        # A route some callers may start on but not read (served with API keys by `keyed`).
        "cb-keys": {"workflowType": "SlowWorkflow", "callbacks": hooks,
                    "authorization": {"start": {"scopes": ["cb-keys:start"]},
                                      "read": {"scopes": ["cb-keys:read"]}}},
    }  # fmt: skip
    return [
        {"apiVersion": "temporal-gateway.dev/v1alpha1", "kind": "WorkflowRoute",
         "metadata": {"name": path}, "spec": {"path": path, "taskQueue": task_queue, **spec}}
        for path, spec in specs.items()
    ]  # fmt: skip


@pytest.fixture(scope="module")
def hooks(temporal_server, logs_dir, tmp_path_factory) -> Iterator[Hooks]:
    tmp = tmp_path_factory.mktemp("callbacks")
    queue = f"cb-{uuid.uuid4().hex[:8]}"
    callback_queue = f"{queue}-deliveries"
    routes_file = tmp / "routes.yaml"
    routes_file.write_text(yaml.safe_dump_all(_routes(queue)))
    secrets = tmp / "secrets"
    secrets.mkdir()
    secret = new_secret()
    (secrets / "hooks").write_text(secret + "\n")
    receiver = Receiver.start()
    worker_args = {
        "log_dir": logs_dir,
        "temporal": temporal_server.address,
        "module": "support.slow_worker",
        "task_queue": queue,
        "env": {
            "WORKER_CALLBACK_TASK_QUEUE": callback_queue,
            "WORKER_CALLBACK_SECRETS_DIR": str(secrets),
            "WORKER_ROUTES_PATH": str(routes_file),
            "PYTHONPATH": str(ROOT / "tests"),
        },
    }
    workers = [WorkerProcess(**worker_args)]
    api_args = {
        "log_dir": logs_dir,
        "temporal": temporal_server.address,
        "env": {
            "API_ROUTES_PATH": str(routes_file),
            "API_CALLBACK_TASK_QUEUE": callback_queue,
            "API_CALLBACK_RETRY_INITIAL_SECONDS": "0.3",
            "API_CALLBACK_RETRY_BACKOFF": "1.5",
            "API_CALLBACK_RETRY_MAX_INTERVAL_SECONDS": "1",
            "API_CALLBACK_RETRY_MAX_TOTAL_SECONDS": "120",
            "API_CALLBACK_ATTEMPT_TIMEOUT_SECONDS": "3",
            # Redeliveries back to back (the caps have their own API: `keyed`).
            "API_CALLBACK_REDELIVER_MIN_INTERVAL_SECONDS": "0",
        },
    }
    hooks = Hooks(
        ApiProcess(**api_args), receiver, secrets, secret, worker_args, workers, api_args,
        routes_file, queue,
    )  # fmt: skip
    try:
        hooks.api.wait_ready()
        yield hooks
    finally:
        hooks.api.stop()
        for worker in workers:
            worker.stop()
        receiver.stop()


KEYS = ApiKeys({"owner": ["cb-keys:start", "cb-keys:read"], "starter": ["cb-keys:start"]})
"""The owner starts and reads ``cb-keys`` workflows; the starter may only start them."""
MAX_REDELIVERIES, REDELIVER_INTERVAL = 3, 2


@pytest.fixture(scope="module")
def keyed(hooks: Hooks, tmp_path_factory) -> Iterator[ApiProcess]:
    """A second API on the same routes and Temporal, with API keys, and redeliveries capped at
    :data:`MAX_REDELIVERIES`, :data:`REDELIVER_INTERVAL` seconds apart."""
    keys = KEYS.write(tmp_path_factory.mktemp("keys") / "keys.yaml")
    api = ApiProcess(
        hooks.api_args["log_dir"],
        temporal=hooks.api_args["temporal"],
        env={
            **hooks.api_args["env"],
            "API_AUTH_DISABLED": "false",
            "API_KEYS_FILE": str(keys),
            "API_CALLBACK_MAX_REDELIVERIES": str(MAX_REDELIVERIES),
            "API_CALLBACK_REDELIVER_MIN_INTERVAL_SECONDS": str(REDELIVER_INTERVAL),
        },
    )
    try:
        api.wait_ready()
        yield api
    finally:
        api.stop()


def _start(hooks: Hooks, route: str, path: str, body=None, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{hooks.api.url}/workflows/{route}/async",
        json=body if body is not None else {"seconds": 0.1},
        headers={"Callback-Url": hooks.receiver.base + path, **headers},
        timeout=30,
    )


def _started(hooks: Hooks, route: str, path: str, body=None, **headers: str) -> str:
    response = _start(hooks, route, path, body, **headers)
    assert response.status_code == 200, response.text
    assert 'rel="callbacks"' in response.headers["link"]
    return response.json()["workflow_id"]


def _state(hooks: Hooks, workflow_id: str) -> dict:
    response = httpx.get(f"{hooks.api.url}/workflows/{workflow_id}/callbacks", timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def _settled(hooks: Hooks, workflow_id: str, status: str, timeout: float = 60) -> dict:
    return eventually(
        lambda: (s := _state(hooks, workflow_id))["status"] == status and s, timeout=timeout
    )


def _delivery_state(hooks: Hooks, workflow_id: str) -> DeliveryState:
    """The delivery's state, queried from Temporal itself."""

    async def query() -> DeliveryState:
        client = await Client.connect(hooks.worker_args["temporal"])
        handle = await delivery_handle(client, workflow_id, None, timedelta(seconds=10))
        return await handle.query(STATE_QUERY, result_type=DeliveryState)

    return asyncio.run(query())


def _arrived(hooks: Hooks, path: str, count: int = 1, timeout: float = 60) -> list[Delivery]:
    return eventually(lambda: len(got := hooks.receiver.at(path)) >= count and got, timeout=timeout)


def test_one_signed_delivery_per_outcome(hooks: Hooks) -> None:
    api = hooks.api.url
    ids = {
        "completed": _started(hooks, "cb-ok", "/completed"),
        "failed": _started(hooks, "cb-fail", "/failed", {}),
        "timed_out": _started(hooks, "cb-timeout", "/timed_out", {"seconds": 30}),
        "cancelled": _started(hooks, "cb-ok", "/cancelled", {"seconds": 30}),
        "terminated": _started(hooks, "cb-ok", "/terminated", {"seconds": 30}),
    }
    assert httpx.post(f"{api}/workflows/{ids['cancelled']}/cancel").status_code == 202
    assert httpx.post(f"{api}/workflows/{ids['terminated']}/terminate").status_code == 200
    for outcome, workflow_id in ids.items():
        state = _settled(hooks, workflow_id, "delivered")
        assert state["outcome"] == outcome
        assert state["attempt_count"] == 1, state
        (delivery,) = hooks.receiver.at(f"/{outcome}")
        event = webhooks.verify(delivery.body, delivery.headers, hooks.secret)
        assert delivery.headers["webhook-id"] == state["webhook_id"]
        assert event["type"] == f"workflow.{outcome}"
        data = event["data"]
        assert data["workflow_id"] == workflow_id
        assert data["outcome"] == outcome
        assert data["run_id"]
        assert data["start_time"]
        assert data["close_time"]
        if outcome == "completed":
            assert data["result"].startswith("slept 0.1s")
        else:
            assert data["failure"]["message"]
    failed = hooks.receiver.at("/failed")[0].event["data"]["failure"]
    assert failed["type"] == "OutOfStock"
    assert failed["message"] == "the shop is out of stock"
    assert failed["non_retryable"] is True
    assert failed["chain"][-1]["kind"] == "application"
    terminated = hooks.receiver.at("/terminated")[0].event["data"]["failure"]
    assert terminated["type"] is None
    assert [link["kind"] for link in terminated["chain"]] == ["terminated"]


def test_outcomes_not_asked_for_are_not_delivered(hooks: Hooks) -> None:
    skipped = _started(hooks, "cb-ok", "/skipped", **{"Callback-Outcomes": "failed,timed_out"})
    assert _settled(hooks, skipped, "skipped")["outcome"] == "completed"
    sentinel = _started(hooks, "cb-ok", "/after-skipped")
    _settled(hooks, sentinel, "delivered")
    assert hooks.receiver.at("/skipped") == []


def test_a_flaky_receiver_gets_the_same_webhook_id_until_it_takes_it(hooks: Hooks) -> None:
    hooks.receiver.script["/flaky"] = [500, 500]
    workflow_id = _started(hooks, "cb-ok", "/flaky")
    state = _settled(hooks, workflow_id, "delivered")
    attempts = hooks.receiver.at("/flaky")
    assert len(attempts) == 3
    assert {a.headers["webhook-id"] for a in attempts} == {state["webhook_id"]}
    assert [a["status_code"] for a in state["attempts"]] == [500, 500, 200]
    assert [a["delivered"] for a in state["attempts"]] == [False, False, True]
    assert state["last_error"] == "HTTP 500"
    for attempt in attempts:
        webhooks.verify(attempt.body, attempt.headers, hooks.secret)

    # Redelivery sends the same message again, under the same id.
    response = httpx.post(f"{hooks.api.url}/workflows/{workflow_id}/callbacks/redeliver")
    assert response.status_code == 202, response.text
    assert response.headers["location"].endswith(f"/workflows/{workflow_id}/callbacks")
    again = _arrived(hooks, "/flaky", 4)[3]
    assert again.headers["webhook-id"] == state["webhook_id"]
    assert again.body == attempts[2].body
    state = eventually(lambda: (s := _state(hooks, workflow_id))["attempt_count"] == 4 and s)
    assert state["redeliveries"] == 1
    assert state["status"] == "delivered"


def test_redeliver_is_refused_while_the_workflow_runs(hooks: Hooks) -> None:
    workflow_id = _started(hooks, "cb-ok", "/busy", {"seconds": 30})
    _settled(hooks, workflow_id, "waiting")
    response = httpx.post(f"{hooks.api.url}/workflows/{workflow_id}/callbacks/redeliver")
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "callback-busy"
    httpx.post(f"{hooks.api.url}/workflows/{workflow_id}/terminate")
    _settled(hooks, workflow_id, "delivered")


def test_an_api_and_worker_restart_mid_retry_loses_nothing(hooks: Hooks) -> None:
    hooks.receiver.script["/outage"] = [503] * 1000
    workflow_id = _started(hooks, "cb-ok", "/outage")
    _arrived(hooks, "/outage", 2)
    hooks.worker.signal(signal.SIGKILL)
    hooks.worker.popen.wait(10)
    hooks.restart_api()
    hooks.receiver.script["/outage"] = []  # the receiver recovers while no worker runs
    hooks.restart_worker()
    state = _settled(hooks, workflow_id, "delivered", timeout=90)
    deliveries = hooks.receiver.at("/outage")
    assert {d.headers["webhook-id"] for d in deliveries} == {state["webhook_id"]}
    assert state["attempts"][-1]["status_code"] == 200
    webhooks.verify(deliveries[-1].body, deliveries[-1].headers, hooks.secret)


def test_refused_destinations_never_receive_a_request(hooks: Hooks) -> None:
    port = hooks.receiver.server.server_address[1]
    not_allowed = httpx.post(
        f"{hooks.api.url}/workflows/cb-ok/async",
        json={"seconds": 0.1},
        headers={"Callback-Url": f"http://localhost:{port}/not-allowed"},
    )
    assert not_allowed.status_code == 422
    assert not_allowed.json()["errors"][0]["field"] == "header.Callback-Url"
    loopback = _start(hooks, "cb-closed", "/loopback")
    assert loopback.status_code == 422
    assert "loopback" in loopback.json()["errors"][0]["message"]

    hooks.receiver.script["/redirect"] = [302]
    redirected = _started(hooks, "cb-ok", "/redirect")
    state = _settled(hooks, redirected, "failed")
    assert state["attempt_count"] == 1
    assert state["attempts"][0]["status_code"] == 302
    assert "redirects are not followed" in state["last_error"]

    # The sentinel: a delivery asked for after all of the above did arrive.
    sentinel = _started(hooks, "cb-ok", "/sentinel")
    _settled(hooks, sentinel, "delivered")
    assert _arrived(hooks, "/sentinel")
    for path in ("/not-allowed", "/loopback", "/redirected"):
        assert hooks.receiver.at(path) == [], path
    assert len(hooks.receiver.at("/redirect")) == 1


# -- the route's policy as it is now, before every attempt -------------------------------------


@pytest.mark.parametrize(
    ("policy", "error"),
    [
        ({"enabled": False}, "refused: callbacks disabled on route 'cb-policy'"),
        ({"deleted": True}, "refused: callbacks disabled: route 'cb-policy' is gone"),
    ],
    ids=["disabled", "deleted"],
)
def test_retries_stop_once_the_route_turns_its_callbacks_off(hooks: Hooks, policy, error) -> None:
    path = f"/retrying-{next(iter(policy))}"
    hooks.receiver.script[path] = [503] * 1000
    workflow_id = _started(hooks, "cb-policy", path)
    _arrived(hooks, path, 2)
    try:
        hooks.write_routes(policy)
        # Asked of Temporal: the API answers nothing of a route that is gone.
        eventually(lambda: _delivery_state(hooks, workflow_id).status == DeliveryStatus.FAILED)
    finally:
        hooks.write_routes()
    state = _settled(hooks, workflow_id, "failed")
    assert state["last_error"] == error
    last = state["attempts"][-1]
    assert (last["status_code"], last["error"]) == (None, error)
    # Every attempt but the refused one reached the receiver; none came after it.
    assert len(hooks.receiver.at(path)) == state["attempt_count"] - 1


def test_a_redelivery_is_checked_against_the_routes_current_block(hooks: Hooks) -> None:
    """The callback was asked for under a block that allowed it; each redelivery meets the
    block as it is now, and goes nowhere it no longer allows."""
    workflow_id = _started(hooks, "cb-policy", "/redelivered")
    _settled(hooks, workflow_id, "delivered")
    url = f"http://127.0.0.1:{hooks.receiver.server.server_address[1]}"
    refusals = [
        ({"allowedDestinations": ["http://127.0.0.2:*"]},
         f"refused: {url} is not an allowed callback destination"),
        ({"allowPrivateNetworks": False},
         "refused: 127.0.0.1 resolves to an address callbacks may not reach "
         "(private, loopback, link-local, multicast or otherwise not global)"),
        ({"enabled": False}, "refused: callbacks disabled on route 'cb-policy'"),
    ]  # fmt: skip
    try:
        for number, (policy, error) in enumerate(refusals, start=2):
            hooks.write_routes(policy)
            response = httpx.post(f"{hooks.api.url}/workflows/{workflow_id}/callbacks/redeliver")
            assert response.status_code == 202, response.text
            state = eventually(
                lambda n=number: (
                    (s := _state(hooks, workflow_id))["attempt_count"] == n
                    and s["status"] == "failed"
                    and s
                )
            )
            assert state["last_error"] == error
    finally:
        hooks.write_routes()
    assert len(hooks.receiver.at("/redelivered")) == 1
    # Restored, the block lets the same callback through again.
    assert httpx.post(f"{hooks.api.url}/workflows/{workflow_id}/callbacks/redeliver").is_success
    assert len(_arrived(hooks, "/redelivered", 2)) == 2


# -- redelivery: what it shows, and how often -------------------------------------------------


def _keyed_started(hooks: Hooks, keyed: ApiProcess, path: str | None) -> str:
    """A ``cb-keys`` workflow the owner started (with a callback to ``path`` unless None)."""
    headers = KEYS.auth("owner")
    if path is not None:
        headers["Callback-Url"] = hooks.receiver.base + path
    response = httpx.post(
        f"{keyed.url}/workflows/cb-keys/async", json={"seconds": 0.1}, headers=headers, timeout=30
    )
    assert response.status_code == 200, response.text
    return response.json()["workflow_id"]


def _redeliver(api: ApiProcess, workflow_id: str, key: str) -> httpx.Response:
    url = f"{api.url}/workflows/{workflow_id}/callbacks/redeliver"
    return httpx.post(url, headers=KEYS.auth(key), timeout=30)


def test_redeliver_shows_a_caller_who_may_not_read_nothing_and_sends_nothing(
    hooks: Hooks, keyed: ApiProcess
) -> None:
    """A key with only ``start`` on the route, against another principal's workflows: one with
    a callback, one without, and an id that does not exist answer the same 404 (no URL, no
    state, not even which ids exist), and no request reaches the receiver."""
    with_callback = _keyed_started(hooks, keyed, "/owners")
    without = _keyed_started(hooks, keyed, None)
    missing = "cb-keys-00000000000000000000000000000000"
    _settled(hooks, with_callback, "delivered")

    def problem(response: httpx.Response, workflow_id: str) -> dict:
        assert response.status_code == 404, response.text
        body = response.json()
        assert body.pop("instance").endswith(f"/workflows/{workflow_id}/callbacks/redeliver")
        assert (
            body.pop("detail")
            == f"no callback of workflow {workflow_id!r} that key:starter may read"
        )
        body.pop("request_id"), body.pop("trace_id", None), body.pop("workflow_id", None)
        return body

    answers = [
        problem(_redeliver(keyed, wid, "starter"), wid) for wid in (with_callback, without, missing)
    ]
    assert answers[0]["code"] == "callback-not-found"
    assert answers[0] == answers[1] == answers[2]
    # The owner, who may read, gets the same code for the missing id, and redelivers its own.
    assert _redeliver(keyed, missing, "owner").json()["code"] == "callback-not-found"
    assert _redeliver(keyed, with_callback, "owner").status_code == 202
    assert len(_arrived(hooks, "/owners", 2)) == 2  # the sentinel: the owner's redelivery
    assert len(hooks.receiver.at("/owners")) == 2


def test_redeliveries_are_spaced_and_capped(hooks: Hooks, keyed: ApiProcess) -> None:
    """A loop of redeliveries: one is sent, the rest refused with 429 and Retry-After until
    the interval has passed, and after the cap 409, whatever the caller does."""
    workflow_id = _keyed_started(hooks, keyed, "/amplified")
    _settled(hooks, workflow_id, "delivered")
    answers = [_redeliver(keyed, workflow_id, "owner") for _ in range(20)]
    assert answers[0].status_code == 202, answers[0].text
    for refused in answers[1:]:
        assert refused.status_code in (409, 429), refused.text  # 409 while it delivers
    too_soon = [r for r in answers if r.status_code == 429]
    assert too_soon, [r.status_code for r in answers]
    for refused in too_soon:
        problem = refused.json()
        assert problem["code"] == "redelivery-too-soon"
        assert 1 <= int(refused.headers["retry-after"]) <= REDELIVER_INTERVAL
        assert problem["retry_after_seconds"] == int(refused.headers["retry-after"])
    for _ in range(MAX_REDELIVERIES - 1):
        eventually(lambda: _redeliver(keyed, workflow_id, "owner").status_code == 202, timeout=30)
    capped = eventually(
        lambda: (
            (r := _redeliver(keyed, workflow_id, "owner")).status_code == 409
            and "the most allowed" in r.json()["detail"]
            and r
        ),
        timeout=30,
    )
    assert capped.json()["code"] == "callback-busy"
    sent = _arrived(hooks, "/amplified", 1 + MAX_REDELIVERIES)
    assert len(sent) == 1 + MAX_REDELIVERIES
    state = _state(hooks, workflow_id)
    assert (state["redeliveries"], state["attempt_count"]) == (
        MAX_REDELIVERIES,
        1 + MAX_REDELIVERIES,
    )
    assert state["last_redelivered_at"] is not None


def test_a_rotated_secret_verifies_with_either_key(hooks: Hooks) -> None:
    new = new_secret()
    (hooks.secrets / "hooks").write_text(f"{new}\n{hooks.secret}\n")
    try:
        workflow_id = _started(hooks, "cb-ok", "/rotated")
        _settled(hooks, workflow_id, "delivered")
    finally:
        (hooks.secrets / "hooks").write_text(hooks.secret + "\n")
    (delivery,) = hooks.receiver.at("/rotated")
    assert len(delivery.headers["webhook-signature"].split()) == 2
    for secret in (new, hooks.secret):
        webhooks.verify(delivery.body, delivery.headers, [secret])
    with pytest.raises(webhooks.WebhookVerificationError):
        webhooks.verify(delivery.body, delivery.headers, [new_secret()])


def test_a_delivery_names_its_route_so_another_routes_receiver_refuses_it(hooks: Hooks) -> None:
    """Two routes sign with one secret and both allow the receiver: a caller of ``cb-ok`` aims
    its callback at the receiver of ``cb-fail``'s deliveries. The signature verifies, but the
    signed body names ``cb-ok``, which that receiver refuses."""
    workflow_id = _started(hooks, "cb-ok", "/cb-fail-receiver")
    _settled(hooks, workflow_id, "delivered")
    (delivery,) = hooks.receiver.at("/cb-fail-receiver")
    event = webhooks.verify(delivery.body, delivery.headers, hooks.secret)
    assert event["data"]["route"] == "cb-ok"
    assert webhooks.verify(delivery.body, delivery.headers, hooks.secret, route="cb-ok")
    with pytest.raises(webhooks.WebhookVerificationError, match="'cb-ok', not 'cb-fail'"):
        webhooks.verify(delivery.body, delivery.headers, hooks.secret, route="cb-fail")


def test_a_routes_own_secret_mounted_late_signs_from_the_next_attempt(hooks: Hooks) -> None:
    """Until the route's secret is mounted each attempt fails, naming the secret and never
    where the worker keeps it; then the delivery is signed with it alone."""
    workflow_id = _started(hooks, "cb-own", "/own-secret")
    state = eventually(lambda: (s := _state(hooks, workflow_id))["attempt_count"] >= 1 and s)
    assert (
        state["last_error"] == "signing secret 'cb-own' cannot be read (No such file or directory)"
    )
    assert str(hooks.secrets) not in json.dumps(state)
    own = new_secret()
    (hooks.secrets / "cb-own").write_text(own + "\n")
    _settled(hooks, workflow_id, "delivered")
    (delivery,) = hooks.receiver.at("/own-secret")
    assert webhooks.verify(delivery.body, delivery.headers, own, route="cb-own")
    with pytest.raises(webhooks.WebhookVerificationError, match="no signature"):
        webhooks.verify(delivery.body, delivery.headers, hooks.secret)


def test_the_helper_refuses_a_delivery_outside_the_tolerance(hooks: Hooks) -> None:
    workflow_id = _started(hooks, "cb-ok", "/stale")
    _settled(hooks, workflow_id, "delivered")
    (delivery,) = hooks.receiver.at("/stale")
    stamp = int(delivery.headers["webhook-timestamp"])
    assert webhooks.verify(delivery.body, delivery.headers, hooks.secret, now=stamp + 299)
    with pytest.raises(webhooks.WebhookVerificationError, match="from now"):
        webhooks.verify(delivery.body, delivery.headers, hooks.secret, now=stamp + 301)


def test_a_workflow_without_a_callback_has_none(hooks: Hooks) -> None:
    started = httpx.post(f"{hooks.api.url}/workflows/cb-ok/async", json={"seconds": 0.1})
    workflow_id = started.json()["workflow_id"]
    response = httpx.get(f"{hooks.api.url}/workflows/{workflow_id}/callbacks")
    assert response.status_code == 404, response.text
    assert response.json()["code"] == "callback-not-found"
    with TemporalAPIClient(hooks.api.url) as client, pytest.raises(WorkflowNotFound) as raised:
        client.redeliver_callback(workflow_id)
    assert raised.value.code == "callback-not-found"


def test_the_python_client_reads_and_redelivers_a_callback(hooks: Hooks) -> None:
    workflow_id = _started(hooks, "cb-ok", "/by-client")
    _settled(hooks, workflow_id, "delivered")
    with TemporalAPIClient(hooks.api.url) as client:
        assert client.callbacks(workflow_id)["status"] == "delivered"
        assert client.redeliver_callback(workflow_id)["status"] == "delivering"
    assert len(_arrived(hooks, "/by-client", 2)) == 2


def test_the_worker_counts_attempts_by_route_outcome_and_result(hooks: Hooks) -> None:
    hooks.receiver.script["/counted"] = [500]
    workflow_id = _started(hooks, "cb-ok", "/counted")
    _settled(hooks, workflow_id, "delivered")
    url = f"http://127.0.0.1:{hooks.worker.metrics_port}/metrics"

    def counted() -> dict[str, float]:
        found: dict[str, float] = {}
        for family in text_string_to_metric_families(httpx.get(url, timeout=5).text):
            for sample in family.samples:
                if sample.name == "temporal_gateway_callback_attempts_total" and (
                    sample.labels.get("route") == "cb-ok"
                    and sample.labels.get("outcome") == "completed"
                ):
                    found[sample.labels["result"]] = sample.value
        return found if {"delivered", "failed"} <= set(found) else {}

    found = eventually(counted)
    assert found["delivered"] >= 1
    assert found["failed"] >= 1


# -- an attacker's receiver --------------------------------------------------------------------

_MiB = 1 << 20


def _peak_rss_mib(pid: int) -> float:
    """The process's peak resident set so far (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmHWM for {pid}")


def _gzip_of_zeros(size: int) -> bytes:
    """``size`` bytes of zeros, gzipped: 1 GiB of them is about 1 MiB."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(_MiB)
    return b"".join([*(packer.compress(block) for _ in range(size // _MiB)), packer.flush()])


def _streamed(receiver: Receiver, path: str, total: int, *, gzip: bytes = b"") -> Callable:
    """An answer of ``total`` bytes (or the gzip ``gzip``), written a MiB at a time, counted."""

    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(gzip) or total))
        if gzip:
            handler.send_header("Content-Encoding", "gzip")
        handler.end_headers()
        data = memoryview(gzip or b"x" * _MiB)
        sent = 0
        while sent < (len(gzip) or total):
            chunk = data[sent : sent + _MiB] if gzip else data[: min(_MiB, total - sent)]
            handler.wfile.write(chunk)
            sent += len(chunk)
            receiver.sent[path] = sent

    return answer


def _drip(receiver: Receiver, path: str) -> Callable:
    """A 200 whose body comes a byte at a time, for ever (until the client hangs up)."""

    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(1 << 30))
        handler.end_headers()
        while True:
            handler.wfile.write(b"x")
            handler.wfile.flush()
            receiver.sent[path] = receiver.sent.get(path, 0) + 1
            time.sleep(0.05)

    return answer


def test_a_receiver_cannot_exhaust_the_workers_memory(hooks: Hooks) -> None:
    """A gzip bomb (1 MiB expanding to 1 GiB) and a 400 MiB plain body: the worker reads a few
    KiB of each, decodes nothing, and records the status and an excerpt."""
    bomb = _gzip_of_zeros(1024 * _MiB)
    hooks.receiver.answers["/bomb"] = [_streamed(hooks.receiver, "/bomb", 0, gzip=bomb)]
    hooks.receiver.answers["/huge"] = [_streamed(hooks.receiver, "/huge", 400 * _MiB)]
    before = _peak_rss_mib(hooks.worker.pid)
    bombed = _started(hooks, "cb-ok", "/bomb")
    huge = _started(hooks, "cb-ok", "/huge")
    for workflow_id in (bombed, huge):
        state = _settled(hooks, workflow_id, "delivered")
        assert state["attempts"][-1]["status_code"] == 200
        assert state["attempts"][-1]["excerpt"] is not None
    after = _peak_rss_mib(hooks.worker.pid)
    assert after - before < 64, f"the worker's peak RSS grew from {before:.0f} to {after:.0f} MiB"
    # The worker hung up long before the body's end (socket buffers hold a few MiB at most).
    assert hooks.receiver.sent.get("/huge", 0) < 64 * _MiB


def test_a_receiver_trickling_its_answer_is_cut_off_at_the_attempt_timeout(hooks: Hooks) -> None:
    hooks.receiver.answers["/drip"] = [_drip(hooks.receiver, "/drip")]
    workflow_id = _started(hooks, "cb-ok", "/drip")
    state = _settled(hooks, workflow_id, "delivered")  # the second attempt gets a plain 200
    first, second = state["attempts"][:2]
    assert first["delivered"] is False
    assert first["error"] == "timed out after 3s"
    assert second["delivered"] is True
    assert 0 < hooks.receiver.sent["/drip"] < 3 / 0.05 + 10  # about 3 s of bytes, not more


def test_a_body_shows_results_and_details_of_any_sdk(hooks: Hooks) -> None:
    """A protobuf result is its JSON with its message type; a payload nothing here can read
    (another SDK's binary protobuf) is shown as what it is, in a result and in a failure's
    details: the delivery never fails on it."""
    receipt = {"orderId": "o-1", "totalCents": "1500"}
    sent = {
        "/pb-json": {"encoding": "json/protobuf", "message_type": "shop.v1.Receipt",
                     "data": base64.b64encode(json.dumps(receipt).encode()).decode()},
        "/pb-binary": {"encoding": "binary/protobuf", "message_type": "shop.v1.Receipt",
                       "data": base64.b64encode(b"\x0a\x03o-1").decode()},
    }  # fmt: skip
    sent["/pb-failed"] = {**sent["/pb-binary"], "fail": True}
    ids = {path: _started(hooks, "cb-payload", path, body) for path, body in sent.items()}
    for workflow_id in ids.values():
        _settled(hooks, workflow_id, "delivered")
    as_json = _arrived(hooks, "/pb-json")[0].event["data"]
    assert (as_json["result"], as_json["result_type"]) == (receipt, "shop.v1.Receipt")
    unread = _arrived(hooks, "/pb-binary")[0].event["data"]["result"]
    assert unread["encoding"] == "binary/protobuf"
    assert unread["message_type"] == "shop.v1.Receipt"
    failed = _arrived(hooks, "/pb-failed")[0].event["data"]["failure"]
    assert failed["type"] == "Refused"
    assert failed["details"][0]["encoding"] == "binary/protobuf"

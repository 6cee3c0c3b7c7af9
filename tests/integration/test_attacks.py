"""Issue 11's attacks at the HTTP-semantics level, against an in-process API (authentication on,
API keys) and a real Temporal: someone else's Idempotency-Key, workflows minted in Temporal,
key guessing, and timing by id (now shown by counting Temporal calls, not by timing). Each
test is the attack as it was run; the answers are the fixed ones."""

from __future__ import annotations

import hashlib
import uuid

import httpx
import pytest

from gateway_api.security.keys import new_key
from gateway_api.temporal.executions import (
    MEMO_PRINCIPAL,
    MEMO_REQUEST_SHA256,
    MEMO_ROUTE,
    body_digest,
)
from support.gateway import ApiKeys, api_client, route


def scope(principal: str) -> str:
    """The documented scope of a caller's keys: 16 hex digits of SHA-256(principal)."""
    return hashlib.sha256(principal.encode()).hexdigest()[:16]


pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("worker")]

KEYS = ApiKeys({
    "alpha": ["alpha:start", "alpha:read"],
    "starter": ["alpha:start"],
    "beta": ["beta:start", "beta:read"],
})  # fmt: skip
auth = KEYS.auth


def routes(task_queue: str) -> list:
    def guarded(name: str, **spec):
        return route(
            name, "FlakyWorkflow", task_queue,
            authorization={"start": {"scopes": [f"{name}:start"]},
                           "read": {"scopes": [f"{name}:read"]}}, **spec,
        )  # fmt: skip

    orders = route(
        "orders", "FlakyWorkflow", task_queue,
        workflow_id={"prefix": "orders-", "template": "{body.order}"},
        input_schema={"type": "object", "required": ["order"]},
        authorization={"start": {"scopes": ["alpha:start", "beta:start"]}},
    )  # fmt: skip
    return [guarded("alpha"), guarded("beta"), orders]


async def test_someone_elses_idempotency_key_confirms_nothing(
    temporal_server, task_queue, keys_file
) -> None:
    """Issue 11 #2: a start-only caller replaying alpha's key got 409 with one detail for the
    right body and another for a wrong one. Now the key is the caller's own: another caller's
    same key is another workflow, whatever the body."""
    keys = [uuid.uuid4().hex, uuid.uuid4().hex]
    right, wrong = {"label": "secret"}, {"label": "guess"}
    async with api_client(
        temporal_server.address, routes(task_queue), auth_disabled=False, keys_file=keys_file
    ) as api:
        mine = []
        for key in keys:
            first = await api.post(
                "/workflows/alpha/async",
                json=right,
                headers=auth("alpha", **{"Idempotency-Key": key}),
            )
            assert first.status_code == 200, first.text
            mine.append(first.json()["workflow_id"])
        assert mine[0] == f"alpha-{scope('key:alpha')}.{keys[0]}"
        # A guess at the body (wrong, then right, each with a key of alpha's): both are the
        # starter's own new workflows, the answer a key nobody used gets.
        for key, body in zip(keys, (wrong, right), strict=True):
            answer = await api.post(
                "/workflows/alpha/async",
                json=body,
                headers=auth("starter", **{"Idempotency-Key": key}),
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["workflow_id"] not in mine
        # The starter's own retries: the same body is its own workflow again (it was 409
        # "reused with another body"); another body is the draft's 422.
        own = uuid.uuid4().hex
        headers = auth("starter", **{"Idempotency-Key": own})
        once = await api.post("/workflows/alpha", json=right, headers=headers)
        again = await api.post("/workflows/alpha", json=right, headers=headers)
        assert once.status_code == again.status_code == 200, again.text
        assert again.json() == once.json()
        other = await api.post("/workflows/alpha", json=wrong, headers=headers)
        assert other.status_code == 422, other.text
        assert other.json()["code"] == "idempotency-key-reused"


async def test_an_id_not_started_by_this_caller_is_one_answer_whatever_the_body(
    temporal_server, client, task_queue, keys_file
) -> None:
    """Issue 11 #2: an id taken outside the gateway (or by another caller, with a business
    key) answers the same 409, with the same detail, for the right body and any other."""
    order = uuid.uuid4().hex
    key = uuid.uuid4().hex
    scoped = f"alpha-{scope('key:alpha')}.{key}"
    await client.start_workflow("FlakyWorkflow", {"label": "x"}, id=scoped, task_queue=task_queue)
    async with api_client(
        temporal_server.address, routes(task_queue), auth_disabled=False, keys_file=keys_file
    ) as api:
        taken = [
            await api.post(
                "/workflows/alpha/async",
                json=body,
                headers=auth("alpha", **{"Idempotency-Key": key}),
            )
            for body in ({"label": "x"}, {"label": "y"})
        ]
        started = await api.post("/workflows/orders/async", json={"order": order},
                                 headers=auth("beta"))  # fmt: skip
        assert started.status_code == 200, started.text
        taken += [
            await api.post("/workflows/orders/async", json=body, headers=auth("alpha"))
            for body in ({"order": order}, {"order": order, "other": 1})
        ]
    details = set()
    for answer in taken:
        assert answer.status_code == 409, answer.text
        assert answer.json()["code"] == "workflow-already-started"
        details.add(answer.json()["detail"])
    assert len(details) == 1


async def test_a_workflow_minted_in_temporal_is_not_the_routes(
    temporal_server, client, task_queue, keys_file
) -> None:
    """Issue 11 #3: the memo was trusted. Ownership is the id prefix (and, where the gateway
    describes the workflow anyway, the route's workflow type); a hand-set memo counts for
    nothing."""
    memo = {MEMO_ROUTE: "alpha", "gateway.route_path": "alpha", MEMO_PRINCIPAL: "key:alpha",
            MEMO_REQUEST_SHA256: body_digest({})}  # fmt: skip
    outside = f"minted-{uuid.uuid4().hex}"
    other_type = f"alpha-{uuid.uuid4().hex}"
    await client.start_workflow("FlakyWorkflow", {}, id=outside, task_queue=task_queue, memo=memo)
    await client.start_workflow("SlowWorkflow", {"seconds": 0}, id=other_type,
                                task_queue=task_queue, memo=memo)  # fmt: skip
    async with api_client(
        temporal_server.address, routes(task_queue), auth_disabled=False, keys_file=keys_file
    ) as api:
        for workflow_id in (outside, other_type):
            for what in ("", "/status"):
                answer = await api.get(f"/workflows/{workflow_id}{what}", headers=auth("alpha"))
                assert answer.status_code == 404, (workflow_id, what, answer.text)
                assert answer.json()["code"] == "workflow-not-found"


async def test_failed_authentications_are_rate_limited_per_address(
    temporal_server, task_queue, keys_file
) -> None:
    """Issue 11 #4: 600 wrong keys all got 401. Now an address gets 30, then 429 with
    Retry-After, for right keys too; X-Forwarded-For counts only from a trusted proxy."""
    async with api_client(
        temporal_server.address, routes(task_queue), auth_disabled=False, keys_file=keys_file,
        trusted_proxies="127.0.0.0/8",
    ) as api:  # fmt: skip

        async def status(client_ip: str, key: str) -> int:
            headers = {"X-API-Key": key, "X-Forwarded-For": client_ip}
            answer = await api.get("/workflows/alpha-x/status", headers=headers)
            if answer.status_code == 429:
                assert int(answer.headers["retry-after"]) >= 1
                assert answer.json()["code"] == "rate-limited"
            return answer.status_code

        guesses = [await status("203.0.113.7", new_key()) for _ in range(40)]
        assert guesses[:30] == [401] * 30
        assert set(guesses[30:]) == {429}
        assert await status("203.0.113.7", KEYS["alpha"]) == 429  # no oracle while refused
        assert await status("203.0.113.8", KEYS["alpha"]) == 404  # another client is fine

    # Without trusted proxies the header is anyone's to write, so it changes nothing.
    async with api_client(
        temporal_server.address, routes(task_queue), auth_disabled=False, keys_file=keys_file
    ) as api:
        codes = [
            (await api.get("/workflows/alpha-x/status",
                           headers={"X-API-Key": new_key(), "X-Forwarded-For": f"198.51.100.{i}"})
             ).status_code
            for i in range(40)
        ]  # fmt: skip
        assert codes.count(429) == 10


async def test_timing_by_id_says_nothing_the_answer_does_not(relay, task_queue, keys_file) -> None:
    """Issue 11 #5: an existing-but-unreadable id took ~1.4 ms longer than a missing one, as
    only the existing one was looked up in Temporal. Both are refused from the id's prefix now,
    with no Temporal call at all (counted on the wire, where no timing noise can hide one),
    and with the same answer; a missing id of a route the caller may read does ask Temporal,
    which tells the caller nothing it may not know."""
    async with api_client(
        relay.address, routes(task_queue), auth_disabled=False, keys_file=keys_file,
        rate_limit="off",
    ) as api:  # fmt: skip
        beta = (await api.post("/workflows/beta/async", json={}, headers=auth("beta"))).json()
        assert "StartWorkflowExecution" in relay.workflow_calls(), "the relay sees the calls"

        async def status(workflow_id: str) -> tuple[httpx.Response, list[str]]:
            before = len(relay.workflow_calls())
            answer = await api.get(f"/workflows/{workflow_id}/status", headers=auth("alpha"))
            return answer, relay.workflow_calls()[before:]

        missing, missing_calls = await status(f"beta-{uuid.uuid4().hex}")
        existing, existing_calls = await status(beta["workflow_id"])
        readable, readable_calls = await status(f"alpha-{uuid.uuid4().hex}")

    assert missing_calls == existing_calls == [], "refused before any Temporal call"
    assert readable_calls, "a readable route's id is looked up"
    assert missing.status_code == existing.status_code == readable.status_code == 404
    assert anonymous(missing) == anonymous(existing)


def anonymous(answer: httpx.Response) -> dict:
    """The problem document with its workflow id blanked out and its request's own ids (the
    request id, the trace id) left out."""
    problem = answer.json()
    wid = problem["workflow_id"]
    return {
        key: value.replace(wid, "X") if isinstance(value, str) else value
        for key, value in problem.items()
        if key not in ("request_id", "trace_id")
    }

"""Server-sent events of a workflow's progress, from a real uvicorn (httpx's ASGI transport does
not stream) against a real Temporal: order and ids, status and end, resuming with
Last-Event-ID, the per-caller stream limit, the lifetime limit and the errors before a stream."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from httpx_sse import ServerSentEvent, aconnect_sse

from gateway_api.api.endpoints import events
from gateway_core.routes import SWITCHES, Operation
from support.gateway import ApiKeys, api_client, api_server, route, write_keys_file
from support.oidc import AUDIENCE, Provider, SigningKey
from support.procs import assert_eventually

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("worker")]

FINISH = [{"name": "finish", "inputSchema": {"type": "string"}}]


def gate(task_queue: str, **spec):
    return route("gate", "GateWorkflow", task_queue, signals=FINISH, **spec)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


async def start(http: httpx.AsyncClient, url: str) -> str:
    response = await http.post(f"{url}/workflows/gate/async", json={})
    assert response.status_code == 200, response.text
    return str(response.json()["workflow_id"])


async def finish(http: httpx.AsyncClient, url: str, workflow_id: str) -> None:
    response = await http.post(f"{url}/workflows/{workflow_id}/signals/finish", json="done")
    assert response.status_code == 202, response.text


@contextlib.asynccontextmanager
async def connect(http: httpx.AsyncClient, url: str, **kwargs) -> AsyncIterator[Stream]:
    async with aconnect_sse(http, "GET", url, **kwargs) as source:
        yield Stream(source.response, source.aiter_sse())


@dataclass
class Stream:
    response: httpx.Response
    messages: AsyncIterator[ServerSentEvent]
    """One iterator for the stream's life: a dropped one closes the connection."""


async def read(stream: Stream, until=None) -> list[ServerSentEvent]:
    """Messages until ``until`` holds for one (included), else until the stream ends."""
    seen = []
    async with asyncio.timeout(30):
        async for message in stream.messages:
            seen.append(message)
            if until is not None and until(message):
                break
    return seen


async def status_of(http: httpx.AsyncClient, url: str) -> httpx.Response:
    """The answer to a request for a stream, without reading the stream."""
    async with http.stream("GET", url) as response:
        if response.status_code != 200:
            await response.aread()
        return response


def history(messages: list[ServerSentEvent]) -> list[dict]:
    return [json.loads(m.data) for m in messages if m.event == "history"]


def waiting(message: ServerSentEvent) -> bool:
    """The first workflow task is done: the workflow waits for its signal."""
    return message.event == "history" and json.loads(message.data)["event_type"] == (
        "WorkflowTaskCompleted"
    )


async def test_events_follow_a_workflow_until_it_closes(temporal_server, task_queue, http):
    async with api_server(temporal_server.address, [gate(task_queue)]) as url:
        workflow_id = await start(http, url)
        events_url = f"{url}/workflows/{workflow_id}/events"

        async with connect(http, events_url) as source:
            response = source.response
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.headers["x-accel-buffering"] == "no"
            assert response.headers["cache-control"] == "no-store"
            first = await read(source, until=waiting)
        assert first[0].retry == 3000
        assert [(m.event, m.data) for m in first[1:3]] == [
            ("history", first[1].data),
            ("status", '{"status":"RUNNING"}'),
        ]
        started = history(first)
        assert [e["event_id"] for e in started] == list(range(1, len(started) + 1))
        assert started[0]["event_type"] == "WorkflowExecutionStarted"
        assert started[0]["workflow_type"] == "GateWorkflow"
        assert all(m.id == str(e["event_id"]) for m, e in zip(
            [m for m in first if m.event == "history"], started, strict=True))  # fmt: skip
        last = started[-1]["event_id"]

        # Reconnect where the first connection stopped, then let the workflow finish.
        async with connect(http, events_url, headers={"Last-Event-ID": str(last)}) as source:
            await finish(http, url, workflow_id)
            rest = await read(source)
        later = history(rest)
        assert [e["event_id"] for e in later] == list(range(last + 1, last + 1 + len(later)))
        signaled = [e for e in later if e["event_type"] == "WorkflowExecutionSignaled"]
        assert signaled[0]["signal_name"] == "finish"
        assert later[-1]["event_type"] == "WorkflowExecutionCompleted"
        assert [(m.event, m.data) for m in rest[-2:]] == [
            ("status", '{"status":"COMPLETED"}'),
            ("end", '{"status":"COMPLETED"}'),
        ]
        assert "payload" not in json.dumps(later).lower()

        # The whole stream of a closed workflow, byte for byte where it matters (curl -N sees
        # the same), then the stream closes by itself.
        async with http.stream("GET", events_url) as raw:
            text = (await raw.aread()).decode()
        assert text.startswith("retry: 3000\r\n\r\nid: 1\r\nevent: history\r\ndata: {")
        assert '\r\n\r\nevent: status\r\ndata: {"status":"RUNNING"}\r\n\r\nid: 2\r\n' in text
        assert text.endswith('event: end\r\ndata: {"status":"COMPLETED"}\r\n\r\n')


async def test_resume_sends_only_later_events(temporal_server, task_queue, http):
    async with api_server(temporal_server.address, [gate(task_queue)]) as url:
        workflow_id = await start(http, url)
        await finish(http, url, workflow_id)
        events_url = f"{url}/workflows/{workflow_id}/events"
        async with connect(http, events_url) as source:
            everything = history(await read(source))
        close_id = everything[-1]["event_id"]
        assert everything[-1]["event_type"] == "WorkflowExecutionCompleted"

        for kwargs, after in [
            ({"headers": {"Last-Event-ID": "2"}}, 2),
            ({"params": {"last_event_id": "3"}}, 3),
            # An EventSource reconnects to its first URL with a newer header: the header wins.
            ({"params": {"last_event_id": "1"}, "headers": {"Last-Event-ID": "4"}}, 4),
        ]:
            async with connect(http, events_url, **kwargs) as source:
                messages = await read(source)
            assert history(messages) == everything[after:], kwargs
            assert [m.event for m in messages[-2:]] == ["status", "end"]

        # Past the close event: nothing to repeat, only how it closed.
        async with connect(http, events_url, headers={"Last-Event-ID": str(close_id)}) as source:
            messages = await read(source)
        assert [(m.event, m.data) for m in messages if m.data] == [
            ("status", '{"status":"COMPLETED"}'),
            ("end", '{"status":"COMPLETED"}'),
        ]


async def test_open_streams_per_caller_are_limited(temporal_server, task_queue, http):
    async with api_server(temporal_server.address, [gate(task_queue)], events_max_streams=2) as url:
        closing, running = await start(http, url), await start(http, url)

        def events(workflow_id: str):
            return connect(http, f"{url}/workflows/{workflow_id}/events")

        async def opens() -> bool:
            response = await status_of(http, f"{url}/workflows/{running}/events")
            return response.status_code == 200

        async with events(closing) as first, events(running) as second:
            await read(first, until=waiting)
            await read(second, until=waiting)
            refused = await status_of(http, f"{url}/workflows/{running}/events")
            assert refused.status_code == 429
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.json()["code"] == "too-many-streams"
            assert refused.headers["retry-after"]

            # A stream that ends (its workflow closed) no longer counts ...
            await finish(http, url, closing)
            assert (await read(first))[-1].event == "end"
            async with events(running) as third:
                assert third.response.status_code == 200
                await read(third, until=waiting)
                again = await status_of(http, f"{url}/workflows/{running}/events")
                assert again.status_code == 429
            # ... nor does one the client left.
            await assert_eventually(opens)
        await assert_eventually(opens)


async def test_a_stream_ends_at_its_lifetime(temporal_server, task_queue, http):
    settings = {"events_max_seconds": 1, "events_heartbeat_seconds": 0.2}
    async with api_server(temporal_server.address, [gate(task_queue)], **settings) as url:
        workflow_id = await start(http, url)
        events_url = f"{url}/workflows/{workflow_id}/events"
        async with http.stream("GET", events_url) as raw:
            async with asyncio.timeout(10):
                text = (await raw.aread()).decode()
        assert ": keep-alive\r\n\r\n" in text
        assert ": the stream's time is up: reconnect with Last-Event-ID\r\n\r\n" in text
        assert "event: end" not in text
        last = max(int(line[4:]) for line in text.splitlines() if line.startswith("id: "))

        async with connect(http, events_url, headers={"Last-Event-ID": str(last)}) as source:
            assert history(await read(source)) == []  # nothing new: ends at the limit again
        async with connect(http, events_url, headers={"Last-Event-ID": str(last)}) as source:
            await finish(http, url, workflow_id)
            messages = await read(source)
        assert history(messages)[0]["event_id"] == last + 1
        assert messages[-1].event == "end"


async def test_no_stream_without_a_workflow(temporal_server, task_queue) -> None:
    without_events = [op for op in SWITCHES if op is not Operation.EVENTS]
    no_events = route("quiet", "GateWorkflow", task_queue, operations=without_events)
    async with api_client(temporal_server.address, [gate(task_queue), no_events]) as api:
        for workflow_id in ("gate-does-not-exist", "nobody-knows-this-id"):
            response = await api.get(f"/workflows/{workflow_id}/events")
            assert response.status_code == 404, response.text
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["code"] == "workflow-not-found"
        assert (await api.get("/workflows/quiet-x/events")).status_code == 405
        bad = await api.get("/workflows/gate-x/events", headers={"Last-Event-ID": "later"})
        assert bad.status_code == 422


async def test_a_resumed_stream_reads_only_what_it_lacks_and_watchers_share_one_poll(
    relay, client, task_queue, http
) -> None:
    """Issue 24 #9: every opening re-read the whole history from event 1. A stream resuming near
    the end of a long history reads it backwards, and only what its client lacks (no forward
    read at all); four streams on one workflow cost one read per new event, not four."""
    async with api_server(relay.address, [gate(task_queue)]) as url:
        workflow_id = await start(http, url)
        handle = client.get_workflow_handle(workflow_id)
        for n in range(40):  # a history of 40 more events (signals the workflow ignores)
            await handle.signal("noted", str(n))
        calls = relay.workflow_calls  # every call so far, by method
        events_url = f"{url}/workflows/{workflow_id}/events"
        async with connect(http, events_url) as source:
            first = history(await read(source, until=lambda m: m.event == "status"))
        last = first[-1]["event_id"]

        before = list(calls())
        streams = [connect(http, events_url, headers={"Last-Event-ID": str(last)})
                   for _ in range(4)]  # fmt: skip
        async with contextlib.AsyncExitStack() as stack:
            opened = [await stack.enter_async_context(s) for s in streams]
            for stream in opened:  # each has opened (its retry line)
                await read(stream, until=lambda m: m.retry is not None)
            caught_up = calls()[len(before) :]
            assert "GetWorkflowExecutionHistory" not in caught_up, caught_up
            reverse_before = calls().count("GetWorkflowExecutionHistoryReverse")
            await finish(http, url, workflow_id)
            for stream in opened:
                messages = await read(stream, until=lambda m: m.event == "end")
                seen = [e["event_type"] for e in history(messages)]
                assert seen[-1] == "WorkflowExecutionCompleted", seen
                assert seen[0] != "WorkflowExecutionStarted", "only what it lacked"
            new_reads = calls().count("GetWorkflowExecutionHistoryReverse") - reverse_before
        # One follower read the new events for all four (one read, maybe two if the signal
        # and the close landed in two polls), where each stream used to poll on its own.
        assert 1 <= new_reads <= 2, new_reads


async def test_a_stream_ends_when_its_key_is_revoked(temporal_server, task_queue, http, tmp_path):
    """Issue 24 #11: an open stream kept delivering after its key was removed. The stream asks
    again when the key file is reloaded (and every 30 s), and ends; the workflow runs on."""
    keys = ApiKeys({"reader": ["gate:start", "gate:read", "gate:signal"],
                    "keeper": ["gate:start", "gate:read"]})  # fmt: skip
    keys_file = keys.write(tmp_path / "keys.yaml")
    grants = {a: {"scopes": [f"gate:{a}"]} for a in ("start", "read", "signal")}
    async with api_server(
        temporal_server.address, [gate(task_queue, authorization=grants)],
        auth_disabled=False, environment="production", keys_file=keys_file,
        keys_reload_seconds=0.2,
    ) as url:  # fmt: skip
        started = await http.post(f"{url}/workflows/gate/async", json={},
                                  headers=keys.auth("reader"))  # fmt: skip
        workflow_id = started.json()["workflow_id"]
        events_url = f"{url}/workflows/{workflow_id}/events"
        async with connect(http, events_url, headers=keys.auth("reader")) as source:
            await read(source, until=lambda m: m.event == "status")  # open and flowing
            write_keys_file(keys_file, {"keeper": (keys["keeper"], ["gate:start", "gate:read"])})
            rest = await read(source)  # to the stream's end: it closes
        assert not [m for m in rest if m.event == "end"], "it ended for the key, not the run"
        refused = await http.get(f"{url}/workflows/{workflow_id}", headers=keys.auth("reader"))
        assert refused.status_code == 401
        described = await http.get(f"{url}/workflows/{workflow_id}", headers=keys.auth("keeper"))
        assert described.json()["status"] == "RUNNING"


async def test_a_stream_ends_when_its_token_expires(
    temporal_server, task_queue, http, monkeypatch
) -> None:
    """Issue 24 #11, the periodic half: a bearer token that expires while its stream is open.
    No reload announces it; the stream asks again every RECHECK_SECONDS (30 s, made short
    here) and ends once the token (with the verifier's leeway) no longer holds."""
    monkeypatch.setattr(events, "RECHECK_SECONDS", 0.5)
    provider = Provider(keys=[SigningKey.new("ES256", kid="es")])
    grants = {a: {"scopes": [f"gate:{a}"]} for a in ("start", "read", "signal")}
    scope = "gate:start gate:read gate:signal"
    settings = {"auth_disabled": False, "environment": "production",
                "jwt_issuer": provider.issuer, "jwt_audience": AUDIENCE,
                "jwt_algorithms": "ES256", "jwt_leeway_seconds": 0}  # fmt: skip
    try:
        async with api_server(
            temporal_server.address, [gate(task_queue, authorization=grants)], **settings
        ) as url:
            lasting = {"Authorization": f"Bearer {provider.token(scope=scope)}"}
            started = await http.post(f"{url}/workflows/gate/async", json={}, headers=lasting)
            workflow_id = started.json()["workflow_id"]
            expires = time.time() + 3
            brief = {"Authorization": f"Bearer {provider.token(scope=scope, exp=int(expires))}"}
            events_url = f"{url}/workflows/{workflow_id}/events"
            async with connect(http, events_url, headers=brief) as source:
                await read(source, until=lambda m: m.event == "status")  # open and flowing
                rest = await read(source)  # to the stream's end: it closes
            closed = time.time()
            assert not [m for m in rest if m.event == "end"], "it ended for the token, not the run"
            assert closed >= int(expires), "it held while the token did"
            assert closed - int(expires) < 10, "and closed within a few rechecks of its expiry"
            refused = await http.get(f"{url}/workflows/{workflow_id}", headers=brief)
            assert refused.status_code == 401
            described = await http.get(f"{url}/workflows/{workflow_id}", headers=lasting)
            assert described.json()["status"] == "RUNNING"
            done = await http.post(f"{events_url[: -len('/events')]}/signals/finish",
                                   json="done", headers=lasting)  # fmt: skip
            assert done.status_code == 202, done.text
    finally:
        provider.stop()

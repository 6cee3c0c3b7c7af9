"""Every API operation as data: the request to send. Both clients send these, so the sync and
the async client cannot drift apart; each only adds the I/O."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

NO_ARG: Any = type("NoArg", (), {"__repr__": lambda _self: "NO_ARG"})()
"""Send no body: for a signal, query or update that takes no argument."""

WorkflowInput = Mapping[str, Any] | Sequence[Any]
"""A workflow's input: an object, or for a route with ``arguments: positional`` the array of
the workflow's arguments."""


def _input(workflow_input: WorkflowInput) -> Any:
    return dict(workflow_input) if isinstance(workflow_input, Mapping) else list(workflow_input)


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    json: Any = NO_ARG
    params: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def httpx_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {"headers": self.headers}
        if self.json is not NO_ARG:
            args["json"] = self.json
        if params := {k: v for k, v in self.params.items() if v is not None}:
            args["params"] = params
        return args


def _id(workflow_id: str) -> str:
    return f"/workflows/{quote(workflow_id, safe='')}"


def _seg(name: str) -> str:
    return quote(name, safe="")


def _headers(idempotency_key: str | None = None, wait: float | None = None) -> dict[str, str]:
    headers = {}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    if wait is not None:
        headers["Prefer"] = f"wait={int(wait)}"
    return headers


def start(route: str, body: WorkflowInput, *, wait: bool, idempotency_key: str | None) -> Request:
    path = f"/workflows/{_seg(route)}" + ("" if wait else "/async")
    return Request("POST", path, json=_input(body), headers=_headers(idempotency_key))


def describe(workflow_id: str) -> Request:
    return Request("GET", _id(workflow_id))


def status(workflow_id: str) -> Request:
    return Request("GET", f"{_id(workflow_id)}/status")


def result(workflow_id: str, *, wait: float | None = None, run_id: str | None = None) -> Request:
    return Request("GET", f"{_id(workflow_id)}/result", params={"wait": wait, "run_id": run_id})


def signal(workflow_id: str, name: str, arg: Any = NO_ARG) -> Request:
    return Request("POST", f"{_id(workflow_id)}/signals/{_seg(name)}", json=arg)


def query(workflow_id: str, name: str, arg: Any = NO_ARG) -> Request:
    return Request("POST", f"{_id(workflow_id)}/queries/{_seg(name)}", json=arg)


def update(
    workflow_id: str,
    name: str,
    arg: Any = NO_ARG,
    *,
    idempotency_key: str | None = None,
    wait: float | None = None,
) -> Request:
    return Request(
        "POST",
        f"{_id(workflow_id)}/updates/{_seg(name)}",
        json=arg,
        headers=_headers(idempotency_key, wait),
    )


def update_result(
    workflow_id: str, name: str, update_id: str, *, wait: float | None = None
) -> Request:
    path = f"{_id(workflow_id)}/updates/{_seg(name)}/{_seg(update_id)}"
    return Request("GET", path, params={"wait": wait})


def cancel(workflow_id: str) -> Request:
    return Request("POST", f"{_id(workflow_id)}/cancel")


def terminate(workflow_id: str, reason: str | None = None) -> Request:
    body = {"reason": reason} if reason is not None else NO_ARG
    return Request("POST", f"{_id(workflow_id)}/terminate", json=body)


def _with_start(workflow_input: Any, arg: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"input": workflow_input}
    if arg is not NO_ARG:
        body["arg"] = arg
    return body


def signal_with_start(
    route: str,
    name: str,
    workflow_input: WorkflowInput,
    arg: Any = NO_ARG,
    *,
    idempotency_key: str | None = None,
) -> Request:
    return Request(
        "POST",
        f"/workflows/{_seg(route)}/signal-with-start/{_seg(name)}",
        json=_with_start(_input(workflow_input), arg),
        headers=_headers(idempotency_key),
    )


def update_with_start(
    route: str,
    name: str,
    workflow_input: WorkflowInput,
    arg: Any = NO_ARG,
    *,
    idempotency_key: str | None = None,
    wait: float | None = None,
) -> Request:
    return Request(
        "POST",
        f"/workflows/{_seg(route)}/update-with-start/{_seg(name)}",
        json=_with_start(_input(workflow_input), arg),
        headers=_headers(idempotency_key, wait),
    )


def list_workflows(
    query: str | None = None,
    *,
    page_size: int | None = None,
    page_token: str | None = None,
    route: str | None = None,
) -> Request:
    params = {"query": query, "page_size": page_size, "page_token": page_token, "route": route}
    return Request("GET", "/workflows", params=params)


def count_workflows(query: str | None = None, *, route: str | None = None) -> Request:
    return Request("GET", "/workflows/count", params={"query": query, "route": route})


def events(workflow_id: str, *, last_event_id: str | None = None) -> Request:
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    return Request("GET", f"{_id(workflow_id)}/events", headers=headers)


def callbacks(workflow_id: str, *, run_id: str | None = None) -> Request:
    return Request("GET", f"{_id(workflow_id)}/callbacks", params={"run_id": run_id})


def redeliver_callback(workflow_id: str) -> Request:
    return Request("POST", f"{_id(workflow_id)}/callbacks/redeliver")


# Schedules ------------------------------------------------------------------------------------


def _schedule(schedule_id: str) -> str:
    return f"/schedules/{quote(schedule_id, safe='')}"


def _settings(
    workflow_input: WorkflowInput,
    spec: Mapping[str, Any],
    policy: Mapping[str, Any] | None,
    paused: bool | None,
    note: str | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"input": _input(workflow_input), "spec": dict(spec)}
    if policy is not None:
        body["policy"] = dict(policy)
    if paused is not None:
        body["paused"] = paused
    if note is not None:
        body["note"] = note
    return body


def create_schedule(
    route: str,
    workflow_input: WorkflowInput,
    spec: Mapping[str, Any],
    *,
    policy: Mapping[str, Any] | None = None,
    paused: bool | None = None,
    note: str | None = None,
    idempotency_key: str | None = None,
) -> Request:
    return Request(
        "POST",
        f"/workflows/{_seg(route)}/schedules",
        json=_settings(workflow_input, spec, policy, paused, note),
        headers=_headers(idempotency_key),
    )


def list_schedules(
    *, route: str | None = None, page_size: int | None = None, page_token: str | None = None
) -> Request:
    params = {"route": route, "page_size": page_size, "page_token": page_token}
    return Request("GET", "/schedules", params=params)


def describe_schedule(schedule_id: str) -> Request:
    return Request("GET", _schedule(schedule_id))


def update_schedule(
    schedule_id: str,
    workflow_input: WorkflowInput,
    spec: Mapping[str, Any],
    *,
    policy: Mapping[str, Any] | None = None,
    paused: bool | None = None,
    note: str | None = None,
    if_match: str | None = None,
) -> Request:
    headers = {"If-Match": if_match} if if_match else {}
    body = _settings(workflow_input, spec, policy, paused, note)
    return Request("PUT", _schedule(schedule_id), json=body, headers=headers)


def _note(note: str | None) -> Any:
    return {"note": note} if note is not None else NO_ARG


def pause_schedule(schedule_id: str, note: str | None = None) -> Request:
    return Request("POST", f"{_schedule(schedule_id)}/pause", json=_note(note))


def unpause_schedule(schedule_id: str, note: str | None = None) -> Request:
    return Request("POST", f"{_schedule(schedule_id)}/unpause", json=_note(note))


def trigger_schedule(schedule_id: str, *, overlap: str | None = None) -> Request:
    body = {"overlap": overlap} if overlap is not None else NO_ARG
    return Request("POST", f"{_schedule(schedule_id)}/trigger", json=body)


def backfill_schedule(
    schedule_id: str, start_time: datetime, end_time: datetime, *, overlap: str | None = None
) -> Request:
    body: dict[str, Any] = {"start_time": start_time.isoformat(), "end_time": end_time.isoformat()}
    if overlap is not None:
        body["overlap"] = overlap
    return Request("POST", f"{_schedule(schedule_id)}/backfill", json=body)


def delete_schedule(schedule_id: str) -> Request:
    return Request("DELETE", _schedule(schedule_id))


BY_OPERATION: dict[str, Callable[..., Request]] = {
    "syncStart": functools.partial(start, wait=True, idempotency_key=None),
    "start": functools.partial(start, wait=False, idempotency_key=None),
    "signalWithStart": signal_with_start,
    "updateWithStart": update_with_start,
    "list": list_workflows,
    "describe": describe,
    "status": status,
    "result": result,
    "events": events,
    "signal": signal,
    "query": query,
    "update": update,
    "cancel": cancel,
    "terminate": terminate,
    "callbacks": callbacks,
    "redeliverCallback": redeliver_callback,
    "schedule": create_schedule,
    "listSchedules": list_schedules,
    "describeSchedule": describe_schedule,
    "updateSchedule": update_schedule,
    "pauseSchedule": pause_schedule,
    "unpauseSchedule": unpause_schedule,
    "triggerSchedule": trigger_schedule,
    "backfillSchedule": backfill_schedule,
    "deleteSchedule": delete_schedule,
}
"""The call that sends each API operation (by the name a route's ``operations`` uses); a test
holds it to the API's operation table, so a new operation the client lacks fails CI."""

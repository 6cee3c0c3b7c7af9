"""The synchronous client: :class:`TemporalAPIClient`, the seed guide's three methods and one
method per lifecycle operation."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any

import httpx
from httpx_sse import connect_sse

from temporal_gateway_client import _calls
from temporal_gateway_client._calls import NO_ARG, Request, WorkflowInput
from temporal_gateway_client.errors import GatewayUnavailable, WorkflowStillRunning, error_for
from temporal_gateway_client.events import Event

DEFAULT_BASE_URL = "http://localhost:8000"


class TemporalAPIClient:
    """A synchronous client for one temporal-gateway API.

    Args:
        base_url: where the API listens.
        timeout: seconds for each HTTP call. Keep it above the API's sync wait (30 s by
            default): the API answers 202 by then and this client keeps polling.
        headers: sent with every request (an ``Authorization`` header, say).
        transport: an httpx transport, for tests or custom networking.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout: float = 60.0,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url, timeout=timeout, headers=dict(headers or {}), transport=transport
        )

    def __enter__(self) -> TemporalAPIClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _send(self, request: Request) -> httpx.Response:
        method, path = request.method, request.path
        try:
            response = self._http.request(method, path, **request.httpx_args())
        except httpx.TimeoutException as exc:
            raise GatewayUnavailable(f"{method} {path} timed out: {exc}") from exc
        except httpx.TransportError as exc:
            raise GatewayUnavailable(f"{method} {path} failed: {exc}") from exc
        if response.status_code >= 400:
            raise error_for(response)
        return response

    def _json(self, request: Request) -> dict[str, Any]:
        body: dict[str, Any] = self._send(request).json()
        return body

    def health(self) -> dict[str, Any]:
        """``GET /``: the service, its status and whether Temporal is reachable."""
        return self._json(Request("GET", "/"))

    # Starting -------------------------------------------------------------------------------

    def start_workflow(
        self,
        route: str,
        body: WorkflowInput,
        *,
        wait: bool = True,
        idempotency_key: str | None = None,
        wait_timeout: float = 300.0,
    ) -> dict[str, Any]:
        """Start the workflow behind ``/workflows/<route>``.

        With ``wait``, returns once it completes (following the API's 202 for long runs, up to
        ``wait_timeout`` seconds); without, returns ``{"workflow_id", "status": "started"}``.
        Pass ``idempotency_key`` to make retries of this call safe. ``body`` is the input: an
        object, or a list of the workflow's arguments when the route's are positional.
        """
        request = _calls.start(route, body, wait=wait, idempotency_key=idempotency_key)
        response = self._send(request)
        result: dict[str, Any] = response.json()
        if wait and response.status_code == 202:
            return self.wait_for_workflow(result["workflow_id"], timeout=wait_timeout)
        return result

    def trigger_shopping_workflow_sync(
        self, items: Sequence[Mapping[str, Any]], *, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """Order ``items`` and wait: ``{"workflow_id", "status": "completed", "result"}``."""
        return self.start_workflow(
            "shopping", {"items": list(items)}, idempotency_key=idempotency_key
        )

    def trigger_shopping_workflow_async(
        self, items: Sequence[Mapping[str, Any]], *, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """Order ``items`` without waiting: ``{"workflow_id", "status": "started"}``."""
        return self.start_workflow(
            "shopping", {"items": list(items)}, wait=False, idempotency_key=idempotency_key
        )

    def signal_with_start(
        self,
        route: str,
        name: str,
        workflow_input: WorkflowInput,
        arg: Any = NO_ARG,
        *,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Signal the route's running workflow with this id, or start it with the signal."""
        return self._json(
            _calls.signal_with_start(route, name, workflow_input, arg,
                                     idempotency_key=idempotency_key)
        )  # fmt: skip

    def update_with_start(
        self,
        route: str,
        name: str,
        workflow_input: WorkflowInput,
        arg: Any = NO_ARG,
        *,
        idempotency_key: str | None = None,
        wait: float | None = None,
    ) -> dict[str, Any]:
        """Update the route's running workflow with this id, starting it first if needed:
        ``{"status": "completed", "result"}``, or ``"running"`` (poll :meth:`update_result`)."""
        return self._json(
            _calls.update_with_start(route, name, workflow_input, arg,
                                     idempotency_key=idempotency_key, wait=wait)
        )  # fmt: skip

    # Reading --------------------------------------------------------------------------------

    def describe(self, workflow_id: str) -> dict[str, Any]:
        """Status, run id, type, task queue, times, history length, pending activities."""
        return self._json(_calls.describe(workflow_id))

    def get_status(self, workflow_id: str) -> dict[str, Any]:
        """``{"workflow_id", "status", "start_time", "close_time"}``; status is Temporal's name."""
        return self._json(_calls.status(workflow_id))

    def get_result(
        self, workflow_id: str, *, wait: float | None = None, run_id: str | None = None
    ) -> dict[str, Any]:
        """One ``GET /result``: completed, or ``status: "running"`` if the API stopped waiting."""
        return self._json(_calls.result(workflow_id, wait=wait, run_id=run_id))

    def wait_for_workflow(
        self, workflow_id: str, *, timeout: float = 300.0, poll_interval: float = 1.0
    ) -> dict[str, Any]:
        """Wait for the workflow's result.

        Raises:
            WorkflowFailed: it failed, timed out, or was canceled or terminated.
            WorkflowStillRunning: it was still running after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            result = self.get_result(workflow_id)
            if result.get("status") != "running":
                return result
            if time.monotonic() + poll_interval > deadline:
                raise WorkflowStillRunning(
                    f"workflow {workflow_id!r} still running after {timeout} s",
                    problem={"workflow_id": workflow_id, "code": "still-running"},
                )
            time.sleep(poll_interval)

    def list_workflows(
        self,
        query: str | None = None,
        *,
        page_size: int | None = None,
        page_token: str | None = None,
        route: str | None = None,
    ) -> dict[str, Any]:
        """One page: ``{"workflows": [...], "next_page_token"}`` (None on the last page)."""
        return self._json(
            _calls.list_workflows(query, page_size=page_size, page_token=page_token, route=route)
        )

    def count_workflows(self, query: str | None = None, *, route: str | None = None) -> int:
        count: int = self._json(_calls.count_workflows(query, route=route))["count"]
        return count

    def events(self, workflow_id: str, *, last_event_id: str | None = None) -> Iterator[Event]:
        """The workflow's progress as it happens, until it closes (server-sent events)."""
        request = _calls.events(workflow_id, last_event_id=last_event_id)
        with connect_sse(self._http, "GET", request.path, headers=request.headers) as source:
            if source.response.status_code >= 400:
                source.response.read()
                raise error_for(source.response)
            for sse in source.iter_sse():
                if not sse.data:  # a `retry:` or comment only: the HTML spec dispatches none
                    continue
                yield Event(sse.event, sse.id or None, json.loads(sse.data))

    # Messages and control -------------------------------------------------------------------

    def signal(self, workflow_id: str, name: str, arg: Any = NO_ARG) -> dict[str, Any]:
        return self._json(_calls.signal(workflow_id, name, arg))

    def query(self, workflow_id: str, name: str, arg: Any = NO_ARG) -> Any:
        """The query's answer."""
        return self._json(_calls.query(workflow_id, name, arg))["result"]

    def update(
        self,
        workflow_id: str,
        name: str,
        arg: Any = NO_ARG,
        *,
        idempotency_key: str | None = None,
        wait: float | None = None,
    ) -> dict[str, Any]:
        """``{"status": "completed", "result", "update_id"}``, or ``"running"`` when the
        workflow did not answer in time (poll :meth:`update_result`). The same
        ``idempotency_key`` makes a retry return the first answer instead of updating twice.

        Raises:
            UpdateRejected: the workflow's validator refused it.
        """
        return self._json(
            _calls.update(workflow_id, name, arg, idempotency_key=idempotency_key, wait=wait)
        )

    def update_result(
        self, workflow_id: str, name: str, update_id: str, *, wait: float | None = None
    ) -> dict[str, Any]:
        return self._json(_calls.update_result(workflow_id, name, update_id, wait=wait))

    def cancel(self, workflow_id: str) -> dict[str, Any]:
        """Ask the workflow to cancel; it may clean up before it closes."""
        return self._json(_calls.cancel(workflow_id))

    def terminate(self, workflow_id: str, reason: str | None = None) -> dict[str, Any]:
        """Stop the workflow at once; ``reason`` goes into its history."""
        return self._json(_calls.terminate(workflow_id, reason))

    # Completion webhooks ----------------------------------------------------------------------

    def callbacks(self, workflow_id: str, *, run_id: str | None = None) -> dict[str, Any]:
        """The workflow's completion webhook: its state, attempts and last error."""
        return self._json(_calls.callbacks(workflow_id, run_id=run_id))

    def redeliver_callback(self, workflow_id: str) -> dict[str, Any]:
        """Send the workflow's completion webhook again (to the URL its starter chose): at
        most ``API_CALLBACK_MAX_REDELIVERIES`` times, and
        ``API_CALLBACK_REDELIVER_MIN_INTERVAL_SECONDS`` apart (sooner: ``InvalidRequest``
        with code ``redelivery-too-soon``)."""
        return self._json(_calls.redeliver_callback(workflow_id))

    # Schedules ------------------------------------------------------------------------------

    def _with_etag(self, request: Request) -> dict[str, Any]:
        response = self._send(request)
        body: dict[str, Any] = response.json()
        body["etag"] = response.headers.get("ETag")
        return body

    def create_schedule(
        self,
        route: str,
        workflow_input: WorkflowInput,
        spec: Mapping[str, Any],
        *,
        policy: Mapping[str, Any] | None = None,
        paused: bool | None = None,
        note: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Create a schedule that starts the route's workflow with ``workflow_input`` when
        ``spec`` says (``{"cron_expressions": [...], "intervals": [...], "time_zone": ...}``):
        its description, with its ``etag`` for :meth:`update_schedule`."""
        return self._with_etag(
            _calls.create_schedule(route, workflow_input, spec, policy=policy, paused=paused,
                                   note=note, idempotency_key=idempotency_key)
        )  # fmt: skip

    def list_schedules(
        self,
        *,
        route: str | None = None,
        page_size: int | None = None,
        page_token: str | None = None,
    ) -> dict[str, Any]:
        """One page: ``{"schedules": [...], "next_page_token"}`` (None on the last page)."""
        return self._json(
            _calls.list_schedules(route=route, page_size=page_size, page_token=page_token)
        )

    def describe_schedule(self, schedule_id: str) -> dict[str, Any]:
        """Its spec, state, next run times and recent runs, with its ``etag``."""
        return self._with_etag(_calls.describe_schedule(schedule_id))

    def update_schedule(
        self,
        schedule_id: str,
        workflow_input: WorkflowInput,
        spec: Mapping[str, Any],
        *,
        policy: Mapping[str, Any] | None = None,
        paused: bool | None = None,
        note: str | None = None,
        if_match: str | None = None,
    ) -> dict[str, Any]:
        """Replace its input, spec and policy; with ``if_match`` (an ``etag``), only if it has
        not changed since.

        Raises:
            PreconditionFailed: it has.
        """
        return self._with_etag(
            _calls.update_schedule(schedule_id, workflow_input, spec, policy=policy,
                                   paused=paused, note=note, if_match=if_match)
        )  # fmt: skip

    def pause_schedule(self, schedule_id: str, note: str | None = None) -> dict[str, Any]:
        return self._json(_calls.pause_schedule(schedule_id, note))

    def unpause_schedule(self, schedule_id: str, note: str | None = None) -> dict[str, Any]:
        return self._json(_calls.unpause_schedule(schedule_id, note))

    def trigger_schedule(self, schedule_id: str, *, overlap: str | None = None) -> dict[str, Any]:
        """Run its action now (``overlap``: the schedule's own policy when unset)."""
        return self._json(_calls.trigger_schedule(schedule_id, overlap=overlap))

    def backfill_schedule(
        self,
        schedule_id: str,
        start_time: datetime,
        end_time: datetime,
        *,
        overlap: str | None = None,
    ) -> dict[str, Any]:
        """Run the actions it would have run between the two times (``AllowAll`` unless
        ``overlap`` says otherwise)."""
        return self._json(
            _calls.backfill_schedule(schedule_id, start_time, end_time, overlap=overlap)
        )

    def delete_schedule(self, schedule_id: str) -> dict[str, Any]:
        """Delete it; the workflows it started go on."""
        return self._json(_calls.delete_schedule(schedule_id))

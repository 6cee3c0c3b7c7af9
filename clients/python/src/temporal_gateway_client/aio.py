"""The asynchronous client: :class:`AsyncTemporalAPIClient`, the same operations as
:class:`~temporal_gateway_client.TemporalAPIClient` for asyncio code, from the same request
definitions (``_calls``)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any

import httpx
from httpx_sse import aconnect_sse

from temporal_gateway_client import _calls
from temporal_gateway_client._calls import NO_ARG, Request, WorkflowInput
from temporal_gateway_client.client import DEFAULT_BASE_URL
from temporal_gateway_client.errors import GatewayUnavailable, WorkflowStillRunning, error_for
from temporal_gateway_client.events import Event


class AsyncTemporalAPIClient:
    """An asyncio client for one temporal-gateway API; arguments as for the sync client."""

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout: float = 60.0,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url, timeout=timeout, headers=dict(headers or {}), transport=transport
        )

    async def __aenter__(self) -> AsyncTemporalAPIClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _send(self, request: Request) -> httpx.Response:
        method, path = request.method, request.path
        try:
            response = await self._http.request(method, path, **request.httpx_args())
        except httpx.TimeoutException as exc:
            raise GatewayUnavailable(f"{method} {path} timed out: {exc}") from exc
        except httpx.TransportError as exc:
            raise GatewayUnavailable(f"{method} {path} failed: {exc}") from exc
        if response.status_code >= 400:
            raise error_for(response)
        return response

    async def _json(self, request: Request) -> dict[str, Any]:
        body: dict[str, Any] = (await self._send(request)).json()
        return body

    async def health(self) -> dict[str, Any]:
        return await self._json(Request("GET", "/"))

    async def start_workflow(
        self,
        route: str,
        body: WorkflowInput,
        *,
        wait: bool = True,
        idempotency_key: str | None = None,
        wait_timeout: float = 300.0,
    ) -> dict[str, Any]:
        request = _calls.start(route, body, wait=wait, idempotency_key=idempotency_key)
        response = await self._send(request)
        result: dict[str, Any] = response.json()
        if wait and response.status_code == 202:
            return await self.wait_for_workflow(result["workflow_id"], timeout=wait_timeout)
        return result

    async def signal_with_start(
        self,
        route: str,
        name: str,
        workflow_input: WorkflowInput,
        arg: Any = NO_ARG,
        *,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        return await self._json(
            _calls.signal_with_start(route, name, workflow_input, arg,
                                     idempotency_key=idempotency_key)
        )  # fmt: skip

    async def update_with_start(
        self,
        route: str,
        name: str,
        workflow_input: WorkflowInput,
        arg: Any = NO_ARG,
        *,
        idempotency_key: str | None = None,
        wait: float | None = None,
    ) -> dict[str, Any]:
        return await self._json(
            _calls.update_with_start(route, name, workflow_input, arg,
                                     idempotency_key=idempotency_key, wait=wait)
        )  # fmt: skip

    async def describe(self, workflow_id: str) -> dict[str, Any]:
        return await self._json(_calls.describe(workflow_id))

    async def get_status(self, workflow_id: str) -> dict[str, Any]:
        return await self._json(_calls.status(workflow_id))

    async def get_result(
        self, workflow_id: str, *, wait: float | None = None, run_id: str | None = None
    ) -> dict[str, Any]:
        return await self._json(_calls.result(workflow_id, wait=wait, run_id=run_id))

    async def wait_for_workflow(
        self,
        workflow_id: str,
        *,
        timeout: float = 300.0,  # noqa: ASYNC109 (the sync client's signature)
        poll_interval: float = 1.0,
    ) -> dict[str, Any]:
        """As the sync client's: the result, WorkflowFailed, or WorkflowStillRunning."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            result = await self.get_result(workflow_id)
            if result.get("status") != "running":
                return result
            if asyncio.get_running_loop().time() + poll_interval > deadline:
                raise WorkflowStillRunning(
                    f"workflow {workflow_id!r} still running after {timeout} s",
                    problem={"workflow_id": workflow_id, "code": "still-running"},
                )
            await asyncio.sleep(poll_interval)

    async def list_workflows(
        self,
        query: str | None = None,
        *,
        page_size: int | None = None,
        page_token: str | None = None,
        route: str | None = None,
    ) -> dict[str, Any]:
        return await self._json(
            _calls.list_workflows(query, page_size=page_size, page_token=page_token, route=route)
        )

    async def count_workflows(self, query: str | None = None, *, route: str | None = None) -> int:
        count: int = (await self._json(_calls.count_workflows(query, route=route)))["count"]
        return count

    async def events(
        self, workflow_id: str, *, last_event_id: str | None = None
    ) -> AsyncIterator[Event]:
        request = _calls.events(workflow_id, last_event_id=last_event_id)
        async with aconnect_sse(self._http, "GET", request.path, headers=request.headers) as source:
            if source.response.status_code >= 400:
                await source.response.aread()
                raise error_for(source.response)
            async for sse in source.aiter_sse():
                if not sse.data:  # a `retry:` or comment only: the HTML spec dispatches none
                    continue
                yield Event(sse.event, sse.id or None, json.loads(sse.data))

    async def signal(self, workflow_id: str, name: str, arg: Any = NO_ARG) -> dict[str, Any]:
        return await self._json(_calls.signal(workflow_id, name, arg))

    async def query(self, workflow_id: str, name: str, arg: Any = NO_ARG) -> Any:
        return (await self._json(_calls.query(workflow_id, name, arg)))["result"]

    async def update(
        self,
        workflow_id: str,
        name: str,
        arg: Any = NO_ARG,
        *,
        idempotency_key: str | None = None,
        wait: float | None = None,
    ) -> dict[str, Any]:
        return await self._json(
            _calls.update(workflow_id, name, arg, idempotency_key=idempotency_key, wait=wait)
        )

    async def update_result(
        self, workflow_id: str, name: str, update_id: str, *, wait: float | None = None
    ) -> dict[str, Any]:
        return await self._json(_calls.update_result(workflow_id, name, update_id, wait=wait))

    async def cancel(self, workflow_id: str) -> dict[str, Any]:
        return await self._json(_calls.cancel(workflow_id))

    async def terminate(self, workflow_id: str, reason: str | None = None) -> dict[str, Any]:
        return await self._json(_calls.terminate(workflow_id, reason))

    # Completion webhooks ----------------------------------------------------------------------

    async def callbacks(self, workflow_id: str, *, run_id: str | None = None) -> dict[str, Any]:
        """The workflow's completion webhook: its state, attempts and last error."""
        return await self._json(_calls.callbacks(workflow_id, run_id=run_id))

    async def redeliver_callback(self, workflow_id: str) -> dict[str, Any]:
        """Send the workflow's completion webhook again (to the URL its starter chose): at
        most ``API_CALLBACK_MAX_REDELIVERIES`` times, and
        ``API_CALLBACK_REDELIVER_MIN_INTERVAL_SECONDS`` apart (sooner: ``InvalidRequest``
        with code ``redelivery-too-soon``)."""
        return await self._json(_calls.redeliver_callback(workflow_id))

    # Schedules ------------------------------------------------------------------------------

    async def _with_etag(self, request: Request) -> dict[str, Any]:
        response = await self._send(request)
        body: dict[str, Any] = response.json()
        body["etag"] = response.headers.get("ETag")
        return body

    async def create_schedule(
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
        return await self._with_etag(
            _calls.create_schedule(route, workflow_input, spec, policy=policy, paused=paused,
                                   note=note, idempotency_key=idempotency_key)
        )  # fmt: skip

    async def list_schedules(
        self,
        *,
        route: str | None = None,
        page_size: int | None = None,
        page_token: str | None = None,
    ) -> dict[str, Any]:
        """One page: ``{"schedules": [...], "next_page_token"}`` (None on the last page)."""
        return await self._json(
            _calls.list_schedules(route=route, page_size=page_size, page_token=page_token)
        )

    async def describe_schedule(self, schedule_id: str) -> dict[str, Any]:
        """Its spec, state, next run times and recent runs, with its ``etag``."""
        return await self._with_etag(_calls.describe_schedule(schedule_id))

    async def update_schedule(
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
        return await self._with_etag(
            _calls.update_schedule(schedule_id, workflow_input, spec, policy=policy,
                                   paused=paused, note=note, if_match=if_match)
        )  # fmt: skip

    async def pause_schedule(self, schedule_id: str, note: str | None = None) -> dict[str, Any]:
        return await self._json(_calls.pause_schedule(schedule_id, note))

    async def unpause_schedule(self, schedule_id: str, note: str | None = None) -> dict[str, Any]:
        return await self._json(_calls.unpause_schedule(schedule_id, note))

    async def trigger_schedule(
        self, schedule_id: str, *, overlap: str | None = None
    ) -> dict[str, Any]:
        """Run its action now (``overlap``: the schedule's own policy when unset)."""
        return await self._json(_calls.trigger_schedule(schedule_id, overlap=overlap))

    async def backfill_schedule(
        self,
        schedule_id: str,
        start_time: datetime,
        end_time: datetime,
        *,
        overlap: str | None = None,
    ) -> dict[str, Any]:
        """Run the actions it would have run between the two times (``AllowAll`` unless
        ``overlap`` says otherwise)."""
        return await self._json(
            _calls.backfill_schedule(schedule_id, start_time, end_time, overlap=overlap)
        )

    async def delete_schedule(self, schedule_id: str) -> dict[str, Any]:
        """Delete it; the workflows it started go on."""
        return await self._json(_calls.delete_schedule(schedule_id))

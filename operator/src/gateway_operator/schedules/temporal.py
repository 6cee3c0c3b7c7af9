"""The operator's Temporal I/O for WorkflowSchedules: read a schedule as the planner sees it
(:class:`~gateway_operator.schedules.planner.InTemporal`), write the desired one, pause,
unpause, delete.

The schedule is built exactly as the API builds one (:mod:`gateway_core.schedules`): the
route's workflow type, task queue and timeouts, the input encoded with the route's payload codec
(the operator's ``OPERATOR_CODECS``, the API's names), the memo that makes its runs the route's
(``gateway.route``, ``gateway.route_path``, ``gateway.principal`` ``k8s:<namespace>``) and, on
the schedule, ``gateway.managed_by``, so the API refuses to change it (409 ``schedule-managed``).
Temporal is reached through its standard environment (:func:`gateway_core.temporal.connect_config`),
as the API, the worker and the operator's worker checks do; one connection, a view of it per
namespace and codec.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio import client as temporal
from temporalio.api.enums.v1 import WorkflowExecutionStatus
from temporalio.client import Client, ScheduleAlreadyRunningError
from temporalio.converter import DataConverter
from temporalio.service import RPCError, RPCStatusCode

from gateway_core import memo
from gateway_core.codecs import CodecSet
from gateway_core.payloads import data_converter
from gateway_core.routes import NO_CODEC, CompiledRoute
from gateway_core.schedules import build, calls, digest, encode_action
from gateway_operator.schedules.planner import Desired, InTemporal, ObservedSchedule

_STATUS_PREFIX = "WORKFLOW_EXECUTION_STATUS_"


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Schedules:
    def __init__(
        self,
        connect: Mapping[str, Any],
        *,
        codecs: CodecSet | None = None,
        namespace_codecs: Mapping[str, str] | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._connect = dict(connect)
        self.default_namespace = str(self._connect.get("namespace", "default"))
        self._codecs = codecs
        self._namespace_codecs = dict(namespace_codecs or {})
        self._timeout = timedelta(seconds=timeout)
        self._client: Client | None = None
        self._views: dict[tuple[str, str | None], Client] = {}
        self._lock = asyncio.Lock()

    async def _connected(self) -> Client:
        async with self._lock:
            if self._client is None:
                config = {**self._connect, "data_converter": data_converter()}
                self._client = await asyncio.wait_for(
                    Client.connect(**config), self._timeout.total_seconds()
                )
                self._views.clear()
            return self._client

    def forget_connection(self) -> None:
        """After a transport failure: connect again next time."""
        self._client = None

    async def client(self, namespace: str, codec: str | None = None) -> Client:
        """The shared connection for ``namespace``, with ``codec`` (a name in the operator's
        codecs) in its data converter."""
        base = await self._connected()
        if namespace == base.namespace and codec is None:
            return base
        view = self._views.get((namespace, codec))
        if view is None:
            config = base.config()
            config["namespace"] = namespace
            if codec is not None:
                assert self._codecs is not None
                config["data_converter"] = dataclasses.replace(
                    base.data_converter, payload_codec=self._codecs.codec(codec, namespace)
                )
            view = self._views[namespace, codec] = Client(**config)
        return view

    def codec_of(self, route: CompiledRoute) -> str | None:
        """The route's codec name (None: plain payloads), by the API's rule: its ``codec``,
        else its namespace's default; ``none`` opts out."""
        name = route.spec.codec
        if name is None:
            return self._namespace_codecs.get(route.spec.namespace or self.default_namespace)
        return None if name == NO_CODEC else name

    def codec_problem(self, route: CompiledRoute) -> str | None:
        name = self.codec_of(route)
        if name is None or (self._codecs is not None and name in self._codecs):
            return None
        return (
            f"route {route.name!r} uses payload codec {name!r}, which the operator does not "
            "have (OPERATOR_CODECS): its input would go to Temporal in plaintext"
        )

    async def _route_client(self, route: CompiledRoute) -> Client:
        return await self.client(route.spec.namespace or self.default_namespace,
                                 self.codec_of(route))  # fmt: skip

    async def describe(
        self, namespace: str, schedule_id: str, route: CompiledRoute | None = None
    ) -> InTemporal | None:
        """What Temporal holds at ``schedule_id`` (None: no such schedule); read through the
        route's client when it is known (its codec decodes the memo)."""
        client = await (self._route_client(route) if route is not None else self.client(namespace))
        try:
            found = await client.get_schedule_handle(schedule_id).describe(
                rpc_timeout=self._timeout
            )
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return None
            raise
        return await self._in_temporal(client, found)

    async def _in_temporal(self, client: Client, found: temporal.ScheduleDescription) -> InTemporal:
        raw = found.raw_description
        info = raw.info
        last = None
        if info.recent_actions:
            action = info.recent_actions[-1]
            status = WorkflowExecutionStatus.Name(action.start_workflow_status)
            last = {
                "workflowId": action.start_workflow_result.workflow_id,
                "runId": action.start_workflow_result.run_id,
                "scheduledTime": _rfc3339(action.schedule_time.ToDatetime(UTC)),
                "startedTime": _rfc3339(action.actual_time.ToDatetime(UTC)),
                "result": status.removeprefix(_STATUS_PREFIX).replace("UNSPECIFIED", "RUNNING"),
            }
        return InTemporal(
            digest=digest(raw.schedule, state=False),
            paused=raw.schedule.state.paused,
            note=raw.schedule.state.notes,
            workflow_type=raw.schedule.action.start_workflow.workflow_type.name,
            managed_by=await _memo_text(client.data_converter, raw.memo.fields, memo.MANAGED_BY),
            next_runs=tuple(_rfc3339(t.ToDatetime(UTC)) for t in info.future_action_times[:5]),
            last_run=last,
            runs=info.action_count,
        )

    async def write(self, obs: ObservedSchedule, want: Desired, *, exists: bool) -> InTemporal:
        """Create the desired schedule, or replace the one there; what Temporal holds after.

        Raises:
            UpdateLost: someone else's change landed meanwhile (tried again next round).
        """
        route = want.route
        client = await self._route_client(route)
        settings = want.resource.spec.settings()
        encoded = await encode_action(
            client.data_converter, route, settings,
            principal=obs.principal, managed_by=obs.managed_by,
        )  # fmt: skip
        schedule = build(route, settings, encoded, schedule_id=want.schedule_id,
                         paused=want.paused, note=want.note)  # fmt: skip
        handle = client.get_schedule_handle(want.schedule_id)
        if not exists:
            try:
                await client.create_schedule(
                    want.schedule_id, schedule, memo=dict(encoded.schedule_memo),
                    rpc_timeout=self._timeout,
                )  # fmt: skip
            except ScheduleAlreadyRunningError:
                exists = True  # created meanwhile (an earlier write that timed out)
            else:
                return await self._in_temporal(
                    client, await handle.describe(rpc_timeout=self._timeout)
                )
        current = await handle.describe(rpc_timeout=self._timeout)
        now = await calls.update(
            client, want.schedule_id, schedule, current.raw_description.conflict_token,
            rpc_timeout=self._timeout,
        )  # fmt: skip
        return await self._in_temporal(client, now)

    async def pause(self, namespace: str, schedule_id: str, note: str) -> None:
        client = await self.client(namespace)
        await client.get_schedule_handle(schedule_id).pause(note=note, rpc_timeout=self._timeout)

    async def unpause(self, namespace: str, schedule_id: str, note: str) -> None:
        client = await self.client(namespace)
        handle = client.get_schedule_handle(schedule_id)
        await handle.unpause(note=note, rpc_timeout=self._timeout)

    async def delete(self, namespace: str, schedule_id: str) -> None:
        """Delete the schedule; one already gone is fine."""
        client = await self.client(namespace)
        try:
            await client.get_schedule_handle(schedule_id).delete(rpc_timeout=self._timeout)
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise


async def _memo_text(converter: DataConverter, fields: Mapping[str, Any], key: str) -> str | None:
    """A memo value as text; None when missing, or not text this converter can read."""
    if key not in fields:
        return None
    try:
        (value,) = await converter.decode([fields[key]])
    except Exception:  # a codec the operator lacks, or a payload it cannot read
        return None
    return value if isinstance(value, str) else None

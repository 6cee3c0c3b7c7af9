"""Schedules to Temporal and back: the one place a :class:`ScheduleSettings` becomes a Temporal
schedule, and a Temporal schedule becomes what the gateway shows, for the API and the operator
alike.

The action starts the route's workflow as a start would: its type, task queue and timeouts,
the input encoded with the route's data converter (its payload codec included, one codec call
for the input and every memo value), and a memo that records the route and the principal that
made the schedule, so each workflow it starts reads and lists like any other of the route.
The action's workflow id is the schedule's id, which carries the route's prefix; Temporal
appends the run's time (``-2026-01-05T03:00:00Z``), so every workflow a schedule starts is the
route's by id too.

Temporal compiles cron expressions into structured calendars and keeps only those; a
description renders each back as a cron expression (:func:`cron_of`), so what is shown is what
Temporal will do, in the form it was written (names become numbers: ``MON-FRI`` is ``1-5``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio import client as temporal
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.schedule.v1 import Schedule as ScheduleProto
from temporalio.common import RawValue
from temporalio.converter import DataConverter

from gateway_core import memo
from gateway_core.payloads import json_protobuf_payload
from gateway_core.routes import CompiledRoute
from gateway_core.schedules.spec import OverlapPolicy, ScheduleSettings, seconds

_FIELDS = ("second", "minute", "hour", "day_of_month", "month", "day_of_week", "year")
_FULL = {"second": (0, 59), "minute": (0, 59), "hour": (0, 23), "day_of_month": (1, 31),
         "month": (1, 12), "day_of_week": (0, 6)}  # fmt: skip


@dataclass(frozen=True, slots=True)
class EncodedAction:
    """A schedule's payloads as Temporal will store them, from one codec call."""

    args: list[Payload]
    """The workflow's arguments."""
    workflow_memo: dict[str, Payload]
    """The memo of every workflow the schedule starts: route, route path, principal, digest."""
    schedule_memo: dict[str, Payload]
    """The schedule's own memo: the same, and who manages it when a resource does."""
    digest: str
    """The SHA-256 of the plaintext settings (input, spec, policy): an idempotent repeat of a
    create finds the first one by it."""

    @property
    def size(self) -> int:
        """The arguments' bytes, as Temporal measures them against its blob limit."""
        return Payloads(payloads=self.args).ByteSize()


async def encode_action(
    converter: DataConverter,
    route: CompiledRoute,
    settings: ScheduleSettings,
    *,
    principal: str,
    managed_by: str | None = None,
) -> EncodedAction:
    """The action's arguments and both memos for ``settings`` (whose input is valid for
    ``route``), converted and encoded with ``converter`` (the route's codec, once).

    Raises:
        Whatever the codec raises (the API's guarded codec: ``CodecUnavailable``).
    """
    digest = memo.body_digest(settings.model_dump(mode="json"))
    args: list[Any] = route.arguments(settings.input)
    if route.spec.input_message is not None:
        args = [RawValue(json_protobuf_payload(a, route.spec.input_message)) for a in args]
    values: list[Any] = [route.name, route.spec.path, principal, digest]
    if managed_by is not None:
        values.append(managed_by)
    payloads = converter.payload_converter.to_payloads([*args, *values])
    if converter.payload_codec is not None:
        payloads = await converter.payload_codec.encode(payloads)
    sent, memo_payloads = list(payloads[: len(args)]), payloads[len(args) :]
    keys = (memo.ROUTE, memo.ROUTE_PATH, memo.PRINCIPAL, memo.REQUEST_SHA256, memo.MANAGED_BY)
    encoded = dict(zip(keys, memo_payloads, strict=False))
    workflow_memo = {k: v for k, v in encoded.items() if k != memo.MANAGED_BY}
    return EncodedAction(sent, workflow_memo, encoded, digest)


def build(
    route: CompiledRoute,
    settings: ScheduleSettings,
    encoded: EncodedAction,
    *,
    schedule_id: str,
    paused: bool,
    note: str | None,
) -> temporal.Schedule:
    """The Temporal schedule for ``settings`` on ``route``; ``paused`` and ``note`` are its
    state (the caller decides them: an update keeps the current state unless told)."""
    times = settings.spec
    policy = settings.policy
    return temporal.Schedule(
        action=temporal.ScheduleActionStartWorkflow(
            route.spec.workflow_type,
            args=encoded.args,  # payloads pass through the SDK as they are
            id=schedule_id,
            task_queue=route.spec.task_queue,
            execution_timeout=route.execution_timeout,
            run_timeout=route.run_timeout,
            memo=dict(encoded.workflow_memo),
        ),
        spec=temporal.ScheduleSpec(
            cron_expressions=[c.strip() for c in times.cron_expressions],
            intervals=[
                temporal.ScheduleIntervalSpec(
                    every=timedelta(seconds=i.every_seconds),
                    offset=timedelta(seconds=i.offset_seconds) if i.offset_seconds else None,
                )
                for i in times.intervals
            ],
            time_zone_name=times.time_zone,
            jitter=timedelta(seconds=times.jitter_seconds) if times.jitter_seconds else None,
            start_at=times.start_time,
            end_at=times.end_time,
        ),
        policy=temporal.SchedulePolicy(
            overlap=policy.overlap.to_temporal(),
            catchup_window=(
                timedelta(seconds=policy.catchup_window_seconds)
                if policy.catchup_window_seconds is not None
                else None
            ),
            pause_on_failure=policy.pause_on_failure,
        ),
        state=temporal.ScheduleState(paused=paused, note=note),
    )


def _range(field: str, r: temporal.ScheduleRange) -> str:
    end = max(r.end, r.start)
    low, high = _FULL.get(field, (None, None))
    if r.start == low and end == high:
        text = "*"
    elif r.start == end:
        text = str(r.start)
    else:
        text = f"{r.start}-{end}"
    return f"{text}/{r.step}" if r.step > 1 else text


def _field(calendar: temporal.ScheduleCalendarSpec, field: str) -> str:
    ranges: Sequence[temporal.ScheduleRange] = getattr(calendar, field)
    if not ranges:
        return "*"
    return ",".join(_range(field, r) for r in ranges)


def cron_of(calendar: temporal.ScheduleCalendarSpec) -> str:
    """A calendar Temporal compiled (from a cron expression, or one set in Temporal directly)
    as a cron expression: five fields when it fires at second 0 of any year, else seven."""
    fields = {name: _field(calendar, name) for name in _FIELDS}
    five = " ".join(fields[n] for n in ("minute", "hour", "day_of_month", "month", "day_of_week"))
    if fields["second"] == "0" and fields["year"] == "*":
        return five
    return f"{fields['second']} {five} {fields['year']}"


def spec_of(spec: temporal.ScheduleSpec) -> dict[str, Any]:
    """A Temporal schedule's spec as the gateway shows it (the shape of :class:`ScheduleSpec`,
    by Python name); not validated, since a schedule changed in Temporal may not be one the
    gateway would accept."""
    crons = [cron_of(c) for c in spec.calendars] + list(spec.cron_expressions)
    return {
        "cron_expressions": crons,
        "intervals": [
            {"every_seconds": seconds(i.every), "offset_seconds": seconds(i.offset) or 0}
            for i in spec.intervals
        ],
        "time_zone": spec.time_zone_name or None,
        "jitter_seconds": seconds(spec.jitter) or None,
        "start_time": spec.start_at,
        "end_time": spec.end_at,
    }


def policy_of(policy: temporal.SchedulePolicy) -> dict[str, Any]:
    """A Temporal schedule's policies as the gateway shows them (the shape of
    :class:`~gateway_core.schedules.spec.SchedulePolicy`)."""
    return {
        "overlap": OverlapPolicy.from_temporal(policy.overlap).value,
        "catchup_window_seconds": seconds(policy.catchup_window),
        "pause_on_failure": policy.pause_on_failure,
    }


def starts_route_workflow(schedule: temporal.Schedule, route: CompiledRoute) -> bool:
    """Whether ``schedule``'s action starts ``route``'s workflow type (what makes a schedule
    under the route's prefix the route's, as the type does for a workflow)."""
    action = schedule.action
    return (
        isinstance(action, temporal.ScheduleActionStartWorkflow)
        and action.workflow == route.spec.workflow_type
    )


def digest(schedule: ScheduleProto, *, state: bool = True) -> str:
    """A fingerprint of what a schedule does (its spec, action, policies and, with ``state``,
    its paused state and note, as Temporal holds them): two descriptions with the same one
    describe the same schedule, so a change made in Temporal shows as a new fingerprint."""
    copy = ScheduleProto()
    copy.CopyFrom(schedule)
    copy.state.remaining_actions = 0  # counts down by itself on a limited schedule
    if not state:
        copy.ClearField("state")
    return hashlib.sha256(copy.SerializeToString(deterministic=True)).hexdigest()

"""The Temporal call on a schedule that the API and the operator make alike, and that needs
more than the SDK's: an update that is known to have been applied.

Temporal takes a schedule update as a signal to the schedule's own workflow, which drops one
whose conflict token is stale *without an error*. So the update is sent with the token it was
read at, and then confirmed: the schedule is read again until its token has moved, and the
update counts only if the action Temporal now holds is the one sent (its input and its memo,
which carries the digest of the whole body, so any other change shows).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from temporalio import client as temporal
from temporalio.api.workflowservice.v1 import UpdateScheduleRequest

from gateway_core.errors import GatewayError

CONFIRM_INTERVAL_SECONDS = 0.05
"""How often an update reads the schedule again until Temporal has applied it (a few
milliseconds, usually)."""


class UpdateLost(GatewayError):
    """Someone else's change was applied instead of this update (or before it, so Temporal
    dropped it): the schedule is theirs."""


async def update(
    client: temporal.Client,
    schedule_id: str,
    schedule: temporal.Schedule,
    token: bytes,
    *,
    rpc_timeout: timedelta,
) -> temporal.ScheduleDescription:
    """Replace the schedule with ``schedule`` if it is still at conflict ``token``; its
    description once Temporal has applied the update.

    Raises:
        UpdateLost: the schedule moved on without this update.
        TimeoutError: Temporal did not apply anything within ``rpc_timeout``.
        RPCError: Temporal's refusal (NOT_FOUND for a missing schedule).
    """
    sent = await schedule._to_proto(client)  # the SDK's own conversion, payloads as they are
    request = UpdateScheduleRequest(
        namespace=client.namespace,
        schedule_id=schedule_id,
        schedule=sent,
        conflict_token=token,
        identity=client.identity,
        request_id=str(uuid.uuid4()),
    )
    await client.workflow_service.update_schedule(request, retry=True, timeout=rpc_timeout)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + rpc_timeout.total_seconds()
    handle = client.get_schedule_handle(schedule_id)
    while True:
        now = await handle.describe(rpc_timeout=rpc_timeout)
        if now.raw_description.conflict_token != token:
            break
        if loop.time() >= deadline:
            raise TimeoutError("Temporal did not apply the schedule update in time")
        await asyncio.sleep(CONFIRM_INTERVAL_SECONDS)
    applied, ours = now.raw_description.schedule.action.start_workflow, sent.action.start_workflow
    if applied.input != ours.input or applied.memo != ours.memo:
        raise UpdateLost(f"schedule {schedule_id!r} was changed by someone else meanwhile")
    return now

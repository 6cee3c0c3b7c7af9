"""A route's schedules in Temporal: create, describe, update, pause, unpause, trigger,
backfill, delete and list, as the API's schedule endpoints call them.

What a schedule is and how it becomes Temporal's is shared with the operator
(:mod:`gateway_core.schedules`); this module adds what only the HTTP API does:

- **Ownership by id.** A schedule id has its route's prefix (the dispatch checked that); a
  schedule is the route's only if its action also starts the route's workflow type, checked on
  every by-id call from the description each one starts with (:func:`describe`), as a
  workflow's type is. Another program's schedule under the prefix is the same 404 as a missing
  one.
- **Idempotent creates.** With an ``Idempotency-Key`` the id is deterministic; a repeat by the
  same caller with the same body finds the first schedule, another body is 422
  ``idempotency-key-reused``, and a schedule someone else made under the id is one 409.
- **Optimistic concurrency.** A description's ``ETag`` is the schedule's conflict token. An
  update compares ``If-Match`` with the token it just read (412 when it moved), then sends the
  token with the update and confirms it was applied (:mod:`gateway_core.schedules.calls`:
  Temporal drops an update whose token is stale *silently*); 412 when someone else's landed.
- **Resources win.** A schedule whose memo names a ``WorkflowSchedule`` (``gateway.managed_by``)
  is changed through its resource only: update, pause, unpause and delete answer 409
  ``schedule-managed``; trigger and backfill, which change nothing, are allowed.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from temporalio import client as temporal
from temporalio.client import Client, ScheduleAlreadyRunningError
from temporalio.service import RPCError

from gateway_api.errors import (
    IdempotencyKeyReused,
    PreconditionFailed,
    ScheduleIdTaken,
    ScheduleManaged,
    ScheduleNotFound,
    TemporalTimeout,
    WorkflowNotFound,
)
from gateway_api.temporal import failures
from gateway_core import memo
from gateway_core.routes import CompiledRoute
from gateway_core.schedules import EncodedAction, calls, starts_route_workflow


@dataclass(frozen=True, slots=True)
class Described:
    """A schedule of the route, as Temporal describes it, with the gateway's memo decoded."""

    description: temporal.ScheduleDescription
    principal: str | None
    """Who created it (``gateway.principal``)."""
    managed_by: str | None
    """The ``WorkflowSchedule`` that owns it, if any (``gateway.managed_by``)."""
    digest: str | None
    """The SHA-256 of the body that created it (``gateway.request_sha256``)."""

    @property
    def token(self) -> bytes:
        return self.description.raw_description.conflict_token

    @property
    def etag(self) -> str:
        return etag(self.token)


def etag(token: bytes) -> str:
    """The strong entity tag of a schedule whose conflict token is ``token``."""
    return '"' + base64.urlsafe_b64encode(token).rstrip(b"=").decode() + '"'


def _token(tag: str) -> bytes | None:
    if not (tag.startswith('"') and tag.endswith('"')) or len(tag) < 2:
        return None
    text = tag[1:-1]
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


def check_if_match(header: str | None, described: Described) -> None:
    """RFC 9110 13.1.1: the request applies only while one of the listed entity tags (strong
    comparison; ``*``: any) is the schedule's current one.

    Raises:
        PreconditionFailed: none is.
    """
    if header is None:
        return
    tags = [t.strip() for t in header.split(",") if t.strip()]
    if "*" in tags or any(_token(t) == described.token for t in tags):
        return
    raise PreconditionFailed(
        f"the schedule's ETag is now {described.etag}, not {header}: read it again and retry"
    )


def _not_found(exc: RPCError, schedule_id: str, principal: str) -> Exception:
    """Temporal's error for a schedule call, with NOT_FOUND the schedule's 404."""
    problem = failures.translate(exc, principal=principal)
    if isinstance(problem, WorkflowNotFound):  # not the namespace's absence
        return ScheduleNotFound.hiding(schedule_id, principal)
    return exc


async def describe(
    client: Client,
    route: CompiledRoute,
    schedule_id: str,
    *,
    principal: str,
    rpc_timeout: timedelta,
) -> Described:
    """The route's schedule with this id.

    Raises:
        ScheduleNotFound: there is none, or its action does not start the route's workflow.
    """
    try:
        found = await client.get_schedule_handle(schedule_id).describe(rpc_timeout=rpc_timeout)
    except RPCError as exc:
        raise _not_found(exc, schedule_id, principal) from None
    if not starts_route_workflow(found.schedule, route):
        raise ScheduleNotFound.hiding(schedule_id, principal)
    return await _described(client, found)


async def _described(client: Client, found: temporal.ScheduleDescription) -> Described:
    fields = found.raw_description.memo.fields
    keys = [k for k in (memo.PRINCIPAL, memo.MANAGED_BY, memo.REQUEST_SHA256) if k in fields]
    values = await client.data_converter.decode([fields[k] for k in keys]) if keys else []
    got = dict(zip(keys, values, strict=True))

    def text(key: str) -> str | None:
        value = got.get(key)
        return value if isinstance(value, str) else None

    return Described(found, text(memo.PRINCIPAL), text(memo.MANAGED_BY),
                     text(memo.REQUEST_SHA256))  # fmt: skip


def refuse_managed(described: Described) -> None:
    """Raises:
    ScheduleManaged: a ``WorkflowSchedule`` owns the schedule."""
    if described.managed_by is not None:
        raise ScheduleManaged(
            f"schedule {described.description.id!r} belongs to {described.managed_by}: "
            "change the resource (kubectl), not the schedule",
            managed_by=described.managed_by,
        )


async def create(
    client: Client,
    route: CompiledRoute,
    schedule: temporal.Schedule,
    encoded: EncodedAction,
    *,
    schedule_id: str,
    principal: str,
    deterministic: bool,
    rpc_timeout: timedelta,
) -> tuple[Described | None, bool]:
    """Create the schedule, or find the one this idempotent request created before: the
    existing one's description (None when this call created it), and whether it did.

    Raises:
        IdempotencyKeyReused: the caller's own schedule with this id has another body.
        ScheduleIdTaken: the id is another caller's schedule, or one made outside the gateway.
    """
    try:
        await client.create_schedule(
            schedule_id, schedule, memo=dict(encoded.schedule_memo), rpc_timeout=rpc_timeout
        )
    except ScheduleAlreadyRunningError:
        if not deterministic:
            raise ScheduleIdTaken() from None
        try:
            existing = await describe(
                client, route, schedule_id, principal=principal, rpc_timeout=rpc_timeout
            )
        except ScheduleNotFound:  # another program's under the prefix, or just deleted
            raise ScheduleIdTaken() from None
        if existing.principal != principal or existing.digest is None:
            raise ScheduleIdTaken() from None
        if existing.digest != encoded.digest:
            raise IdempotencyKeyReused(
                f"schedule {schedule_id!r} was created by this caller's request with the same "
                "Idempotency-Key and another body; a new schedule needs a new key"
            ) from None
        return existing, False
    return None, True


async def update(
    client: Client,
    described: Described,
    schedule: temporal.Schedule,
    *,
    principal: str,
    rpc_timeout: timedelta,
) -> Described:
    """Replace the schedule ``described`` shows with ``schedule``, if it is still that one;
    its description once Temporal has applied the update (:func:`gateway_core.schedules.update`).

    Raises:
        PreconditionFailed: the schedule changed before the update was applied (Temporal
            dropped it) or while it was.
        TemporalTimeout: Temporal did not apply it within ``rpc_timeout``.
    """
    schedule_id = described.description.id
    try:
        now = await calls.update(
            client, schedule_id, schedule, described.token, rpc_timeout=rpc_timeout
        )
    except RPCError as exc:
        raise _not_found(exc, schedule_id, principal) from None
    except calls.UpdateLost:
        raise PreconditionFailed(
            f"schedule {schedule_id!r} was changed by someone else while this update was "
            "applied, and theirs stands: read it again and retry"
        ) from None
    except TimeoutError:
        raise TemporalTimeout("Temporal did not apply the update in time") from None
    return await _described(client, now)


@contextlib.contextmanager
def _calling(handle: temporal.ScheduleHandle, principal: str) -> Iterator[None]:
    """Temporal's errors of a call on the schedule; NOT_FOUND is the schedule's 404."""
    try:
        yield
    except RPCError as exc:
        raise _not_found(exc, handle.id, principal) from None


async def pause(
    handle: temporal.ScheduleHandle, note: str, *, principal: str, rpc_timeout: timedelta
) -> None:
    with _calling(handle, principal):
        await handle.pause(note=note, rpc_timeout=rpc_timeout)


async def unpause(
    handle: temporal.ScheduleHandle, note: str, *, principal: str, rpc_timeout: timedelta
) -> None:
    with _calling(handle, principal):
        await handle.unpause(note=note, rpc_timeout=rpc_timeout)


async def trigger(
    handle: temporal.ScheduleHandle,
    overlap: temporal.ScheduleOverlapPolicy | None,
    *,
    principal: str,
    rpc_timeout: timedelta,
) -> None:
    """Run the action now (with ``overlap`` unset, under the schedule's own policy: a Skip
    schedule whose last run still runs skips it)."""
    with _calling(handle, principal):
        await handle.trigger(overlap=overlap, rpc_timeout=rpc_timeout)


async def backfill(
    handle: temporal.ScheduleHandle,
    start: datetime,
    end: datetime,
    overlap: temporal.ScheduleOverlapPolicy,
    *,
    principal: str,
    rpc_timeout: timedelta,
) -> None:
    """Run the actions the spec names between ``start`` and ``end`` (Temporal buffers at most
    a thousand of them)."""
    with _calling(handle, principal):
        await handle.backfill(
            temporal.ScheduleBackfill(start_at=start, end_at=end, overlap=overlap),
            rpc_timeout=rpc_timeout,
        )


async def delete(
    handle: temporal.ScheduleHandle, *, principal: str, rpc_timeout: timedelta
) -> None:
    """Delete the schedule; the workflows it started go on."""
    with _calling(handle, principal):
        await handle.delete(rpc_timeout=rpc_timeout)


def list_query(prefixes: Sequence[str]) -> str:
    """The schedule visibility query matching ids that start with any of ``prefixes``
    (Temporal filters schedules by ``ScheduleId``; not by workflow type, which the caller
    checks on each page)."""
    if not prefixes:
        raise ValueError("no prefixes to restrict the list to")
    return " OR ".join(f"ScheduleId STARTS_WITH {_literal(p)}" for p in prefixes)


def _literal(value: str) -> str:
    # Prefixes are id characters (A-Z a-z 0-9 . _ : -): nothing to escape, but be exact.
    return "'" + value.replace("'", "''") + "'"


async def list_page(
    client: Client,
    query: str,
    *,
    page_size: int,
    page_token: bytes | None,
    rpc_timeout: timedelta,
) -> tuple[list[temporal.ScheduleListDescription], bytes | None]:
    """One page of Temporal's schedules matching ``query``, and the next page's token."""
    page = await client.list_schedules(
        query, page_size=page_size, next_page_token=page_token, rpc_timeout=rpc_timeout
    )
    await page.fetch_next_page()
    return list(page.current_page or ()), page.next_page_token


def list_item_type(entry: temporal.ScheduleListDescription) -> str | None:
    """The workflow type a listed schedule's action starts (None: it starts none)."""
    action: Any = entry.schedule.action if entry.schedule is not None else None
    return action.workflow if isinstance(action, temporal.ScheduleListActionStartWorkflow) else None

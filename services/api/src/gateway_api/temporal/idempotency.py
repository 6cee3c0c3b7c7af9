"""Idempotency keys, scoped to the caller, as the IETF Idempotency-Key draft wants them.

A key is the caller's: :func:`scoped` puts a digest of the principal in front of it before it
becomes part of a workflow id (or an update id), so another caller sending the same key names
another workflow. Nothing anyone else does with a key, and nothing started outside the gateway,
can then answer, block or reveal a caller's request; the one case left, an id taken by a
workflow the caller did not start (a business-key template shared by callers, or a workflow
created in Temporal directly), gets one answer whatever the body.

With the key scoped, the draft's answers are: the same key and body return the first
request's workflow (for start-only callers too: it is their own), the same key with another
body is 422 ``idempotency-key-reused``, and a repeat while the first request's start is still
in flight in this process is 409 ``idempotency-key-in-flight`` with ``Retry-After``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from gateway_api.errors import IdempotencyKeyInFlight
from gateway_core import memo

SCOPE_CHARS = memo.SCOPE_CHARS
scope = memo.scope


def scoped(principal: str, key: str | None) -> str | None:
    """``key`` as part of an id: the principal's scope, a dot, the key; None stays None."""
    return None if key is None else f"{scope(principal)}.{key}"


_in_flight: set[str] = set()
"""Workflow ids whose start is being sent by this process. Per process on purpose: across
replicas Temporal's start is atomic and the memo check finds the first request's workflow."""


@contextlib.contextmanager
def starting(workflow_id: str) -> Iterator[None]:
    """Hold ``workflow_id`` while its start is in flight.

    Raises:
        IdempotencyKeyInFlight: another request is starting this id right now.
    """
    if workflow_id in _in_flight:
        raise IdempotencyKeyInFlight(
            "the first request with this Idempotency-Key is still being processed; retry"
        )
    _in_flight.add(workflow_id)
    try:
        yield
    finally:
        _in_flight.discard(workflow_id)

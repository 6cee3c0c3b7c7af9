"""The memo the gateway writes on the workflows (and schedules) it makes: audit and
idempotency data, never authorization (docs/security.md). Shared, because the API and the
operator (which makes the schedules of ``WorkflowSchedule`` resources) write the same keys."""

from __future__ import annotations

import hashlib
import json
from typing import Any

ROUTE = "gateway.route"
"""The route's name."""
ROUTE_PATH = "gateway.route_path"
"""The route's path: how a description finds the route that made a workflow."""
PRINCIPAL = "gateway.principal"
"""Who asked: ``key:<id>``, ``jwt:<sub>``, ``anonymous``, or for a ``WorkflowSchedule``'s
schedule ``k8s:<namespace>``."""
REQUEST_SHA256 = "gateway.request_sha256"
"""The SHA-256 of the request's canonical body (:func:`body_digest`): a repeat with the same
Idempotency-Key and body finds the first one."""
MANAGED_BY = "gateway.managed_by"
"""On a schedule only: ``WorkflowSchedule <namespace>/<name>`` when a resource owns it (the
API then refuses to change it)."""


SCOPE_CHARS = 16
"""Hex digits of SHA-256(principal) in an id: 64 bits, so two principals never share a scope by
chance. Ids stay within Temporal's 255 characters: a prefix (≤ 100), the scope and a dot (17),
a key (≤ 128)."""


def scope(principal: str) -> str:
    """The principal's scope: what its ids carry after a route's prefix (an Idempotency-Key's,
    an owner-only route's, a WorkflowSchedule's)."""
    return hashlib.sha256(principal.encode()).hexdigest()[:SCOPE_CHARS]


def body_digest(body: Any) -> str:
    """SHA-256 of the body's canonical JSON: equal for equal bodies, whatever key order."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()

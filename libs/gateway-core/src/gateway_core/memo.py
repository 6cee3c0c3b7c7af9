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


def body_digest(body: Any) -> str:
    """SHA-256 of the body's canonical JSON: equal for equal bodies, whatever key order."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()

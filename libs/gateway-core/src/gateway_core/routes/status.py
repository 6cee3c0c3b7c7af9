"""A WorkflowRoute's status, as the operator writes it and the API reads it.

The operator judges each route (valid, its path and id prefix its own) and says so in the
``Accepted`` condition, with the ``observedGeneration`` it judged. The API serves a route from
its spec once that condition is ``True`` for the spec's generation: the operator is the one
place that decides, and ``kubectl get wfr`` shows the same verdict the API follows.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

ACCEPTED = "Accepted"
READY = "Ready"
WORKER_AVAILABLE = "WorkerAvailable"


class Verdict(enum.Enum):
    """What a route's current status says about its current spec."""

    ACCEPTED = "accepted"
    """Judged and accepted: serve this spec."""
    REFUSED = "refused"
    """Judged and refused: serve nothing for this route."""
    PENDING = "pending"
    """Not judged yet (a new route, or a spec changed since): keep serving what was served."""


def condition(obj: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    status = obj.get("status") or {}
    for found in status.get("conditions") or ():
        if isinstance(found, Mapping) and found.get("type") == kind:
            return found
    return None


def verdict(obj: Mapping[str, Any]) -> Verdict:
    """The operator's verdict on ``obj``'s current spec (a WorkflowRoute as the API server
    returns it)."""
    accepted = condition(obj, ACCEPTED)
    generation = (obj.get("metadata") or {}).get("generation", 1)
    if accepted is None or accepted.get("observedGeneration") != generation:
        return Verdict.PENDING
    return Verdict.ACCEPTED if accepted.get("status") == "True" else Verdict.REFUSED

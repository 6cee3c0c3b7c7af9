"""Server-sent events of a workflow's progress, as the client yields them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Event:
    """One server-sent event: ``event`` is ``history``, ``status`` or ``end``; ``id`` is the
    history event id to resume from (``last_event_id``)."""

    event: str
    id: str | None
    data: Any

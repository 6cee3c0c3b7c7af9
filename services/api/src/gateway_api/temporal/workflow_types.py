"""Whether a workflow id names one of the route's workflows: its prefix AND its type.

A route's workflows are the ids with its prefix and its workflow type. The prefix is decided
from the id alone; the type needs Temporal: a workflow of another type under the prefix (another
program sharing the namespace, or someone with Temporal access starting ``order-payroll-X`` as
a ``PayrollWorkflow``) is not the route's, and every operation by id answers it with the same
404 as a missing id, decided once, in the by-id dispatch (:func:`gateway_api.api.dispatch
.on_workflow`).

A workflow's type never changes, so what was learned is kept (per process, bounded, for
:data:`TTL_SECONDS`): a workflow this process started is known without a call, and any other
costs one describe the first time it is addressed, whose answer the operation then uses instead
of describing again.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from datetime import timedelta

from temporalio.client import Client, WorkflowExecutionDescription

MAX_KNOWN = 10_000
"""Workflows remembered per process (about 1 MiB)."""
TTL_SECONDS = 300.0
"""How long a workflow's type is taken as known: an id reused for a workflow of another type
(terminated, then started again in Temporal directly) is seen within this."""


class WorkflowTypes:
    """The types of the workflows this process has met, by namespace and id."""

    def __init__(self, limit: int = MAX_KNOWN, ttl: float = TTL_SECONDS) -> None:
        self._limit, self._ttl = limit, ttl
        self._known: OrderedDict[tuple[str, str], tuple[float, str]] = OrderedDict()

    def remember(self, namespace: str, workflow_id: str, workflow_type: str) -> None:
        key = (namespace, workflow_id)
        self._known[key] = (time.monotonic(), workflow_type)
        self._known.move_to_end(key)
        while len(self._known) > self._limit:
            self._known.popitem(last=False)

    def known(self, namespace: str, workflow_id: str) -> str | None:
        found = self._known.get((namespace, workflow_id))
        if found is None or time.monotonic() - found[0] > self._ttl:
            return None
        return found[1]

    async def is_of(
        self, client: Client, workflow_id: str, workflow_type: str, *, rpc_timeout: timedelta
    ) -> tuple[bool, WorkflowExecutionDescription | None]:
        """Whether ``workflow_id`` is a ``workflow_type``, and the description when one had to
        be asked for (so the caller need not ask again).

        Raises:
            RPCError: Temporal's, as a describe raises it (NOT_FOUND for a missing id).
        """
        known = self.known(client.namespace, workflow_id)
        if known is not None:
            return known == workflow_type, None
        desc = await client.get_workflow_handle(workflow_id).describe(rpc_timeout=rpc_timeout)
        self.remember(client.namespace, workflow_id, desc.workflow_type)
        return desc.workflow_type == workflow_type, desc

"""The API's route table: loaded at start, reloaded when its files change.

In a cluster the table is the operator's ConfigMap, mounted as a directory; under ``make run``
it is ``k8s/routes``. Either way the same loader reads WorkflowRoute documents. The table is
immutable and swapped whole, so a request in flight keeps the table it started with. A broken
new table is refused and the last good one stays, which the log and the metrics say.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import structlog

from gateway_api import metrics
from gateway_core.errors import RouteConfigError
from gateway_core.routes import RouteTable, fingerprint, load_routes

log = structlog.get_logger(__name__)


class RouteStore:
    """The current :class:`RouteTable` (None until one has loaded) and its reloading."""

    def __init__(self, path: Path | None, *, table: RouteTable | None = None) -> None:
        self.path = path
        self.table = table
        self._fingerprint: str | None = None
        self._observers: list[Callable[[RouteTable], None]] = []
        if table is not None:
            metrics.route_table_loaded(table)

    def observe(self, check: Callable[[RouteTable], None]) -> None:
        """Call ``check`` with the table in use, if any, and with every table loaded later
        (the lifespan logs routes naming a payload codec the API does not have)."""
        self._observers.append(check)
        if self.table is not None:
            check(self.table)

    def load(self) -> None:
        """The first load. Invalid files stop the API (there is no good table to keep); missing
        ones do not, since a ConfigMap may be mounted after the pod starts.

        Raises:
            RouteConfigError: the route files exist and are invalid.
        """
        if self.path is None:
            return
        self._fingerprint = fingerprint(self.path)
        if self._fingerprint is None:
            log.warning("no route table yet; not ready until one appears", path=str(self.path))
            return
        try:
            self._swap(load_routes(self.path))
        except RouteConfigError:
            metrics.ROUTE_TABLE_LOADS.labels(result="failure").inc()
            raise

    def reload(self) -> bool:
        """Load the files again if they changed; True when a new table is in use."""
        if self.path is None:
            return False
        current = fingerprint(self.path)
        if current is None or current == self._fingerprint:
            return False
        self._fingerprint = current
        try:
            table = load_routes(self.path)
        except RouteConfigError as exc:
            metrics.ROUTE_TABLE_LOADS.labels(result="failure").inc()
            log.error(
                "route table rejected; keeping the last good one",
                error=str(exc),
                field=exc.field,
                kept_version=self.table.version if self.table else None,
            )
            return False
        if self.table is not None and table.version == self.table.version:
            return False
        self._swap(table)
        return True

    async def watch(self, interval: float) -> None:
        """Reload every ``interval`` seconds; runs until cancelled."""
        while True:
            await asyncio.sleep(interval)
            await asyncio.to_thread(self.reload)

    def _swap(self, table: RouteTable) -> None:
        self.table = table
        metrics.route_table_loaded(table)
        log.info("route table loaded", version=table.version, paths=sorted(table.routes))
        for check in self._observers:
            check(table)

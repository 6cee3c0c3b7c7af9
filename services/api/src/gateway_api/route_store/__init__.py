"""The API's route table, and where it comes from.

Two sources fill the :class:`RouteStore`:

- files (``API_ROUTES_SOURCE=files``): a folder of WorkflowRoute documents (``k8s/routes``
  under ``make run``, or a ConfigMap of route files on a cluster without the operator), loaded
  at start and reloaded when its contents change;
- the cluster (``kubernetes``, :mod:`.kube`): the WorkflowRoutes themselves, listed and
  watched through the Kubernetes API, each served once the operator's ``Accepted`` condition
  says so for its current generation. A change reaches every pod in about a second, whatever
  the kubelet's sync period, and the table has no size limit but the routes' own.

The table is immutable and swapped whole, so a request in flight keeps the table it started
with. A broken table is refused and the last good one stays, which the log and the metrics say.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
from collections.abc import Callable
from pathlib import Path

import structlog

from gateway_api import metrics
from gateway_core.errors import RouteConfigError
from gateway_core.routes import RouteTable, fingerprint, load_routes

log = structlog.get_logger(__name__)


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the C library has none (musl, macOS)."""
    try:
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError):
        return None
    return trim


_MALLOC_TRIM = _malloc_trim()


TRIM_AFTER = 100
"""A swap that changed at least this many routes (the first table included) gives the memory
it freed back to the system."""


def freeze_heap(changed: int) -> None:
    """Collect the garbage, then move every object alive to the permanent generation: the
    route table just swapped in (most of a large process's objects) is never walked by a
    full collection again. A table's objects hold no reference cycles, so those of a table
    replaced later are still freed, by their reference counts. After the first freeze, a
    collection walks only what is new since the last one: a swap pays for what it added.

    After a swap of :data:`TRIM_AFTER` routes or more (a pod's first table, a burst), the C
    library is asked to give the memory freed back to the system: reading 2,000 routes parses
    and drops tens of megabytes of listed objects, whose free pages glibc would otherwise keep
    (9 MiB of RSS at 2,000 orders-sized routes). It walks the whole heap (about 80 ms there),
    so a swap of a few routes does not ask."""
    gc.collect()
    gc.freeze()
    if changed >= TRIM_AFTER and _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


class RouteStore:
    """The current :class:`RouteTable` (None until one has loaded) and its reloading."""

    def __init__(
        self,
        path: Path | None,
        *,
        table: RouteTable | None = None,
        settle: Callable[[int], None] | None = None,
    ) -> None:
        self.path = path
        self.table = table
        self._settle = settle
        """Called after each swap with the number of routes it changed (:func:`freeze_heap`
        in a server process)."""
        self.source_error: str | None = None
        """Why the table may be behind its source (None: it is current), for ``/readyz``."""
        self._fingerprint: str | None = None
        self._observers: list[Callable[[RouteTable], None]] = []
        if table is not None:
            metrics.route_table_loaded(table)

    def set_source_error(self, error: str | None) -> None:
        """The source cannot be read (or can again): the table stays, and says it may lag."""
        if error == self.source_error:
            return
        self.source_error = error
        metrics.ROUTE_SOURCE_UP.set(0 if error else 1)

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
        self._loaded(table, changed=len(table.routes))

    def swap(self, table: RouteTable, *, changed: int) -> None:
        """Serve ``table``, in which ``changed`` routes differ from the last one (the
        cluster source's incremental swap: no list of every path in the log)."""
        self.table = table
        metrics.route_table_loaded(table)
        log.info("route table updated", version=table.version, routes=len(table.routes),
                 changed=changed)  # fmt: skip
        self._loaded(table, changed=changed)

    def _loaded(self, table: RouteTable, *, changed: int) -> None:
        for check in self._observers:
            check(table)
        if self._settle is not None:
            self._settle(changed)

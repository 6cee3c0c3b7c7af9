"""Route documents as YAML: files and folders read into a table, and a table written back (the
operator's ConfigMap); :class:`RouteFiles` keeps a table current with its files for a process
that only needs it now and then (the worker, before each webhook attempt)."""

from __future__ import annotations

import hashlib
import logging
import threading
from pathlib import Path
from typing import Protocol

import yaml
from pydantic import ValidationError

from gateway_core.errors import RouteConfigError
from gateway_core.routes.compiled import CompiledRoute, compile_route
from gateway_core.routes.spec import API_VERSION, KIND, WorkflowRoute
from gateway_core.routes.table import RouteTable, build_table

log = logging.getLogger(__name__)


def dump_table(table: RouteTable) -> str:
    """The table as a YAML stream of WorkflowRoute documents, sorted by path: what the operator
    writes into the route-table ConfigMap and :func:`parse_documents` reads back."""
    docs = [
        {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": {"name": route.name, "namespace": route.namespace},
            "spec": route.spec.model_dump(mode="json", by_alias=True, exclude_none=True),
        }
        for route in table.routes.values()
    ]
    header = f"# temporal-gateway route table {table.version}: {len(docs)} route(s)\n"
    return header + yaml.safe_dump_all(docs, sort_keys=True) if docs else header


def parse_documents(text: str, *, source: str) -> list[CompiledRoute]:
    """Parse a YAML stream of WorkflowRoute documents (other kinds are ignored).

    Raises:
        RouteConfigError: the YAML is malformed or a WorkflowRoute is invalid.
    """
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise RouteConfigError(f"invalid YAML: {exc}", source=source) from exc
    compiled = []
    for doc in docs:
        if not isinstance(doc, dict) or doc.get("kind") != KIND:
            continue
        try:
            route = WorkflowRoute.model_validate(doc)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise RouteConfigError(
                first["msg"], source=source, field=".".join(str(p) for p in first["loc"])
            ) from exc
        compiled.append(compile_route(route, source=source))
    return compiled


def load_routes(path: Path) -> RouteTable:
    """Load a route table from a YAML file or a directory of ``*.yaml``/``*.yml`` files.

    Raises:
        RouteConfigError: a file is missing, unreadable or invalid, or paths collide.
    """
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in {".yaml", ".yml"})
    else:
        files = [path]
    routes: list[CompiledRoute] = []
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise RouteConfigError(f"cannot read: {exc.strerror}", source=str(file)) from exc
        routes.extend(parse_documents(text, source=str(file)))
    return build_table(routes, source=str(path))


def fingerprint(path: Path) -> str | None:
    """A digest of the route files' names and contents; None when there are none.

    Kubernetes updates a mounted ConfigMap by swapping a symlink, so timestamps cannot be
    trusted: compare contents. The files are small.
    """
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in {".yaml", ".yml"} and p.is_file())
    elif path.is_file():
        files = [path]
    else:
        return None
    if not files:
        return None
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.name.encode() + b"\0")
        try:
            digest.update(file.read_bytes() + b"\0")
        except OSError:  # swapped away while we read: the next look sees the new files
            return None
    return digest.hexdigest()


class RouteSource(Protocol):
    """A route table as it is now, for a reader that asks before each use (the worker's
    webhook deliveries): :class:`RouteFiles`, or the cluster's
    (:class:`gateway_core.routes.cluster.FollowedRoutes`)."""

    def current(self) -> RouteTable | None:
        """The table now (the last good one; None before any)."""


class RouteFiles:
    """The route table of a file or folder, read again whenever their contents have changed
    since the last look (:func:`fingerprint`), so each :meth:`current` is the table as the
    files are now. Files that turn invalid, or are missing for a moment (a ConfigMap being
    swapped), leave the last good table in place, as the API's reloads do. Thread-safe: a
    worker asks from its activities' threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fingerprint: str | None = None
        self._table: RouteTable | None = None
        self._lock = threading.Lock()

    def current(self) -> RouteTable | None:
        """The table as the files are now (the last good one; None before any has loaded)."""
        found = fingerprint(self.path)
        with self._lock:
            if found is None or found == self._fingerprint:
                return self._table
            self._fingerprint = found
            try:
                self._table = load_routes(self.path)
            except RouteConfigError as exc:
                log.warning("route table rejected; keeping the last good one: %s", exc)
        return self._table

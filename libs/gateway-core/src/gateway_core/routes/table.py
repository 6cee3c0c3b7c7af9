"""The route table: every compiled route, by path and by workflow id prefix, replaced as a
whole and never mutated."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from gateway_core.errors import RouteConfigError
from gateway_core.routes.compiled import CompiledRoute


@dataclass(frozen=True, slots=True)
class RouteTable:
    """All routes the API serves, keyed by path; replaced as a whole, never mutated."""

    routes: Mapping[str, CompiledRoute]
    version: str
    by_prefix: tuple[tuple[str, CompiledRoute], ...] = field(default=(), repr=False)
    """Id prefixes and their routes; none is a prefix of another (:func:`build_table`)."""

    def get(self, path: str) -> CompiledRoute | None:
        return self.routes.get(path)

    def for_workflow_id(self, workflow_id: str) -> CompiledRoute | None:
        """The route whose id prefix ``workflow_id`` starts with: the route that made it."""
        for prefix, route in self.by_prefix:
            if workflow_id.startswith(prefix):
                return route
        return None


def prefix_conflict(prefix: str, others: Mapping[str, str]) -> str | None:
    """The name of a route in ``others`` (prefix to name) whose id prefix overlaps ``prefix``
    (one starts with the other, so an id could not name its route); None when it is free."""
    for other, name in others.items():
        if other.startswith(prefix) or prefix.startswith(other):
            return name
    return None


def build_table(routes: Iterable[CompiledRoute], *, source: str = "<memory>") -> RouteTable:
    """Index routes by path and by id prefix, and give the table a content-derived version.

    Raises:
        RouteConfigError: two routes claim the same path, or overlapping id prefixes.
    """
    by_path: dict[str, CompiledRoute] = {}
    prefixes: dict[str, str] = {}
    for route in routes:
        other = by_path.get(route.spec.path)
        if other is not None:
            raise RouteConfigError(
                f"path {route.spec.path!r} is claimed by routes {other.name!r} and {route.name!r}",
                source=source,
                field="spec.path",
            )
        prefix = route.spec.id_prefix
        clash = prefix_conflict(prefix, prefixes)
        if clash is not None:
            raise RouteConfigError(
                f"id prefix {prefix!r} of route {route.name!r} overlaps that of route {clash!r}: "
                "a workflow id must name one route",
                source=source,
                field="spec.workflowId.prefix",
            )
        by_path[route.spec.path] = route
        prefixes[prefix] = route.name
    canonical = json.dumps(
        [by_path[p].spec.model_dump(mode="json", by_alias=True) for p in sorted(by_path)],
        sort_keys=True,
        separators=(",", ":"),
    )
    version = hashlib.sha256(canonical.encode()).hexdigest()[:12]
    return RouteTable(
        routes=dict(sorted(by_path.items())),
        version=version,
        by_prefix=tuple((r.spec.id_prefix, r) for r in by_path.values()),
    )

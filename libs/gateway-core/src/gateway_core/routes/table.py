"""The route table: every compiled route, by path and by workflow id prefix, replaced as a
whole and never mutated.

A platform's table holds thousands of routes and changes one route at a time, so nothing here
costs more than the change: :meth:`RouteTable.changed` copies the indexes (a dict copy, no
route recompiled), checks only the changed routes' paths and prefixes (:class:`PrefixIndex`,
a lookup per distinct prefix length and a bisection), and derives the version from the
routes' own digests (:attr:`CompiledRoute.digest`, computed once when a route is compiled).
A request finds its route by path in a dict, and by workflow id with one lookup per distinct
prefix length, whatever the table's size.
"""

from __future__ import annotations

import bisect
import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from gateway_core.errors import RouteConfigError
from gateway_core.routes.compiled import CompiledRoute


class PrefixIndex:
    """Workflow id prefixes, none a prefix of another, with the owner of each.

    :meth:`conflict` answers "does this prefix overlap one already held?" in one dict lookup
    per distinct prefix length (an id prefix is at most 100 characters) and one bisection of
    the sorted prefixes, instead of comparing with every prefix.
    """

    __slots__ = ("_lengths", "_owners", "_sorted")

    def __init__(self, owners: Mapping[str, str] | None = None) -> None:
        self._owners: dict[str, str] = {}
        self._sorted: list[str] = []
        self._lengths: Counter[int] = Counter()
        for prefix, owner in (owners or {}).items():
            self.add(prefix, owner)

    def copy(self) -> PrefixIndex:
        other = PrefixIndex()
        other._owners = dict(self._owners)
        other._sorted = list(self._sorted)
        other._lengths = Counter(self._lengths)
        return other

    def __len__(self) -> int:
        return len(self._owners)

    def owner(self, prefix: str) -> str | None:
        return self._owners.get(prefix)

    def conflict(self, prefix: str) -> tuple[str, str] | None:
        """The (prefix, owner) held that overlaps ``prefix`` (one starts with the other, so an
        id could not name its route); None when ``prefix`` is free."""
        for length in self._lengths:
            if length <= len(prefix):
                owner = self._owners.get(prefix[:length])
                if owner is not None:
                    return prefix[:length], owner
        # A held prefix that starts with ``prefix`` sorts right at or after it.
        at = bisect.bisect_left(self._sorted, prefix)
        if at < len(self._sorted) and self._sorted[at].startswith(prefix):
            return self._sorted[at], self._owners[self._sorted[at]]
        return None

    def add(self, prefix: str, owner: str) -> None:
        """Hold ``prefix`` for ``owner``; the caller has checked :meth:`conflict`."""
        if prefix not in self._owners:
            bisect.insort(self._sorted, prefix)
            self._lengths[len(prefix)] += 1
        self._owners[prefix] = owner

    def remove(self, prefix: str) -> None:
        if self._owners.pop(prefix, None) is None:
            return
        del self._sorted[bisect.bisect_left(self._sorted, prefix)]
        self._lengths[len(prefix)] -= 1
        if not self._lengths[len(prefix)]:
            del self._lengths[len(prefix)]

    def lengths(self) -> tuple[int, ...]:
        return tuple(sorted(self._lengths))


def prefix_conflict(prefix: str, others: Mapping[str, str]) -> str | None:
    """The name of a route in ``others`` (prefix to name) whose id prefix overlaps ``prefix``
    (one starts with the other, so an id could not name its route); None when it is free."""
    found = PrefixIndex(others).conflict(prefix)
    return None if found is None else found[1]


def _version(routes: Mapping[str, CompiledRoute]) -> str:
    digest = hashlib.sha256()
    for path in sorted(routes):
        digest.update(routes[path].digest.encode())
    return digest.hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class RouteTable:
    """All routes the API serves, keyed by path; replaced as a whole, never mutated."""

    routes: Mapping[str, CompiledRoute]
    """By path, in path order."""
    version: str
    """A digest of every route's spec: equal tables have equal versions, wherever they came
    from (a folder, the operator's routes) and in whatever order."""
    _by_prefix: Mapping[str, CompiledRoute] = field(default_factory=dict, repr=False)
    _lengths: tuple[int, ...] = field(default=(), repr=False)
    """The distinct id prefix lengths, shortest first."""
    _prefixes: PrefixIndex = field(default_factory=PrefixIndex, repr=False, compare=False)

    def get(self, path: str) -> CompiledRoute | None:
        return self.routes.get(path)

    def for_workflow_id(self, workflow_id: str) -> CompiledRoute | None:
        """The route whose id prefix ``workflow_id`` starts with: the route that made it."""
        for length in self._lengths:
            route = self._by_prefix.get(workflow_id[:length])
            if route is not None:
                return route
        return None

    def changed(
        self,
        upserts: Iterable[CompiledRoute] = (),
        removals: Iterable[str] = (),
        *,
        source: str = "<memory>",
    ) -> RouteTable:
        """A new table: this one without the routes at ``removals`` (paths), then with
        ``upserts`` (a route replaces the one at its path). Costs what changes, not the table.

        Raises:
            RouteConfigError: two routes claim the same path, or overlapping id prefixes.
        """
        by_path = dict(self.routes)
        prefixes = self._prefixes.copy()
        for path in removals:
            gone = by_path.pop(path, None)
            if gone is not None:
                prefixes.remove(gone.spec.id_prefix)
        added: set[str] = set()
        for route in upserts:
            path = route.spec.path
            if path in added:
                raise RouteConfigError(
                    f"path {path!r} is claimed by routes {by_path[path].name!r} and {route.name!r}",
                    source=source,
                    field="spec.path",
                )
            replaced = by_path.get(path)
            if replaced is not None:
                prefixes.remove(replaced.spec.id_prefix)
            prefix = route.spec.id_prefix
            clash = prefixes.conflict(prefix)
            if clash is not None:
                raise RouteConfigError(
                    f"id prefix {prefix!r} of route {route.name!r} overlaps that of route "
                    f"{clash[1]!r}: a workflow id must name one route",
                    source=source,
                    field="spec.workflowId.prefix",
                )
            prefixes.add(prefix, route.name)
            by_path[path] = route
            added.add(path)
        routes = dict(sorted(by_path.items()))
        return RouteTable(
            routes=routes,
            version=_version(routes),
            _by_prefix={r.spec.id_prefix: r for r in routes.values()},
            _lengths=prefixes.lengths(),
            _prefixes=prefixes,
        )


EMPTY = RouteTable(routes={}, version=_version({}))


def build_table(routes: Iterable[CompiledRoute], *, source: str = "<memory>") -> RouteTable:
    """Index routes by path and by id prefix, and give the table a content-derived version.

    Raises:
        RouteConfigError: two routes claim the same path, or overlapping id prefixes.
    """
    return EMPTY.changed(routes, source=source)

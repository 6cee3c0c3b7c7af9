"""Who is calling, and what each route lets them do.

A :class:`Principal` is the authenticated caller: an API key's id or a JWT's subject, with the
scopes and groups the key file or the token grant. :func:`allowed` is the one authorization
decision, pure so that every case is a row of a table-driven test:

- administrators (the ``API_ADMIN_SCOPE`` scope) may do anything on any route;
- otherwise the route's ``authorization`` block decides: a caller holding any scope, or in any
  group, named for that kind of operation may do it;
- a kind of operation the block leaves out, or a route without a block, is refused.

With authentication disabled (development only) the caller is :data:`ANONYMOUS`, an
administrator, so ``make run`` behaves as it did before there was authentication.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gateway_core.routes import Access, CompiledRoute

_ACCESSES = tuple(Access)

Method = Literal["api-key", "jwt", "none"]


@dataclass(frozen=True, slots=True)
class Principal:
    id: str
    """``key:<id>`` or ``jwt:<sub>``: recorded on the workflows it starts, and its rate-limit
    bucket."""
    method: Method
    scopes: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    admin: bool = False
    """Set for :data:`ANONYMOUS` only; others are administrators through a scope."""

    def is_admin(self, admin_scope: str) -> bool:
        return self.admin or admin_scope in self.scopes


ANONYMOUS = Principal(id="anonymous", method="none", admin=True)


def allowed(principal: Principal, route: CompiledRoute, access: Access, admin_scope: str) -> bool:
    """Whether ``principal`` may do ``access`` on workflows of ``route``."""
    if principal.is_admin(admin_scope):
        return True
    grant = route.grants.get(access)
    if grant is None:
        return False
    scopes, groups = grant
    return not (principal.scopes.isdisjoint(scopes) and principal.groups.isdisjoint(groups))


def may_use(principal: Principal, route: CompiledRoute, admin_scope: str) -> bool:
    """Whether ``principal`` may do anything at all on ``route``: whether it is shown the
    route (the per-caller OpenAPI document)."""
    return any(allowed(principal, route, access, admin_scope) for access in _ACCESSES)

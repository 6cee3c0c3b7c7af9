"""Every authorization decision, as a table: every principal, route and kind of access.

The expected sets are written out by hand (not derived from the rules), so a change to
:func:`gateway_api.security.principals.allowed` that changes any decision fails a row here.
"""

from __future__ import annotations

import itertools

import pytest
from pydantic import ValidationError

from gateway_api.security.oidc import algorithms_for, principal_from_claims
from gateway_api.security.principals import ANONYMOUS, Principal, allowed
from gateway_core.routes import (
    ACCESS_BY_OPERATION,
    ALSO_NEEDS,
    Access,
    Operation,
    WorkflowRouteSpec,
)
from support.gateway import route

ADMIN_SCOPE = "gateway:admin"

ROUTES = {
    # start: a scope or a group; read: a scope; cancel: a group; the rest left out.
    "orders": route(
        "orders", "OrderWorkflow", "q",
        authorization={
            "start": {"scopes": ["orders:start"], "groups": ["ops"]},
            "read": {"scopes": ["orders:read", "orders:all"]},
            "cancel": {"groups": ["ops"]},
        },
    ),
    "bare": route("bare", "BareWorkflow", "q"),  # no authorization block: administrators only
    "reports": route(
        "reports", "ReportWorkflow", "q", authorization={"read": {"groups": ["auditors"]}}
    ),
}  # fmt: skip

PRINCIPALS = {
    "admin": Principal("key:admin", "api-key", scopes=frozenset({ADMIN_SCOPE})),
    "anonymous": ANONYMOUS,
    "starter": Principal("key:starter", "api-key", scopes=frozenset({"orders:start"})),
    "reader": Principal("jwt:reader", "jwt", scopes=frozenset({"orders:all", "other:read"})),
    "ops": Principal("jwt:ops", "jwt", groups=frozenset({"ops"})),
    "auditor": Principal("jwt:aud", "jwt", scopes=frozenset({"orders:read"}), groups={"auditors"}),
    "nobody": Principal("key:nobody", "api-key"),
    # Names that look alike but are not the same grant.
    "lookalike": Principal(
        "jwt:x", "jwt", scopes=frozenset({"orders", "ORDERS:START", "orders:start "}),
        groups=frozenset({"Ops", "ops:"}),
    ),
    # A scope equal to a group name grants nothing, nor a group equal to a scope.
    "crossed": Principal(
        "jwt:y", "jwt", scopes=frozenset({"ops", "auditors"}), groups=frozenset({"orders:read"})
    ),
}  # fmt: skip

EVERYTHING = frozenset(Access)
EXPECTED: dict[tuple[str, str], frozenset[Access]] = {
    ("admin", "orders"): EVERYTHING,
    ("admin", "bare"): EVERYTHING,
    ("admin", "reports"): EVERYTHING,
    ("anonymous", "orders"): EVERYTHING,
    ("anonymous", "bare"): EVERYTHING,
    ("anonymous", "reports"): EVERYTHING,
    ("starter", "orders"): frozenset({Access.START}),
    ("starter", "bare"): frozenset(),
    ("starter", "reports"): frozenset(),
    ("reader", "orders"): frozenset({Access.READ}),
    ("reader", "bare"): frozenset(),
    ("reader", "reports"): frozenset(),
    ("ops", "orders"): frozenset({Access.START, Access.CANCEL}),
    ("ops", "bare"): frozenset(),
    ("ops", "reports"): frozenset(),
    ("auditor", "orders"): frozenset({Access.READ}),
    ("auditor", "bare"): frozenset(),
    ("auditor", "reports"): frozenset({Access.READ}),
    ("nobody", "orders"): frozenset(),
    ("nobody", "bare"): frozenset(),
    ("nobody", "reports"): frozenset(),
    ("lookalike", "orders"): frozenset(),
    ("lookalike", "bare"): frozenset(),
    ("lookalike", "reports"): frozenset(),
    ("crossed", "orders"): frozenset(),
    ("crossed", "bare"): frozenset(),
    ("crossed", "reports"): frozenset(),
}
CASES = list(itertools.product(PRINCIPALS, ROUTES, Access))


def test_the_table_covers_every_principal_and_route() -> None:
    assert set(EXPECTED) == set(itertools.product(PRINCIPALS, ROUTES))


@pytest.mark.parametrize(("who", "where", "access"), CASES, ids=["-".join(c) for c in CASES])
def test_decision(who: str, where: str, access: Access) -> None:
    expected = access in EXPECTED[who, where]
    assert allowed(PRINCIPALS[who], ROUTES[where], access, ADMIN_SCOPE) is expected


def test_the_admin_scope_is_a_setting() -> None:
    admin = PRINCIPALS["admin"]
    assert not allowed(admin, ROUTES["bare"], Access.START, "ops:admin")
    assert allowed(Principal("k", "api-key", scopes=frozenset({"ops:admin"})), ROUTES["bare"],
                   Access.START, "ops:admin")  # fmt: skip


def test_every_kind_of_access_is_needed_by_some_operation() -> None:
    # None is dead in the model; each operation's own is its row in OPERATIONS.
    assert set(ACCESS_BY_OPERATION.values()) == set(Access)


def test_the_with_start_operations_also_need_their_messages_access() -> None:
    assert ALSO_NEEDS == {
        Operation.SIGNAL_WITH_START: Access.SIGNAL,
        Operation.UPDATE_WITH_START: Access.UPDATE,
    }


BASE = {"path": "p", "workflowType": "W", "taskQueue": "q"}


@pytest.mark.parametrize(
    "authorization",
    [
        {"start": {}},  # an empty requirement would open the operation to no one by accident
        {"start": {"scopes": []}},
        {"start": {"scopes": [], "groups": []}},
        {"start": {"scopes": ["has space"]}},
        {"start": {"scopes": [""]}},
        {"start": {"scopes": ["x" * 129]}},
        {"start": {"scopes": ["orders:start\n"]}},  # $ is the end, not before a newline
        {"start": {"roles": ["a"]}},
        {"delete": {"scopes": ["a"]}},
        {"start": {"scopes": "orders:start"}},
    ],
)
def test_invalid_authorization_blocks_are_refused(authorization) -> None:
    with pytest.raises(ValidationError):
        WorkflowRouteSpec.model_validate({**BASE, "authorization": authorization})


def test_a_valid_block_round_trips_in_camel_case() -> None:
    spec = WorkflowRouteSpec.model_validate(
        {**BASE, "authorization": {"start": {"scopes": ["a"]}, "terminate": {"groups": ["g"]}}}
    )
    dumped = spec.model_dump(mode="json", by_alias=True, exclude_none=True)
    assert dumped["authorization"] == {
        "start": {"scopes": ["a"], "groups": []},
        "terminate": {"scopes": [], "groups": ["g"]},
        "ownerOnly": False,
    }
    assert WorkflowRouteSpec.model_validate(dumped) == spec


@pytest.mark.parametrize(
    ("jwk", "algorithms"),
    [
        ({"kty": "RSA"}, {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}),
        ({"kty": "RSA", "alg": "PS256"}, {"PS256"}),
        ({"kty": "RSA", "alg": "HS256"}, set()),  # a key that names a symmetric algorithm
        ({"kty": "EC", "crv": "P-256"}, {"ES256"}),
        ({"kty": "EC", "crv": "P-384"}, {"ES384"}),
        ({"kty": "EC", "crv": "P-521"}, {"ES512"}),
        ({"kty": "EC", "crv": "P-256", "alg": "ES384"}, set()),
        ({"kty": "EC", "crv": "secp256k1"}, set()),
        ({"kty": "OKP", "crv": "Ed25519"}, {"EdDSA"}),
        ({"kty": "oct", "k": "c2VjcmV0"}, set()),  # symmetric keys verify nothing here
        ({"kty": "oct", "alg": "HS256"}, set()),
        ({}, set()),
    ],
)
def test_which_algorithms_a_signing_key_may_verify(jwk, algorithms) -> None:
    assert algorithms_for(jwk) == algorithms


@pytest.mark.parametrize(
    ("claims", "scopes", "groups"),
    [
        ({"sub": "a", "scope": "x y  z"}, {"x", "y", "z"}, set()),
        ({"sub": "a", "scp": ["x", "y"]}, {"x", "y"}, set()),
        ({"sub": "a", "scp": "x y"}, {"x", "y"}, set()),
        ({"sub": "a", "scope": "x", "scp": ["y"]}, {"x"}, set()),  # scope wins
        ({"sub": "a", "scope": 5, "groups": 7}, set(), set()),
        ({"sub": "a", "scp": ["x", 1, None]}, {"x"}, set()),
        ({"sub": "a", "groups": ["g", 2]}, set(), {"g"}),
        ({"sub": "a", "groups": "g"}, set(), {"g"}),
    ],
)
def test_scopes_and_groups_from_claims(claims, scopes, groups) -> None:
    principal = principal_from_claims(claims, "groups")
    assert (principal.id, principal.scopes, principal.groups) == ("jwt:a", scopes, groups)

"""Idempotency keys: scoped to the caller, and the in-flight refusal of the IETF draft."""

from __future__ import annotations

import pytest

from gateway_api.errors import IdempotencyKeyInFlight
from gateway_api.temporal import idempotency


def test_keys_are_scoped_to_the_principal_and_stay_id_safe() -> None:
    ci, other = idempotency.scoped("key:ci", "k-1"), idempotency.scoped("jwt:someone", "k-1")
    assert ci != other
    assert ci == idempotency.scoped("key:ci", "k-1")
    assert ci is not None
    assert ci.endswith(".k-1")
    assert len(ci) == idempotency.SCOPE_CHARS + 1 + 3
    assert idempotency.scoped("key:ci", None) is None
    # The longest prefix, scope and key still fit Temporal's 255 characters.
    assert 100 + len(idempotency.scoped("key:ci", "k" * 128) or "") <= 255


def test_a_repeat_while_the_first_start_is_in_flight_is_409() -> None:
    with idempotency.starting("route-x"):
        with pytest.raises(IdempotencyKeyInFlight) as refused, idempotency.starting("route-x"):
            pass
        assert refused.value.status == 409
        assert refused.value.headers() == {"Retry-After": "1"}
        with idempotency.starting("route-y"):  # another id is not held
            pass
    with idempotency.starting("route-x"):  # released once the first is done
        pass

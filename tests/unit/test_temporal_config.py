"""Temporal's standard environment, plus the seed's TEMPORAL_HOST alias."""

from __future__ import annotations

import pytest

from gateway_core.temporal import connect_config


@pytest.mark.parametrize(
    ("env", "address", "namespace"),
    [
        ({}, "localhost:7233", "default"),
        ({"TEMPORAL_HOST": "seed:7233"}, "seed:7233", "default"),
        ({"TEMPORAL_ADDRESS": "std:7233"}, "std:7233", "default"),
        ({"TEMPORAL_ADDRESS": "std:7233", "TEMPORAL_HOST": "seed:7233"}, "std:7233", "default"),
        ({"TEMPORAL_NAMESPACE": "orders"}, "localhost:7233", "orders"),
    ],
)
def test_address_and_namespace(env, address, namespace) -> None:
    config = connect_config(env)
    assert (config["target_host"], config["namespace"]) == (address, namespace)


def test_api_key_and_tls_come_from_temporals_own_variables() -> None:
    config = connect_config(
        {"TEMPORAL_ADDRESS": "cloud:7233", "TEMPORAL_API_KEY": "k", "TEMPORAL_TLS": "true"}
    )
    assert config["api_key"] == "k"
    assert config["tls"]


def test_no_tls_unless_asked() -> None:
    assert not connect_config({}).get("tls")

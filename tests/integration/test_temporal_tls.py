"""The API's connection to Temporal over mutual TLS and with an API key, configured only
through Temporal's standard environment (``TEMPORAL_TLS_*``, ``TEMPORAL_API_KEY``), as a mounted
Secret provides it in a cluster.

The dev server cannot serve TLS, so a relay (:mod:`support.tls`) terminates real TLS in front of
it: the handshake, the certificates and their verification are real on the client's side (the
SDK's Rust core); what is not Temporal is the server end of TLS. Nor does the dev server check
API keys: the relay shows the key arrives as ``authorization`` metadata on every call, which is
what Temporal Cloud or a server with an authorizer checks.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway_core.temporal import connect_config
from support.gateway import api_client, shopping_route
from support.procs import assert_eventually
from support.tls import Authority, TlsRelay

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("worker")]

BODY = {"items": [{"fruit": "APPLE", "amount": 2}]}


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict[str, object]:
    folder = tmp_path_factory.mktemp("pki")
    ca, rogue = Authority(folder / "ca"), Authority(folder / "rogue", name="rogue-ca")
    return {
        "ca": ca,
        "rogue": rogue,
        "server": ca.issue("temporal", server=True),
        "client": ca.issue("temporal-gateway-api", server=False),
        "rogue-client": rogue.issue("intruder", server=False),
    }


@pytest.fixture
def mtls_relay(temporal_server, pki) -> Iterator[TlsRelay]:
    relay = TlsRelay(temporal_server.address, server=pki["server"], client_ca=pki["ca"].cert)
    try:
        yield relay
    finally:
        relay.stop()


def tls_env(relay: TlsRelay, ca: Path, client=None) -> dict[str, str]:
    env = {
        "TEMPORAL_ADDRESS": relay.address,
        "TEMPORAL_NAMESPACE": "default",
        "TEMPORAL_TLS": "true",
        "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(ca),
        "TEMPORAL_TLS_SERVER_NAME": "localhost",
    }
    if client is not None:
        env["TEMPORAL_TLS_CLIENT_CERT_PATH"] = str(client.cert)
        env["TEMPORAL_TLS_CLIENT_KEY_PATH"] = str(client.key)
    return env


async def test_mutual_tls_end_to_end(temporal_server, task_queue, pki, mtls_relay) -> None:
    config = connect_config(tls_env(mtls_relay, pki["ca"].cert, pki["client"]))
    assert config["tls"]
    async with api_client(
        "unused", [shopping_route(task_queue)], temporal=config, health_interval_seconds=0.2
    ) as api:
        assert (await api.get("/")).json()["temporal_connected"] is True
        response = await api.post("/workflows/shopping", json=BODY)
        assert response.status_code == 200, response.text
        assert response.json()["result"] == "Ordered 2 Apples..."
        status = await api.get(f"/workflows/{response.json()['workflow_id']}/status")
        assert status.json()["status"] == "COMPLETED"
    assert mtls_relay.handshakes >= 1
    assert any(h.get(":path", "").endswith("/StartWorkflowExecution") for h in mtls_relay.headers)


@pytest.mark.parametrize(
    "case",
    ["no-client-certificate", "certificate-from-another-ca", "server-not-trusted"],
)
async def test_refused_handshakes_leave_the_api_disconnected(
    temporal_server, task_queue, pki, mtls_relay, case
) -> None:
    env = {
        "no-client-certificate": tls_env(mtls_relay, pki["ca"].cert),
        "certificate-from-another-ca": tls_env(mtls_relay, pki["ca"].cert, pki["rogue-client"]),
        "server-not-trusted": tls_env(mtls_relay, pki["rogue"].cert, pki["client"]),
    }[case]
    async with api_client(
        "unused", [shopping_route(task_queue)], temporal=connect_config(env),
        connect_timeout_seconds=2,
    ) as api:  # fmt: skip
        assert (await api.get("/")).json()["temporal_connected"] is False
        assert (await api.get("/readyz")).status_code == 503
        response = await api.post("/workflows/shopping/async", json=BODY)
        assert response.status_code == 503
        assert response.json()["code"] == "temporal-unavailable"
    assert not any(":path" in h for h in mtls_relay.headers)  # no call got through


async def test_an_api_key_is_sent_on_every_call(temporal_server, task_queue, pki) -> None:
    relay = TlsRelay(temporal_server.address, server=pki["server"])  # server TLS, as Temporal Cloud
    try:
        env = tls_env(relay, pki["ca"].cert) | {"TEMPORAL_API_KEY": "tcld-test-key"}
        async with api_client(
            "unused", [shopping_route(task_queue)], temporal=connect_config(env)
        ) as api:
            response = await api.post("/workflows/shopping", json=BODY)
            assert response.status_code == 200, response.text

        async def seen() -> bool:
            return any(
                h.get(":path", "").endswith("/StartWorkflowExecution") for h in relay.headers
            )

        await assert_eventually(seen)
        calls = [h for h in relay.headers if ":path" in h]
        assert calls
        for call in calls:
            assert call.get("authorization") == "Bearer tcld-test-key", call[":path"]
    finally:
        relay.stop()

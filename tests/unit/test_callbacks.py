"""Completion webhooks without Temporal: the destination policy, the signatures (checked
against the Standard Webhooks reference verifier), the client's verifier, the route block and
the API's request-time refusals."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager
from pydantic import ValidationError
from standardwebhooks import Webhook

from gateway_api.app import create_app
from gateway_core.callbacks import (
    CallbackRefused,
    check_url,
    delivery_workflow_id,
    parse_origin_pattern,
    refused_address,
    resolve_checked,
    webhook_id,
)
from gateway_core.routes import CallbacksSpec, build_table
from gateway_workflows.callbacks.signing import (
    SigningSecretError,
    new_secret,
    parse_secret,
    parse_secret_file,
    read_secrets,
    sign,
)
from support.gateway import ApiKeys, dev_settings, route
from support.procs import free_port
from temporal_gateway_client import webhooks


@pytest.mark.parametrize(
    ("pattern", "url", "matches"),
    [
        ("https://hooks.example.com", "https://hooks.example.com/x", True),
        ("https://hooks.example.com", "https://hooks.example.com:443/x", True),
        ("https://hooks.example.com", "https://hooks.example.com:8443/x", False),
        ("https://hooks.example.com", "http://hooks.example.com/x", False),
        ("https://hooks.example.com", "https://evil.hooks.example.com/x", False),
        ("https://*.example.com", "https://a.b.example.com/x", True),
        ("https://*.example.com", "https://example.com/x", False),
        ("https://*.example.com", "https://badexample.com/x", False),
        ("https://*.example.com", "https://example.com.evil.net/x", False),
        ("http://127.0.0.1:*", "http://127.0.0.1:5000/x", True),
        ("https://hooks.example.com:8443", "https://HOOKS.example.com:8443/x", True),
    ],
)
def test_origin_patterns(pattern, url, matches) -> None:
    patterns = [parse_origin_pattern(pattern)]
    if matches:
        assert check_url(url, patterns, allow_http=True).url == url
    else:
        with pytest.raises(CallbackRefused, match="not an allowed callback destination"):
            check_url(url, patterns, allow_http=True)


@pytest.mark.parametrize(
    "pattern",
    ["hooks.example.com", "https://hooks.example.com/path", "https://*", "ftp://x.example.com",
     "https://a.*.example.com", "https://Hooks.example.com"],
)  # fmt: skip
def test_malformed_patterns_are_refused(pattern) -> None:
    with pytest.raises(ValueError, match="scheme://host"):
        parse_origin_pattern(pattern)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://user:pw@hooks.example.com/", "credentials"),
        ("https://hooks.example.com/#frag", "fragment"),
        ("http://hooks.example.com/", "must use https"),
        ("hooks.example.com/x", "absolute"),
        ("https://hooks.example.com:99999/", "not a valid URL"),
        ("https://" + "a" * 2100 + ".example.com/", "longer than"),
    ],
)
def test_urls_refused_before_any_lookup(url, reason) -> None:
    patterns = [parse_origin_pattern("https://hooks.example.com")]
    with pytest.raises(CallbackRefused, match=reason):
        check_url(url, patterns, allow_http=False)


@pytest.mark.parametrize(
    ("address", "private_ok", "refused"),
    [
        ("93.184.215.14", False, False),
        ("127.0.0.1", False, True),
        ("127.0.0.1", True, False),
        ("10.1.2.3", False, True),
        ("192.168.0.1", False, True),
        ("169.254.169.254", False, True),  # the cloud metadata service
        ("169.254.169.254", True, False),
        ("::1", False, True),
        ("fe80::1", False, True),
        ("fd00::1", False, True),
        ("::ffff:127.0.0.1", False, True),
        ("0.0.0.0", True, True),
        ("224.0.0.1", True, True),
        ("2606:2800:220:1::", False, False),
        # 6to4 (2002::/16) reaches the IPv4 address it wraps: judged as that address.
        ("2002:a9fe:a9fe::1", False, True),  # 169.254.169.254
        ("2002:7f00:1::1", False, True),  # 127.0.0.1
        ("2002:a00:1::1", False, True),  # 10.0.0.1
        ("2002:7f00:1::1", True, False),
        ("2002:e000:1::1", True, True),  # 224.0.0.1
        ("2002:5db8:d70e::1", False, False),  # 93.184.215.14
    ],
)
def test_address_policy(address, private_ok, refused) -> None:
    assert (refused_address(address, allow_private=private_ok) is not None) is refused


REFUSED = (
    "an address callbacks may not reach "
    "(private, loopback, link-local, multicast or otherwise not global)"
)
"""What a refusal says of the address: never which one, nor of which kind."""


async def test_a_refusal_never_says_what_the_host_resolves_to() -> None:
    with pytest.raises(CallbackRefused) as raised:
        await resolve_checked("localhost", 80, allow_private=False)
    assert raised.value.reason == f"localhost resolves to {REFUSED}"
    with pytest.raises(CallbackRefused) as raised:
        await resolve_checked("nothing.invalid", 80, allow_private=False)
    assert raised.value.reason == "nothing.invalid does not resolve"


def test_a_secret_that_cannot_be_read_is_named_never_located(tmp_path) -> None:
    with pytest.raises(SigningSecretError) as raised:
        read_secrets(tmp_path, "orders-hooks")
    message = str(raised.value)
    assert message == "signing secret 'orders-hooks' cannot be read (No such file or directory)"
    assert str(tmp_path) not in message
    (tmp_path / "binary").write_bytes(b"\xff" * 40)
    with pytest.raises(SigningSecretError, match=r"'binary' is not ASCII text$"):
        read_secrets(tmp_path, "binary")


def test_signatures_verify_with_the_reference_and_the_client() -> None:
    secret = new_secret()
    body = b'{"type":"workflow.completed","data":{"result":"ok"}}'
    stamp = int(time.time())
    msg_id = webhook_id(delivery_workflow_id("orders-1", "run"))
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": sign([parse_secret(secret)], msg_id, stamp, body),
    }
    assert Webhook(secret).verify(body, headers)["data"] == {"result": "ok"}
    assert webhooks.verify(body, headers, secret)["type"] == "workflow.completed"


def test_a_rotated_secret_verifies_with_either_key() -> None:
    old, new = new_secret(), new_secret()
    keys = parse_secret_file(f"{new}\n{old}\n")
    body, stamp = b"{}", int(time.time())
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(stamp),
               "webhook-signature": sign(keys, "msg_1", stamp, body)}  # fmt: skip
    assert len(headers["webhook-signature"].split()) == 2
    for secret in (old, new):
        assert webhooks.verify(body, headers, [secret]) == {}
        assert Webhook(secret).verify(body, headers) == {}
    with pytest.raises(webhooks.WebhookVerificationError, match="no signature"):
        webhooks.verify(body, headers, [new_secret()])


def test_the_helper_refuses_stale_tampered_and_incomplete_deliveries() -> None:
    secret = new_secret()
    body, stamp = b'{"a":1}', int(time.time())
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(stamp),
               "webhook-signature": sign([parse_secret(secret)], "msg_1", stamp, body)}  # fmt: skip
    with pytest.raises(webhooks.WebhookVerificationError, match="from now"):
        webhooks.verify(body, headers, secret, tolerance=300, now=stamp + 301)
    with pytest.raises(webhooks.WebhookVerificationError, match="from now"):
        webhooks.verify(body, headers, secret, tolerance=300, now=stamp - 301)
    assert webhooks.verify(body, headers, secret, tolerance=300, now=stamp + 299) == {"a": 1}
    with pytest.raises(webhooks.WebhookVerificationError, match="no signature"):
        webhooks.verify(b'{"a":2}', headers, secret)
    with pytest.raises(webhooks.WebhookVerificationError, match="no signature"):
        webhooks.verify(body, {**headers, "webhook-signature": "v1,!!! v2,abc"}, secret)
    with pytest.raises(webhooks.WebhookVerificationError, match="missing"):
        webhooks.verify(body, {"webhook-id": "msg_1"}, secret)


def test_the_helper_refuses_another_routes_delivery() -> None:
    """Signed with the receiver's secret (two routes share it), but for another route."""
    secret = new_secret()
    body, stamp = b'{"data":{"route":"orders"}}', int(time.time())
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(stamp),
               "webhook-signature": sign([parse_secret(secret)], "msg_1", stamp, body)}  # fmt: skip
    assert webhooks.verify(body, headers, secret, route="orders") == {"data": {"route": "orders"}}
    with pytest.raises(webhooks.WebhookVerificationError, match="'orders', not 'payments'"):
        webhooks.verify(body, headers, secret, route="payments")
    unnamed = b'{"data":{}}'
    headers["webhook-signature"] = sign([parse_secret(secret)], "msg_1", stamp, unnamed)
    with pytest.raises(webhooks.WebhookVerificationError, match="None, not 'orders'"):
        webhooks.verify(unnamed, headers, secret, route="orders")


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "empty"), ("abc", "whsec_"), ("whsec_!!", "base64"), ("whsec_YWJj", "24 bytes"),
     (" ".join(new_secret() for _ in range(3)), "at most 2")],
)  # fmt: skip
def test_malformed_secret_files_are_refused(text, message) -> None:
    with pytest.raises(SigningSecretError, match=message):
        parse_secret_file(text)


def test_the_route_block_checks_its_patterns_and_secret_name() -> None:
    spec = CallbacksSpec.model_validate(
        {"allowedDestinations": ["https://*.example.com"], "signingSecret": "orders-hooks"}
    )
    assert spec.enabled
    assert not spec.allow_private_networks
    with pytest.raises(ValidationError, match="scheme://host"):
        CallbacksSpec.model_validate({"allowedDestinations": ["example.com"], "signingSecret": "s"})
    with pytest.raises(ValidationError, match="allowedDestinations"):
        CallbacksSpec.model_validate({"allowedDestinations": [], "signingSecret": "s"})
    with pytest.raises(ValidationError, match="signingSecret"):
        CallbacksSpec.model_validate(
            {"allowedDestinations": ["https://x.example.com"], "signingSecret": "../etc/passwd"}
        )


@pytest.fixture
async def api() -> AsyncIterator[httpx.AsyncClient]:
    """Refusals come before any Temporal call: no server behind this API."""
    callbacks = {"allowedDestinations": ["https://hooks.example.com", "http://127.0.0.1:*",
                                         "https://[2002:a9fe:a9fe::1]", "http://localhost:*"],
                 "signingSecret": "hooks"}  # fmt: skip
    table = build_table(
        [
            route("plain", "Wf", "q"),
            route("hooked", "Wf", "q", callbacks=callbacks),
            route("open", "Wf", "q", callbacks={**callbacks, "allowPrivateNetworks": True}),
        ]
    )
    app = create_app(
        dev_settings(), temporal={"target_host": f"127.0.0.1:{free_port()}"}, routes=table
    )
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            yield client


@pytest.mark.parametrize(
    ("path", "headers", "field", "message"),
    [
        ("plain/async", {"Callback-Url": "https://hooks.example.com/"}, "header.Callback-Url",
         "allows no callbacks"),
        ("hooked/async", {"Callback-Url": "https://evil.example.com/"}, "header.Callback-Url",
         "not an allowed callback destination"),
        ("hooked/async", {"Callback-Url": "http://127.0.0.1:9/"}, "header.Callback-Url",
         "private, loopback"),
        # The cloud metadata service behind 6to4: refused before anything starts (it used to
        # pass the address check and start the workflow).
        ("hooked/async", {"Callback-Url": "https://[2002:a9fe:a9fe::1]/"}, "header.Callback-Url",
         "private, loopback"),
        ("hooked/async", {"Callback-Url": "https://hooks.example.com/",
                          "Callback-Outcomes": "completed,exploded"},
         "header.Callback-Outcomes", "comma-separated"),
        ("hooked/async", {"Callback-Outcomes": "completed"}, "header.Callback-Url",
         "required with"),
        ("plain", {"Callback-Url": "https://hooks.example.com/"}, "header.Callback-Url",
         "allows no callbacks"),
    ],
)  # fmt: skip
async def test_refused_callbacks_are_422_naming_the_field(
    api, path, headers, field, message
) -> None:
    response = await api.post(f"/workflows/{path}", json={}, headers=headers)
    assert response.status_code == 422, response.text
    (error,) = response.json()["errors"]
    assert error["field"] == field
    assert message in error["message"]


async def test_a_422_never_names_the_addresses_a_host_resolves_to(api) -> None:
    response = await api.post(
        "/workflows/hooked/async", json={}, headers={"Callback-Url": "http://localhost:9/"}
    )
    assert response.status_code == 422, response.text
    (error,) = response.json()["errors"]
    assert error == {"field": "header.Callback-Url",
                     "message": f"localhost resolves to {REFUSED}"}  # fmt: skip
    for address in ("127.0.0.1", "::1"):
        assert address not in response.text


async def test_callback_headers_are_in_the_openapi_document(api) -> None:
    spec = (await api.get("/openapi.json")).json()
    for path in ("/workflows/hooked", "/workflows/hooked/async"):
        names = {p["name"] for p in spec["paths"][path]["post"]["parameters"]}
        assert {"Callback-Url", "Callback-Outcomes"} <= names, path
    assert "get" in spec["paths"]["/workflows/{workflow_id}/callbacks"]
    assert "post" in spec["paths"]["/workflows/{workflow_id}/callbacks/redeliver"]


@pytest.fixture
async def keyed(tmp_path) -> AsyncIterator[tuple[httpx.AsyncClient, ApiKeys]]:
    """A route whose starters may not all read, behind API keys; nothing where Temporal
    should be, so an answer that needed Temporal is a 503."""
    keys = ApiKeys({"starter": ["hooked:start"], "reader": ["hooked:start", "hooked:read"]})
    hooked = route(
        "hooked", "Wf", "q",
        callbacks={"allowedDestinations": ["https://hooks.example.com"], "signingSecret": "h"},
        authorization={"start": {"scopes": ["hooked:start"]}, "read": {"scopes": ["hooked:read"]}},
    )  # fmt: skip
    settings = dev_settings(auth_disabled=False, keys_file=keys.write(tmp_path / "keys.yaml"))
    app = create_app(
        settings, temporal={"target_host": f"127.0.0.1:{free_port()}"}, routes=build_table([hooked])
    )
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            yield client, keys


async def test_a_starter_who_may_not_read_learns_nothing_from_redeliver(keyed) -> None:
    """Whatever the id, the starter gets the one 404 a workflow without a callback gets, and
    the API asks Temporal nothing (it would answer 503 here); a reader gets past it."""
    api, keys = keyed
    response = await api.post(
        "/workflows/hooked-someone-elses/callbacks/redeliver", headers=keys.auth("starter")
    )
    assert response.status_code == 404, response.text
    problem = response.json()
    assert problem["code"] == "callback-not-found"
    assert problem["detail"] == (
        "no callback of workflow 'hooked-someone-elses' that key:starter may read"
    )
    response = await api.post(
        "/workflows/hooked-someone-elses/callbacks/redeliver", headers=keys.auth("reader")
    )
    assert response.status_code == 503, response.text

"""Bearer JWTs against a real local OIDC provider (discovery + JWKS over HTTP) and real signed
tokens, through the API to a real Temporal: every way a token can be wrong is a 401, and the
right ones start workflows recorded with their subject."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
import uuid
from collections.abc import Callable, Iterator

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from gateway_api.temporal.executions import MEMO_PRINCIPAL
from support.gateway import api_client, shopping_route
from support.oidc import AUDIENCE, Provider, SigningKey
from support.procs import assert_eventually

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("worker")]

BODY = {"items": [{"fruit": "APPLE", "amount": 1}]}
SCOPES = "shopping:start shopping:read"
ALGORITHMS = "RS256,ES256,PS256,EdDSA"
SHARED_SECRET = b"a shared secret that must never verify anything here"

RSA = SigningKey.new("RS256", kid="rsa")
EC = SigningKey.new("ES256", kid="ec")
PS = SigningKey.new("PS256", kid="ps")
ED = SigningKey.new("EdDSA", kid="ed")
RSA_NO_ALG = SigningKey.new("RS256", kid="rsa-no-alg", publish_alg=False)
UNPUBLISHED = SigningKey.new("RS256", kid="rsa")  # the same kid as a published key


@pytest.fixture
def provider() -> Iterator[Provider]:
    provider = Provider(keys=[RSA, EC, PS, ED, RSA_NO_ALG])
    provider.extra_jwks.append(
        {"kty": "oct", "kid": "shared", "k": base64.urlsafe_b64encode(SHARED_SECRET).decode()}
    )
    try:
        yield provider
    finally:
        provider.stop()


def route(task_queue: str):
    return shopping_route(
        task_queue,
        authorization={
            "start": {"scopes": ["shopping:start"], "groups": ["buyers"]},
            "read": {"scopes": ["shopping:read"]},
        },
    )


def jwt_settings(provider: Provider, **more):
    return {
        "auth_disabled": False,
        "jwt_issuer": provider.issuer,
        "jwt_audience": AUDIENCE,
        "jwt_algorithms": ALGORITHMS,
        "jwks_min_refresh_seconds": 0.5,
        **more,
    }


def unsigned(p: Provider) -> str:
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT","kid":"rsa"}').rstrip(b"=")
    now = int(time.time())
    claims = f'{{"iss":"{p.issuer}","aud":"{AUDIENCE}","sub":"eve","exp":{now + 300},'
    claims += f'"scope":"{SCOPES}"}}'
    body = base64.urlsafe_b64encode(claims.encode()).rstrip(b"=")
    return (header + b"." + body + b".").decode()


def hs256_with_public_key(p: Provider) -> str:
    """Algorithm confusion: HMAC keyed with the RSA public key a verifier might hand over."""
    pem = RSA.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    now = int(time.time())
    claims = {"iss": p.issuer, "aud": AUDIENCE, "sub": "eve", "exp": now + 300, "scope": SCOPES}
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT","kid":"rsa"}').rstrip(b"=")
    payload = jwt.utils.base64url_encode(jwt.api_jws.json.dumps(claims).encode())
    signing_input = header + b"." + payload
    signature = jwt.utils.base64url_encode(hmac.new(pem, signing_input, hashlib.sha256).digest())
    return (signing_input + b"." + signature).decode()


def tampered(p: Provider) -> str:
    token = p.token(RSA, scope="shopping:read")
    header, payload, signature = token.split(".")
    claims = jwt.utils.base64url_decode(payload).replace(b"shopping:read", b"shopping:start")
    return ".".join([header, jwt.utils.base64url_encode(claims).decode(), signature])


Case = Callable[[Provider], str]
ACCEPTED: dict[str, Case] = {
    "rs256": lambda p: p.token(RSA, scope=SCOPES),
    "es256": lambda p: p.token(EC, scope=SCOPES),
    "ps256": lambda p: p.token(PS, scope=SCOPES),
    "eddsa": lambda p: p.token(ED, scope=SCOPES),
    "jwk-without-alg": lambda p: p.token(RSA_NO_ALG, scope=SCOPES),
    "expired-within-leeway": lambda p: p.token(scope=SCOPES, exp=int(time.time()) - 10),
    "not-before-within-leeway": lambda p: p.token(scope=SCOPES, nbf=int(time.time()) + 10),
    "audience-list": lambda p: p.token(scope=SCOPES, aud=["other", AUDIENCE]),
    "scp-list": lambda p: p.token(scp=["shopping:start", "shopping:read"]),
    "scp-string": lambda p: p.token(scp="shopping:start shopping:read"),
    "group": lambda p: p.token(groups=["buyers"]),
    "admin-scope": lambda p: p.token(scope="gateway:admin"),
    "no-iat-no-nbf": lambda p: p.token(scope=SCOPES, iat=None, nbf=None),
}
REFUSED: dict[str, Case] = {
    "expired": lambda p: p.token(scope=SCOPES, exp=int(time.time()) - 120),
    "not-yet-valid": lambda p: p.token(scope=SCOPES, nbf=int(time.time()) + 120),
    "issued-in-the-future": lambda p: p.token(scope=SCOPES, iat=int(time.time()) + 120),
    "no-exp": lambda p: p.token(scope=SCOPES, exp=None),
    "exp-not-a-number": lambda p: p.token(scope=SCOPES, exp="tomorrow"),
    "other-issuer": lambda p: p.token(scope=SCOPES, iss="http://127.0.0.1:1"),
    "issuer-with-slash": lambda p: p.token(scope=SCOPES, iss=p.issuer + "/"),
    "other-audience": lambda p: p.token(scope=SCOPES, aud="another-service"),
    "no-audience": lambda p: p.token(scope=SCOPES, aud=None),
    "no-subject": lambda p: p.token(scope=SCOPES, sub=None),
    "alg-none": unsigned,
    "hs256-with-the-public-key": hs256_with_public_key,
    "hs256-with-a-published-oct-key": lambda p: jwt.encode(
        {
            "iss": p.issuer,
            "aud": AUDIENCE,
            "sub": "eve",
            "exp": int(time.time()) + 60,
            "scope": SCOPES,
        },
        SHARED_SECRET,
        algorithm="HS256",
        headers={"kid": "shared"},
    ),
    "rs256-under-an-ec-kid": lambda p: p.token(RSA, scope=SCOPES, headers={"kid": "ec"}),
    "es256-header-rsa-key": lambda p: p.token(EC, scope=SCOPES, headers={"kid": "rsa"}),
    "alg-not-allowed": lambda p: p.token(RSA_NO_ALG, alg="RS384", scope=SCOPES),
    "tampered-payload": tampered,
    "unpublished-key-same-kid": lambda p: p.token(UNPUBLISHED, scope=SCOPES),
    "unknown-kid": lambda p: p.token(SigningKey.new("ES256"), scope=SCOPES),
    "garbage": lambda p: "not.a.jwt",
    "two-segments": lambda p: p.token(scope=SCOPES).rsplit(".", 1)[0],
    "gateway-key-shape": lambda p: "tgw_" + p.token(scope=SCOPES),
}
# Why each is refused: the problem's detail says so (PyJWT's words for the claim checks).
REASONS = {
    "expired": "Signature has expired",
    "not-yet-valid": "not yet valid (nbf)",
    "issued-in-the-future": "not yet valid (iat)",
    "no-exp": 'missing the "exp" claim',
    "exp-not-a-number": "(exp) must be an integer",
    "other-issuer": "Invalid issuer",
    "issuer-with-slash": "Invalid issuer",
    "other-audience": "Audience doesn't match",
    "no-audience": 'missing the "aud" claim',
    "no-subject": 'missing the "sub" claim',
    "alg-none": "'none' is not accepted",
    "hs256-with-the-public-key": "'HS256' is not accepted",
    "hs256-with-a-published-oct-key": "'HS256' is not accepted",
    "rs256-under-an-ec-kid": "'RS256' does not fit its key",
    "es256-header-rsa-key": "'ES256' does not fit its key",
    "alg-not-allowed": "'RS384' is not accepted",
    "tampered-payload": "Signature verification failed",
    "unpublished-key-same-kid": "Signature verification failed",
    "unknown-kid": "unknown key",
    "garbage": "malformed token",
    "two-segments": "malformed token",
    "gateway-key-shape": "API keys are not accepted",
}
FORBIDDEN: dict[str, Case] = {
    "no-scopes": lambda p: p.token(),
    "read-only": lambda p: p.token(scope="shopping:read"),
    "other-group": lambda p: p.token(groups=["sellers"]),
    "scope-as-a-group": lambda p: p.token(groups=["shopping:start"]),
}


def test_every_refusal_has_its_reason() -> None:
    assert set(REASONS) == set(REFUSED)


@pytest.mark.parametrize("case", ACCEPTED)
async def test_accepted(temporal_server, task_queue, provider, case) -> None:
    token = ACCEPTED[case](provider)
    async with api_client(
        temporal_server.address, [route(task_queue)], **jwt_settings(provider)
    ) as api:
        response = await api.post(
            "/workflows/shopping/async", json=BODY, headers={"Authorization": f"Bearer {token}"}
        )
    assert response.status_code == 200, response.text


async def test_refused_and_forbidden(temporal_server, task_queue, provider, client) -> None:
    """One API for every bad token (a new app per case would only repeat the setup)."""
    async with api_client(
        temporal_server.address, [route(task_queue)], **jwt_settings(provider)
    ) as api:
        for name, case in {**REFUSED, **FORBIDDEN}.items():
            response = await api.post(
                "/workflows/shopping/async",
                json=BODY,
                headers={"Authorization": f"Bearer {case(provider)}"},
            )
            expected = (401, "unauthenticated") if name in REFUSED else (403, "forbidden")
            assert (response.status_code, response.json()["code"]) == expected, (
                name,
                response.text,
            )
            assert response.headers["content-type"] == "application/problem+json"
            if name in REFUSED:
                assert 'error="invalid_token"' in response.headers["www-authenticate"], name
                assert REASONS[name] in response.json()["detail"], name
    assert (await client.count_workflows(f'TaskQueue="{task_queue}"')).count == 0


async def test_the_subject_is_recorded_on_the_workflow(
    temporal_server, task_queue, provider, client
) -> None:
    token = provider.token(scope=SCOPES, sub="alice@example")
    async with api_client(
        temporal_server.address, [route(task_queue)], **jwt_settings(provider)
    ) as api:
        started = await api.post(
            "/workflows/shopping/async", json=BODY, headers={"Authorization": f"Bearer {token}"}
        )
    desc = await client.get_workflow_handle(started.json()["workflow_id"]).describe()
    assert await desc.memo_value(MEMO_PRINCIPAL) == "jwt:alice@example"


async def test_a_rotated_key_is_fetched_once_and_forged_kids_do_not_flood_the_provider(
    temporal_server, task_queue, provider
) -> None:
    # 30 forged tokens and the polling below are more failures than one address may have in a
    # burst; that limit has its own test (test_attacks.py), this one counts JWKS fetches.
    settings = jwt_settings(provider, jwks_min_refresh_seconds=2, rate_limit_auth_failures="off")
    async with api_client(temporal_server.address, [route(task_queue)], **settings) as api:

        async def post(token: str) -> int:
            headers = {"Authorization": f"Bearer {token}"}
            return (
                await api.post("/workflows/shopping/async", json=BODY, headers=headers)
            ).status_code

        assert await post(provider.token(scope=SCOPES)) == 200
        fetched = provider.jwks_fetches
        assert fetched == 1
        for _ in range(3):  # cached: no more fetches
            assert await post(provider.token(EC, scope=SCOPES)) == 200
        assert provider.jwks_fetches == fetched

        rotated = SigningKey.new("ES256")
        provider.keys.append(rotated)

        async def new_key_works() -> bool:
            return await post(provider.token(rotated, scope=SCOPES)) == 200

        await assert_eventually(new_key_works, timeout=10)
        assert provider.jwks_fetches <= fetched + 2  # at most one refetch per 2 s

        before = provider.jwks_fetches
        for _ in range(30):
            forged = SigningKey.new("ES256", kid=uuid.uuid4().hex)
            assert await post(provider.token(forged, scope=SCOPES)) == 401
        assert provider.jwks_fetches - before <= 1


async def test_the_provider_down(temporal_server, task_queue, provider) -> None:
    provider.up = False
    async with api_client(
        temporal_server.address, [route(task_queue)], **jwt_settings(provider)
    ) as api:
        headers = {"Authorization": f"Bearer {provider.token(scope=SCOPES)}"}
        response = await api.post("/workflows/shopping/async", json=BODY, headers=headers)
        assert response.status_code == 503
        assert response.json()["code"] == "identity-provider-unavailable"
        assert int(response.headers["retry-after"]) > 0

        provider.up = True

        async def works() -> bool:
            r = await api.post("/workflows/shopping/async", json=BODY, headers=headers)
            return r.status_code == 200

        await assert_eventually(works, timeout=10)
        provider.up = False  # cached keys keep working while the provider is down
        response = await api.post("/workflows/shopping/async", json=BODY, headers=headers)
        assert response.status_code == 200


async def test_an_explicit_jwks_url_skips_discovery(temporal_server, task_queue, provider) -> None:
    settings = jwt_settings(provider, jwt_jwks_url=provider.issuer + "/jwks", jwt_issuer="urn:id")
    token = provider.token(scope=SCOPES, iss="urn:id")
    async with api_client(temporal_server.address, [route(task_queue)], **settings) as api:
        response = await api.post(
            "/workflows/shopping/async", json=BODY, headers={"Authorization": f"Bearer {token}"}
        )
    assert response.status_code == 200, response.text


async def test_algorithms_outside_the_setting_are_refused(temporal_server, task_queue, provider):
    settings = jwt_settings(provider, jwt_algorithms="ES256")
    async with api_client(temporal_server.address, [route(task_queue)], **settings) as api:
        for key, status in ((RSA, 401), (EC, 200), (ED, 401)):
            headers = {"Authorization": f"Bearer {provider.token(key, scope=SCOPES)}"}
            response = await api.post("/workflows/shopping/async", json=BODY, headers=headers)
            assert response.status_code == status, (key.kid, response.text)


async def test_stale_keys_keep_working_while_the_provider_is_down(
    temporal_server, task_queue, provider
) -> None:
    settings = jwt_settings(provider, jwks_cache_seconds=0.1, jwks_min_refresh_seconds=0.3)
    headers = {"Authorization": f"Bearer {provider.token(scope=SCOPES)}"}
    async with api_client(temporal_server.address, [route(task_queue)], **settings) as api:
        assert (await api.post("/workflows/shopping/async", json=BODY, headers=headers)).is_success
        provider.up = False
        asked = provider.requests
        started = time.monotonic()
        for _ in range(10):
            response = await api.post("/workflows/shopping/async", json=BODY, headers=headers)
            assert response.status_code == 200, response.text
            await asyncio.sleep(0.1)  # past the cache lifetime, several refetch intervals
        elapsed = time.monotonic() - started
        # Retried, but at most once per minimum interval, not once per request.
        assert 1 <= provider.requests - asked <= elapsed / 0.3 + 1

"""Bearer JWTs from an OIDC provider, verified against its published signing keys (JWKS).

PyJWT checks signatures and claims; this module decides which key and which algorithm may be
used, which is where JWT verification usually goes wrong:

- The algorithm comes from the key, never from the token alone: the token's ``alg`` must be one
  the settings allow, one the key's type can produce (RSA: ``RS*``/``PS*``, EC: the ``ES*`` of
  its curve, OKP: ``EdDSA``) and the key's own ``alg`` when it names one. ``none`` and ``HS*``
  are never allowed (a shared-secret algorithm with a public key is the classic confusion
  attack), and symmetric (``oct``) or encryption keys in the set are ignored.
- Keys are cached for ``API_JWKS_CACHE_SECONDS``; a token signed by an unknown ``kid`` (the
  provider rotated its keys) refetches them, at most once per ``API_JWKS_MIN_REFRESH_SECONDS``
  so that forged tokens cannot make the gateway hammer the provider.
- ``exp`` is required; ``exp``, ``nbf`` and ``iat`` are checked with a bounded leeway;
  ``iss`` and ``aud`` must match the settings exactly.

Every fetch has a timeout. When the provider is unreachable, cached keys keep working; with no
keys at all, requests get 503 (the caller's token may be fine).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import httpx
import jwt
import structlog
from jwt import PyJWK

from gateway_api.config import ApiSettings
from gateway_api.errors import IdentityProviderUnavailable, Unauthenticated
from gateway_api.security.principals import Principal

log = structlog.get_logger(__name__)

_BY_KEY_TYPE: Mapping[str, frozenset[str]] = {
    "RSA": frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}),
    "OKP": frozenset({"EdDSA"}),
}
_EC_BY_CURVE = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}


def algorithms_for(jwk: Mapping[str, Any]) -> frozenset[str]:
    """What a key may verify, from its own type, curve and ``alg``."""
    kty = jwk.get("kty")
    if kty == "EC":
        by_curve = _EC_BY_CURVE.get(str(jwk.get("crv")))
        possible = frozenset({by_curve}) if by_curve else frozenset()
    else:
        possible = _BY_KEY_TYPE.get(str(kty), frozenset())
    if "alg" in jwk:
        possible &= {jwk["alg"]}
    return possible


class SigningKeys:
    """The provider's signature keys by ``kid``, fetched on demand and cached."""

    def __init__(self, settings: ApiSettings, http: httpx.AsyncClient) -> None:
        assert settings.jwt_issuer is not None
        self._issuer = settings.jwt_issuer.rstrip("/")
        self._jwks_url = settings.jwt_jwks_url
        self._http = http
        self._ttl = settings.jwks_cache_seconds
        self._min_refresh = settings.jwks_min_refresh_seconds
        self._keys: dict[str | None, tuple[PyJWK, frozenset[str]]] = {}
        self._fetched_at = -float("inf")
        self._attempted_at = -float("inf")
        self._lock = asyncio.Lock()

    async def get(self, kid: str | None) -> tuple[PyJWK, frozenset[str]] | None:
        """The key for ``kid`` and the algorithms it may verify; None when unknown.

        Raises:
            IdentityProviderUnavailable: no keys could be fetched yet.
        """
        now = time.monotonic()
        found = self._find(kid)
        # Stale keys, or an unknown kid (the provider may have rotated its keys): fetch again,
        # but never more often than the minimum interval, even while the provider is down.
        stale = now - self._fetched_at > self._ttl
        if (stale or found is None) and now - self._attempted_at >= self._min_refresh:
            await self._refresh()
            found = self._find(kid)
        if found is None and not self._keys and self._fetched_at < 0:
            raise IdentityProviderUnavailable("the identity provider's keys could not be fetched")
        return found

    def _find(self, kid: str | None) -> tuple[PyJWK, frozenset[str]] | None:
        if kid is None and len(self._keys) == 1:  # a provider with one key may omit kid
            return next(iter(self._keys.values()))
        return self._keys.get(kid)

    async def _refresh(self) -> None:
        asked = time.monotonic()
        async with self._lock:
            if self._attempted_at >= asked:  # another request refreshed while we waited
                return
            self._attempted_at = time.monotonic()
            try:
                keys = await self._fetch()
            except (httpx.HTTPError, ValueError, jwt.PyJWTError) as exc:
                log.warning("cannot fetch the identity provider's keys", error=str(exc))
                return
            self._keys = keys
            self._fetched_at = time.monotonic()
            log.info("signing keys fetched", kids=sorted(str(k) for k in keys))

    async def _fetch(self) -> dict[str | None, tuple[PyJWK, frozenset[str]]]:
        url = self._jwks_url
        if url is None:
            discovery = await self._http.get(f"{self._issuer}/.well-known/openid-configuration")
            discovery.raise_for_status()
            url = str(discovery.json()["jwks_uri"])
        response = await self._http.get(url)
        response.raise_for_status()
        document = response.json()
        keys: dict[str | None, tuple[PyJWK, frozenset[str]]] = {}
        for data in document.get("keys", []) if isinstance(document, dict) else []:
            if not isinstance(data, dict) or data.get("use", "sig") != "sig":
                continue
            algorithms = algorithms_for(data)
            if not algorithms:  # symmetric, unknown type or curve: never usable here
                continue
            try:
                keys[data.get("kid")] = (PyJWK(data, sorted(algorithms)[0]), algorithms)
            except jwt.PyJWTError as exc:
                log.warning("ignoring an unusable signing key", kid=data.get("kid"), error=str(exc))
        if not keys:
            raise ValueError(f"{url} has no usable signature keys")
        return keys


class JwtVerifier:
    def __init__(self, settings: ApiSettings, http: httpx.AsyncClient) -> None:
        self._settings = settings
        self._keys = SigningKeys(settings, http)

    async def verify(self, token: str) -> Principal:
        """The principal a valid token names.

        Raises:
            Unauthenticated: the token is malformed, badly signed, expired, not yet valid, or
                for another issuer or audience.
            IdentityProviderUnavailable: no signing keys could be fetched.
        """
        settings = self._settings
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"malformed token: {exc}", token_given=True) from None
        alg = header.get("alg")
        if alg not in settings.jwt_algorithms:
            raise Unauthenticated(f"token algorithm {alg!r} is not accepted", token_given=True)
        kid = header.get("kid")
        found = await self._keys.get(kid if isinstance(kid, str) else None)
        if found is None:
            raise Unauthenticated("token signed by an unknown key", token_given=True)
        key, algorithms = found
        if alg not in algorithms:
            raise Unauthenticated(f"token algorithm {alg!r} does not fit its key", token_given=True)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[alg],
                audience=settings.jwt_audience,
                issuer=settings.jwt_issuer,
                leeway=settings.jwt_leeway_seconds,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"invalid token: {exc}", token_given=True) from None
        return principal_from_claims(claims, settings.jwt_groups_claim)


def principal_from_claims(claims: Mapping[str, Any], groups_claim: str) -> Principal:
    """Scopes from ``scope`` (space-separated, RFC 8693) or ``scp`` (a list or a string)."""
    raw = claims.get("scope", claims.get("scp", ""))
    scopes = raw.split() if isinstance(raw, str) else raw if isinstance(raw, list) else []
    groups = claims.get(groups_claim, [])
    groups = [groups] if isinstance(groups, str) else groups if isinstance(groups, list) else []
    return Principal(
        id=f"jwt:{claims['sub']}",
        method="jwt",
        scopes=frozenset(s for s in scopes if isinstance(s, str)),
        groups=frozenset(g for g in groups if isinstance(g, str)),
    )

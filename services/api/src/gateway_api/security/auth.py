"""Authentication: from a request's credentials to a :class:`Principal`.

Two schemes, both optional, at least one required outside development (see
:class:`~gateway_api.config.ApiSettings`):

- API keys (:mod:`gateway_api.security.keys`), sent as ``Authorization: Bearer tgw_…`` or
``X-API-Key``;
- JWTs from an OIDC provider (:mod:`gateway_api.security.oidc`), sent as ``Authorization: Bearer``.

A bearer credential with the gateway's key prefix is an API key, anything else a JWT, so one
header serves both and ``/docs`` offers both. Credentials are checked before anything else about
the request, and a request that sends two credentials is refused rather than guessed at.
"""

from __future__ import annotations

import httpx
import structlog

from gateway_api.config import ApiSettings
from gateway_api.errors import Unauthenticated
from gateway_api.security.keys import KEY_PREFIX, KeyRing
from gateway_api.security.oidc import JwtVerifier
from gateway_api.security.principals import ANONYMOUS, Principal

log = structlog.get_logger(__name__)

DISABLED_WARNING = (
    "AUTHENTICATION IS DISABLED: anyone who can reach this port may start and read every "
    "workflow (API_AUTH_DISABLED=true, development only)"
)


class Authenticator:
    """Owns the key ring and the JWT verifier; built by the lifespan."""

    def __init__(self, settings: ApiSettings, http: httpx.AsyncClient) -> None:
        self.disabled = settings.auth_disabled
        self.keys = KeyRing(settings.keys_file) if settings.keys_file is not None else None
        self.jwt = JwtVerifier(settings, http) if settings.jwt_issuer is not None else None

    @property
    def methods(self) -> list[str]:
        """What ``GET /`` reports: the schemes in use, or ``disabled``."""
        if self.disabled:
            return ["disabled"]
        return [m for m, on in (("api-key", self.keys), ("jwt", self.jwt)) if on is not None]

    def load(self) -> None:
        """
        Raises:
            KeyFileError: the key file is missing or invalid (the API must not start).
        """
        if self.disabled:
            log.warning(DISABLED_WARNING)
        if self.keys is not None:
            self.keys.load()

    async def authenticate(
        self, bearer: str | None, api_key: str | None, *, authorization: bool = False
    ) -> Principal:
        """
        Raises:
            Unauthenticated: no credentials, two (``authorization``: an Authorization header
                of any scheme was sent), or ones that do not check out.
            IdentityProviderUnavailable: a JWT cannot be checked for want of signing keys.
        """
        if self.disabled:
            return ANONYMOUS
        if (bearer is not None or authorization) and api_key is not None:
            raise Unauthenticated("send one credential: Authorization or X-API-Key, not both")
        if api_key is None and bearer is not None and bearer.startswith(KEY_PREFIX):
            api_key = bearer
        if api_key is not None:
            return self._key(api_key)
        if bearer is not None:
            if self.jwt is None:
                raise Unauthenticated("bearer tokens are not accepted here", token_given=True)
            return await self.jwt.verify(bearer)
        raise Unauthenticated(
            "send an API key (Authorization: Bearer tgw_… or X-API-Key) or a bearer token"
        )

    def _key(self, key: str) -> Principal:
        if self.keys is None:
            raise Unauthenticated("API keys are not accepted here", token_given=True)
        entry = self.keys.keys.find(key)
        if entry is None:
            raise Unauthenticated("unknown API key", token_given=True)
        return entry.principal

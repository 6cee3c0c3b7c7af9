"""What handlers stand on: the services the lifespan made (one typed :class:`Services`), the
request's :class:`~gateway_api.http.context.RequestContext`, and the caller."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPBearer

from gateway_api.config import ApiSettings
from gateway_api.errors import RoutesNotLoaded, Unauthenticated
from gateway_api.http.context import CONTEXT_KEY, RequestContext
from gateway_api.route_store import RouteStore
from gateway_api.security.auth import Authenticator
from gateway_api.security.principals import ANONYMOUS, Principal
from gateway_api.security.ratelimit import OpenStreams, OpenWaits, RateLimiter, client_address
from gateway_api.temporal.connection import TemporalConnection
from gateway_api.temporal.handlers import HandlerCache
from gateway_api.temporal.health import Pollers
from gateway_api.temporal.history import Followers
from gateway_api.temporal.visibility import PageTokenKeys
from gateway_api.temporal.workflow_types import WorkflowTypes
from gateway_core.routes import RouteTable

# auto_error=False: a missing credential is our own 401 problem, not FastAPI's 403.
_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="An API key (`tgw_…`) or a JWT from the configured OIDC provider.",
)
_api_key = APIKeyHeader(
    name="X-API-Key", auto_error=False, scheme_name="apiKey", description="An API key."
)


SERVICES_KEY = "services"
"""Where the lifespan's :class:`Services` are kept in the app's (and each request's) state."""


@dataclass(frozen=True, slots=True)
class Services:
    """What the lifespan makes once and every request shares."""

    temporal: TemporalConnection
    routes: RouteStore
    settings: ApiSettings
    authenticator: Authenticator
    limiter: RateLimiter
    streams: OpenStreams
    waits: OpenWaits
    followers: Followers
    handlers: HandlerCache
    pollers: Pollers
    page_tokens: PageTokenKeys
    workflow_types: WorkflowTypes


def services(request: Request) -> Services:
    found: Services = request.scope["state"][SERVICES_KEY]
    return found


def context(request: Request) -> RequestContext:
    """The request's context (:class:`~gateway_api.http.middleware.RequestContextMiddleware`
    makes one for every request that reaches a handler)."""
    found: RequestContext = request.scope["state"][CONTEXT_KEY]
    return found


def current_table(store: RouteStore) -> RouteTable:
    """The table in use when the request arrived; later reloads do not affect it."""
    if store.table is None:
        raise RoutesNotLoaded("no route table has been loaded yet")
    return store.table


async def _connection(request: Request) -> TemporalConnection:
    return services(request).temporal


async def _store(request: Request) -> RouteStore:
    return services(request).routes


async def _settings(request: Request) -> ApiSettings:
    return services(request).settings


async def _authenticator(request: Request) -> Authenticator:
    return services(request).authenticator


async def _streams(request: Request) -> OpenStreams:
    return services(request).streams


SECURITY_SCHEMES = {
    scheme.scheme_name: scheme.model.model_dump(mode="json", by_alias=True, exclude_none=True)
    for scheme in (_bearer, _api_key)
}
"""The two ways to send credentials, as the OpenAPI document's ``securitySchemes``."""
SECURITY: list[dict[str, list[str]]] = [{name: []} for name in SECURITY_SCHEMES]
"""The ``security`` requirement of every workflow operation: either scheme."""


def bearer_token(authorization: str | None) -> str | None:
    """The credentials of an ``Authorization: Bearer …`` header, parsed as FastAPI's
    ``HTTPBearer`` does (a scheme of any case, the credentials stripped); None for a missing,
    empty or other-scheme header. By hand, since ``HTTPBearer`` builds a pydantic model of the
    two strings on every request."""
    if not authorization:
        return None
    scheme, _, credentials = authorization.partition(" ")
    credentials = credentials.strip()
    if not scheme or not credentials or scheme.lower() != "bearer":
        return None
    return credentials


async def authenticate(request: Request) -> Principal:
    """The caller of a workflow operation.

    A plain call, not a FastAPI dependency: each dependency FastAPI resolves costs more than
    the header it reads, on every request, and this runs on all of them. The headers are read
    as the two scheme objects read them, and :mod:`gateway_api.openapi.document` documents the
    schemes.

    Raises:
        Unauthenticated: no credentials, two, or ones that do not check out.
        RateLimited: the client's address failed to authenticate too often.
    """
    shared = services(request)
    authenticator = shared.authenticator
    if authenticator.disabled:
        context(request).annotate(principal=ANONYMOUS.id)
        return ANONYMOUS
    limiter = shared.limiter
    settings = shared.settings
    address = client_address(request.scope, settings.trusted_proxies)
    await limiter.refuse_if_failing(address)
    headers = request.headers
    authorization = headers.get("authorization")
    try:
        principal = await authenticator.authenticate(
            bearer_token(authorization),
            headers.get(_api_key.model.name) or None,  # empty: none, as APIKeyHeader reads it
            # Any Authorization header, whatever its scheme: a non-Bearer one is no bearer
            # token, and one next to an X-API-Key is ambiguous however it is spelled.
            authorization=authorization is not None,
        )
    except Unauthenticated:
        await limiter.failed(address)
        raise
    context(request).annotate(principal=principal.id)
    return principal


Connection = Annotated[TemporalConnection, Depends(_connection)]
Store = Annotated[RouteStore, Depends(_store)]
Settings = Annotated[ApiSettings, Depends(_settings)]
Auth = Annotated[Authenticator, Depends(_authenticator)]
Streams = Annotated[OpenStreams, Depends(_streams)]

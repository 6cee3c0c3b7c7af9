"""Dependencies for route handlers: the lifespan's state, typed, and the caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from gateway_api.auth import Authenticator
from gateway_api.config import ApiSettings
from gateway_api.errors import RoutesNotLoaded, Unauthenticated
from gateway_api.middleware import annotate
from gateway_api.principals import Principal
from gateway_api.ratelimit import OpenStreams, RateLimiter, client_address
from gateway_api.routing import RouteStore
from gateway_api.temporal import TemporalConnection
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


async def _connection(request: Request) -> TemporalConnection:
    connection: TemporalConnection = request.state.temporal
    return connection


async def _store(request: Request) -> RouteStore:
    store: RouteStore = request.state.routes
    return store


def current_table(store: RouteStore) -> RouteTable:
    """The table in use when the request arrived; later reloads do not affect it."""
    if store.table is None:
        raise RoutesNotLoaded("no route table has been loaded yet")
    return store.table


async def _settings(request: Request) -> ApiSettings:
    settings: ApiSettings = request.state.settings
    return settings


async def _authenticator(request: Request) -> Authenticator:
    authenticator: Authenticator = request.state.authenticator
    return authenticator


async def _streams(request: Request) -> OpenStreams:
    streams: OpenStreams = request.state.streams
    return streams


async def _caller(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    api_key: Annotated[str | None, Security(_api_key)],
) -> Principal:
    # The lifespan's state read here, not through one dependency each: FastAPI's resolution of
    # a dependency costs more than the attribute it returns, on every request.
    state = request.state
    authenticator: Authenticator = state.authenticator
    limiter: RateLimiter = state.limiter
    settings: ApiSettings = state.settings
    address = client_address(request.scope, settings.trusted_proxies)
    if not authenticator.disabled:
        await limiter.refuse_if_failing(address)
    try:
        principal = await authenticator.authenticate(
            bearer.credentials if bearer else None,
            api_key,
            # Any Authorization header, whatever its scheme: HTTPBearer ignores a non-Bearer one,
            # and one next to an X-API-Key is ambiguous however it is spelled.
            authorization="authorization" in request.headers,
        )
    except Unauthenticated:
        await limiter.failed(address)
        raise
    annotate(request.state, principal=principal.id)
    return principal


Connection = Annotated[TemporalConnection, Depends(_connection)]
Store = Annotated[RouteStore, Depends(_store)]
Settings = Annotated[ApiSettings, Depends(_settings)]
Auth = Annotated[Authenticator, Depends(_authenticator)]
Caller = Annotated[Principal, Depends(_caller)]
Streams = Annotated[OpenStreams, Depends(_streams)]

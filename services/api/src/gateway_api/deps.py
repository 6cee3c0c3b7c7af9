"""Dependencies for route handlers: the lifespan's state, typed."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from gateway_api.config import ApiSettings
from gateway_api.errors import RoutesNotLoaded
from gateway_api.routing import RouteStore
from gateway_api.temporal import TemporalConnection
from gateway_core.routes import RouteTable


def _connection(request: Request) -> TemporalConnection:
    connection: TemporalConnection = request.state.temporal
    return connection


def _store(request: Request) -> RouteStore:
    store: RouteStore = request.state.routes
    return store


def _routes(store: Annotated[RouteStore, Depends(_store)]) -> RouteTable:
    """The table in use when the request arrived; later reloads do not affect it."""
    if store.table is None:
        raise RoutesNotLoaded("no route table has been loaded yet")
    return store.table


def _settings(request: Request) -> ApiSettings:
    settings: ApiSettings = request.state.settings
    return settings


Connection = Annotated[TemporalConnection, Depends(_connection)]
Store = Annotated[RouteStore, Depends(_store)]
Routes = Annotated[RouteTable, Depends(_routes)]
Settings = Annotated[ApiSettings, Depends(_settings)]

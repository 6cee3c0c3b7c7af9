"""Dependencies for route handlers: the lifespan's state, typed."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from gateway_api.config import ApiSettings
from gateway_api.temporal import TemporalConnection
from gateway_core.routes import RouteTable


def _connection(request: Request) -> TemporalConnection:
    connection: TemporalConnection = request.state.temporal
    return connection


def _routes(request: Request) -> RouteTable:
    routes: RouteTable = request.state.routes
    return routes


def _settings(request: Request) -> ApiSettings:
    settings: ApiSettings = request.state.settings
    return settings


Connection = Annotated[TemporalConnection, Depends(_connection)]
Routes = Annotated[RouteTable, Depends(_routes)]
Settings = Annotated[ApiSettings, Depends(_settings)]

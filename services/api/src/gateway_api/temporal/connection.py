"""The API's single Temporal client and its health.

The lifespan creates one :class:`TemporalConnection` and every request borrows its client. The
API must start (and say ``temporal_connected: false``) while Temporal is down, so connecting
happens in a background task that retries; until it succeeds, :attr:`client` raises
:class:`TemporalUnavailable` (a 503), never a silent empty client. Once connected, the SDK's
channel reconnects by itself, and the same task keeps :attr:`connected` current for the
health endpoints.

A route in another namespace, or with a payload codec (:mod:`gateway_api.temporal.codecs`),
gets a view of the shared client: the same connection, its own namespace and data converter,
made once per (namespace, codec) and kept.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from datetime import timedelta

import structlog
from temporalio.client import Client, Interceptor
from temporalio.converter import DataConverter
from temporalio.envconfig import ClientConnectConfig
from temporalio.service import RPCError

from gateway_api import metrics
from gateway_api.errors import TemporalUnavailable
from gateway_api.temporal.codecs import RouteCodecs
from gateway_api.temporal.payloads import data_converter
from gateway_core.routes import CompiledRoute

log = structlog.get_logger(__name__)


class TemporalConnection:
    """Owns the shared client; :meth:`watch` connects and then checks its health."""

    def __init__(
        self,
        config: ClientConnectConfig,
        *,
        interval: timedelta,
        connect_timeout: timedelta,
        interceptors: Sequence[Interceptor] = (),
        codecs: RouteCodecs | None = None,
    ) -> None:
        self._config = config
        self._interceptors = interceptors
        self._interval = interval
        self._connect_timeout = connect_timeout
        self._codecs = codecs
        # Every client reads payloads as the gateway does (temporal/payloads.py); the views
        # client_for makes copy it with the rest of the shared client's config.
        self._data_converter = data_converter()
        self._client: Client | None = None
        self._views: dict[tuple[str, str | None], Client] = {}
        self._converters: dict[tuple[str, str], DataConverter] = {}
        self.connected = False
        self._warned = False  # the first failure is logged even though nothing changed

    @property
    def address(self) -> str:
        return self._config["target_host"]

    @property
    def namespace(self) -> str:
        """The namespace of the shared client: that of every route that names none."""
        return self._config.get("namespace") or "default"

    @property
    def data_converter(self) -> DataConverter:
        """The converter the client uses (or will, once connected)."""
        return self._data_converter

    @property
    def client(self) -> Client:
        """The connected client.

        Raises:
            TemporalUnavailable: no connection has succeeded yet, or the last health check
                failed. Callers then get 503 at once instead of after the RPC timeout; the
                first check that succeeds restores service.
        """
        if self._client is None:
            raise TemporalUnavailable("Temporal has not been reachable since the API started")
        if not self.connected:
            raise TemporalUnavailable(
                f"Temporal at {self.address} did not answer the last health check"
            )
        return self._client

    def codec_of(self, route: CompiledRoute) -> str | None:
        """The name of the route's payload codec; None: plain payloads."""
        return self._codecs.name_for(route) if self._codecs is not None else None

    def converter_for(self, route: CompiledRoute) -> DataConverter:
        """The data converter of the route's workflows (its codec's, if it has one). Needs no
        connection: inputs are encoded, and their size checked, before Temporal is called."""
        codec = self.codec_of(route)
        if codec is None:
            return self.data_converter
        return self._converter(route.spec.namespace or self.namespace, codec)

    def _converter(self, namespace: str, codec: str) -> DataConverter:
        key = (namespace, codec)
        found = self._converters.get(key)
        if found is None:
            assert self._codecs is not None
            found = dataclasses.replace(
                self.data_converter, payload_codec=self._codecs.codec(codec, namespace)
            )
            self._converters[key] = found
        return found

    def route_client(self, route: CompiledRoute) -> Client:
        """The client for the route's workflows: its namespace, its codec.

        Raises:
            TemporalUnavailable: no connection has succeeded yet.
        """
        return self.client_for(route.spec.namespace, self.codec_of(route))

    def client_for(self, namespace: str | None, codec: str | None = None) -> Client:
        """The shared client, or a view of it for another Temporal namespace or with a payload
        codec (same connection), made once and kept.

        Raises:
            TemporalUnavailable: no connection has succeeded yet.
        """
        client = self.client
        namespace = namespace or client.namespace
        if codec is None and namespace == client.namespace:
            return client
        key = (namespace, codec)
        view = self._views.get(key)
        if view is None:
            # Everything else as the shared client has it: its interceptors carry the traces.
            config = client.config()
            config["namespace"] = namespace
            if codec is not None:
                config["data_converter"] = self._converter(namespace, codec)
            view = Client(**config)
            self._views[key] = view
        return view

    async def refresh(self) -> None:
        """Connect if not yet connected, else check health; log only changes."""
        error = await self._check()
        was, self.connected = self.connected, error is None
        metrics.TEMPORAL_CONNECTED.set(1 if self.connected else 0)
        if error is None and not was:
            log.info("temporal connected", address=self.address)
        elif error is not None and (was or not self._warned):
            log.warning("temporal unreachable", address=self.address, error=error)
            self._warned = True

    async def watch(self) -> None:
        """Refresh every interval; runs until cancelled."""
        while True:
            await asyncio.sleep(self._interval.total_seconds())
            await self.refresh()

    async def _check(self) -> str | None:
        """None when Temporal answers, else why not."""
        if self._client is None:
            try:
                self._client = await Client.connect(
                    **self._config,
                    data_converter=self._data_converter,
                    connect_timeout=self._connect_timeout,
                    interceptors=self._interceptors,
                )
            except Exception as exc:  # every connect failure means the same: not reachable yet
                return str(exc)
            return None
        try:
            healthy = await self._client.service_client.check_health(timeout=self._connect_timeout)
        except RPCError as exc:
            return str(exc)
        return None if healthy else "health check reported not serving"

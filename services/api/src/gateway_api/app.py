"""The FastAPI application factory.

``create_app(settings)`` builds everything from the settings it is given (tests pass their own);
nothing connects at import time. The lifespan loads the route table and the API keys, makes the
named payload codecs, the one Temporal connection every request shares, the HTTP client for the
identity provider and the rate limiter, and hands them to handlers as lifespan state.

Middleware, from the outside in: OpenTelemetry, HEAD as GET, security headers, CORS (only when
origins are configured), request context, request guards (duplicate headers, encoded slashes).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import structlog
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from temporalio.client import Interceptor
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.envconfig import ClientConnectConfig

from gateway_api.api import endpoints, health, problem_handlers
from gateway_api.api.deps import SERVICES_KEY, Services
from gateway_api.config import ApiSettings
from gateway_api.http.guards import HeadAsGetMiddleware, RequestGuardMiddleware
from gateway_api.http.middleware import RequestContextMiddleware, TraceContextMiddleware
from gateway_api.http.security_headers import SecurityHeadersMiddleware
from gateway_api.openapi import document as openapi
from gateway_api.openapi import pages
from gateway_api.route_store import RouteStore, freeze_heap
from gateway_api.route_store.kube import ClusterRoutes, load_config
from gateway_api.security.auth import Authenticator
from gateway_api.security.ratelimit import OpenStreams, OpenWaits, RateLimiter
from gateway_api.temporal.codecs import RouteCodecs
from gateway_api.temporal.connection import TemporalConnection
from gateway_api.temporal.handlers import HandlerCache
from gateway_api.temporal.health import Pollers
from gateway_api.temporal.history import Followers
from gateway_api.temporal.visibility import PageTokenKeys
from gateway_api.temporal.workflow_types import WorkflowTypes
from gateway_core.codecs import CodecSet, describe
from gateway_core.routes import RouteTable
from gateway_core.telemetry import tracing_enabled
from gateway_core.temporal import connect_config

log = structlog.get_logger(__name__)

CORS_ALLOWED = ("Authorization", "X-API-Key", "Content-Type", "Idempotency-Key", "Prefer",
                "Callback-Url", "Callback-Outcomes", "Last-Event-ID", "If-Match", "X-Request-ID",
                "traceparent")  # fmt: skip
"""Every request header the API reads, so a page on another origin can use every operation."""
CORS_EXPOSED = ("Location", "Retry-After", "Preference-Applied", "Link", "ETag", "X-Request-ID",
                "X-Trace-Id", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset",
                "RateLimit-Policy", "RateLimit")  # fmt: skip
"""Every response header a caller reads (where to poll, when to retry, what was applied)."""

DESCRIPTION = """Start and follow Temporal workflows over plain HTTP.

Errors are RFC 9457 `application/problem+json` documents with a stable `code`.
"""


def temporal_interceptors() -> list[Interceptor]:
    """The Temporal client's interceptors (``make bench`` gives its bare SDK client the same).

    ``TracingInterceptor`` continues the HTTP request's trace into Temporal: StartWorkflow, then
    the worker's RunWorkflow, StartActivity and RunActivity spans. Only when spans are exported:
    otherwise it would make and send a span context per call that nothing records.
    """
    return [TracingInterceptor()] if tracing_enabled() else []


def create_app(
    settings: ApiSettings,
    *,
    temporal: ClientConnectConfig | None = None,
    routes: RouteTable | None = None,
) -> FastAPI:
    """Build the API.

    Args:
        settings: the API's settings.
        temporal: ``Client.connect`` arguments; from Temporal's environment when None.
        routes: a fixed route table; when None, from ``settings.routes_source``: the files
            at ``settings.routes_path`` (loaded at startup, reloaded when they change) or the
            cluster's WorkflowRoutes.
    """
    cluster = routes is None and settings.routes_source == "kubernetes"
    if routes is not None:
        store = RouteStore(None, table=routes)
    else:
        settle = freeze_heap if settings.gc_freeze else None
        store = RouteStore(None if cluster else settings.routes_path, settle=settle)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        config = temporal if temporal is not None else connect_config()
        codecs = CodecSet(settings.codecs, max_payload_bytes=settings.temporal_blob_limit_bytes)
        route_codecs = RouteCodecs(
            codecs, settings.namespace_codecs, config.get("namespace") or "default"
        )
        if settings.codecs:
            log.info("payload codecs", codecs=describe(settings.codecs),
                     namespaces=settings.namespace_codecs)  # fmt: skip
        store.observe(route_codecs.check)
        store.load()
        http = httpx.AsyncClient(
            timeout=settings.jwks_timeout_seconds, follow_redirects=False, trust_env=False
        )
        authenticator = Authenticator(settings, http)
        authenticator.load()
        limiter = RateLimiter(settings)
        connection = TemporalConnection(
            config,
            interval=timedelta(seconds=settings.health_interval_seconds),
            connect_timeout=timedelta(seconds=settings.connect_timeout_seconds),
            interceptors=temporal_interceptors(),
            codecs=route_codecs,
        )
        await connection.refresh()  # so the first requests already see a connected client
        tasks = [asyncio.create_task(connection.watch())]
        if cluster:
            follow = ClusterRoutes(store, load_config(), settings.routes_namespaces)
            tasks.append(asyncio.create_task(follow.run()))
        else:
            tasks.append(asyncio.create_task(store.watch(settings.routes_reload_seconds)))
        if authenticator.keys is not None:
            tasks.append(
                asyncio.create_task(authenticator.keys.watch(settings.keys_reload_seconds))
            )
        try:
            yield {
                SERVICES_KEY: Services(
                    temporal=connection,
                    routes=store,
                    settings=settings,
                    authenticator=authenticator,
                    limiter=limiter,
                    streams=OpenStreams(settings.events_max_streams),
                    waits=OpenWaits(settings.max_waits_per_caller),
                    followers=Followers(),
                    handlers=HandlerCache(),
                    pollers=Pollers(),
                    workflow_types=WorkflowTypes(),
                    page_tokens=PageTokenKeys.from_setting(
                        settings.page_token_keys.get_secret_value()
                        if settings.page_token_keys
                        else None
                    ),
                )
            }
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await http.aclose()
            await codecs.aclose()

    app = FastAPI(
        # FastAPI's own OpenTelemetry layer would record a second server span and one per
        # dependency, serializer and endpoint (about five a request, tracing off or on): the
        # instrumentor below records the one span a reader of the trace needs.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        title="temporal-gateway",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        # /docs and /redoc are gateway_api.openapi.pages': FastAPI's load their scripts from a CDN.
        docs_url=None,
        redoc_url=None,
        # A trailing slash is another path (404), never a redirect: Starlette's would build an
        # absolute Location from the Host header, and turn a POST into whatever the client does.
        redirect_slashes=False,
    )
    problem_handlers.install(app)
    app.include_router(health.router)
    for router in endpoints.ROUTERS:
        app.include_router(router)
    app.add_middleware(RequestGuardMiddleware)
    app.add_middleware(RequestContextMiddleware)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=list(CORS_ALLOWED),
            expose_headers=list(CORS_EXPOSED),
            max_age=600,
        )  # fmt: skip
    app.add_middleware(SecurityHeadersMiddleware, hsts_seconds=settings.hsts_seconds)
    app.add_middleware(HeadAsGetMiddleware)
    # Outermost, so the server span (and an incoming traceparent) covers everything else.
    if tracing_enabled():
        # One server span per request: the ASGI send/receive spans (two or three more per
        # request) say nothing a reader of the trace needs.
        FastAPIInstrumentor.instrument_app(
            app, excluded_urls="livez,readyz", exclude_spans=["send", "receive"]
        )
    else:
        app.add_middleware(TraceContextMiddleware)
    openapi.install(app, store, per_caller=settings.openapi_per_caller)
    pages.install(app)
    return app

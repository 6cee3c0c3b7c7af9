"""Build and run the Temporal worker.

The worker connects (retrying until Temporal answers, since in a cluster it may start first),
polls its task queue, and on SIGTERM/SIGINT stops polling and gives running activities
``graceful_shutdown_seconds`` to finish before it exits.

Its own workflows use the payload codec ``WORKER_CODEC`` names, if any; the callback deliveries
are the gateway's own workflows, on a view of the same connection without it, and decode a
route's results with the codec each delivery names (``WORKER_CODECS``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, NoReturn

import structlog
from temporalio.client import Client, Interceptor
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.envconfig import ClientConnectConfig
from temporalio.runtime import Runtime
from temporalio.worker import Worker

from gateway_core.codecs import CodecSet
from gateway_core.routes import RouteFiles, RouteSource
from gateway_core.routes.cluster import ClusterRoutes, FollowedRoutes, load_config
from gateway_worker import telemetry
from gateway_worker.config import WorkerSettings
from gateway_worker.health import Health
from gateway_workflows.registry import CALLBACK_WORKFLOWS, build_callback_activities

log = structlog.get_logger(__name__)


async def connect(
    config: ClientConnectConfig,
    *,
    retry_seconds: float,
    stop: asyncio.Event,
    runtime: Runtime | None = None,
    interceptors: Sequence[Interceptor] = (),
) -> Client | None:
    """Connect to Temporal, retrying until it answers; None when ``stop`` is set first."""
    while not stop.is_set():
        try:
            return await Client.connect(**config, runtime=runtime, interceptors=interceptors)
        except Exception as exc:  # any connect failure means: not reachable yet, try again
            log.warning(
                "temporal not reachable, retrying", error=str(exc), address=config["target_host"]
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), retry_seconds)
    return None


def build_worker(
    client: Client,
    settings: WorkerSettings,
    workflows: Sequence[type],
    activities: Sequence[Callable[..., Any]],
    *,
    task_queue: str | None = None,
) -> Worker:
    """The worker for ``task_queue`` (``settings.task_queue`` by default); building it runs
    the sandbox checks."""
    return Worker(
        client,
        task_queue=task_queue or settings.task_queue,
        workflows=workflows,
        activities=activities,
        max_concurrent_activities=settings.max_concurrent_activities,
        graceful_shutdown_timeout=timedelta(seconds=settings.graceful_shutdown_seconds),
    )


def codec_converters(client: Client, codecs: CodecSet) -> dict[str, DataConverter]:
    """The client's data converter with each named codec (for the client's namespace)."""
    return {
        name: dataclasses.replace(
            client.data_converter, payload_codec=codecs.codec(name, client.namespace)
        )
        for name in codecs.names()
    }


def with_codec(client: Client, codecs: CodecSet, name: str) -> Client:
    """A view of ``client`` (same connection) whose payloads go through the codec ``name``,
    failure messages and stack traces included (moved into the encoded attributes)."""
    config = client.config()
    config["data_converter"] = dataclasses.replace(
        client.data_converter,
        payload_codec=codecs.codec(name, client.namespace),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )
    return Client(**config)


def build_callback_worker(
    client: Client,
    settings: WorkerSettings,
    runtime: Runtime,
    converters: dict[str, DataConverter] | None = None,
    routes: RouteSource | None = None,
) -> Worker:
    """The worker for the gateway's callback queue: the delivery workflow, its activities
    (which check each attempt against the route table ``routes``; by default the files of
    ``settings.routes_path``), and the counter of delivery attempts by route, workflow outcome
    and result. ``client`` has no payload codec; ``converters`` decode the results of routes
    that name one."""
    attempts = runtime.metric_meter.create_counter(
        "temporal_gateway_callback_attempts",
        "Completion webhook delivery attempts by route, workflow outcome and result",
    )
    if routes is None and settings.routes_path is not None:
        routes = RouteFiles(settings.routes_path)
    return build_worker(
        client,
        settings,
        CALLBACK_WORKFLOWS,
        build_callback_activities(
            client, settings.callback_secrets_dir, attempts, converters, routes=routes
        ),
        task_queue=settings.callback_task_queue,
    )


async def run(
    settings: WorkerSettings,
    config: ClientConnectConfig,
    workflows: Sequence[type],
    activities: Sequence[Callable[..., Any]],
) -> None:
    """Run until SIGTERM or SIGINT, then drain."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    health = Health()
    probes = None
    codecs = CodecSet(settings.codecs)
    if settings.health_port:
        # Before connecting: a worker waiting for Temporal is alive, only not ready.
        probes = await health.serve(settings.health_host, settings.health_port)
    try:
        bind = f"{settings.metrics_host}:{settings.metrics_port}" if settings.metrics_port else None
        sdk_runtime = telemetry.runtime(bind)
        client = await connect(
            config,
            retry_seconds=settings.connect_retry_seconds,
            stop=stop,
            runtime=sdk_runtime,
            interceptors=telemetry.interceptors(sdk_runtime.metric_meter),
        )
        if client is None:
            return
        bare = client
        if settings.codec is not None:
            client = with_codec(bare, codecs, settings.codec)
        worker = build_worker(client, settings, workflows, activities)
        health.client, health.worker = client, worker
        log.info("worker started", task_queue=settings.task_queue, namespace=client.namespace,
                 codec=settings.codec)  # fmt: skip
        async with contextlib.AsyncExitStack() as running:
            await running.enter_async_context(worker)
            if settings.callback_task_queue:
                converters = codec_converters(bare, codecs)
                routes = None
                if settings.routes_source == "kubernetes":
                    routes = FollowedRoutes()
                    follow = ClusterRoutes(routes, load_config(), settings.routes_namespaces)
                    running.push_async_callback(_cancelled, asyncio.create_task(follow.run()))
                callbacks = build_callback_worker(
                    bare, settings, sdk_runtime, converters, routes=routes
                )
                await running.enter_async_context(callbacks)
                log.info("callback deliveries hosted", task_queue=settings.callback_task_queue)
            await stop.wait()
            log.info("worker draining", grace_seconds=settings.graceful_shutdown_seconds)
        log.info("worker stopped")
    finally:
        await codecs.aclose()
        if probes is not None:
            probes.close()


async def _cancelled(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def exit_cleanly() -> NoReturn:
    """End the process, after a clean shutdown, without the interpreter's finalization.

    The SDK's Rust threads may still call into Python while the interpreter finalizes, which
    aborts the process ("Fatal Python error: PyGILState_Release", SIGABRT) after everything
    had stopped well; a pod would report the drain as a crash. Logs are flushed first.
    """
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)

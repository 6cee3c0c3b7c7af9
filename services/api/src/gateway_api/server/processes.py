"""The API's processes: one (the default), or uvicorn's supervisor and ``API_WORKERS`` workers
sharing one port.

uvicorn runs on uvloop with the httptools parser (uvicorn[standard], the ecosystem's fast
path), its protocol guarded against slow clients (:mod:`gateway_api.server.http_server`); why this
server
and not granian or hypercorn is in docs/performance.md. uvicorn handles SIGTERM as Kubernetes
expects: it stops accepting connections, lets in-flight requests finish (up to
``API_GRACEFUL_SHUTDOWN_SECONDS``), then runs the lifespan shutdown.

With workers, the parent binds the port and the metrics port and supervises; uvicorn starts
each worker with ``spawn``, a fresh interpreter that inherits only the environment and the
listening socket. Each worker builds its own settings, logging, tracing and app
(:func:`worker_app`), so each has its own Temporal client (one per process, made at startup),
route table and in-memory rate-limit buckets, and its own guarded
protocol
(:mod:`gateway_api.server.worker_config`). The kernel hands each new connection to whichever worker
accepts
it first: probes, like requests, reach any of them.

Metrics use prometheus_client's multiprocess mode. Before the workers start, the parent points
``PROMETHEUS_MULTIPROC_DIR`` at a directory (the one given, emptied of an earlier run's files,
or a private one removed at exit); each worker writes its values to its own files there, and
the parent's metrics port serves a ``MultiProcessCollector`` over them, the sum over all
workers. When a worker exits, its live gauges stop counting (:class:`Supervisor`); its counters
stay, so totals never go backwards when uvicorn replaces it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import structlog
import uvicorn
from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from pydantic import ValidationError
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

from gateway_api.app import create_app
from gateway_api.config import ApiSettings
from gateway_api.security.keys import KeyFileError, read_keys
from gateway_api.server.http_server import (
    ConnectionLimits,
    OncePerInterval,
    bounded_connections,
    guarded_protocol,
)
from gateway_api.server.worker_config import WorkerConfig
from gateway_core.codecs import CodecConfigError, load_local
from gateway_core.logging import configure_logging
from gateway_core.metrics import serve_metrics
from gateway_core.telemetry import configure_tracing

log = structlog.get_logger(__name__)

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
WORKER_APP = f"{__name__}:worker_app"


def serve() -> None:
    """Read the settings from the environment and serve until SIGTERM or SIGINT.

    Raises:
        SystemExit: 2 for a setting that is not valid, the key file and the in-process codecs
            included (named on stderr); uvicorn's 3 when the app cannot start.
    """
    try:
        settings = ApiSettings()
        if settings.keys_file is not None:
            read_keys(settings.keys_file)  # the lifespan loads it; a broken one is said here
        load_local(settings.codecs)  # as the key file: each process makes its own
    except ValidationError as exc:
        # Before logging is set up, and without a traceback: the message names the setting.
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"])
            where = f"API_{field.upper()}: " if field else ""
            print(f"configuration error: {where}{error['msg']}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyFileError as exc:
        print(f"configuration error: API_KEYS_FILE: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except CodecConfigError as exc:
        print(f"configuration error: API_CODECS: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    configure_process(settings)
    limits = ConnectionLimits(
        header_timeout=settings.header_read_timeout_seconds,
        body_timeout=settings.body_read_timeout_seconds,
        max_connections=bounded_connections(settings.max_connections),
    )
    if settings.workers > 1:
        serve_workers(settings, limits)
        return
    if settings.metrics_port:
        serve_metrics(settings.metrics_port, settings.metrics_host)
    tracing = configure_tracing("temporal-gateway-api")
    uvicorn.run(
        create_app(settings),
        http=guarded_protocol(limits),
        # Said here, or uvicorn would take WEB_CONCURRENCY from the environment, and refuse
        # to start with it above 1 and an app object.
        workers=1,
        **uvicorn_options(settings),
    )
    tracing.shutdown()  # flush the spans of the last requests


def uvicorn_options(settings: ApiSettings) -> dict[str, Any]:
    """uvicorn's options, the same for one process and for workers."""
    return {
        "host": settings.host,
        "port": settings.port,
        "loop": "uvloop",
        "ws": "none",  # no WebSocket endpoints: do not even import a WebSocket implementation
        "backlog": 2048,
        "log_config": None,  # configure_logging already routes uvicorn's loggers
        "access_log": False,  # RequestContextMiddleware writes the access line
        "timeout_graceful_shutdown": int(settings.graceful_shutdown_seconds),
        "server_header": False,  # no "server: uvicorn" banner
        # The API decides which X-Forwarded-For to believe (API_TRUSTED_PROXIES); uvicorn's
        # default would believe any from 127.0.0.1 and rewrite the client address.
        "proxy_headers": False,
    }


def configure_process(settings: ApiSettings) -> None:
    """Logging, in the one process, or in the parent and each worker (then with a ``pid``)."""
    configure_logging(
        service="api", level=settings.log_level, fmt=settings.log_format, pid=settings.workers > 1
    )
    # RequestContextMiddleware writes the access line. uvicorn mutes its own (access_log=False)
    # as it sets up logging, which in a worker comes before this and would be undone.
    logging.getLogger("uvicorn.access").propagate = False
    # asyncio logs every failed accept() when descriptors run out; once in a while is enough.
    logging.getLogger("asyncio").addFilter(OncePerInterval())


def worker_app() -> FastAPI:
    """One worker's app, called in that worker by uvicorn (an app factory)."""
    settings = ApiSettings()  # the parent has checked this same environment
    configure_process(settings)
    configure_tracing("temporal-gateway-api")
    return create_app(settings)


class Supervisor(Multiprocess):
    """uvicorn's supervisor (it restarts a worker that dies or stops answering, and SIGTERM
    drains them all), which also tells prometheus_client which workers are gone, and lets go
    of the port when it stops them."""

    def __init__(self, config: uvicorn.Config, sockets: list[socket.socket], metrics: Path):
        super().__init__(config, sockets)
        self.metrics = metrics

    def keep_subprocess_alive(self) -> None:
        super().keep_subprocess_alive()
        self._forget_exited()

    def terminate_all(self) -> None:
        # Each worker closes its copy of the listening socket as it starts to drain; with the
        # parent's closed too, new connections are refused, as with one process, instead of
        # waiting in a backlog nobody accepts from any more.
        for sock in self.sockets:
            sock.close()
        super().terminate_all()

    def join_all(self) -> None:
        super().join_all()
        self._forget_exited()

    def _forget_exited(self) -> None:
        # From the files, not from the workers this class saw: uvicorn replaces a dead worker
        # inside keep_subprocess_alive, and SIGTTOU or SIGHUP retire workers elsewhere.
        running = {str(p.pid) for p in self.processes if p.exitcode is None}
        for file in self.metrics.glob("gauge_live*_*.db"):
            pid = file.stem.rpartition("_")[2]
            if pid not in running:
                mark_process_dead(int(pid), str(self.metrics))  # type: ignore[no-untyped-call]


@contextlib.contextmanager
def metrics_dir() -> Iterator[Path]:
    """``PROMETHEUS_MULTIPROC_DIR`` for the workers: the one given, emptied of an earlier run's
    files (a pod's ``emptyDir`` outlives a restarted container), or a private one, removed
    at the end."""
    given = os.environ.get(MULTIPROC_DIR)
    if given:
        path = Path(given)
        # prometheus_client's files are named <type>[_<mode>]_<pid>.db. With the variable set
        # from the start, this process's own metrics (made at import, never used here) have
        # files too: they go with the rest, so only the workers count.
        for stale in path.glob("*.db"):
            stale.unlink()
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="gateway-api-metrics-") as private:
        os.environ[MULTIPROC_DIR] = private
        try:
            yield Path(private)
        finally:
            del os.environ[MULTIPROC_DIR]


def serve_workers(settings: ApiSettings, limits: ConnectionLimits) -> None:
    """Supervise ``settings.workers`` workers on one port until SIGTERM or SIGINT.

    Raises:
        SystemExit: a worker failed to start (uvicorn's code 3, as one process exits with).
    """
    with metrics_dir() as path:
        metrics = None
        if settings.metrics_port:
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=str(path))  # type: ignore[no-untyped-call]
            metrics = serve_metrics(settings.metrics_port, settings.metrics_host, registry)
        config = WorkerConfig(
            WORKER_APP, limits, workers=settings.workers, **uvicorn_options(settings)
        )
        supervisor = Supervisor(config, [config.bind_socket()], path)
        log.info("starting workers", workers=settings.workers, metrics_dir=str(path))
        try:
            supervisor.run()
        finally:
            if metrics is not None:
                metrics.shutdown()
        if any(p.exitcode == STARTUP_FAILURE for p in supervisor.processes):
            raise SystemExit(STARTUP_FAILURE)

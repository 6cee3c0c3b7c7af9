"""The config uvicorn pickles to each worker process, kept cheap to unpickle.

A spawned worker unpickles its config before it starts the thread that answers the parent's
health checks, and the parent kills a worker that has not answered within
``timeout_worker_healthcheck`` (5 s). Importing the app takes seconds, more on a pod's
throttled CPU, so this module imports only uvicorn: the guarded protocol is imported and made
in the worker when uvicorn loads the config there, once that thread runs. (The class
:func:`~gateway_api.server.http_server.guarded_protocol` makes could not be pickled anyway.)
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import uvicorn

if TYPE_CHECKING:
    from gateway_api.server.http_server import ConnectionLimits


class WorkerConfig(uvicorn.Config):
    """uvicorn's config for an app factory served by workers with the guarded protocol."""

    def __init__(self, app: str, limits: ConnectionLimits, **options: Any) -> None:
        super().__init__(app, factory=True, http="httptools", **options)
        # Plain values: the dataclass would import gateway_api.server.http_server to be unpickled.
        self.limits = dataclasses.asdict(limits)

    def load(self) -> None:
        from gateway_api.server.http_server import ConnectionLimits, guarded_protocol

        self.http = guarded_protocol(ConnectionLimits(**self.limits))
        super().load()

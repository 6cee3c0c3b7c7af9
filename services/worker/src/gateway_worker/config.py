"""Worker settings. Temporal's address and credentials come from Temporal's own environment
(see :mod:`gateway_core.temporal`); these are the worker's own knobs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from gateway_core.callbacks import DEFAULT_TASK_QUEUE
from gateway_core.codecs import CodecName, CodecSettings, check_names
from gateway_core.logging import LogFormat


class WorkerSettings(BaseSettings):
    """Read from ``WORKER_*`` variables (and ``LOG_*`` for logging)."""

    model_config = SettingsConfigDict(env_prefix="WORKER_", extra="ignore")

    task_queue: str = Field(
        min_length=1,
        description="the task queue to poll, the spec.taskQueue of the routes this worker "
        "serves (the shipped routes': shopping-task-queue)",
    )
    """The queue this worker polls: the ``spec.taskQueue`` of the routes it serves. Required,
    with no default: a worker on a queue no route names would start, poll and serve nothing
    (``make run`` and the chart set ``shopping-task-queue``, the shipped routes' queue)."""
    callback_task_queue: str = DEFAULT_TASK_QUEUE
    """The gateway's own queue, where the API starts completion webhook deliveries (it must
    match ``API_CALLBACK_TASK_QUEUE``); empty: this worker hosts no deliveries."""
    callback_secrets_dir: Path | None = None
    """A directory with one file per route signing secret (a mounted Kubernetes Secret,
    ``.data/webhook-secrets`` under ``make run``); read on every delivery, so a rotated
    Secret is used without a restart. Unset: deliveries fail (and retry) until it is set."""
    routes_source: Literal["files", "kubernetes"] = "files"
    """Where the route table the API serves comes from, as ``API_ROUTES_SOURCE``: ``files``
    (``routes_path``) or ``kubernetes`` (the WorkflowRoutes the operator accepted, watched
    through the Kubernetes API as the API does: the chart's default). Before every webhook
    attempt the delivery checks the route's ``callbacks`` block as it is then, so a route
    deleted, its block turned off or its allowlist narrowed stops deliveries already under
    way. Never through the API: the worker does not depend on it."""
    routes_namespaces: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """With ``kubernetes``: the namespaces whose WorkflowRoutes count, comma-separated, as
    ``API_ROUTES_NAMESPACES``; empty: every namespace."""
    routes_path: Path | None = None
    """With ``files``: the same WorkflowRoute file or folder as ``API_ROUTES_PATH``
    (``k8s/routes`` under ``make run``, or a mounted ConfigMap of route files), read when its
    contents change. Unset: attempts fail (and retry) until it is set, as without secrets."""
    graceful_shutdown_seconds: float = Field(default=30.0, ge=0)
    """How long SIGTERM waits for running activities: Kubernetes' default grace period is 30 s."""
    max_concurrent_activities: int = Field(default=100, gt=0)
    metrics_port: int = Field(default=9465, ge=0, le=65535)
    """The SDK's Prometheus exporter (0: off); next to the API's 9464 so both fit on one host."""
    metrics_host: str = "0.0.0.0"
    """All interfaces, as a pod's metrics must be scraped from outside it."""
    health_port: int = Field(default=0, ge=0, le=65535)
    """``/livez`` and ``/readyz`` for Kubernetes probes (0: off, as under ``make run``, where
    nothing probes the worker); the chart sets 8081."""
    health_host: str = "0.0.0.0"
    """All interfaces: the kubelet probes the pod's address."""
    connect_retry_seconds: float = Field(default=2.0, gt=0)
    """Pause between attempts while Temporal is not reachable yet (it may start after us)."""
    codecs: dict[CodecName, CodecSettings] = Field(default_factory=dict)
    """JSON, the shape of the API's ``API_CODECS`` (give both the same value): the codecs a
    completion webhook decodes a route's result with, by the name the route gives, and those
    ``codec`` may name. None by default, as the API's."""
    codec: CodecName | None = None
    """The payload codec of this worker's own client, a name in ``codecs``: the inputs,
    results and failure messages of the workflows it hosts are encoded with it (failure
    messages and stack traces too, moved into the failure's encoded attributes). Unset: plain
    payloads. Callback deliveries are the gateway's own workflows and stay plain."""
    log_level: str = Field(default="INFO", validation_alias="LOG_LEVEL")
    log_format: LogFormat = Field(default="auto", validation_alias="LOG_FORMAT")

    @field_validator("routes_namespaces", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [ns.strip() for ns in value.split(",") if ns.strip()]
        return value

    @model_validator(mode="after")
    def _codec_names(self) -> WorkerSettings:
        check_names(self.codecs, "WORKER_CODECS")
        if self.codec is not None and self.codec not in self.codecs:
            raise ValueError(f"WORKER_CODEC: no codec {self.codec!r} in WORKER_CODECS")
        return self


def load_settings() -> WorkerSettings:
    """The settings from the environment, or one line per missing or invalid variable on
    stderr and exit status 2 (before logging is set up, and without a traceback).

    Raises:
        SystemExit: 2 when a setting is missing or not valid.
    """
    try:
        return WorkerSettings()
    except ValidationError as exc:
        for error in exc.errors():
            variable, field = _variable(error["loc"])
            if error["type"] == "missing" and field is not None and field.description:
                problem = f"{variable} is required: {field.description}"
            else:
                problem = f"{variable}: {error['msg']}"
            print(f"configuration error: {problem}", file=sys.stderr)
        raise SystemExit(2) from None


def _variable(loc: tuple[int | str, ...]) -> tuple[str, FieldInfo | None]:
    """The environment variable a validation error's location names, and its field."""
    name = str(loc[0]) if loc else ""
    field = WorkerSettings.model_fields.get(name)
    if field is None:  # the location of a field read through its alias is the alias
        return name, None
    return f"{WorkerSettings.model_config.get('env_prefix', '')}{name}".upper(), field

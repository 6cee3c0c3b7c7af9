"""API settings. Temporal's address and credentials come from Temporal's own environment
(see :mod:`gateway_core.temporal`); these are the API's own knobs."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway_core.logging import LogFormat


class ApiSettings(BaseSettings):
    """Read from ``API_*`` variables (``API_PORT`` as in the seed guide; ``LOG_*`` for logs)."""

    model_config = SettingsConfigDict(env_prefix="API_", extra="ignore")

    host: str = "0.0.0.0"
    """All interfaces, as a pod needs; ``make run`` keeps it because the seed's clients use
    localhost and containers use the pod address."""
    port: int = Field(default=8000, ge=1, le=65535)
    routes_path: Path = Path("k8s/routes")
    """A WorkflowRoute YAML file or a directory of them; relative to the working directory,
    which is the repository root under ``make run``."""
    routes_reload_seconds: float = Field(default=1.0, gt=0)
    """How often the route files are checked for changes: a new route serves within about
    this long after its file (or mounted ConfigMap) changes."""
    metrics_port: int = Field(default=9464, ge=0, le=65535)
    """Prometheus metrics on their own port (0: off); 9464 is OpenTelemetry's Prometheus
    exporter default, so it collides with nothing the gateway runs."""
    service_name: str = "Temporal Workflow API"
    """What ``GET /`` reports as ``service``; the seed guide's clients expect this text."""
    max_body_bytes: int = Field(default=256 * 1024, gt=0)
    """Larger bodies get 413. Temporal refuses payloads over 2 MiB and warns from 512 KiB; a
    workflow input is a request, not a file upload, so 256 KiB leaves a wide margin."""
    result_wait_seconds: float = Field(default=30.0, gt=0, le=300)
    """How long ``GET /workflows/{id}/result`` waits for a running workflow before it answers
    202; like a route's sync wait, below common load balancer idle timeouts."""
    rpc_timeout_seconds: float = Field(default=10.0, gt=0)
    """Deadline of each Temporal call other than result waits, so no request hangs on a stuck
    server."""
    health_interval_seconds: float = Field(default=2.0, gt=0)
    """How often the Temporal connection is checked; ``GET /`` and ``/readyz`` are at most this
    stale, and a recovered server is noticed this quickly."""
    connect_timeout_seconds: float = Field(default=5.0, gt=0)
    graceful_shutdown_seconds: float = Field(default=35.0, ge=0)
    """After SIGTERM, in-flight requests get this long to finish: a sync wait (30 s by default)
    plus a margin, within a pod's grace period when that is raised to match."""
    log_level: str = Field(
        default="INFO", validation_alias=AliasChoices("LOG_LEVEL", "API_LOG_LEVEL")
    )
    log_format: LogFormat = Field(
        default="auto", validation_alias=AliasChoices("LOG_FORMAT", "API_LOG_FORMAT")
    )

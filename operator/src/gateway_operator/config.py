"""Operator settings, from ``OPERATOR_*`` variables."""

from __future__ import annotations

from typing import Annotated

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from gateway_core.logging import LogFormat


class OperatorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPERATOR_", extra="ignore")

    namespaces: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Namespaces whose WorkflowRoutes are served, comma-separated; empty: all namespaces."""
    table_namespace: str = Field(
        default="default",
        validation_alias=AliasChoices("OPERATOR_TABLE_NAMESPACE", "POD_NAMESPACE"),
    )
    """Where the route-table ConfigMap lives: the operator's own namespace in a cluster."""
    table_name: str = "temporal-gateway-routes"
    """The ConfigMap the API pods mount."""
    resync_seconds: float = Field(default=60.0, gt=0)
    """A full reconcile at least this often, so a failed write is retried even without events."""
    debounce_seconds: float = Field(default=0.1, ge=0)
    """Events arriving together (a `kubectl apply -f folder/`) make one reconcile."""
    metrics_port: int = Field(default=9466, ge=0, le=65535)
    metrics_host: str = "0.0.0.0"
    """All interfaces, as a pod's metrics are scraped from outside it."""
    health_port: int = Field(default=8081, ge=0, le=65535)
    """kopf's liveness endpoint, /healthz (0: off)."""
    log_level: str = Field(default="INFO", validation_alias="LOG_LEVEL")
    log_format: LogFormat = Field(default="auto", validation_alias="LOG_FORMAT")

    @field_validator("namespaces", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [ns.strip() for ns in value.split(",") if ns.strip()]
        return value

"""Operator settings, from ``OPERATOR_*`` variables."""

from __future__ import annotations

from typing import Annotated

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from gateway_core.codecs import CodecName, CodecSettings, check_names
from gateway_core.logging import LogFormat


class OperatorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPERATOR_", extra="ignore")

    namespaces: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Namespaces whose WorkflowRoutes are served, comma-separated; empty: all namespaces."""
    lease_namespace: str = Field(
        default="default",
        validation_alias=AliasChoices("OPERATOR_LEASE_NAMESPACE", "POD_NAMESPACE"),
    )
    """Where the leader-election Lease lives: the operator's own namespace in a cluster."""
    lease_name: str = "temporal-gateway-operator"
    """The Lease the replicas compete for; one per installation."""
    leader_election: bool = True
    """Only the Lease's holder writes, so several replicas can run (one writes, the others
    stand by with their routes in memory). Off: this replica writes alone, as with one."""
    lease_seconds: float = Field(default=15.0, gt=0)
    """How long a Lease not renewed stays its holder's: a killed leader's work resumes on
    another replica after at most this (a clean stop hands it over at once). client-go's
    default."""
    resync_seconds: float = Field(default=60.0, gt=0)
    """A full reconcile at least this often, so a failed write is retried even without events."""
    debounce_seconds: float = Field(default=0.1, ge=0)
    """Events arriving together (a `kubectl apply -f folder/`) make one reconcile."""
    write_concurrency: int = Field(default=16, ge=1)
    """Status writes in flight at once: 2,000 routes applied together are written in seconds,
    without flooding the API server (client-go's default burst is 10 requests)."""
    worker_check_seconds: float = Field(default=30.0, ge=0)
    """How often every task queue's pollers are asked of Temporal (the ``WorkerAvailable``
    condition; 0: off). A new route's queue is asked at once."""
    poller_fresh_seconds: float = Field(default=70.0, gt=0)
    """A poller counts as a worker when it polled within this long: an idle worker's long
    poll is renewed about every 55 s (measured on Temporal's dev server, docs/workflowroutes.md),
    so a shorter window would report idle workers gone."""
    schedules: bool = True
    """Reconcile WorkflowSchedules into Temporal schedules. Off: WorkflowRoutes only (an
    installation without the WorkflowSchedule CRD)."""
    schedule_resync_seconds: float = Field(default=60.0, gt=0)
    """How often every WorkflowSchedule's Temporal schedule is read and compared with what the
    operator last wrote: a schedule changed in Temporal behind its back is set back within
    about this long (one describe per schedule per round)."""
    schedule_concurrency: int = Field(default=8, ge=1)
    """Schedules reconciled at once (each a few Temporal calls)."""
    temporal_timeout_seconds: float = Field(default=10.0, gt=0)
    """Deadline of each Temporal call the operator makes for a schedule."""
    codecs: dict[CodecName, CodecSettings] = Field(default_factory=dict)
    """JSON, the shape of the API's ``API_CODECS`` (give both the same value): the payload
    codecs a WorkflowSchedule's input may need, by name. A schedule whose route names a codec
    not here is refused (``CodecUnavailable``), never written in plaintext."""
    namespace_codecs: dict[str, CodecName] = Field(default_factory=dict)
    """JSON, as the API's ``API_NAMESPACE_CODECS``: each Temporal namespace's default codec."""
    metrics_port: int = Field(default=9466, ge=0, le=65535)
    metrics_host: str = "0.0.0.0"
    """All interfaces, as a pod's metrics are scraped from outside it."""
    health_port: int = Field(default=8081, ge=0, le=65535)
    """kopf's liveness endpoint, /healthz (0: off)."""
    log_level: str = Field(default="INFO", validation_alias="LOG_LEVEL")
    log_format: LogFormat = Field(default="auto", validation_alias="LOG_FORMAT")

    @field_validator("codecs")
    @classmethod
    def _codec_names(cls, codecs: dict[str, CodecSettings]) -> dict[str, CodecSettings]:
        check_names(codecs, "OPERATOR_CODECS")
        return codecs

    @field_validator("namespaces", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [ns.strip() for ns in value.split(",") if ns.strip()]
        return value

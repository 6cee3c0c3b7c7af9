"""API settings. Temporal's address and credentials come from Temporal's own environment
(see :mod:`gateway_core.temporal`); these are the API's own knobs.

Security settings refuse to build rather than run open by accident: outside
``API_ENVIRONMENT=development`` the API needs an authentication setting (an API key file, an OIDC
issuer, or both), and ``API_AUTH_DISABLED=true`` is refused there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from gateway_core.callbacks import DEFAULT_TASK_QUEUE
from gateway_core.codecs import CodecName, CodecSettings, check_names
from gateway_core.logging import LogFormat


@dataclass(frozen=True, slots=True)
class BodyLimits:
    """What a request body may hold (:mod:`gateway_api.http.bodies` enforces it)."""

    max_bytes: int
    max_depth: int
    max_string_length: int
    max_items: int


Environment = Literal["development", "production"]
OpenApiAccess = Literal["public", "per-caller"]
IPNetwork = IPv4Network | IPv6Network
# Asymmetric algorithms only: a shared-secret (HS*) algorithm with an IdP's public key is the
# classic algorithm-confusion attack, and "none" is no signature at all.
JWT_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
_QUOTA = re.compile(r"^\s*(\d+)\s*/\s*(s|m|h|d)\s*(?:burst\s+(\d+))?\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_quota(text: str) -> tuple[int, timedelta, int] | None:
    """``"10/s burst 20"`` as (limit, period, burst); None for ``"off"``.

    Raises:
        ValueError: not ``N/s|m|h|d`` with an optional ``burst N``.
    """
    if text.strip().lower() == "off":
        return None
    match = _QUOTA.match(text)
    if not match or int(match[1]) < 1:
        raise ValueError(f"{text!r} is not a rate such as '10/s burst 20', '600/m' or 'off'")
    limit = int(match[1])
    burst = int(match[3]) if match[3] else limit
    if burst < 1:
        raise ValueError(f"{text!r}: the burst must be at least 1")
    return limit, timedelta(seconds=_UNIT[match[2]]), burst


class ApiSettings(BaseSettings):
    """Read from ``API_*`` variables (``API_PORT`` as in the seed guide; ``LOG_*`` for logs)."""

    model_config = SettingsConfigDict(env_prefix="API_", extra="ignore")

    host: str = "0.0.0.0"
    """All interfaces, as a pod needs; ``make run`` keeps it because the seed's clients use
    localhost and containers use the pod address."""
    port: int = Field(default=8000, ge=1, le=65535)
    routes_source: Literal["files", "kubernetes"] = "files"
    """Where the route table comes from. ``files``: ``routes_path`` (``make run``, or a
    cluster without the operator). ``kubernetes``: the WorkflowRoutes the operator accepted,
    watched through the Kubernetes API (the chart's default: a change reaches every pod in
    about a second, and the table has no size limit)."""
    routes_namespaces: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """With ``kubernetes``: the namespaces whose WorkflowRoutes are served, comma-separated, as
    the operator's ``OPERATOR_NAMESPACES``; empty: every namespace."""
    routes_path: Path = Path("k8s/routes")
    """A WorkflowRoute YAML file or a directory of them; relative to the working directory,
    which is the repository root under ``make run``."""
    gc_freeze: bool = True
    """After each route table swap, collect garbage once and move every object alive to
    Python's permanent generation (``gc.freeze``), so that the collector's full passes no
    longer walk the table: at 2,000 routes one walked 350,000 objects in 400 ms, a pause any
    request could meet; after a swap of 100 routes or more, also give the freed memory back to
    the system (``malloc_trim``). Off only for tests that build many apps in one process."""
    routes_reload_seconds: float = Field(default=1.0, gt=0)
    """How often the route files are checked for changes: a new route serves within about
    this long after its file (or mounted ConfigMap) changes."""
    descriptor_sets_dir: Path | None = None
    """Where the protobuf descriptor sets routes name (``spec.descriptorSet``) are: a directory
    of serialized FileDescriptorSets, a mounted ConfigMap in a cluster. Unset: routes that name
    one answer their ``binary/protobuf`` payloads with 502 ``undecodable-payload``; nothing
    else needs it."""
    metrics_port: int = Field(default=9464, ge=0, le=65535)
    """Prometheus metrics on their own port (0: off); 9464 is OpenTelemetry's Prometheus
    exporter default, so it collides with nothing the gateway runs."""
    metrics_host: str = "0.0.0.0"
    """All interfaces, as a pod's metrics are scraped from outside it (the chart's NetworkPolicy
    decides who may connect); ``make run`` sets 127.0.0.1, since the port has no
    authentication."""
    service_name: str = "Temporal Workflow API"
    """What ``GET /`` reports as ``service``; the seed guide's clients expect this text."""
    max_body_bytes: int = Field(default=256 * 1024, gt=0)
    """Larger bodies get 413. Temporal refuses payloads over 2 MiB and warns from 512 KiB; a
    workflow input is a request, not a file upload, so 256 KiB leaves a wide margin."""
    result_wait_seconds: float = Field(default=30.0, gt=0, le=300)
    """How long ``GET /workflows/{id}/result`` waits for a running workflow before it answers
    202; like a route's sync wait, below common load balancer idle timeouts."""
    max_wait_seconds: float = Field(default=60.0, gt=0, le=300)
    """The longest a caller may ask any call to wait (``?wait=``, ``Prefer: wait=N``): a minute,
    the idle timeout of most load balancers and ingresses; past it the answer is 202."""
    events_max_seconds: float = Field(default=300.0, gt=0)
    """How long one ``/events`` stream stays open; the client reconnects with
    ``Last-Event-ID`` and loses nothing, while a forgotten tab cannot hold a connection forever."""
    max_waits_per_caller: int = Field(default=32, ge=1)
    """Requests of one caller waiting for an answer at once in one process (synchronous starts,
    results with ``wait``, updates): a rate limit counts requests, not requests held open, so
    without this one caller's waits could hold every connection the API accepts (4,096). Each
    process counts its own (Redis does not share it), so N processes (replicas times
    ``API_WORKERS``) allow one caller N times this in all: set it to the total a caller may
    hold divided by N (docs/security.md, "How many waits a caller holds")."""
    events_max_streams: int = Field(default=5, ge=1)
    """Open ``/events`` streams per caller (per API process); more get 429."""
    events_heartbeat_seconds: float = Field(default=15.0, gt=0)
    """A comment line on every open ``/events`` stream this often, so proxies and load
    balancers (idle timeouts of 30 to 60 s are common) keep a quiet stream open."""
    list_max_page_size: int = Field(default=100, ge=1, le=1000)
    """The largest page ``GET /workflows`` returns."""
    page_token_keys: SecretStr | None = None
    """Comma-separated secrets that sign ``GET /workflows`` page tokens (the first signs, any
    verifies: rotate by putting a new one first). Every replica needs the same ones (the chart
    generates them into a Secret); unset, each process makes its own, and a page token is good
    only on the replica that made it."""
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
    header_read_timeout_seconds: float = Field(default=10.0, gt=0)
    """A request's line and headers must arrive within this long (from the connection's
    start, or from the first byte of a later request on it), else 408 and close: a few hundred
    bytes take milliseconds on any real link, and a slow-loris client is cut off this soon."""
    body_read_timeout_seconds: float = Field(default=15.0, gt=0)
    """The whole body must arrive within this long after the headers, else the connection is
    closed: ``max_body_bytes`` (256 KiB) at this deadline is about 17 KiB/s, slower than any
    real client, while a body trickled a byte at a time holds its connection no longer."""
    max_connections: int = Field(default=4096, ge=1)
    """Open connections per API process; one more is answered 503 and closed at once, so an
    attack meets this bound rather than the open-file limit (raised to its hard limit at start,
    and this bound lowered below it if needed). Below it, probes keep answering. Per process,
    not divided between ``workers``: the open-file limit it stays below is each process's."""
    workers: int = Field(default=1, ge=1)
    """Server processes sharing the port (uvicorn's supervisor and its workers). One: a pod is
    one process and scales by replicas, which Kubernetes schedules, probes and restarts one by
    one. More: one per CPU of a pod that has several (docs/performance.md); the metrics port
    then serves the sum over all of them (Prometheus' multiprocess mode)."""
    log_level: str = Field(
        default="INFO", validation_alias=AliasChoices("LOG_LEVEL", "API_LOG_LEVEL")
    )
    log_format: LogFormat = Field(
        default="auto", validation_alias=AliasChoices("LOG_FORMAT", "API_LOG_FORMAT")
    )

    # Security (docs/security.md).
    environment: Environment = "production"
    """Production unless said otherwise, so a forgotten setting fails closed: only
    ``development`` (``make run``) may turn authentication off."""
    auth_disabled: bool = False
    """Every caller is an anonymous administrator. Refused outside development; logged loudly
    and shown at ``GET /`` when on."""
    keys_file: Path | None = None
    """A YAML file of hashed API keys (``python -m gateway_api.keys new``): a mounted Secret
    in a cluster. Re-read when it changes, so keys rotate without a restart."""
    keys_reload_seconds: float = Field(default=2.0, gt=0)
    """How often the key file is checked: a rotated key works (or stops working) this soon
    after the kubelet updates the mounted Secret."""
    jwt_issuer: str | None = None
    """The OIDC provider's issuer (``iss``); bearer JWTs are accepted when set."""
    jwt_audience: str | None = None
    """The audience (``aud``) tokens must name; required with ``jwt_issuer``, since a token
    minted for another service of the same provider must not work here."""
    jwt_jwks_url: str | None = None
    """Where the signing keys are; unset: the ``jwks_uri`` of the issuer's OpenID discovery
    document (``<issuer>/.well-known/openid-configuration``)."""
    jwt_algorithms: Annotated[frozenset[str], NoDecode] = frozenset({"RS256", "ES256"})
    """Comma-separated; asymmetric only. The two every OIDC provider offers."""
    jwt_leeway_seconds: float = Field(default=30.0, ge=0, le=60)
    """Clock skew allowed on ``exp``/``nbf``/``iat``; bounded at a minute so an expired token
    cannot live on."""
    jwt_groups_claim: str = "groups"
    """The claim holding the caller's groups (a list of strings)."""
    jwks_cache_seconds: float = Field(default=300.0, gt=0)
    """Signing keys are fetched again after this long; an unknown ``kid`` refetches sooner."""
    jwks_min_refresh_seconds: float = Field(default=10.0, ge=0)
    """At most one refetch per this long, however many tokens with unknown ``kid`` arrive, so
    forged tokens cannot turn the gateway against the identity provider."""
    jwks_timeout_seconds: float = Field(default=5.0, gt=0)
    admin_scope: str = "gateway:admin"
    """Holders pass every route's authorization and may read workflows not started through
    the gateway."""
    rate_limit: str = "20/s burst 40"
    """Per caller and route, a token bucket: ``N/s|m|h|d`` with an optional ``burst N``, or
    ``off``. Generous for a person, tight enough that one client cannot starve the others."""
    rate_limit_global: str = "500/s burst 1000"
    """All callers together, protecting Temporal behind this API process (or all of them,
    with Redis)."""
    rate_limit_auth_failures: str = "1/s burst 30"
    """Failed authentications per client address: 30 at once (a misconfigured client notices
    long before), then one a second. While an address is over it, every request from it that
    needs credentials gets 429, right ones included, so guessing is no faster than this."""
    trusted_proxies: Annotated[tuple[IPNetwork, ...], NoDecode] = ()
    """Comma-separated addresses or CIDRs of the proxies in front of the API (the ingress
    controller's pods): from them, the client address is read from ``X-Forwarded-For``. Empty:
    the peer address is the client's, and ``X-Forwarded-For`` is ignored (anyone can send it)."""
    rate_limit_redis_url: SecretStr | None = None
    """``redis://[:password@]host:port/db``: share the buckets between API replicas; unset,
    each process counts on its own (memory)."""
    rate_limit_redis_timeout_seconds: float = Field(default=0.5, gt=0)
    """Each Redis call's deadline; when Redis fails, requests get 503 rather than no limit."""
    max_json_depth: int = Field(default=32, ge=1, le=200)
    """Nesting of arrays and objects; deep nesting is a parser attack, never a real input."""
    max_json_string_length: int = Field(default=65536, ge=1)
    """Characters in any string (or key) of a body."""
    max_json_items: int = Field(default=10000, ge=1)
    """Elements of any array, members of any object."""
    temporal_blob_limit_bytes: int = Field(default=2 * 1024 * 1024, gt=0)
    """Temporal's ``limit.blobSize.error`` (2 MiB by default): larger encoded inputs are
    refused with 413 here, rather than as a failed workflow start there."""
    cors_origins: Annotated[tuple[str, ...], NoDecode] = ()
    """Comma-separated origins allowed to call the API from a browser; none: no CORS."""
    hsts_seconds: int = Field(default=0, ge=0)
    """``Strict-Transport-Security`` max-age; 0 (off) because TLS usually ends at the ingress,
    which knows better."""
    openapi_access: OpenApiAccess | None = None
    """Who reads which routes in ``/openapi.json`` and ``/workflows/<path>/openapi.json``.
    ``per-caller`` (the default outside development): each caller gets the routes it holds
    some grant on (all of them for an administrator); without credentials, none (the probes
    and the credential schemes, so ``/docs`` can offer Authorize), and a route's own document
    is ``route-not-found`` to a caller who may not use it. ``public`` (the default in
    development): the whole table to anyone, as the API served it before."""

    # Completion webhooks (docs/webhooks.md): the API starts each delivery on this queue.
    callback_task_queue: str = DEFAULT_TASK_QUEUE
    """The gateway's own queue, polled by the worker's delivery workflow
    (``WORKER_CALLBACK_TASK_QUEUE``), so deliveries never wait behind a route's workflows."""
    callback_retry_initial_seconds: float = Field(default=5.0, gt=0)
    """The first retry's delay; doubled (``callback_retry_backoff``) after each failure."""
    callback_retry_backoff: float = Field(default=2.0, ge=1)
    callback_retry_max_interval_seconds: float = Field(default=600.0, gt=0)
    """Ten minutes: a receiver that is down for hours still gets an attempt every ten."""
    callback_retry_max_total_seconds: float = Field(default=86400.0, gt=0)
    """A day of retries, then the delivery gives up (and can be redelivered)."""
    callback_attempt_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    """One attempt's HTTP deadline: a receiver should acknowledge, then do its work."""
    callback_redeliver_window_seconds: float = Field(default=7 * 86400.0, ge=0)
    """How long after the delivery ``POST …/callbacks/redeliver`` works (the delivery workflow
    stays open, a timer, until then)."""
    callback_max_redeliveries: int = Field(default=20, ge=0)
    """Redeliveries of one callback in all: a receiver that lost a delivery needs one or two;
    without a cap a caller could have the gateway post to the URL without end (each redelivery
    is also history the delivery workflow carries)."""
    callback_redeliver_min_interval_seconds: float = Field(default=60.0, ge=0)
    """The least time between two redeliveries of one callback (refused sooner with 429 and
    ``Retry-After``): a minute is nothing to a receiver recovering a lost delivery, and turns a
    loop of calls into one POST a minute."""
    callback_resolve_timeout_seconds: float = Field(default=5.0, gt=0)
    """The request-time DNS check's deadline."""

    # Payload codecs (docs/codecs.md): named here by the platform team, chosen by routes.
    codecs: dict[CodecName, CodecSettings] = Field(default_factory=dict)
    """JSON: codec name → ``{"import": "module:factory"}`` (a Python ``PayloadCodec``) or
    ``{"endpoint": "https://…", "authorization_file": …, "ca_file": …, "timeout_seconds": 5}``
    (a codec server). None by default: payloads are plain unless the platform team says how
    they are encoded, and a route can only pick among these names."""
    namespace_codecs: dict[str, CodecName] = Field(default_factory=dict)
    """JSON: Temporal namespace → codec name, the codec of every route in that namespace that
    names none (``spec.codec``; ``none`` opts out). Empty: routes without ``codec`` are plain."""

    @property
    def body_limits(self) -> BodyLimits:
        return BodyLimits(
            max_bytes=self.max_body_bytes,
            max_depth=self.max_json_depth,
            max_string_length=self.max_json_string_length,
            max_items=self.max_json_items,
        )

    @property
    def openapi_per_caller(self) -> bool:
        access = self.openapi_access
        if access is None:
            access = "public" if self.environment == "development" else "per-caller"
        return access == "per-caller"

    @field_validator("jwt_algorithms", mode="before")
    @classmethod
    def _split_algorithms(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(a.strip() for a in value.split(",") if a.strip())
        return value

    @field_validator("routes_namespaces", mode="before")
    @classmethod
    def _split_namespaces(cls, value: object) -> object:
        if isinstance(value, str):
            return [ns.strip() for ns in value.split(",") if ns.strip()]
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(o.strip() for o in value.split(",") if o.strip())
        return value

    @field_validator("jwt_algorithms")
    @classmethod
    def _asymmetric_only(cls, value: frozenset[str]) -> frozenset[str]:
        if not value or not value <= JWT_ALGORITHMS:
            raise ValueError(f"allowed: {', '.join(sorted(JWT_ALGORITHMS))}")
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(p.strip() for p in value.split(",") if p.strip())
        return value

    @field_validator("rate_limit", "rate_limit_global", "rate_limit_auth_failures")
    @classmethod
    def _quota(cls, value: str) -> str:
        parse_quota(value)
        return value

    @model_validator(mode="after")
    def _codec_names(self) -> ApiSettings:
        check_names(self.codecs, "API_CODECS")
        for namespace, name in self.namespace_codecs.items():
            if name not in self.codecs:
                raise ValueError(
                    f"API_NAMESPACE_CODECS: {namespace}: no codec {name!r} in API_CODECS"
                )
        return self

    @model_validator(mode="after")
    def _authentication(self) -> ApiSettings:
        if (self.jwt_issuer is None) != (self.jwt_audience is None):
            raise ValueError("API_JWT_ISSUER and API_JWT_AUDIENCE go together: set both")
        if self.auth_disabled:
            if self.environment != "development":
                raise ValueError(
                    "API_AUTH_DISABLED=true is only allowed with API_ENVIRONMENT=development"
                )
        elif self.keys_file is None and self.jwt_issuer is None:
            raise ValueError(
                "no authentication configured: set API_KEYS_FILE and/or API_JWT_ISSUER with "
                "API_JWT_AUDIENCE (or, for local development only, API_ENVIRONMENT=development "
                "with API_AUTH_DISABLED=true)"
            )
        return self

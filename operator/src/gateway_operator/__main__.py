"""``python -m gateway_operator``: run the operator (kopf standalone: no kopf peering; replicas
elect a leader on a Lease, :mod:`gateway_operator.leader`)."""

from __future__ import annotations

import kopf

import gateway_operator.handlers  # noqa: F401  (registers the kopf handlers)
from gateway_core.logging import configure_logging
from gateway_core.metrics import serve_metrics
from gateway_core.telemetry import configure_tracing
from gateway_operator.config import OperatorSettings


def main() -> None:
    settings = OperatorSettings()
    configure_logging(service="operator", level=settings.log_level, fmt=settings.log_format)
    if settings.metrics_port:
        serve_metrics(settings.metrics_port, settings.metrics_host)
    configure_tracing("temporal-gateway-operator")  # for trace ids in logs; kopf has no spans
    kopf.run(
        standalone=True,
        clusterwide=not settings.namespaces,
        namespaces=settings.namespaces,
        memo=kopf.Memo(settings=settings),
        liveness_endpoint=(
            f"http://0.0.0.0:{settings.health_port}/healthz" if settings.health_port else None
        ),
        registry=kopf.get_default_registry(),
    )


if __name__ == "__main__":
    main()

"""The API's route table from the cluster (``API_ROUTES_SOURCE=kubernetes``): the WorkflowRoutes
the operator accepted, listed and watched through the Kubernetes API
(:mod:`gateway_core.routes.cluster`, shared with the worker), into the :class:`RouteStore`,
with the API's metrics: the CPU of each update, accepted routes this API cannot serve, and
(through the store) whether the source is reachable."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gateway_api import metrics
from gateway_core.routes import cluster
from gateway_core.routes.cluster import (
    Gone,
    Interner,
    KubeConfig,
    KubeConfigError,
    load_config,
)

from . import RouteStore

__all__ = ["ClusterRoutes", "Gone", "Interner", "KubeConfig", "KubeConfigError", "load_config"]


def _unservable(_key: str, _error: str) -> None:
    metrics.ROUTE_TABLE_LOADS.labels(result="failure").inc()


class ClusterRoutes(cluster.ClusterRoutes):
    """:class:`gateway_core.routes.cluster.ClusterRoutes` into ``store``, counted in the API's
    metrics."""

    def __init__(
        self,
        store: RouteStore,
        config: KubeConfig,
        namespaces: Sequence[str] = (),
        **options: Any,
    ) -> None:
        super().__init__(
            store,
            config,
            namespaces,
            on_update=metrics.ROUTE_UPDATE_SECONDS.observe,
            on_unservable=_unservable,
            **options,
        )

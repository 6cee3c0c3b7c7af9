"""The operator's Kubernetes I/O: read routes and the table, write the table and statuses.

Everything the planner needs is observed here, and every write the plan asks for is done here;
nothing else in the operator talks to the API server (kopf aside, which watches for events).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.config.config_exception import ConfigException

from gateway_core.routes import API_GROUP
from gateway_operator.planner import ObservedRoute, StatusUpdate

VERSION = "v1alpha1"
PLURAL = "workflowroutes"
MANAGED_BY = {"app.kubernetes.io/managed-by": "temporal-gateway-operator"}


async def api_client() -> client.ApiClient:
    """In a pod, its service account; elsewhere, the kubeconfig (``KUBECONFIG``)."""
    try:
        config.load_incluster_config()  # type: ignore[no-untyped-call]
    except ConfigException:
        await config.load_kube_config()
    return client.ApiClient()


def _observed(item: dict[str, Any]) -> ObservedRoute:
    meta = item["metadata"]
    return ObservedRoute(
        namespace=meta["namespace"],
        name=meta["name"],
        generation=int(meta.get("generation", 1)),
        created=meta.get("creationTimestamp", ""),
        body={k: item[k] for k in ("apiVersion", "kind", "metadata", "spec") if k in item},
        status=item.get("status") or {},
    )


class Kube:
    def __init__(self, api: client.ApiClient) -> None:
        self._custom = client.CustomObjectsApi(api)
        self._core = client.CoreV1Api(api)

    async def list_routes(self, namespaces: Sequence[str]) -> list[ObservedRoute]:
        if not namespaces:
            found = await self._custom.list_cluster_custom_object(API_GROUP, VERSION, PLURAL)
            return [_observed(item) for item in found["items"]]
        routes: list[ObservedRoute] = []
        for namespace in namespaces:
            found = await self._custom.list_namespaced_custom_object(
                API_GROUP, VERSION, namespace, PLURAL
            )
            routes.extend(_observed(item) for item in found["items"])
        return routes

    async def read_table(self, namespace: str, name: str) -> dict[str, str] | None:
        try:
            found = await self._core.read_namespaced_config_map(name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return dict(found.data or {})

    async def write_table(self, namespace: str, name: str, data: dict[str, str]) -> None:
        body = client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name=name, namespace=namespace, labels=MANAGED_BY),
            data=data,
        )
        try:
            await self._core.replace_namespaced_config_map(name, namespace, body)
        except ApiException as exc:
            if exc.status != 404:
                raise
            await self._core.create_namespaced_config_map(namespace, body)

    async def patch_status(self, update: StatusUpdate) -> bool:
        """False when the route was deleted meanwhile (nothing to do)."""
        try:
            await self._custom.patch_namespaced_custom_object_status(
                API_GROUP,
                VERSION,
                update.namespace,
                PLURAL,
                update.name,
                {"status": update.status},
                # The generated client would send a JSON Patch; the body is a merge patch.
                _content_type="application/merge-patch+json",  # type: ignore[call-arg]
            )
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

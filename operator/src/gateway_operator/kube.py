"""The operator's Kubernetes I/O: list routes, write their statuses, hold the leader Lease.

Everything the planner needs is observed here, and every write the plan asks for is done here;
nothing else in the operator talks to the API server (kopf aside, which watches for events).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.config.config_exception import ConfigException

from gateway_core.routes import API_GROUP
from gateway_operator.planner import ObservedRoute, StatusUpdate


@dataclass(frozen=True)
class Lease:
    """A ``coordination.k8s.io`` Lease, as leader election reads and writes it."""

    holder: str
    renewed: datetime | None
    duration: int
    transitions: int
    version: str | None
    """``metadata.resourceVersion``: a write succeeds only over the version read."""
    acquired: bool = False
    """Set on the write that takes the lease (its ``acquireTime``)."""


VERSION = "v1alpha1"
PLURAL = "workflowroutes"


async def api_client() -> client.ApiClient:
    """In a pod, its service account; elsewhere, the kubeconfig (``KUBECONFIG``)."""
    try:
        config.load_incluster_config()  # type: ignore[no-untyped-call]
    except ConfigException:
        await config.load_kube_config()
    return client.ApiClient()


def observed(item: Mapping[str, Any]) -> ObservedRoute:
    """A WorkflowRoute as the planner sees it."""
    meta = item["metadata"]
    return ObservedRoute(
        namespace=meta["namespace"],
        name=meta["name"],
        generation=int(meta.get("generation", 1)),
        created=meta.get("creationTimestamp", ""),
        body={k: item[k] for k in ("apiVersion", "kind", "metadata", "spec") if k in item},
        status=dict(item.get("status") or {}),
    )


class Kube:
    def __init__(self, api: client.ApiClient) -> None:
        self._custom = client.CustomObjectsApi(api)
        self._leases = client.CoordinationV1Api(api)

    async def list_routes(self, namespaces: Sequence[str]) -> list[ObservedRoute]:
        if not namespaces:
            found = await self._custom.list_cluster_custom_object(API_GROUP, VERSION, PLURAL)
            return [observed(item) for item in found["items"]]
        routes: list[ObservedRoute] = []
        for namespace in namespaces:
            found = await self._custom.list_namespaced_custom_object(
                API_GROUP, VERSION, namespace, PLURAL
            )
            routes.extend(observed(item) for item in found["items"])
        return routes

    async def patch_status(self, update: StatusUpdate) -> bool:
        """False when the route was deleted meanwhile (nothing to do)."""
        try:
            response = await self._custom.patch_namespaced_custom_object_status(
                API_GROUP,
                VERSION,
                update.namespace,
                PLURAL,
                update.name,
                {"status": update.status},
                # The generated client would send a JSON Patch; the body is a merge patch.
                _content_type="application/merge-patch+json",  # type: ignore[call-arg]
                # The answer is not read: building its models would cost more than the write.
                _preload_content=False,
            )
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        response.release()  # back to the connection pool
        return True

    async def read_lease(self, namespace: str, name: str) -> Lease | None:
        """The Lease, None when there is none."""
        try:
            found = await self._leases.read_namespaced_lease(name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        spec = found.spec
        return Lease(
            holder=spec.holder_identity or "",
            renewed=spec.renew_time,
            duration=spec.lease_duration_seconds or 0,
            transitions=spec.lease_transitions or 0,
            version=found.metadata.resource_version,
        )

    async def write_lease(self, namespace: str, name: str, lease: Lease) -> bool:
        """Create or replace the Lease, guarded by the version read; False when another
        writer got there first."""
        body = client.V1Lease(
            metadata=client.V1ObjectMeta(
                name=name, namespace=namespace, resource_version=lease.version
            ),
            spec=client.V1LeaseSpec(
                holder_identity=lease.holder,
                lease_duration_seconds=lease.duration,
                renew_time=lease.renewed,
                acquire_time=lease.renewed if lease.acquired else None,
                lease_transitions=lease.transitions,
            ),
        )
        try:
            if lease.version is None:
                await self._leases.create_namespaced_lease(namespace, body)
            else:
                await self._leases.replace_namespaced_lease(name, namespace, body)
        except ApiException as exc:
            if exc.status == 409:  # a conflict: someone else wrote it since we read it
                return False
            raise
        return True

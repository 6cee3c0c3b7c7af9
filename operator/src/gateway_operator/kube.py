"""The operator's Kubernetes I/O: list routes and schedules, write their statuses (and the
schedules' finalizers), post events, hold the leader Lease.

Everything the planner needs is observed here, and every write the plan asks for is done here;
nothing else in the operator talks to the API server (kopf aside, which watches for events).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.config.config_exception import ConfigException

from gateway_core.routes import API_GROUP
from gateway_core.schedules import SCHEDULE_KIND, SCHEDULE_PLURAL
from gateway_operator.planner import ObservedRoute, StatusUpdate
from gateway_operator.schedules.planner import ObservedSchedule


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
        version=resource_version(meta),
    )


def resource_version(meta: Mapping[str, Any]) -> int:
    """An object's ``resourceVersion`` as a number; 0 when it is none (the API server's are
    etcd revisions, which only grow)."""
    value = meta.get("resourceVersion")
    return int(value) if isinstance(value, str) and value.isdigit() else 0


def observed_schedule(item: Mapping[str, Any]) -> ObservedSchedule:
    """A WorkflowSchedule as the schedule planner sees it."""
    meta = item["metadata"]
    return ObservedSchedule(
        namespace=meta["namespace"],
        name=meta["name"],
        generation=int(meta.get("generation", 1)),
        body={k: item[k] for k in ("apiVersion", "kind", "spec") if k in item},
        status=dict(item.get("status") or {}),
        finalizers=tuple(meta.get("finalizers") or ()),
        deleting=bool(meta.get("deletionTimestamp")),
        uid=str(meta.get("uid", "")),
    )


class Kube:
    def __init__(self, api: client.ApiClient) -> None:
        self._custom = client.CustomObjectsApi(api)
        self._leases = client.CoordinationV1Api(api)
        self._core = client.CoreV1Api(api)

    async def list_schedules(self, namespaces: Sequence[str]) -> list[ObservedSchedule]:
        if not namespaces:
            found = await self._custom.list_cluster_custom_object(
                API_GROUP, VERSION, SCHEDULE_PLURAL
            )
            return [observed_schedule(item) for item in found["items"]]
        schedules: list[ObservedSchedule] = []
        for namespace in namespaces:
            found = await self._custom.list_namespaced_custom_object(
                API_GROUP, VERSION, namespace, SCHEDULE_PLURAL
            )
            schedules.extend(observed_schedule(item) for item in found["items"])
        return schedules

    async def _merge_patch(
        self, namespace: str, name: str, body: dict[str, Any], *, status: bool
    ) -> bool:
        patch = (
            self._custom.patch_namespaced_custom_object_status
            if status
            else self._custom.patch_namespaced_custom_object
        )
        try:
            response = await patch(
                API_GROUP, VERSION, namespace, SCHEDULE_PLURAL, name, body,
                _content_type="application/merge-patch+json",  # type: ignore[call-arg]
                _preload_content=False,
            )  # fmt: skip
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        response.release()
        return True

    async def patch_schedule_status(self, obs: ObservedSchedule, status: dict[str, Any]) -> bool:
        """Merge ``status`` in (None removes a field); False when the resource is gone."""
        return await self._merge_patch(obs.namespace, obs.name, {"status": status}, status=True)

    async def set_finalizers(self, obs: ObservedSchedule, finalizers: Sequence[str]) -> bool:
        """Replace the resource's finalizers (a merge patch replaces the list whole, so the
        ones it had are passed back), guarded by nothing else: only the operator sets them."""
        body = {"metadata": {"finalizers": list(finalizers)}}
        return await self._merge_patch(obs.namespace, obs.name, body, status=False)

    async def post_event(self, obs: ObservedSchedule, kind: str, reason: str, message: str) -> None:
        """A Kubernetes event about the WorkflowSchedule (``kubectl describe wfs`` shows it)."""
        now = datetime.now(UTC)
        event = client.CoreV1Event(
            metadata=client.V1ObjectMeta(generate_name=f"{obs.name}.", namespace=obs.namespace),
            involved_object=client.V1ObjectReference(
                api_version=f"{API_GROUP}/{VERSION}",
                kind=SCHEDULE_KIND,
                name=obs.name,
                namespace=obs.namespace,
                uid=obs.uid or None,
            ),
            reason=reason,
            message=message[:1024],
            type=kind,
            first_timestamp=now,
            last_timestamp=now,
            count=1,
            source=client.V1EventSource(component="temporal-gateway-operator"),
            reporting_component="temporal-gateway-operator",
        )
        await self._core.create_namespaced_event(obs.namespace, event)

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

    async def patch_status(self, update: StatusUpdate) -> int | None:
        """The route's ``resourceVersion`` once written (:func:`resource_version`); None when
        it was deleted meanwhile (nothing to do)."""
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
                # The answer is read as bytes only: building its models would cost more than
                # the write.
                _preload_content=False,
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        # Read to its end, so the connection goes back to the pool: released unread, aiohttp
        # closes it, and every write paid a TLS handshake (1,258 for 2,000 writes).
        written = await response.read()
        response.release()
        return resource_version(json.loads(written).get("metadata") or {})

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

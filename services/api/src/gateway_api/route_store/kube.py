"""The route table from the cluster: WorkflowRoutes listed and watched through the Kubernetes API.

The operator judges each route and writes its verdict in the ``Accepted`` condition; this
module serves a route's spec once that condition is True for the spec's generation
(:func:`gateway_core.routes.status.verdict`), drops it once it is False or the route is
deleted, and, while a changed spec waits for the operator, keeps serving the spec it last
accepted. Each change recompiles only the routes it touches (without the meta-schema check the
operator already made) and swaps a table built from the last one (:meth:`RouteTable.changed`),
so a change costs the same with 2 routes or 2,000. Events arriving together are merged.

While the API server cannot be reached, the last good table stays in service, ``/readyz``
says so (``routes_current: false``) and ``temporal_gateway_route_source_up`` is 0; the watch
retries with backoff and lists again, catching up on everything it missed.

The client is a few HTTP calls on httpx, which the API already uses: list (paged) and watch,
as the API server documents them. Kubernetes' Python clients would add 40 MiB and half a second
of imports to every pod for these two calls. Credentials are the pod's ServiceAccount
(its token re-read at every connection, as Kubernetes rotates it), or a kubeconfig
(``KUBECONFIG``) with a token or a client certificate, for running outside a pod.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import ssl
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import structlog
import yaml
from pydantic import ValidationError

from gateway_api import metrics
from gateway_core.errors import RouteConfigError
from gateway_core.routes import (
    API_GROUP,
    EMPTY,
    CompiledRoute,
    RouteTable,
    WorkflowRoute,
    compile_route,
)
from gateway_core.routes.status import ACCEPTED, Verdict, condition, verdict

from . import RouteStore

log = structlog.get_logger(__name__)

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
PLURAL = "workflowroutes"
VERSION = "v1alpha1"
LIST_PAGE = 100
"""Routes per page of a list: each page is slimmed (:func:`_slim`) before the next is read, so
listing 2,000 routes never holds more than a page of whole objects (their managed fields and
statuses are as large as their specs)."""
WATCH_SECONDS = 60
"""How long one watch request lasts (the server ends it; the next resumes where it ended):
short, so a connection that died silently is noticed within about this long."""


class KubeConfigError(Exception):
    """No usable Kubernetes credentials."""


@dataclass(frozen=True)
class KubeConfig:
    server: str
    ssl: ssl.SSLContext | bool
    token: Callable[[], str | None] = field(default=lambda: None)
    """The bearer token for the next request (read again each time: tokens rotate)."""


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8").strip()


def _file_or_data(entry: Mapping[str, Any], name: str, base: Path) -> str | None:
    """A kubeconfig's ``name`` (a path) or ``name-data`` (base64) as a file path."""
    if entry.get(f"{name}-data"):
        data = base64.b64decode(entry[f"{name}-data"])
        with tempfile.NamedTemporaryFile(delete=False, suffix=".pem") as out:
            out.write(data)
        return out.name
    if entry.get(name):
        return str(base / entry[name])
    return None


def load_config(env: Mapping[str, str] | None = None) -> KubeConfig:
    """In a pod, its ServiceAccount; elsewhere the current context of ``KUBECONFIG``.

    Raises:
        KubeConfigError: neither is there, or the kubeconfig asks for what is not supported
            here (an exec plugin).
    """
    env = os.environ if env is None else env
    host, port = env.get("KUBERNETES_SERVICE_HOST"), env.get("KUBERNETES_SERVICE_PORT")
    if host and port and (SERVICE_ACCOUNT / "token").exists():
        context = ssl.create_default_context(cafile=str(SERVICE_ACCOUNT / "ca.crt"))
        server = f"https://{f'[{host}]' if ':' in host else host}:{port}"
        return KubeConfig(server, context, lambda: _read(SERVICE_ACCOUNT / "token"))
    if not env.get("KUBECONFIG"):
        raise KubeConfigError("not in a pod, and KUBECONFIG is not set")
    path = Path(env["KUBECONFIG"].split(os.pathsep)[0])
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    name = config.get("current-context")
    context_entry = next(c["context"] for c in config["contexts"] if c["name"] == name)
    cluster = next(
        c["cluster"] for c in config["clusters"] if c["name"] == context_entry["cluster"]
    )
    users = {u["name"]: u["user"] for u in config.get("users", [])}
    user = users.get(context_entry.get("user"), {})
    if "exec" in user or "auth-provider" in user:
        raise KubeConfigError("kubeconfig exec plugins and auth providers are not supported")
    base = path.parent
    verify: ssl.SSLContext | bool
    if cluster.get("insecure-skip-tls-verify"):
        verify = False
    else:
        verify = ssl.create_default_context(
            cafile=_file_or_data(cluster, "certificate-authority", base)
        )
        cert = _file_or_data(user, "client-certificate", base)
        if cert:
            verify.load_cert_chain(cert, _file_or_data(user, "client-key", base))
    token: Callable[[], str | None] = lambda: None  # noqa: E731
    if user.get("token"):
        token = lambda: user["token"]  # noqa: E731
    elif user.get("tokenFile"):
        token = lambda: _read(base / user["tokenFile"])  # noqa: E731
    return KubeConfig(cluster["server"].rstrip("/"), verify, token)


class Gone(Exception):
    """410: the resource version to resume from is too old; list again."""


@dataclass
class _Served:
    uid: str
    generation: int
    created: str
    route: CompiledRoute


class ClusterRoutes:
    """Follows the WorkflowRoutes of ``namespaces`` (every namespace when empty) into
    ``store``; :meth:`run` until cancelled."""

    def __init__(
        self,
        store: RouteStore,
        config: KubeConfig,
        namespaces: Sequence[str] = (),
        *,
        merge_seconds: float = 0.05,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._store = store
        self._config = config
        self._transport = transport  # tests: a fake API server
        self._scopes: list[str | None] = [*namespaces] or [None]
        self._merge = merge_seconds
        self._served: dict[str, _Served] = {}
        self._waiting: dict[str, _Served] = {}  # accepted, but the table refused it for now
        self._pending: dict[str, Mapping[str, Any] | None] = {}  # by key: object, or deleted
        self._listed: set[str | None] = set()
        self._changed = asyncio.Event()
        self._errors: dict[str | None, str] = {}

    def _url(self, namespace: str | None) -> str:
        where = f"/namespaces/{namespace}" if namespace else ""
        return f"{self._config.server}/apis/{API_GROUP}/{VERSION}{where}/{PLURAL}"

    def _headers(self) -> dict[str, str]:
        token = self._config.token()
        return {"Authorization": f"Bearer {token}"} if token else {}

    async def run(self) -> None:
        async with httpx.AsyncClient(
            verify=self._config.ssl,
            timeout=httpx.Timeout(10.0, read=WATCH_SECONDS + 30),
            trust_env=False,
            transport=self._transport,
        ) as http:
            await asyncio.gather(self._apply_loop(), *(self._follow(http, s) for s in self._scopes))

    async def _follow(self, http: httpx.AsyncClient, scope: str | None) -> None:
        """List, then watch from the list's version; on any failure, back off and list again."""
        delay = 0.5
        while True:
            try:
                version = await self._list(http, scope)
                self._set_error(scope, None)
                delay = 0.5
                while True:
                    version = await self._watch(http, scope, version)
            except asyncio.CancelledError:
                raise
            except Gone:
                log.info("route watch expired; listing again", namespace=scope)
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                self._set_error(scope, error)
                log.warning("cannot follow WorkflowRoutes; serving the last good table",
                            namespace=scope, error=error, retry_in=round(delay, 1))  # fmt: skip
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))  # noqa: S311
                delay = min(delay * 2, 30.0)

    def _set_error(self, scope: str | None, error: str | None) -> None:
        if error is None:
            self._errors.pop(scope, None)
        else:
            self._errors[scope] = error
        self._store.set_source_error(
            "; ".join(f"{s or 'all namespaces'}: {e}" for s, e in self._errors.items()) or None
        )

    async def _list(self, http: httpx.AsyncClient, scope: str | None) -> str:
        items: dict[str, Mapping[str, Any]] = {}
        params: dict[str, str | int] = {"limit": LIST_PAGE}
        while True:
            response = await http.get(self._url(scope), params=params, headers=self._headers())
            response.raise_for_status()
            page = response.json()
            del response  # its body, as the page is slimmed
            for item in page.get("items", []):
                items[_key(item)] = _slim(item)
            follow = page["metadata"].get("continue")
            if not follow:
                break
            params = {"limit": LIST_PAGE, "continue": follow}
        # What the list no longer has was deleted while we were not watching.
        for key in self._served.keys() | self._waiting.keys():
            if _in_scope(key, scope) and key not in items:
                self._pending[key] = None
        for key, item in items.items():
            self._pending[key] = item
        self._listed.add(scope)
        self._changed.set()
        return str(page["metadata"]["resourceVersion"])

    async def _watch(self, http: httpx.AsyncClient, scope: str | None, version: str) -> str:
        params = {
            "watch": "true",
            "resourceVersion": version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(WATCH_SECONDS),
        }
        async with http.stream(
            "GET", self._url(scope), params=params, headers=self._headers()
        ) as response:
            if response.status_code == 410:  # (usually an ERROR event, below)
                raise Gone
            response.raise_for_status()
            async for event in _events(response):
                kind, obj = event.get("type"), event.get("object") or {}
                if kind == "ERROR":
                    if obj.get("code") == 410:
                        raise Gone
                    raise RuntimeError(f"watch error: {obj.get('message')}")
                version = obj.get("metadata", {}).get("resourceVersion", version)
                if kind == "BOOKMARK":
                    continue
                self._pending[_key(obj)] = None if kind == "DELETED" else _slim(obj)
                self._changed.set()
        return version

    async def _apply_loop(self) -> None:
        while True:
            await self._changed.wait()
            await asyncio.sleep(self._merge)  # let the rest of a burst arrive
            self._changed.clear()
            if len(self._listed) < len(self._scopes):
                continue  # the first table waits for every scope's list
            pending, self._pending = self._pending, {}
            self.apply(pending)
            # The objects as listed (a list of 2,000 is tens of megabytes of parsed JSON):
            # not kept by this frame while it waits for the next event.
            del pending

    def apply(self, pending: Mapping[str, Mapping[str, Any] | None]) -> None:
        """Turn objects as they are now (None: deleted) into a new table, if anything served
        changes."""
        started = time.thread_time()
        upserts: dict[str, _Served] = {}
        removals: set[str] = set()
        for key, obj in pending.items():
            served = self._served.get(key) or self._waiting.get(key)
            said = Verdict.REFUSED if obj is None else verdict(obj)
            if said is Verdict.PENDING:
                continue  # the operator has not judged this spec yet: keep what we serve
            if said is Verdict.REFUSED:
                self._waiting.pop(key, None)
                if key in self._served:
                    removals.add(key)
                continue
            assert obj is not None
            meta = obj["metadata"]
            stamp = (meta.get("uid", ""), int(meta.get("generation", 1)))
            if served is not None and (served.uid, served.generation) == stamp:
                continue
            compiled = _compile(obj, key)
            if compiled is None:
                continue
            upserts[key] = _Served(stamp[0], stamp[1], meta.get("creationTimestamp", ""), compiled)
        if not upserts and not removals and not self._waiting and self._store.table is not None:
            return
        table = self._store.table or EMPTY
        replaced = removals | (upserts.keys() & self._served.keys())
        # A path leaves the table only with the route serving it: never another's.
        gone = {
            served.route.spec.path
            for served in (self._served.pop(k) for k in replaced)
            if table.get(served.route.spec.path) is served.route
        }
        table = table.changed(removals=gone)
        table = self._add(table, {**self._waiting, **upserts})
        if self._store.table is None or table.version != self._store.table.version:
            self._store.swap(table, changed=len(upserts) + len(removals))
        metrics.ROUTE_UPDATE_SECONDS.observe(time.thread_time() - started)

    def _add(self, table: RouteTable, candidates: dict[str, _Served]) -> RouteTable:
        """``table`` with every candidate it can take; those whose path or id prefix a route
        still served holds wait (the operator is moving it from one to the other, and the
        event of the other's change or deletion will free it). A candidate never takes a
        path from another route, though :meth:`RouteTable.changed` would let it."""
        self._waiting = {}
        paths = [c.route.spec.path for c in candidates.values()]
        if len(set(paths)) == len(paths) and not any(table.get(p) for p in paths):
            try:
                grown = table.changed(c.route for c in candidates.values())
            except RouteConfigError:
                pass  # rare (mid-handover): one at a time, below
            else:
                self._served.update(candidates)
                return grown
        for key, candidate in sorted(candidates.items(), key=lambda kv: _age(kv[1])):
            holder = table.get(candidate.route.spec.path)
            try:
                if holder is None:
                    table = table.changed([candidate.route])
            except RouteConfigError as exc:
                reason = str(exc)
            else:
                if holder is None:
                    self._served[key] = candidate
                    continue
                reason = f"path {holder.spec.path!r} is still served by route {holder.name!r}"
            self._waiting[key] = candidate
            log.info("route waits for the operator", route=key, reason=reason)
        return table


def _age(served: _Served) -> tuple[str, str, str]:
    """Oldest first, as the operator decides conflicts."""
    return (served.created, served.route.namespace, served.route.name)


def _slim(obj: Mapping[str, Any]) -> dict[str, Any]:
    """What :meth:`ClusterRoutes.apply` reads of an object: its identity, its ``Accepted``
    condition, and its spec only when that is accepted. Managed fields, other conditions and
    the specs not to be served are dropped as soon as they are read."""
    meta = obj.get("metadata") or {}
    slim: dict[str, Any] = {
        "metadata": {k: meta[k] for k in _IDENTITY if k in meta},
        "status": {"conditions": [c] if (c := condition(obj, ACCEPTED)) else []},
    }
    if verdict(obj) is Verdict.ACCEPTED:
        slim |= {k: obj[k] for k in ("apiVersion", "kind", "spec") if k in obj}
    return slim


_IDENTITY = ("name", "namespace", "uid", "generation", "creationTimestamp", "resourceVersion")


def _key(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata", {})
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def _in_scope(key: str, scope: str | None) -> bool:
    return scope is None or key.startswith(f"{scope}/")


def _compile(obj: Mapping[str, Any], key: str) -> CompiledRoute | None:
    document = {k: obj[k] for k in ("apiVersion", "kind", "spec") if k in obj}
    meta = obj["metadata"]
    document["metadata"] = {"name": meta["name"], "namespace": meta.get("namespace", "default")}
    try:
        route = WorkflowRoute.model_validate(document)
        # The operator checked the schemas against the meta-schema when it accepted them.
        return compile_route(route, source=key, check_schemas=False)
    except (ValidationError, RouteConfigError) as exc:
        # Accepted by an operator that reads routes differently (a version skew): say so.
        metrics.ROUTE_TABLE_LOADS.labels(result="failure").inc()
        log.error("accepted route cannot be served", route=key, error=str(exc))
        return None


async def _events(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    async for line in response.aiter_lines():
        if line.strip():
            yield json.loads(line)

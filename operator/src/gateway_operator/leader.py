"""Leader election on a ``coordination.k8s.io`` Lease, as client-go's leaderelection does it.

Two or more operator replicas run; every one watches and keeps its routes in memory, and only
the holder of the Lease writes statuses. The holder renews the Lease every ``retry`` seconds;
another replica takes it once it has not been renewed for ``duration`` seconds (a holder that
was killed, or cut off). A holder that has not renewed within ``renew_deadline`` (shorter than
``duration``) stops writing before anyone else may start, so two replicas never write at once.
On a clean stop the holder gives the Lease up, and a standby takes it within ``retry`` seconds.

Writes are guarded by the Lease's ``resourceVersion``: of two replicas racing for a free or
expired Lease, the API server lets one write win and refuses the other (409).

Times are the local clock's: a replica only compares ``renewTime`` values it has seen change
(as client-go does), never its clock with another's.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import structlog

from gateway_operator import metrics
from gateway_operator.kube import Kube, Lease

log = structlog.get_logger(__name__)


def identity() -> str:
    """The pod's name (``HOSTNAME`` in a pod) and a random suffix, unique per process."""
    return f"{os.environ.get('HOSTNAME', 'operator')}-{uuid.uuid4().hex[:8]}"


class Leadership:
    def __init__(
        self,
        kube: Kube,
        namespace: str,
        name: str,
        *,
        duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry: float = 2.0,
        on_change: Callable[[bool], None] = lambda _leading: None,
        me: str | None = None,
    ) -> None:
        self._kube = kube
        self._namespace = namespace
        self._name = name
        self._duration = duration
        self._renew_deadline = renew_deadline
        self._retry = retry
        self._on_change = on_change
        self.identity = me or identity()
        self._renewed_at: float | None = None  # monotonic: our last successful write
        self._observed: tuple[str, str | None] | None = None  # (holder, renewTime) last seen
        self._observed_at = 0.0  # monotonic: when that last changed

    @property
    def leading(self) -> bool:
        """True while our last renewal is recent enough that nobody else may hold the Lease."""
        return (
            self._renewed_at is not None
            and time.monotonic() - self._renewed_at < self._renew_deadline
        )

    async def run(self) -> None:
        """Acquire, then renew, every ``retry`` seconds; until cancelled."""
        was = False
        while True:
            try:
                await self._try()
            except Exception:  # the API server may be briefly unreachable
                log.warning("leader election: could not reach the Lease", exc_info=True)
            now = self.leading
            if now != was:
                was = now
                metrics.LEADER.set(1 if now else 0)
                log.info(
                    "leading" if now else "not leading",
                    identity=self.identity,
                    lease=f"{self._namespace}/{self._name}",
                )
                self._on_change(now)
            await asyncio.sleep(self._retry)

    async def _try(self) -> None:
        lease = await self._kube.read_lease(self._namespace, self._name)
        stamp = datetime.now(UTC)
        if lease is not None:
            seen = (lease.holder, lease.renewed.isoformat() if lease.renewed else None)
            if seen != self._observed:
                self._observed, self._observed_at = seen, time.monotonic()
            mine = lease.holder == self.identity
            expired = time.monotonic() - self._observed_at >= lease.duration
            if not mine and lease.holder and not expired:
                self._renewed_at = None
                return
            taken = Lease(
                holder=self.identity,
                renewed=stamp,
                duration=round(self._duration),
                transitions=lease.transitions + (0 if mine else 1),
                version=lease.version,
                acquired=not mine,
            )
        else:
            taken = Lease(self.identity, stamp, round(self._duration), 0, None, acquired=True)
        attempt = time.monotonic()
        if await self._kube.write_lease(self._namespace, self._name, taken):
            self._renewed_at = attempt
            self._observed = (self.identity, stamp.isoformat())
            self._observed_at = attempt
        else:
            self._renewed_at = None

    async def release(self) -> None:
        """Give the Lease up (on a clean stop), so a standby need not wait for it to expire."""
        if not self.leading:
            return
        self._renewed_at = None
        lease = await self._kube.read_lease(self._namespace, self._name)
        if lease is None or lease.holder != self.identity:
            return
        released = Lease("", lease.renewed, 1, lease.transitions, lease.version)
        await self._kube.write_lease(self._namespace, self._name, released)
        log.info("leadership released", identity=self.identity)

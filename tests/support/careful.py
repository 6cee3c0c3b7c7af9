"""A careful client, as the fault tests need one: every logical request has its own
Idempotency-Key and is retried with that same key until it gets a 2xx, honouring Retry-After,
over one or several API replicas. Everything it saw is recorded, so a test can count what was
sent, what was acknowledged, and how quickly errors came back during an outage."""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

RETRYABLE = frozenset({429, 502, 503, 504})
"""What a careful client retries; a 500 is a bug, never retried, and fails the test."""


@dataclass
class Answer:
    status: int  # 0: no HTTP answer (connection refused or reset)
    seconds: float
    at: float
    """``time.monotonic()`` when the answer arrived."""


@dataclass
class Tally:
    """What one load run saw."""

    sent: int = 0
    acknowledged: dict[str, str] = field(default_factory=dict)
    """Idempotency-Key → the workflow id the 2xx named."""
    answers: list[Answer] = field(default_factory=list)
    unfinished: list[str] = field(default_factory=list)
    """Keys that got no 2xx within the deadline: a hang past the bound."""
    server_errors: list[str] = field(default_factory=list)

    def errors_between(self, start: float, end: float) -> list[Answer]:
        return [a for a in self.answers if start <= a.at <= end and a.status != 200 and a.status]

    def summary(self, workflows: int, duplicates: int, start: float, end: float) -> dict[str, Any]:
        during = self.errors_between(start, end)
        lost = len(self.acknowledged) - workflows if workflows < len(self.acknowledged) else 0
        return {
            "sent": self.sent,
            "2xx": len(self.acknowledged),
            "workflows": workflows,
            "duplicates": duplicates,
            "lost": lost,
            "unfinished": len(self.unfinished),
            "500s": len(self.server_errors),
            "outage answers": len(during),
            "outage p50 ms": round(statistics.median(a.seconds for a in during) * 1000, 1)
            if during
            else None,
            "outage max ms": round(max(a.seconds for a in during) * 1000, 1) if during else None,
        }


class CarefulLoad:
    """``clients`` loops, each sending one logical request after another until stopped.

    Args:
        urls: API base URLs; a request that gets no answer moves on to the next one.
        path: the start to call (``/workflows/<route>/async``, or the sync start).
        body: the workflow input.
        deadline: seconds a logical request may take, retries included, before it counts as
            unfinished.
    """

    def __init__(
        self,
        urls: Sequence[str],
        path: str,
        body: dict[str, Any],
        *,
        clients: int = 4,
        deadline: float = 90.0,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.urls = list(urls)
        self.path = path
        self.body = body
        self.clients = clients
        self.deadline = deadline
        self.headers = headers or {}
        self.tally = Tally()
        self.run_id = uuid.uuid4().hex[:8]
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> CarefulLoad:
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=2.0))
        self._tasks = [asyncio.create_task(self._loop(n)) for n in range(self.clients)]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)
        await self._http.aclose()

    async def acknowledged(self, count: int, timeout: float = 60.0) -> None:
        """Wait until ``count`` more requests have been acknowledged (a positive signal that
        the load is flowing)."""
        target = len(self.tally.acknowledged) + count
        deadline = time.monotonic() + timeout
        while len(self.tally.acknowledged) < target:
            assert time.monotonic() < deadline, f"load stalled: {self.tally.summary(0, 0, 0, 0)}"
            await asyncio.sleep(0.05)

    async def _loop(self, n: int) -> None:
        i = 0
        while not self._stop.is_set():
            i += 1
            await self._one(f"{self.run_id}-{n}-{i}", n)

    async def _one(self, key: str, n: int) -> None:
        tally = self.tally
        tally.sent += 1
        give_up = time.monotonic() + self.deadline
        replica = n % len(self.urls)
        headers = {**self.headers, "Idempotency-Key": key}
        while time.monotonic() < give_up:
            started = time.monotonic()
            url = self.urls[replica] + self.path
            try:
                response = await self._http.post(url, json=self.body, headers=headers)
            except httpx.TransportError:
                tally.answers.append(Answer(0, time.monotonic() - started, time.monotonic()))
                replica = (replica + 1) % len(self.urls)  # that replica is gone: try another
                await asyncio.sleep(0.2)
                continue
            tally.answers.append(
                Answer(response.status_code, time.monotonic() - started, time.monotonic())
            )
            if response.status_code in (200, 202):
                workflow_id = response.json()["workflow_id"]
                if response.status_code == 202 and "location" in response.headers:
                    await self._poll(self.urls[replica] + response.headers["location"], give_up)
                tally.acknowledged[key] = workflow_id
                return
            if response.status_code >= 500 and response.status_code not in RETRYABLE:
                tally.server_errors.append(f"{response.status_code} {response.text}")
                return
            if response.status_code not in RETRYABLE:
                raise AssertionError(f"unexpected {response.status_code}: {response.text}")
            retry_after = float(response.headers.get("retry-after", "1"))
            await asyncio.sleep(min(retry_after, max(0.0, give_up - time.monotonic())))
        tally.unfinished.append(key)

    async def _poll(self, location: str, give_up: float) -> None:
        """Follow a 202's Location until the workflow's result is there."""
        while time.monotonic() < give_up:
            try:
                response = await self._http.get(location)
            except httpx.TransportError:
                await asyncio.sleep(0.2)
                continue
            if response.status_code == 200:
                return
            assert response.status_code in (202, *RETRYABLE), response.text
            await asyncio.sleep(float(response.headers.get("retry-after", "1")))

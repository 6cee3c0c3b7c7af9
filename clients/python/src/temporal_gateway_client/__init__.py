"""Python client for the temporal-gateway HTTP API.

The seed guide's ``TemporalAPIClient`` with its three methods, on httpx, with timeouts on every
call and one exception per kind of problem the API reports::

    from temporal_gateway_client import TemporalAPIClient

    with TemporalAPIClient() as client:
        print(client.trigger_shopping_workflow_sync([{"fruit": "APPLE", "amount": 5}])["result"])
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

__all__ = [
    "GatewayError",
    "GatewayUnavailable",
    "InvalidRequest",
    "TemporalAPIClient",
    "WorkflowFailed",
    "WorkflowNotFound",
    "WorkflowStillRunning",
]

DEFAULT_BASE_URL = "http://localhost:8000"


class GatewayError(Exception):
    """The API answered with an error (a problem+json document), or not at all.

    Attributes:
        status: HTTP status, 0 when no response arrived.
        code: the problem's stable ``code`` (``"validation-error"``, ``"workflow-failed"``...).
        problem: the whole problem document.
        workflow_id: the workflow concerned, when the API named one.
    """

    def __init__(self, message: str, *, status: int = 0, problem: Mapping[str, Any] | None = None):
        super().__init__(message)
        self.status = status
        self.problem: dict[str, Any] = dict(problem or {})
        self.code: str = str(self.problem.get("code", "unknown"))
        self.workflow_id: str | None = self.problem.get("workflow_id")


class InvalidRequest(GatewayError):
    """The request was refused as invalid (4xx); ``errors`` names each bad field."""

    @property
    def errors(self) -> list[dict[str, str]]:
        return list(self.problem.get("errors", []))


class WorkflowNotFound(GatewayError):
    """No workflow (or route) with that name."""


class WorkflowFailed(GatewayError):
    """The workflow failed, timed out, or was canceled or terminated."""

    @property
    def failure_type(self) -> str | None:
        return self.problem.get("failure_type")


class GatewayUnavailable(GatewayError):
    """The API or the Temporal behind it is unreachable; try again after ``retry_after``."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 0,
        problem: Mapping[str, Any] | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(message, status=status, problem=problem)
        self.retry_after = retry_after


class WorkflowStillRunning(GatewayError, TimeoutError):
    """``wait_for_workflow`` gave up before the workflow finished; it is still running."""


_FAILURE_CODES = {
    "workflow-failed",
    "workflow-timed-out",
    "workflow-canceled",
    "workflow-terminated",
}


def _error_for(response: httpx.Response) -> GatewayError:
    try:
        problem = response.json()
    except ValueError:
        problem = {}
    if not isinstance(problem, dict):
        problem = {}
    code = problem.get("code", "")
    message = f"{response.status_code} {problem.get('title', response.reason_phrase)}"
    if problem.get("detail"):
        message += f": {problem['detail']}"
    status = response.status_code
    if code in _FAILURE_CODES:
        return WorkflowFailed(message, status=status, problem=problem)
    if status == 404:
        return WorkflowNotFound(message, status=status, problem=problem)
    if status in (502, 503, 504):
        retry = response.headers.get("Retry-After")
        return GatewayUnavailable(
            message,
            status=status,
            problem=problem,
            retry_after=float(retry) if retry and retry.isdigit() else None,
        )
    if 400 <= status < 500:
        return InvalidRequest(message, status=status, problem=problem)
    return GatewayError(message, status=status, problem=problem)


class TemporalAPIClient:
    """A synchronous client for one temporal-gateway API.

    Args:
        base_url: where the API listens.
        timeout: seconds for each HTTP call. Keep it above the API's sync wait (30 s by
            default): the API answers 202 by then and this client keeps polling.
        headers: sent with every request (an ``Authorization`` header, say).
        transport: an httpx transport, for tests or custom networking.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout: float = 60.0,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url, timeout=timeout, headers=dict(headers or {}), transport=transport
        )

    def __enter__(self) -> TemporalAPIClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise GatewayUnavailable(f"{method} {path} timed out: {exc}") from exc
        except httpx.TransportError as exc:
            raise GatewayUnavailable(f"{method} {path} failed: {exc}") from exc
        if response.status_code >= 400:
            raise _error_for(response)
        return response

    def health(self) -> dict[str, Any]:
        """``GET /``: the service, its status and whether Temporal is reachable."""
        result: dict[str, Any] = self._call("GET", "/").json()
        return result

    def start_workflow(
        self,
        route: str,
        body: Mapping[str, Any],
        *,
        wait: bool = True,
        idempotency_key: str | None = None,
        wait_timeout: float = 300.0,
    ) -> dict[str, Any]:
        """Start the workflow behind ``/workflows/<route>``.

        With ``wait``, returns once it completes (following the API's 202 for long runs, up to
        ``wait_timeout`` seconds); without, returns ``{"workflow_id", "status": "started"}``.
        Pass ``idempotency_key`` to make retries of this call safe.
        """
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        path = f"/workflows/{quote(route, safe='')}" + ("" if wait else "/async")
        response = self._call("POST", path, json=dict(body), headers=headers)
        result: dict[str, Any] = response.json()
        if wait and response.status_code == 202:
            return self.wait_for_workflow(result["workflow_id"], timeout=wait_timeout)
        return result

    def trigger_shopping_workflow_sync(
        self, items: Sequence[Mapping[str, Any]], *, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """Order ``items`` and wait: ``{"workflow_id", "status": "completed", "result"}``."""
        return self.start_workflow(
            "shopping", {"items": list(items)}, idempotency_key=idempotency_key
        )

    def trigger_shopping_workflow_async(
        self, items: Sequence[Mapping[str, Any]], *, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """Order ``items`` without waiting: ``{"workflow_id", "status": "started"}``."""
        return self.start_workflow(
            "shopping", {"items": list(items)}, wait=False, idempotency_key=idempotency_key
        )

    def get_status(self, workflow_id: str) -> dict[str, Any]:
        """``{"workflow_id", "status", "start_time", "close_time"}``; status is Temporal's name."""
        result: dict[str, Any] = self._call(
            "GET", f"/workflows/{quote(workflow_id, safe='')}/status"
        ).json()
        return result

    def get_result(self, workflow_id: str) -> dict[str, Any]:
        """One ``GET /result``: completed, or ``status: "running"`` if the API stopped waiting."""
        result: dict[str, Any] = self._call(
            "GET", f"/workflows/{quote(workflow_id, safe='')}/result"
        ).json()
        return result

    def wait_for_workflow(
        self, workflow_id: str, *, timeout: float = 300.0, poll_interval: float = 1.0
    ) -> dict[str, Any]:
        """Wait for the workflow's result.

        Raises:
            WorkflowFailed: it failed, timed out, or was canceled or terminated.
            WorkflowStillRunning: it was still running after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            result = self.get_result(workflow_id)
            if result.get("status") != "running":
                return result
            if time.monotonic() + poll_interval > deadline:
                raise WorkflowStillRunning(
                    f"workflow {workflow_id!r} still running after {timeout} s",
                    problem={"workflow_id": workflow_id, "code": "still-running"},
                )
            time.sleep(poll_interval)

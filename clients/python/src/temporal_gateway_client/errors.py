"""What the client raises: one exception per kind of problem the API reports (its
problem+json ``code`` decides, then the status)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx


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

    @property
    def failure_type(self) -> str | None:
        """The workflow author's error type (``OutOfStock``) when the problem is a workflow's
        failure (a failed workflow, update or query, a validator's refusal); None for a
        generic error or a problem without one."""
        return self.problem.get("failure_type")

    @property
    def failure(self) -> dict[str, Any] | None:
        """The whole failure, for the same problems: ``type``, ``message``, ``non_retryable``,
        ``details`` and the cause ``chain`` (docs/api.md, Failures); None for a problem
        without one."""
        return self.problem.get("failure")


class InvalidRequest(GatewayError):
    """The request was refused as invalid (4xx); ``errors`` names each bad field."""

    @property
    def errors(self) -> list[dict[str, str]]:
        return list(self.problem.get("errors", []))


class WorkflowNotFound(GatewayError):
    """No workflow (or route) with that name."""


class ScheduleNotFound(WorkflowNotFound):
    """No schedule with that id (that the caller may see)."""


class PreconditionFailed(InvalidRequest):
    """The schedule changed since its ``etag`` was read: describe it again and retry."""


class WorkflowFailed(GatewayError):
    """The workflow failed, timed out, or was canceled or terminated (``failure`` says how)."""


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


class WorkflowClosed(InvalidRequest):
    """The workflow has closed: it takes no more signals, updates or cancellation."""


class UpdateRejected(InvalidRequest):
    """The workflow's validator refused the update; the message is the workflow's."""


class UndecodablePayload(GatewayError):
    """The workflow answered, in a payload the gateway cannot decode (a ``binary/protobuf``
    message without the route's descriptor set, a codec's encoding): retrying will not help."""

    @property
    def encoding(self) -> str | None:
        return self.problem.get("encoding")

    @property
    def message_type(self) -> str | None:
        return self.problem.get("message_type")


class WorkflowStillRunning(GatewayError, TimeoutError):
    """``wait_for_workflow`` gave up before the workflow finished; it is still running."""


_INVALID = ("malformed-json", "malformed-request", "duplicate-header", "invalid-query",
            "temporal-invalid-argument", "unauthenticated", "forbidden",
            "operation-not-allowed", "method-not-allowed", "request-timeout",
            "workflow-already-started", "idempotency-key-in-flight", "callback-busy",
            "body-too-large", "payload-too-large", "unsupported-media-type",
            "validation-error", "input-limit-exceeded", "idempotency-key-reused",
            "rate-limited", "redelivery-too-soon", "too-many-streams", "too-many-waits",
            "client-disconnected", "schedule-already-exists", "schedule-managed")  # fmt: skip
_NOT_FOUND = ("route-not-found", "workflow-not-found", "not-found", "callback-not-found",
              "signal-not-found", "query-not-found", "update-not-found")  # fmt: skip
_UNAVAILABLE = ("temporal-error", "temporal-access-denied", "temporal-namespace-not-found",
                "temporal-unavailable", "temporal-busy", "routes-not-loaded",
                "rate-limiter-unavailable", "identity-provider-unavailable",
                "codec-unavailable", "temporal-timeout", "no-worker")  # fmt: skip
_FAILED = ("workflow-failed", "workflow-timed-out", "workflow-canceled",
           "workflow-terminated")  # fmt: skip

PROBLEM_CODES: dict[str, type[GatewayError]] = {
    **dict.fromkeys(_INVALID, InvalidRequest),
    **dict.fromkeys(_NOT_FOUND, WorkflowNotFound),
    **dict.fromkeys(_UNAVAILABLE, GatewayUnavailable),
    **dict.fromkeys(_FAILED, WorkflowFailed),
    "workflow-closed": WorkflowClosed,
    "schedule-not-found": ScheduleNotFound,
    "precondition-failed": PreconditionFailed,
    "update-rejected": UpdateRejected,
    "undecodable-payload": UndecodablePayload,
    # A handler's failure in a workflow that goes on running, and the gateway's own fault.
    **dict.fromkeys(("update-failed", "query-failed", "internal-error"), GatewayError),
    # The route and the worker disagree: a deploy to fix, not a moment to wait out.
    "route-worker-mismatch": GatewayError,
}
"""Every problem code the API answers with, and the exception the client raises for it (a
test checks this against the API's own list); an unknown code falls back on the status."""


def error_for(response: httpx.Response) -> GatewayError:
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
    kind = PROBLEM_CODES.get(code)
    if kind is not None and kind is not GatewayUnavailable:
        return kind(message, status=status, problem=problem)
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

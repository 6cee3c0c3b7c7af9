"""Every error the API answers with, in one place, as RFC 9457 problem+json.

Each problem has a stable ``code`` that clients can branch on. Domain errors carry their HTTP
status and code as class attributes; Temporal's errors are translated here by exception type and
gRPC status code, never by message text. Whatever a handler knew about the request (the route,
the workflow id) is added from ``request.state`` so a caller never loses the id of a workflow
that was started.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from temporalio.api.errordetails.v1 import NamespaceNotFoundFailure
from temporalio.client import (
    WorkflowFailureError,
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import (
    ApplicationError,
    CancelledError,
    FailureError,
    TerminatedError,
    TimeoutError,
    WorkflowAlreadyStartedError,
)
from temporalio.service import RPCError, RPCStatusCode

from gateway_api import metrics
from gateway_core.errors import GatewayError
from gateway_core.routes import FieldError, MessageKind, WorkflowIdError

log = structlog.get_logger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://temporal-gateway.dev/problems/"
RETRY_AFTER_SECONDS = 5
"""What 503s tell clients: about two health checks, long enough for a restarting server."""


class ApiError(GatewayError):
    """An error with a fixed HTTP status and problem code."""

    status: int = 500
    code: str = "internal-error"
    title: str = "Internal error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def extensions(self) -> dict[str, Any]:
        """Extra problem members beyond type, title, status, detail and code."""
        return {}

    def headers(self) -> dict[str, str]:
        """Response headers the problem needs (``WWW-Authenticate``, ``Retry-After``)."""
        return {}


class Unauthenticated(ApiError):
    status, code, title = 401, "unauthenticated", "Authentication required"

    def __init__(self, detail: str, *, token_given: bool = False) -> None:
        super().__init__(detail)
        self.token_given = token_given

    def headers(self) -> dict[str, str]:
        # RFC 6750: say which scheme, and whether the credentials sent were the problem.
        error = ', error="invalid_token"' if self.token_given else ""
        return {"WWW-Authenticate": f'Bearer realm="temporal-gateway"{error}'}


class Forbidden(ApiError):
    status, code, title = 403, "forbidden", "Not allowed on this route"


class RateLimited(ApiError):
    status, code, title = 429, "rate-limited", "Too many requests"

    def __init__(
        self, detail: str, *, retry_after: int, headers: Sequence[tuple[str, str]] = ()
    ) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
        self.rate_headers = dict(headers)

    def extensions(self) -> dict[str, Any]:
        return {"retry_after_seconds": self.retry_after}

    def headers(self) -> dict[str, str]:
        return {**self.rate_headers, "Retry-After": str(self.retry_after)}


class RateLimiterUnavailable(ApiError):
    status, code, title = 503, "rate-limiter-unavailable", "Rate limit store unreachable"


class IdentityProviderUnavailable(ApiError):
    status, code, title = 503, "identity-provider-unavailable", "Identity provider unreachable"


class InputLimitExceeded(ApiError):
    status, code, title = 422, "input-limit-exceeded", "Request body exceeds an input limit"

    def __init__(self, field: str, message: str, limit: int) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message, self.limit = field, message, limit

    def extensions(self) -> dict[str, Any]:
        return {"errors": [{"field": self.field, "message": self.message}], "limit": self.limit}


class PayloadTooLarge(ApiError):
    status, code, title = 413, "payload-too-large", "Workflow input too large for Temporal"

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(
            f"the encoded workflow input is {size} bytes; Temporal accepts at most {limit}"
        )
        self.size, self.limit = size, limit

    def extensions(self) -> dict[str, Any]:
        return {"limit_bytes": self.limit, "size_bytes": self.size}


class RouteNotFound(ApiError):
    status, code, title = 404, "route-not-found", "No such workflow route"


class WorkflowNotFound(ApiError):
    status, code, title = 404, "workflow-not-found", "Workflow not found"

    @classmethod
    def hiding(cls, workflow_id: str | None, principal: str | None) -> WorkflowNotFound:
        """The one 404 for a workflow that does not exist and one the caller may not see, so
        the answer says nothing about which it is."""
        return cls(f"no workflow {workflow_id!r} that {principal or 'anonymous'} may read")


class OperationNotAllowed(ApiError):
    status, code, title = 405, "operation-not-allowed", "Operation not allowed on this route"


class MalformedJson(ApiError):
    status, code, title = 400, "malformed-json", "Request body is not valid JSON"


class UnsupportedMediaType(ApiError):
    status, code, title = 415, "unsupported-media-type", "Request body must be application/json"

    def __init__(self, detail: str, *, accept_encoding: bool = False) -> None:
        super().__init__(detail)
        self.accept_encoding = accept_encoding

    def headers(self) -> dict[str, str]:
        # RFC 9110 15.5.16: a 415 for the content coding says which codings are accepted.
        return {"Accept-Encoding": "identity"} if self.accept_encoding else {}


class BodyTooLarge(ApiError):
    status, code, title = 413, "body-too-large", "Request body too large"

    def __init__(self, limit: int) -> None:
        super().__init__(f"the request body exceeds the limit of {limit} bytes")
        self.limit = limit

    def extensions(self) -> dict[str, Any]:
        return {"limit_bytes": self.limit}


class InvalidBody(ApiError):
    status, code, title = 422, "validation-error", "Request body is invalid"

    def __init__(self, errors: Sequence[FieldError]) -> None:
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"{first.field}: {first.message}{more}")
        self.errors = list(errors)

    def extensions(self) -> dict[str, Any]:
        return {"errors": [{"field": e.field, "message": e.message} for e in self.errors]}


class InvalidRequest(InvalidBody):
    """A parameter (a header, the query, the path) does not fit; ``errors`` name it."""

    title = "Request is invalid"


class CallbackNotFound(ApiError):
    status, code, title = 404, "callback-not-found", "No callback for this workflow"


class CallbackBusy(ApiError):
    status, code, title = 409, "callback-busy", "The callback cannot be redelivered now"


class IdempotencyKeyReused(ApiError):
    """The IETF Idempotency-Key draft's 422: the caller's own key, with another request body."""

    status, code, title = 422, "idempotency-key-reused", "Idempotency key reused with another body"


class IdempotencyKeyInFlight(ApiError):
    """The draft's 409: the first request with this key is still being processed."""

    status, code, title = 409, "idempotency-key-in-flight", "A request with this key is in flight"

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "1"}


class WorkflowIdTaken(ApiError):
    """The request's workflow id belongs to a workflow this caller's request did not start.
    One answer, whatever the body and whoever (or whatever) started it, so it says nothing
    about the other request."""

    status, code, title = 409, "workflow-already-started", "Workflow already started"


class DuplicateHeader(ApiError):
    status, code, title = 400, "duplicate-header", "A header is sent more than once"


class PathNotFound(ApiError):
    status, code, title = 404, "not-found", "Not Found"


class ClientDisconnected(ApiError):
    """The client went away before its request was read: nginx's 499, for the access log and
    the metrics; nobody receives the answer."""

    status, code, title = 499, "client-disconnected", "Client closed the request"


class MessageNotFound(ApiError):
    status, title = 404, "No such signal, query or update on this route"

    def __init__(self, kind: MessageKind, detail: str) -> None:
        super().__init__(detail)
        self.code = f"{kind.value}-not-found"


class WorkflowClosed(ApiError):
    status, code, title = 409, "workflow-closed", "Workflow is closed"

    def __init__(self, detail: str, *, workflow_status: str) -> None:
        super().__init__(detail)
        self.workflow_status = workflow_status

    def extensions(self) -> dict[str, Any]:
        return {"workflow_status": self.workflow_status}


class UpdateRejected(ApiError):
    status, code, title = 422, "update-rejected", "The workflow rejected the update"

    def __init__(self, detail: str, *, failure_type: str | None) -> None:
        super().__init__(detail)
        self.failure_type = failure_type

    def extensions(self) -> dict[str, Any]:
        return {"failure_type": self.failure_type}


class UpdateNotFound(ApiError):
    status, code, title = 404, "update-not-found", "No such update"


class InvalidQuery(ApiError):
    status, code, title = 400, "invalid-query", "The list query is not allowed"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message

    def extensions(self) -> dict[str, Any]:
        return {"errors": [{"field": self.field, "message": self.message}]}


class TooManyStreams(ApiError):
    status, code, title = 429, "too-many-streams", "Too many open event streams"

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(RETRY_AFTER_SECONDS)}


class RoutesNotLoaded(ApiError):
    status, code, title = 503, "routes-not-loaded", "No route table loaded yet"


class TemporalUnavailable(ApiError):
    status, code, title = 503, "temporal-unavailable", "Temporal is unreachable"


def _problem(
    request: Request,
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    extensions: dict[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + code,
        "title": title,
        "status": status,
        "code": code,
        "instance": request.url.path,
    }
    if detail:
        body["detail"] = detail
    state = request.scope.get("state", {})
    for key in ("request_id", "trace_id", "workflow_id"):
        if state.get(key):
            body[key] = state[key]
    body.update(extensions or {})
    if status == 503:
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS), **(headers or {})}
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def _rpc_problem(exc: RPCError) -> tuple[int, str, str]:
    """Status, code and title for a Temporal service error, from its gRPC status code."""
    match exc.status:
        case RPCStatusCode.NOT_FOUND:
            details = exc.grpc_status.details if exc.grpc_status else []
            if any(d.Is(NamespaceNotFoundFailure.DESCRIPTOR) for d in details):
                return 502, "temporal-namespace-not-found", "Temporal namespace not found"
            return 404, "workflow-not-found", "Workflow not found"
        case RPCStatusCode.UNAVAILABLE:
            return 503, "temporal-unavailable", "Temporal is unreachable"
        case RPCStatusCode.RESOURCE_EXHAUSTED:
            return 503, "temporal-busy", "Temporal is rate limiting the gateway"
        case RPCStatusCode.DEADLINE_EXCEEDED:
            return 504, "temporal-timeout", "Temporal did not answer in time"
        case RPCStatusCode.INVALID_ARGUMENT:
            return 400, "temporal-invalid-argument", "Temporal refused the request"
        case RPCStatusCode.PERMISSION_DENIED | RPCStatusCode.UNAUTHENTICATED:
            return 502, "temporal-access-denied", "Temporal refused the gateway's credentials"
        case _:
            return 502, "temporal-error", "Temporal returned an error"


def _failure_problem(exc: WorkflowFailureError) -> tuple[int, str, str, dict[str, Any]]:
    """Status, code, title and extensions for a workflow that closed without a result."""
    cause = exc.cause
    match cause:
        case TimeoutError():
            return 504, "workflow-timed-out", "Workflow timed out", {"failure_type": "Timeout"}
        case CancelledError():
            return 409, "workflow-canceled", "Workflow was canceled", {"failure_type": "Canceled"}
        case TerminatedError():
            return (
                409,
                "workflow-terminated",
                "Workflow was terminated",
                {"failure_type": "Terminated"},
            )
        case ApplicationError():
            ext = {
                "failure_type": cause.type or "ApplicationError",
                "non_retryable": cause.non_retryable,
            }
            return 500, "workflow-failed", "Workflow failed", ext
        case _:
            return 500, "workflow-failed", "Workflow failed", {"failure_type": type(cause).__name__}


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return await render(request, exc)


async def render(request: Request, exc: ApiError) -> JSONResponse:
    """The problem for ``exc``, counted in the metrics; also for middlewares, which run
    outside the app's exception handlers."""
    if exc.status < 500:
        metrics.REJECTIONS.labels(code=exc.code).inc()
    elif isinstance(exc, TemporalUnavailable):
        metrics.TEMPORAL_ERRORS.labels(grpc_code="NOT_CONNECTED").inc()
    return _problem(
        request, exc.status, exc.code, exc.title, exc.detail, exc.extensions(), exc.headers()
    )


async def _rpc_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RPCError)
    status, code, title = _rpc_problem(exc)
    metrics.TEMPORAL_ERRORS.labels(grpc_code=exc.status.name).inc()
    if code == WorkflowNotFound.code:
        state = request.scope.get("state", {})
        hidden = WorkflowNotFound.hiding(state.get("workflow_id"), state.get("principal"))
        return await _api_error(request, hidden)
    log.warning("temporal error", grpc_status=exc.status.name, error=exc.message)
    return _problem(request, status, code, title, exc.message, {"grpc_status": exc.status.name})


async def _already_started(request: Request, exc: Exception) -> JSONResponse:
    """A non-idempotent start whose id exists (a fixed-id template with ``Fail``)."""
    assert isinstance(exc, WorkflowAlreadyStartedError)
    return await render(request, WorkflowIdTaken(ID_TAKEN))


ID_TAKEN = (
    "the workflow id this request maps to belongs to a workflow this caller did not start; "
    "a new request needs a new Idempotency-Key (or another business key)"
)
"""The one detail for every id taken by someone else's workflow, or one not started here."""


async def _workflow_failed(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, WorkflowFailureError)
    status, code, title, ext = _failure_problem(exc)
    return _problem(request, status, code, title, str(exc.cause), ext)


async def _update_failed(request: Request, exc: Exception) -> JSONResponse:
    """An update whose handler failed (a validator's rejection is told apart before this, in
    ``executions``, and is 422 ``update-rejected``)."""
    assert isinstance(exc, WorkflowUpdateFailedError)
    cause = exc.cause
    failure_type = cause.type if isinstance(cause, ApplicationError) else type(cause).__name__
    # The workflow's own message: str() of an ApplicationError puts its type in front.
    detail = cause.message if isinstance(cause, FailureError) else str(cause)
    return _problem(
        request, 500, "update-failed", "The update failed", detail,
        {"failure_type": failure_type or "ApplicationError"},
    )  # fmt: skip


async def _query_failed(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, WorkflowQueryFailedError)
    return _problem(request, 500, "query-failed", "The query failed", exc.message)


async def _query_rejected(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, WorkflowQueryRejectedError)
    status = exc.status.name if exc.status is not None else "UNSPECIFIED"
    return _problem(
        request, 409, "workflow-closed", "Workflow is closed",
        f"the workflow is {status} and no longer answers this query",
        {"workflow_status": status},
    )  # fmt: skip


async def _workflow_id_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, WorkflowIdError)
    return await _api_error(request, InvalidBody(exc.errors))


async def _request_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        FieldError(".".join(str(p) for p in err["loc"]), str(err["msg"])) for err in exc.errors()
    ]
    problem = InvalidRequest(errors or [FieldError("request", "invalid request")])
    return await _api_error(request, problem)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    phrase = HTTPStatus(exc.status_code).phrase
    code = phrase.lower().replace(" ", "-").replace("'", "")
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != phrase else None
    return _problem(request, exc.status_code, code, phrase, detail, headers=exc.headers)


async def _client_disconnect(request: Request, exc: Exception) -> JSONResponse:
    log.info("client disconnected", reason="before its request body was read")
    return await render(request, ClientDisconnected("the client closed the connection"))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    return await internal_error(request)


async def internal_error(request: Request) -> JSONResponse:
    """The problem for an exception no handler knows; logs it with its traceback."""
    log.exception("unhandled error")
    return _problem(request, 500, "internal-error", "Internal error")


def install(app: FastAPI) -> None:
    """Register every handler on the app."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RPCError, _rpc_error)
    app.add_exception_handler(WorkflowAlreadyStartedError, _already_started)
    app.add_exception_handler(WorkflowFailureError, _workflow_failed)
    app.add_exception_handler(WorkflowIdError, _workflow_id_error)
    app.add_exception_handler(WorkflowUpdateFailedError, _update_failed)
    app.add_exception_handler(WorkflowQueryFailedError, _query_failed)
    app.add_exception_handler(WorkflowQueryRejectedError, _query_rejected)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(ClientDisconnect, _client_disconnect)
    app.add_exception_handler(Exception, _unexpected)

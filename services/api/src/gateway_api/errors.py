"""The API's error vocabulary: every problem a client can receive, each a class.

Each class carries its HTTP status, its stable ``code`` (what clients branch on), its title,
and a docstring saying when it is answered (README's and docs/api.md's error tables are
generated from them: ``python -m gateway_api.errors``). Nothing here renders or translates:
:mod:`gateway_api.http.problems` turns a problem into RFC 9457 problem+json, and
:mod:`gateway_api.temporal.failures` turns Temporal's exceptions into problems through one
table.

::

    GatewayError (gateway_core)
    └── ApiError
        ├── BadRequest (400): MalformedJson, MalformedRequest, DuplicateHeader, InvalidQuery,
        │                     TemporalInvalidArgument
        ├── Unauthenticated (401)
        ├── Forbidden (403)
        ├── NotFound (404): RouteNotFound, WorkflowNotFound, PathNotFound, CallbackNotFound,
        │                   SignalNotFound, QueryNotFound, UpdateNotFound, ScheduleNotFound
        ├── OperationNotAllowed, MethodNotAllowed (405)
        ├── RequestTimeout (408)
        ├── Conflict (409): WorkflowIdTaken, IdempotencyKeyInFlight, WorkflowClosed,
        │                   WorkflowCanceled, WorkflowTerminated, CallbackBusy, ScheduleIdTaken,
        │                   ScheduleManaged
        ├── PreconditionFailed (412)
        ├── BodyTooLarge, PayloadTooLarge (413)
        ├── UnsupportedMediaType (415)
        ├── InvalidBody (422): InvalidRequest; InputLimitExceeded, IdempotencyKeyReused,
        │                      UpdateRejected
        ├── TooManyRequests (429): RateLimited, RedeliveryTooSoon, TooManyStreams
        ├── ClientDisconnected (499, logged only)
        ├── InternalError (500): WorkflowFailed, UpdateFailed, QueryFailed
        ├── BadGateway (502): TemporalError, TemporalAccessDenied, TemporalNamespaceNotFound,
        │                     RouteWorkerMismatch, UndecodablePayload
        ├── ServiceUnavailable (503): TemporalUnavailable, TemporalBusy, RoutesNotLoaded,
        │                             RateLimiterUnavailable, IdentityProviderUnavailable,
        │                             CodecUnavailable
        └── GatewayTimeout (504): TemporalTimeout, WorkflowTimedOut
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

from gateway_core.errors import GatewayError
from gateway_core.routes import FieldError, MessageKind

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://temporal-gateway.dev/problems/"
RETRY_AFTER_SECONDS = 5
"""What 503s tell clients: about two health checks, long enough for a restarting server."""


class ApiError(GatewayError):
    """A problem with a fixed HTTP status and code; subclasses without a ``code`` of their own
    are families, not answers."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = ""
    title: ClassVar[str] = ""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def extensions(self) -> dict[str, Any]:
        """Extra problem members beyond type, title, status, detail and code."""
        return {}

    def headers(self) -> dict[str, str]:
        """Response headers the problem needs (``WWW-Authenticate``, ``Retry-After``)."""
        if self.status == 503:
            return {"Retry-After": str(RETRY_AFTER_SECONDS)}
        return {}


def _field_errors(errors: Sequence[FieldError]) -> list[dict[str, str]]:
    return [{"field": e.field, "message": e.message} for e in errors]


# -- 400 ---------------------------------------------------------------------------------------


class BadRequest(ApiError):
    status = 400


class MalformedJson(BadRequest):
    """The body is not JSON (or holds `NaN`, a lone surrogate, an overflowing number)."""

    code, title = "malformed-json", "Request body is not valid JSON"


class MalformedRequest(BadRequest):
    """The request is not valid HTTP/1.1 (answered by the server itself)."""

    code, title = "malformed-request", "Bad Request"


class DuplicateHeader(BadRequest):
    """`Authorization`, `X-API-Key`, `Idempotency-Key`, `Content-Type`, `Content-Encoding`,
    `Callback-Url`, `Callback-Outcomes` or `Last-Event-ID` sent twice (several `Prefer` fields
    are one list, not refused)."""

    code, title = "duplicate-header", "A header is sent more than once"


class InvalidQuery(BadRequest):
    """A list query that is malformed or tries to leave its restriction."""

    code, title = "invalid-query", "The list query is not allowed"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message

    def extensions(self) -> dict[str, Any]:
        return {"errors": [{"field": self.field, "message": self.message}]}


# -- 401, 403 ----------------------------------------------------------------------------------


class Unauthenticated(ApiError):
    """No credentials, or wrong ones; see `WWW-Authenticate`."""

    status, code, title = 401, "unauthenticated", "Authentication required"

    def __init__(self, detail: str, *, token_given: bool = False) -> None:
        super().__init__(detail)
        self.token_given = token_given

    def headers(self) -> dict[str, str]:
        # RFC 6750: say which scheme, and whether the credentials sent were the problem.
        error = ', error="invalid_token"' if self.token_given else ""
        return {"WWW-Authenticate": f'Bearer realm="temporal-gateway"{error}'}


class Forbidden(ApiError):
    """The route does not let this caller do this (start, schedule, or act on a workflow or
    schedule it may read)."""

    status, code, title = 403, "forbidden", "Not allowed on this route"


# -- 404 ---------------------------------------------------------------------------------------


class NotFound(ApiError):
    status = 404


class RouteNotFound(NotFound):
    """No route is served at that path."""

    code, title = "route-not-found", "No such workflow route"


class WorkflowNotFound(NotFound):
    """No workflow with that id that the caller may read (the same answer either way)."""

    code, title = "workflow-not-found", "Workflow not found"

    @classmethod
    def hiding(cls, workflow_id: str | None, principal: str | None) -> WorkflowNotFound:
        """The one 404 for a workflow that does not exist and one the caller may not see, so
        the answer says nothing about which it is."""
        return cls(f"no workflow {workflow_id!r} that {principal or 'anonymous'} may read")


class PathNotFound(NotFound):
    """No endpoint at that path."""

    code, title = "not-found", "Not Found"


class CallbackNotFound(NotFound):
    """No completion webhook the caller may see: the workflow was started without one, does
    not exist, or is of a route the caller may not read (the same answer for all three)."""

    code, title = "callback-not-found", "No callback for this workflow"

    @classmethod
    def hiding(cls, workflow_id: str, principal: str) -> CallbackNotFound:
        """The one 404 of ``…/callbacks`` and ``…/callbacks/redeliver``, whichever it is."""
        return cls(f"no callback of workflow {workflow_id!r} that {principal} may read")


class ScheduleNotFound(NotFound):
    """No schedule with that id that the caller may see: it does not exist, is of a route the
    caller may neither read nor schedule, or (on an owner-only route) is another caller's (the
    same answer for all)."""

    code, title = "schedule-not-found", "Schedule not found"

    @classmethod
    def hiding(cls, schedule_id: str, principal: str | None) -> ScheduleNotFound:
        """The one 404 for a schedule that does not exist and one the caller may not see."""
        return cls(f"no schedule {schedule_id!r} that {principal or 'anonymous'} may see")


class SignalNotFound(NotFound):
    """The route declares no signal of that name."""

    code, title = "signal-not-found", "No such signal on this route"


class QueryNotFound(NotFound):
    """The route declares no query of that name."""

    code, title = "query-not-found", "No such query on this route"


class UpdateNotFound(NotFound):
    """The route declares no update of that name, or the workflow has no update with that id
    (its poll location)."""

    code, title = "update-not-found", "No such update"


_MESSAGE_NOT_FOUND: dict[MessageKind, type[NotFound]] = {
    MessageKind.SIGNAL: SignalNotFound,
    MessageKind.QUERY: QueryNotFound,
    MessageKind.UPDATE: UpdateNotFound,
}


def message_not_found(kind: MessageKind, detail: str) -> NotFound:
    """The 404 for a signal, query or update name the route does not declare."""
    return _MESSAGE_NOT_FOUND[kind](detail)


# -- 405, 408 ----------------------------------------------------------------------------------


class OperationNotAllowed(ApiError):
    """The route does not allow this operation (its `operations` list)."""

    status, code, title = 405, "operation-not-allowed", "Operation not allowed on this route"


class MethodNotAllowed(ApiError):
    """The path exists, but not with this method."""

    status, code, title = 405, "method-not-allowed", "Method Not Allowed"


class RequestTimeout(ApiError):
    """The request headers did not arrive in time (answered by the server itself)."""

    status, code, title = 408, "request-timeout", "Request Timeout"


# -- 409 ---------------------------------------------------------------------------------------


class Conflict(ApiError):
    status = 409


ID_TAKEN = (
    "the workflow id this request maps to belongs to a workflow this caller did not start; "
    "a new request needs a new Idempotency-Key (or another business key)"
)
"""The one detail for every id taken by someone else's workflow, or one not started here."""


class WorkflowIdTaken(Conflict):
    """The id is taken by a workflow this caller did not start (another caller's business
    key, or one started outside the gateway). One answer, whatever the body and whoever
    started it, so it says nothing about the other request."""

    code, title = "workflow-already-started", "Workflow already started"

    def __init__(self, detail: str = ID_TAKEN) -> None:
        super().__init__(detail)


class IdempotencyKeyInFlight(Conflict):
    """The first request with this key is still starting its workflow; retry (`Retry-After`).
    The IETF Idempotency-Key draft's 409."""

    code, title = "idempotency-key-in-flight", "A request with this key is in flight"

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "1"}


class WorkflowClosed(Conflict):
    """A signal, update, cancel or terminate for a workflow that has closed, or a query it no
    longer answers."""

    code, title = "workflow-closed", "Workflow is closed"

    def __init__(self, detail: str, *, workflow_status: str) -> None:
        super().__init__(detail)
        self.workflow_status = workflow_status

    def extensions(self) -> dict[str, Any]:
        return {"workflow_status": self.workflow_status}


class WorkflowCanceled(Conflict):
    """The workflow was canceled."""

    code, title = "workflow-canceled", "Workflow was canceled"

    def extensions(self) -> dict[str, Any]:
        return {"failure_type": "Canceled"}


class WorkflowTerminated(Conflict):
    """The workflow was terminated."""

    code, title = "workflow-terminated", "Workflow was terminated"

    def extensions(self) -> dict[str, Any]:
        return {"failure_type": "Terminated"}


SCHEDULE_ID_TAKEN = (
    "the schedule id this request maps to belongs to a schedule this caller did not create; "
    "a new request needs a new Idempotency-Key"
)
"""The one detail for every schedule id taken by someone else's schedule, or one made outside
the gateway."""


class ScheduleIdTaken(Conflict):
    """The schedule id (the route's prefix and the caller's Idempotency-Key) is taken by a
    schedule this caller did not create. One answer, whatever the body."""

    code, title = "schedule-already-exists", "Schedule already exists"

    def __init__(self, detail: str = SCHEDULE_ID_TAKEN) -> None:
        super().__init__(detail)


class ScheduleManaged(Conflict):
    """The schedule belongs to a `WorkflowSchedule` resource: change the resource, not the
    schedule (the operator would set it back). Triggers and backfills are allowed."""

    code, title = "schedule-managed", "The schedule is managed by a WorkflowSchedule"

    def __init__(self, detail: str, *, managed_by: str) -> None:
        super().__init__(detail)
        self.managed_by = managed_by

    def extensions(self) -> dict[str, Any]:
        return {"managed_by": self.managed_by}


class CallbackBusy(Conflict):
    """The callback is waiting or delivering, was redelivered as often as allowed
    (`API_CALLBACK_MAX_REDELIVERIES`), or its redelivery window has passed."""

    code, title = "callback-busy", "The callback cannot be redelivered now"


# -- 412 ---------------------------------------------------------------------------------------


class PreconditionFailed(ApiError):
    """The schedule changed since the `ETag` sent in `If-Match` was read (or while the update
    was applied): read it again (`GET`) and retry with its new `ETag`. Nothing was changed."""

    status, code, title = 412, "precondition-failed", "The schedule has changed"


# -- 413, 415 ----------------------------------------------------------------------------------


class BodyTooLarge(ApiError):
    """The body exceeds `API_MAX_BODY_BYTES`."""

    status, code, title = 413, "body-too-large", "Request body too large"

    def __init__(self, limit: int) -> None:
        super().__init__(f"the request body exceeds the limit of {limit} bytes")
        self.limit = limit

    def extensions(self) -> dict[str, Any]:
        return {"limit_bytes": self.limit}


class PayloadTooLarge(ApiError):
    """The encoded input exceeds Temporal's blob limit (`API_TEMPORAL_BLOB_LIMIT_BYTES`)."""

    status, code, title = 413, "payload-too-large", "Workflow input too large for Temporal"

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(
            f"the encoded workflow input is {size} bytes; Temporal accepts at most {limit}"
        )
        self.size, self.limit = size, limit

    def extensions(self) -> dict[str, Any]:
        return {"limit_bytes": self.limit, "size_bytes": self.size}


class UnsupportedMediaType(ApiError):
    """The body is not `application/json` in UTF-8, or has a `Content-Encoding`."""

    status, code, title = 415, "unsupported-media-type", "Request body must be application/json"

    def __init__(self, detail: str, *, accept_encoding: bool = False) -> None:
        super().__init__(detail)
        self.accept_encoding = accept_encoding

    def headers(self) -> dict[str, str]:
        # RFC 9110 15.5.16: a 415 for the content coding says which codings are accepted.
        return {"Accept-Encoding": "identity"} if self.accept_encoding else {}


class FailureProblem(ApiError):
    """A problem that carries a workflow's failure as its author meant it
    (:func:`gateway_core.failures.describe`): ``failure_type`` and ``non_retryable`` at the top,
    as clients have always read them, and the whole ``failure`` with its details and chain."""

    def __init__(self, detail: str, *, failure: dict[str, Any]) -> None:
        super().__init__(detail)
        self.failure = failure

    @property
    def failure_type(self) -> str | None:
        found: str | None = self.failure.get("type")
        return found

    def extensions(self) -> dict[str, Any]:
        extensions: dict[str, Any] = {"failure_type": self.failure_type}
        if self.failure.get("non_retryable") is not None:
            extensions["non_retryable"] = self.failure["non_retryable"]
        return {**extensions, "failure": self.failure}


# -- 422 ---------------------------------------------------------------------------------------


class InvalidBody(ApiError):
    """The body (or a header) fails the route's schema; `errors` names each field."""

    status, code, title = 422, "validation-error", "Request body is invalid"

    def __init__(self, errors: Sequence[FieldError]) -> None:
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"{first.field}: {first.message}{more}")
        self.errors = list(errors)

    def extensions(self) -> dict[str, Any]:
        return {"errors": _field_errors(self.errors)}


class InvalidRequest(InvalidBody):
    """A parameter (a header, the query, the path) does not fit; ``errors`` name it."""

    title = "Request is invalid"


class InputLimitExceeded(ApiError):
    """Too deep, a string too long, too many items (checked before the schema)."""

    status, code, title = 422, "input-limit-exceeded", "Request body exceeds an input limit"

    def __init__(self, field: str, message: str, limit: int) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message, self.limit = field, message, limit

    def extensions(self) -> dict[str, Any]:
        return {"errors": [{"field": self.field, "message": self.message}], "limit": self.limit}


class IdempotencyKeyReused(ApiError):
    """This caller's Idempotency-Key was used with another body (the IETF draft's 422)."""

    status, code, title = 422, "idempotency-key-reused", "Idempotency key reused with another body"


class UpdateRejected(FailureProblem):
    """The workflow's validator refused the update (`detail` is its message, `failure` as for
    `workflow-failed`)."""

    status, code, title = 422, "update-rejected", "The workflow rejected the update"


# -- 429, 499 ----------------------------------------------------------------------------------


class TooManyRequests(ApiError):
    status = 429


class RateLimited(TooManyRequests):
    """A rate limit is used up; see `Retry-After` and the `RateLimit` headers."""

    code, title = "rate-limited", "Too many requests"

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


class RedeliveryTooSoon(TooManyRequests):
    """The callback was redelivered less than `API_CALLBACK_REDELIVER_MIN_INTERVAL_SECONDS`
    ago; `Retry-After` says when it may be again."""

    code, title = "redelivery-too-soon", "The callback was redelivered too recently"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after

    def extensions(self) -> dict[str, Any]:
        return {"retry_after_seconds": self.retry_after}

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class TooManyStreams(TooManyRequests):
    """Too many open `/events` streams for this caller."""

    code, title = "too-many-streams", "Too many open event streams"

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(RETRY_AFTER_SECONDS)}


class TooManyWaits(TooManyRequests):
    """Too many requests of this caller are waiting for an answer (synchronous starts, results
    with `wait`, updates): `API_MAX_WAITS_PER_CALLER`. See `Retry-After`."""

    code, title = "too-many-waits", "Too many requests waiting for an answer"

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(RETRY_AFTER_SECONDS)}


class ClientDisconnected(ApiError):
    """The client went away before its request was read: nginx's 499, for the access log and
    the metrics; nobody receives the answer."""

    status, code, title = 499, "client-disconnected", "Client closed the request"


# -- 500 ---------------------------------------------------------------------------------------


class InternalError(ApiError):
    """A fault in the gateway itself (logged with its traceback; never an expected answer)."""

    status, code, title = 500, "internal-error", "Internal error"

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail)


class WorkflowFailed(FailureProblem, InternalError):
    """The workflow failed; `failure_type` is its author's error type (e.g. `OutOfStock`) and
    `failure` its message, details and cause chain."""

    code, title = "workflow-failed", "Workflow failed"


class UpdateFailed(FailureProblem, InternalError):
    """The update's handler failed in the workflow (`failure` as for `workflow-failed`)."""

    code, title = "update-failed", "The update failed"


class QueryFailed(FailureProblem, InternalError):
    """The query's handler failed in the workflow (`failure` as for `workflow-failed`)."""

    code, title = "query-failed", "The query failed"


# -- 502, 503, 504 -----------------------------------------------------------------------------


class BadGateway(ApiError):
    status = 502


class TemporalProblem(ApiError):
    """A refusal by Temporal's service, with its gRPC status name when it answered one."""

    def __init__(self, detail: str, *, grpc_status: str | None = None) -> None:
        super().__init__(detail)
        self.grpc_status = grpc_status

    def extensions(self) -> dict[str, Any]:
        return {"grpc_status": self.grpc_status} if self.grpc_status else {}


class TemporalInvalidArgument(TemporalProblem, BadRequest):
    """Temporal refused the request's arguments."""

    code, title = "temporal-invalid-argument", "Temporal refused the request"


class TemporalError(TemporalProblem, BadGateway):
    """Temporal returned an error the gateway has no better name for."""

    code, title = "temporal-error", "Temporal returned an error"


class TemporalAccessDenied(TemporalProblem, BadGateway):
    """Temporal refused the gateway's credentials."""

    code, title = "temporal-access-denied", "Temporal refused the gateway's credentials"


class TemporalNamespaceNotFound(TemporalProblem, BadGateway):
    """The route's Temporal namespace does not exist."""

    code, title = "temporal-namespace-not-found", "Temporal namespace not found"


class RouteWorkerMismatch(BadGateway):
    """The route declares a signal, query or update that the workflow's worker does not
    handle (its `__temporal_workflow_metadata` says so): nothing was sent. `route_declares` and
    `worker_handles` list both sides."""

    code, title = "route-worker-mismatch", "The route and the workflow's worker disagree"

    def __init__(
        self,
        detail: str,
        *,
        kind: str,
        name: str,
        route_declares: list[str],
        worker_handles: list[str],
    ) -> None:
        super().__init__(detail)
        self.kind, self.name = kind, name
        self.route_declares, self.worker_handles = route_declares, worker_handles

    def extensions(self) -> dict[str, Any]:
        return {
            "message_kind": self.kind,
            "message_name": self.name,
            "route_declares": self.route_declares,
            "worker_handles": self.worker_handles,
        }


class UndecodablePayload(BadGateway):
    """A result or answer the gateway cannot decode: `encoding` and `message_type` say what it
    is (`binary/protobuf` without the route's `descriptorSet`, a codec's encoding the API has
    no codec for). The workflow itself is fine: `workflow_id` names it."""

    code, title = "undecodable-payload", "The gateway cannot decode the workflow's payload"

    def __init__(self, detail: str, *, encoding: str, message_type: str | None) -> None:
        super().__init__(detail)
        self.encoding, self.message_type = encoding, message_type

    def extensions(self) -> dict[str, Any]:
        return {"encoding": self.encoding, "message_type": self.message_type}


class ServiceUnavailable(ApiError):
    status = 503


class TemporalUnavailable(TemporalProblem, ServiceUnavailable):
    """Temporal is unreachable; see `Retry-After`."""

    code, title = "temporal-unavailable", "Temporal is unreachable"


class TemporalBusy(TemporalProblem, ServiceUnavailable):
    """Temporal is rate limiting the gateway; see `Retry-After`."""

    code, title = "temporal-busy", "Temporal is rate limiting the gateway"


class NoWorker(ServiceUnavailable):
    """The route refuses starts while no worker polls its task queue
    (`refuseStartsWithoutWorker`); nothing was started. See `Retry-After`."""

    code, title = "no-worker", "No worker polls the route's task queue"


class RoutesNotLoaded(ServiceUnavailable):
    """No route table has loaded yet (the WorkflowRoutes not listed yet, or no route files)."""

    code, title = "routes-not-loaded", "No route table loaded yet"


class RateLimiterUnavailable(ServiceUnavailable):
    """The shared rate limits' Redis cannot be reached."""

    code, title = "rate-limiter-unavailable", "Rate limit store unreachable"


class IdentityProviderUnavailable(ServiceUnavailable):
    """The OIDC provider's signing keys cannot be fetched."""

    code, title = "identity-provider-unavailable", "Identity provider unreachable"


class CodecUnavailable(ServiceUnavailable):
    """The route's payload codec could not encode the request or decode the answer (its codec
    server unreachable, too slow or answering wrongly, or a codec this API does not have);
    see `Retry-After`. A request whose input could not be encoded started nothing.

    The detail says why in the gateway's words, never with payload data; ``codec`` names the
    codec (docs/codecs.md).
    """

    code, title = "codec-unavailable", "Payload codec unavailable"

    def __init__(self, detail: str, *, codec: str) -> None:
        super().__init__(detail)
        self.codec = codec

    def extensions(self) -> dict[str, Any]:
        return {"codec": self.codec}


class GatewayTimeout(ApiError):
    status = 504


class TemporalTimeout(TemporalProblem, GatewayTimeout):
    """A Temporal call did not answer in time."""

    code, title = "temporal-timeout", "Temporal did not answer in time"


class WorkflowTimedOut(GatewayTimeout):
    """The workflow timed out (its execution or run timeout)."""

    code, title = "workflow-timed-out", "Workflow timed out"

    def extensions(self) -> dict[str, Any]:
        return {"failure_type": "Timeout"}


def problem_classes() -> Iterator[type[ApiError]]:
    """Every class that is an answer (has a code), in order of status then code."""

    def walk(cls: type[ApiError]) -> Iterator[type[ApiError]]:
        for sub in cls.__subclasses__():
            yield sub
            yield from walk(sub)

    found = {cls for cls in walk(ApiError) if "code" in vars(cls) or "title" in vars(cls)}
    answers = {cls for cls in found if cls.code}
    return iter(sorted(answers, key=lambda c: (c.status, c.code, c.__name__)))


def codes() -> frozenset[str]:
    """Every problem code the API can answer with."""
    return frozenset(cls.code for cls in problem_classes())


def markdown_table() -> str:
    """README's and docs/api.md's error table: a row per code, with its class's docstring's
    first paragraph as "when" (``make docs`` writes it, a unit test checks it)."""
    rows = ["| status | code | when |", "| --- | --- | --- |"]
    seen: set[str] = set()
    for cls in problem_classes():
        if cls.code in seen or cls.status == 499:  # a subclass sharing its family's code
            continue
        seen.add(cls.code)
        when = " ".join((cls.__doc__ or "").split("\n\n")[0].split())
        rows.append(f"| {cls.status} | `{cls.code}` | {when} |")
    return "\n".join(rows) + "\n"

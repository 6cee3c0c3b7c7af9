"""Temporal's errors as the API's problems, through one table each: gRPC status codes of the
service's refusals, and the exception types of workflows, updates and queries that ended
badly (as httpx maps its transport's exceptions). Never by message text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from temporalio.api.errordetails.v1 import NamespaceNotFoundFailure, QueryFailedFailure
from temporalio.client import (
    WorkflowFailureError,
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
    WorkflowUpdateFailedError,
)
from temporalio.converter import DataConverter
from temporalio.exceptions import (
    ApplicationError,
    CancelledError,
    TerminatedError,
    TimeoutError,
    WorkflowAlreadyStartedError,
)
from temporalio.service import RPCError, RPCStatusCode

from gateway_api.errors import (
    ApiError,
    QueryFailed,
    TemporalAccessDenied,
    TemporalBusy,
    TemporalError,
    TemporalInvalidArgument,
    TemporalNamespaceNotFound,
    TemporalProblem,
    TemporalTimeout,
    TemporalUnavailable,
    UpdateFailed,
    WorkflowCanceled,
    WorkflowClosed,
    WorkflowFailed,
    WorkflowIdTaken,
    WorkflowNotFound,
    WorkflowTerminated,
    WorkflowTimedOut,
)
from gateway_core.failures import describe

RPC_PROBLEMS: dict[RPCStatusCode, type[TemporalProblem]] = {
    RPCStatusCode.UNAVAILABLE: TemporalUnavailable,
    RPCStatusCode.RESOURCE_EXHAUSTED: TemporalBusy,
    RPCStatusCode.DEADLINE_EXCEEDED: TemporalTimeout,
    # What Temporal answers a query no worker took up in time: a timeout, not a refusal.
    RPCStatusCode.CANCELLED: TemporalTimeout,
    RPCStatusCode.INVALID_ARGUMENT: TemporalInvalidArgument,
    RPCStatusCode.PERMISSION_DENIED: TemporalAccessDenied,
    RPCStatusCode.UNAUTHENTICATED: TemporalAccessDenied,
}
"""A service refusal's problem by its gRPC status; any other status is :class:`TemporalError`,
and NOT_FOUND is the workflow's (or the namespace's) absence."""


_DETAILS: dict[type[TemporalProblem], str] = {
    TemporalTimeout: "Temporal did not answer in time (for a query: no worker took it up)",
    TemporalInvalidArgument: "Temporal refused the request's arguments",
}


def _rpc(exc: RPCError, workflow_id: str | None, principal: str | None) -> ApiError:
    if exc.status == RPCStatusCode.NOT_FOUND:
        details = exc.grpc_status.details if exc.grpc_status else []
        if any(d.Is(NamespaceNotFoundFailure.DESCRIPTOR) for d in details):
            return TemporalNamespaceNotFound(
                "the route's Temporal namespace does not exist", grpc_status=exc.status.name
            )
        return WorkflowNotFound.hiding(workflow_id, principal)
    problem = RPC_PROBLEMS.get(exc.status, TemporalError)
    # Temporal's own words (a parser's, an internal path) stay in the log, not the answer.
    return problem(_DETAILS.get(problem, problem.title), grpc_status=exc.status.name)


def workflow_failure(exc: WorkflowFailureError) -> ApiError:
    """The problem for a workflow that closed without a result."""
    cause = exc.cause
    match cause:
        case TimeoutError():
            return WorkflowTimedOut(str(cause))
        case CancelledError():
            return WorkflowCanceled(str(cause))
        case TerminatedError():
            return WorkflowTerminated(str(cause))
        case _:
            failure = describe(cause)
            return WorkflowFailed(failure["message"], failure=failure)


def _update_failed(exc: WorkflowUpdateFailedError) -> ApiError:
    """An update whose handler failed (a validator's rejection is told apart before this, in
    :mod:`gateway_api.temporal.executions`, and is 422 ``update-rejected``)."""
    failure = describe(exc.cause)
    return UpdateFailed(failure["message"], failure=failure)


async def query_failed(exc: WorkflowQueryFailedError, converter: DataConverter) -> ApiError:
    """The problem for a query whose handler failed, with the failure as the workflow's author
    raised it (the one mapping: type, message, details, chain). The SDK keeps only the message;
    a Go worker sends its whole failure in the refusal's details (``QueryFailedFailure``),
    encoded by its codec as a workflow's failure is, so it is decoded with the route's
    converter. Other workers send only text (:func:`_query_failure_text`)."""
    refusal = exc.__context__  # the SDK raises this while handling the service's refusal
    details = refusal.grpc_status.details if isinstance(refusal, RPCError) else []
    for detail in details:
        found = QueryFailedFailure()
        if detail.Unpack(found) and found.HasField("failure"):
            failure = describe(await converter.decode_failure(found.failure))
            return QueryFailed(failure["message"], failure=failure)
    return _query_failure_text(exc.message)


_JAVA_APPLICATION_FAILURE = re.compile(
    r"io\.temporal\.failure\.ApplicationFailure: message='(?P<message>.*)', "
    r"type='(?P<type>[^']*)', nonRetryable=(?P<non_retryable>true|false)",
    re.DOTALL,
)


ENCODED_PLACEHOLDER = "Encoded failure"
"""The message Temporal's SDKs put in a failure whose message a codec sealed (in its encoded
attributes)."""
_SEALED_QUERY_FAILURE = (
    "the query failed, and the worker's codec sealed its message: the worker's SDK sent only "
    f"the placeholder {ENCODED_PLACEHOLDER!r}, with nothing the route's codec could open"
)


def _query_failure_text(text: str) -> ApiError:
    """A query failure sent as text only. TypeScript and Python workers send the message; a
    Java worker sends the exception with its stack trace, whose first line is kept (the
    worker's internals are not the caller's business), and an ``ApplicationFailure``'s type
    and message are read from the form the Java SDK gives it. A worker whose codec encodes
    failures (TypeScript's with ``encodeCommonAttributes``) sends only Temporal's placeholder:
    the answer says so rather than pass the placeholder off as the message."""
    first = text.split("\n\tat ", 1)[0].strip()
    if first == ENCODED_PLACEHOLDER:
        failure = describe(ApplicationError(first))
        return QueryFailed(_SEALED_QUERY_FAILURE, failure=failure)
    java = _JAVA_APPLICATION_FAILURE.fullmatch(first)
    if java is not None:
        raised = ApplicationError(
            java["message"],
            type=java["type"] or None,
            non_retryable=java["non_retryable"] == "true",
        )
    else:
        raised = ApplicationError(first)
    failure = describe(raised)
    return QueryFailed(failure["message"], failure=failure)


def _query_rejected(exc: WorkflowQueryRejectedError) -> ApiError:
    status = exc.status.name if exc.status is not None else "UNSPECIFIED"
    return WorkflowClosed(
        f"the workflow is {status} and no longer answers this query", workflow_status=status
    )


TRANSLATIONS: dict[type[Exception], Callable[[Any], ApiError]] = {
    WorkflowAlreadyStartedError: lambda _: WorkflowIdTaken(),
    WorkflowFailureError: workflow_failure,
    WorkflowUpdateFailedError: _update_failed,
    # Without the route's converter (the handler's failure is decoded where the query is sent,
    # :func:`query_failed`), only its text.
    WorkflowQueryFailedError: lambda exc: _query_failure_text(exc.message),
    WorkflowQueryRejectedError: _query_rejected,
}
"""Temporal's exceptions (other than service refusals) and the problem each becomes; a
non-idempotent start whose id exists is the one 409 for an id that is not the caller's."""


def translate(
    exc: Exception, *, workflow_id: str | None = None, principal: str | None = None
) -> ApiError:
    """The problem for one of Temporal's exceptions (:data:`TRANSLATED`). A missing workflow is
    the one 404 that also hides workflows ``principal`` may not read.

    Raises:
        TypeError: ``exc`` is not one of them.
    """
    if isinstance(exc, RPCError):
        return _rpc(exc, workflow_id, principal)
    for kind, translation in TRANSLATIONS.items():
        if isinstance(exc, kind):
            return translation(exc)
    raise TypeError(f"no translation for {type(exc).__name__}")


TRANSLATED: tuple[type[Exception], ...] = (RPCError, *TRANSLATIONS)
"""Every exception type :func:`translate` knows."""

"""Temporal errors become problem+json by exception type and gRPC status code (table-driven).

The RPCError values here are the SDK's real exception type carrying a real encoded gRPC status,
as the service client raises them; producing each code from a live server is done where it can
be (not found, unavailable) in the integration tests.
"""

from __future__ import annotations

import pytest
from google.protobuf.any_pb2 import Any as AnyProto
from temporalio.api.common.v1 import GrpcStatus
from temporalio.api.errordetails.v1 import NamespaceNotFoundFailure, NotFoundFailure
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import (
    ApplicationError,
    CancelledError,
    TerminatedError,
    TimeoutError,
    TimeoutType,
)
from temporalio.service import RPCError, RPCStatusCode

from gateway_api.errors import _failure_problem, _rpc_problem


def rpc_error(code: RPCStatusCode, *details) -> RPCError:
    packed = []
    for d in details:
        any_ = AnyProto()
        any_.Pack(d)
        packed.append(any_)
    status = GrpcStatus(code=code.value, message="m", details=packed)
    return RPCError("m", code, status.SerializeToString())


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (rpc_error(RPCStatusCode.NOT_FOUND, NotFoundFailure()), 404, "workflow-not-found"),
        (rpc_error(RPCStatusCode.NOT_FOUND), 404, "workflow-not-found"),
        (
            rpc_error(RPCStatusCode.NOT_FOUND, NamespaceNotFoundFailure(namespace="x")),
            502,
            "temporal-namespace-not-found",
        ),
        (rpc_error(RPCStatusCode.UNAVAILABLE), 503, "temporal-unavailable"),
        (rpc_error(RPCStatusCode.RESOURCE_EXHAUSTED), 503, "temporal-busy"),
        (rpc_error(RPCStatusCode.DEADLINE_EXCEEDED), 504, "temporal-timeout"),
        (rpc_error(RPCStatusCode.INVALID_ARGUMENT), 400, "temporal-invalid-argument"),
        (rpc_error(RPCStatusCode.PERMISSION_DENIED), 502, "temporal-access-denied"),
        (rpc_error(RPCStatusCode.UNAUTHENTICATED), 502, "temporal-access-denied"),
        (rpc_error(RPCStatusCode.INTERNAL), 502, "temporal-error"),
    ],
)
def test_rpc_errors_map_by_status_code(error, status, code) -> None:
    assert _rpc_problem(error)[:2] == (status, code)


@pytest.mark.parametrize(
    ("cause", "status", "code", "failure_type"),
    [
        (ApplicationError("out", type="OutOfStock"), 500, "workflow-failed", "OutOfStock"),
        (ApplicationError("x"), 500, "workflow-failed", "ApplicationError"),
        (TimeoutError("t", type=TimeoutType.START_TO_CLOSE, last_heartbeat_details=[]), 504,
         "workflow-timed-out", "Timeout"),
        (CancelledError("c"), 409, "workflow-canceled", "Canceled"),
        (TerminatedError("t"), 409, "workflow-terminated", "Terminated"),
    ],
)  # fmt: skip
def test_workflow_failures_map_by_cause_type(cause, status, code, failure_type) -> None:
    got_status, got_code, _, ext = _failure_problem(WorkflowFailureError(cause=cause))
    assert (got_status, got_code, ext["failure_type"]) == (status, code, failure_type)

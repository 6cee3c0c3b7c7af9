"""Temporal errors become problem+json by exception type and gRPC status code (table-driven).

The RPCError values here are the SDK's real exception type carrying a real encoded gRPC status,
as the service client raises them; producing each code from a live server is done where it can
be (not found, unavailable) in the integration tests.
"""

from __future__ import annotations

import importlib.util
import re

import httpx
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

from gateway_api.errors import DuplicateHeader, codes, problem_classes
from gateway_api.http.guards import SINGLE_VALUED
from gateway_api.temporal.failures import translate
from support.procs import ROOT
from temporal_gateway_client.errors import PROBLEM_CODES, error_for


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
    problem = translate(error)
    assert (problem.status, problem.code) == (status, code)


@pytest.mark.parametrize(
    ("cause", "status", "code", "failure_type"),
    [
        (ApplicationError("out", type="OutOfStock"), 500, "workflow-failed", "OutOfStock"),
        (ApplicationError("x"), 500, "workflow-failed", None),
        (TimeoutError("t", type=TimeoutType.START_TO_CLOSE, last_heartbeat_details=[]), 504,
         "workflow-timed-out", "Timeout"),
        (CancelledError("c"), 409, "workflow-canceled", "Canceled"),
        (TerminatedError("t"), 409, "workflow-terminated", "Terminated"),
    ],
)  # fmt: skip
def test_workflow_failures_map_by_cause_type(cause, status, code, failure_type) -> None:
    problem = translate(WorkflowFailureError(cause=cause))
    assert (problem.status, problem.code) == (status, code)
    assert problem.extensions()["failure_type"] == failure_type


def test_every_problem_is_a_class_with_a_code_and_a_when() -> None:
    classes = list(problem_classes())
    assert len({c.code for c in classes}) >= 45
    for cls in classes:
        assert cls.code, cls
        assert cls.title, cls
        assert 400 <= cls.status < 600, cls
        assert (cls.__doc__ or "").strip(), f"{cls.__name__} says nowhere when"


def test_the_python_client_knows_every_code() -> None:
    assert codes() - set(PROBLEM_CODES) == set()


def test_the_docs_error_tables_are_the_codes() -> None:
    spec = importlib.util.spec_from_file_location("docs_tool", ROOT / "hack" / "docs.py")
    assert spec is not None
    assert spec.loader is not None
    docs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(docs)
    assert docs.stale() == [], "run make docs"


def test_duplicate_header_names_the_headers_refused() -> None:
    """The docs' error tables come from the docstring; it named five headers after the guard
    refused eight (issue 24 #12)."""
    named = re.findall(r"`([A-Za-z-]+)`", (DuplicateHeader.__doc__ or "").split("sent twice")[0])
    assert {n.lower() for n in named} == {h.decode() for h in SINGLE_VALUED}


@pytest.mark.parametrize("cls", list(problem_classes()), ids=lambda c: c.code)
def test_the_client_raises_its_kind_for_each_code(cls) -> None:
    response = httpx.Response(cls.status, json={"code": cls.code, "title": cls.title})
    error = error_for(response)
    assert isinstance(error, PROBLEM_CODES[cls.code])
    assert (error.status, error.code) == (cls.status, cls.code)

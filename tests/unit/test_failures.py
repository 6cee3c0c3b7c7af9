"""A failure means what its author meant, whatever the SDK: the innermost application failure
that names a type, never an SDK's class name. The failures here are Temporal's Failure protos
as each SDK sends them, turned into exceptions by the Python SDK's own converter, as the API's
client does."""

from __future__ import annotations

import pytest
from temporalio.api.common.v1 import ActivityType
from temporalio.api.enums.v1 import TimeoutType
from temporalio.api.failure.v1 import (
    ActivityFailureInfo,
    ApplicationFailureInfo,
    Failure,
    TimeoutFailureInfo,
)
from temporalio.client import WorkflowQueryFailedError
from temporalio.converter import DataConverter, DefaultFailureConverter

from gateway_api.temporal.failures import translate
from gateway_core.failures import describe

CONVERTER = DataConverter.default


def app(message: str, type_: str = "", *, cause: Failure | None = None, non_retryable=False,
        details: list | None = None) -> Failure:  # fmt: skip
    info = ApplicationFailureInfo(type=type_, non_retryable=non_retryable)
    if details:
        info.details.CopyFrom(CONVERTER.payload_converter.to_payloads_wrapper(details))
    failure = Failure(message=message, application_failure_info=info)
    if cause is not None:
        failure.cause.CopyFrom(cause)
    return failure


def activity(cause: Failure, activity_type: str = "Charge") -> Failure:
    return Failure(
        message="activity error",
        activity_failure_info=ActivityFailureInfo(activity_type=ActivityType(name=activity_type)),
        cause=cause,
    )


def described(failure: Failure) -> dict:
    exc = DefaultFailureConverter().from_failure(failure, CONVERTER.payload_converter)
    return describe(exc)


OUT_OF_STOCK = app("out of stock: sku-1", "OutOfStock", non_retryable=True,
                   details=[{"sku": "sku-1"}])  # fmt: skip


def test_go_return_nil_err_after_a_failed_activity_is_the_activitys_type() -> None:
    got = described(activity(OUT_OF_STOCK))
    assert (got["type"], got["message"], got["non_retryable"]) == (
        "OutOfStock",
        "out of stock: sku-1",
        True,
    )
    assert got["details"] == [{"sku": "sku-1"}]
    assert got["chain"] == [
        {"kind": "activity", "type": None, "message": "activity error", "activity_type": "Charge"},
        {"kind": "application", "type": "OutOfStock", "message": "out of stock: sku-1"},
    ]


def test_go_fmt_errorf_wrapping_is_not_a_type() -> None:
    wrapped = app("charging failed: activity error", "wrapError", cause=activity(OUT_OF_STOCK))
    got = described(wrapped)
    assert got["type"] == "OutOfStock"
    assert got["chain"][0] == {
        "kind": "application",
        "type": None,
        "message": "charging failed: activity error",
    }
    assert len(got["chain"]) == 3


@pytest.mark.parametrize("generic", ["errorString", "Error", "", "ApplicationError"])
def test_a_plain_error_has_no_type_whatever_the_sdk(generic) -> None:
    got = described(app("boom", generic))
    assert (got["type"], got["message"], got["non_retryable"]) == (None, "boom", False)


def test_a_typed_outer_failure_with_a_plain_cause_keeps_its_type() -> None:
    got = described(app("payment declined", "PaymentDeclined", cause=app("card", "errorString")))
    assert (got["type"], got["message"]) == ("PaymentDeclined", "payment declined")


def test_an_activity_timeout_is_described_by_its_own_kind() -> None:
    timeout = Failure(
        message="activity StartToClose timeout",
        timeout_failure_info=TimeoutFailureInfo(
            timeout_type=TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE
        ),
    )
    got = described(activity(timeout))
    assert got["type"] is None
    assert got["message"] == "activity StartToClose timeout"
    assert [link["kind"] for link in got["chain"]] == ["activity", "timeout"]


def test_a_loop_of_causes_is_cut() -> None:
    first = DefaultFailureConverter().from_failure(app("a", "A"), CONVERTER.payload_converter)
    second = DefaultFailureConverter().from_failure(app("b", "B"), CONVERTER.payload_converter)
    first.__cause__, second.__cause__ = second, first
    assert [link["type"] for link in describe(first)["chain"]] == ["A", "B"]


# --- a query's failure sent as text (every worker but Go's) ----------------------------------

JAVA_TRACE = (
    "io.temporal.failure.ApplicationFailure: message='the order has no item Z', "
    "type='ItemNotFound', nonRetryable=true\n"
    "\tat io.temporal.failure.ApplicationFailure.newFailureWithCause(ApplicationFailure.java:87)\n"
    "\tat example.workers.OrderWorkflow$Impl.quantityOf(OrderWorkflow.java:139)\n"
)


@pytest.mark.parametrize(
    ("text", "failure_type", "detail", "non_retryable"),
    [
        pytest.param(JAVA_TRACE, "ItemNotFound", "the order has no item Z", True, id="java"),
        pytest.param(
            "java.lang.IllegalStateException: boom\n\tat example.Impl.q(Impl.java:3)\n",
            None, "java.lang.IllegalStateException: boom", False, id="java, another exception",
        ),
        pytest.param("the order has no item Z", None, "the order has no item Z", False, id="ts"),
        pytest.param(
            "message='x', type='T', nonRetryable=false", None,
            "message='x', type='T', nonRetryable=false", False, id="not Java's form",
        ),
    ],
)  # fmt: skip
def test_a_query_failure_sent_as_text(text, failure_type, detail, non_retryable) -> None:
    problem = translate(WorkflowQueryFailedError(text))
    assert problem.code == "query-failed"
    assert problem.failure_type == failure_type
    assert problem.detail == problem.failure["message"] == detail
    assert problem.failure["non_retryable"] is non_retryable
    assert "\tat " not in str(problem.failure)  # no worker's stack trace reaches the caller


def test_a_query_failure_sealed_by_the_workers_codec_says_so() -> None:
    """A TypeScript worker that encodes failures sends a query's failure as Temporal's
    placeholder only: the answer says why there is no message, not that the message is it."""
    problem = translate(WorkflowQueryFailedError("Encoded failure"))
    assert problem.code == "query-failed"
    assert problem.failure_type is None
    assert problem.failure["message"] == "Encoded failure"
    assert "codec sealed its message" in problem.detail
    assert "'Encoded failure'" in problem.detail

"""What a workflow's failure means, as its author meant it, whatever the SDK that raised it.

A failure arrives as a chain: a Go workflow's ``return nil, err`` after a failed activity is an
ActivityFailure whose cause is the activity's ApplicationFailure; ``fmt.Errorf("…: %w", err)``
adds an ApplicationFailure of type ``wrapError`` in front; TypeScript and Java chain the same
way. The meaning is the innermost application failure's type, message, ``non_retryable`` and
details: :func:`describe` finds it by walking the chain (the SDK's exceptions, each with its
raw Failure proto), so every answer (a failed workflow, an update rejected or failed, the event
stream's end, a webhook body, the Python client) says the same thing.

An SDK's own class name is never a type: a failure that names no type of its author's (Go's
``errors.New`` is ``errorString``, ``fmt.Errorf`` ``wrapError``; a TypeScript ``Error`` is
``Error``) has ``type: null``, and each link of the chain says what kind of failure it is
(``application``, ``activity``, ``child_workflow``, ``timeout``, ``canceled``, …) from
Temporal's own failure info, not from a class name.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError, FailureError

GENERIC_TYPES = frozenset(
    {
        # Go: the standard library's error types, not the author's.
        "errorString", "wrapError", "wrapErrors", "joinError", "*errors.errorString",
        "*fmt.wrapError", "*fmt.wrapErrors", "*errors.joinError",
        # TypeScript and JavaScript: a plain Error.
        "Error",
        # The SDKs' own failure classes, when one is set as a type.
        "ApplicationError", "ApplicationFailure", "io.temporal.failure.ApplicationFailure",
        # Java sends an update validator's failure as this, without the author's type.
        "io.temporal.internal.worker.WorkflowExecutionException",
    }
)  # fmt: skip
"""Types that say nothing the kind of failure does not: reported as ``null``."""
MAX_CHAIN = 16
"""Links reported; a chain longer than this (a loop of wrapping) is cut."""


def author_type(failure_type: str | None) -> str | None:
    """The type as the workflow's author named it, or None for none or a generic one."""
    return failure_type if failure_type and failure_type not in GENERIC_TYPES else None


def _kind(exc: BaseException) -> str:
    raw = exc.failure if isinstance(exc, FailureError) else None
    info = raw.WhichOneof("failure_info") if raw is not None else None
    if info:
        return info.removesuffix("_failure_info").removesuffix("_execution")
    return "application" if isinstance(exc, ApplicationError) else "failure"


def _message(exc: BaseException) -> str:
    return exc.message if isinstance(exc, FailureError) else str(exc)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < MAX_CHAIN:
        seen.add(id(current))
        yield current
        current = current.__cause__


def _json(value: Any) -> Any:
    """A detail as JSON: what the payload converter made of it (bytes as base64)."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    to_json = getattr(value, "to_json", None)  # a payload the gateway could not decode
    if callable(to_json):
        return to_json()
    return value


def _link(exc: BaseException) -> dict[str, Any]:
    link: dict[str, Any] = {
        "kind": _kind(exc),
        "type": author_type(exc.type) if isinstance(exc, ApplicationError) else None,
        "message": _message(exc),
    }
    if isinstance(exc, ActivityError) and exc.activity_type:
        link["activity_type"] = exc.activity_type
    if isinstance(exc, ChildWorkflowError) and exc.workflow_type:
        link["workflow_type"] = exc.workflow_type
    return link


def describe(exc: BaseException) -> dict[str, Any]:
    """The failure's meaning: ``type`` (the author's, or None), ``message``, ``non_retryable``
    and ``details`` of the innermost application failure that names a type (else of the
    innermost application failure, else of ``exc`` itself), and the ``chain`` of every link,
    outermost first."""
    links = list(_chain(exc))
    applications = [e for e in links if isinstance(e, ApplicationError)]
    typed = [e for e in applications if author_type(e.type)]
    meaning = (typed or applications or links)[-1]
    described: dict[str, Any] = {
        "type": author_type(meaning.type) if isinstance(meaning, ApplicationError) else None,
        "message": _message(meaning),
        "non_retryable": meaning.non_retryable if isinstance(meaning, ApplicationError) else None,
        "details": (
            [_json(d) for d in meaning.details] if isinstance(meaning, ApplicationError) else []
        ),
        "chain": [_link(e) for e in links],
    }
    return described


def stopped(kind: str, message: str) -> dict[str, Any]:
    """The same shape for a workflow that closed without failing on its own: ``kind`` is
    ``terminated``, ``canceled`` or ``timeout``."""
    return {"type": None, "message": message, "non_retryable": None, "details": [],
            "chain": [{"kind": kind, "type": None, "message": message}]}  # fmt: skip

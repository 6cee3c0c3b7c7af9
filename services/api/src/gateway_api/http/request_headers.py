"""The request headers workflow operations read themselves, each declared once.

FastAPI would read these as ``Header()`` parameters, but it resolves each one on every request
at a cost larger than the read (about 190 µs a start for the starts' four dependencies and
parameters, against a bare ``request`` argument: docs/performance.md). A :class:`HeaderParam`
is read by the handler, after the route and the caller are checked and before anything is
started, and documented by
:func:`gateway_api.api.operations.endpoint` with the same schema.

A value that does not fit is a 422 naming ``header.<Name>``, as a FastAPI parameter's is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from gateway_api.errors import InvalidRequest
from gateway_core.callbacks import MAX_URL_LENGTH
from gateway_core.routes import FieldError


@dataclass(frozen=True, slots=True)
class HeaderParam:
    """One optional request header: its name, limits and description."""

    name: str
    description: str
    max_length: int | None = None
    pattern: str | None = None
    example: str | None = None
    list_valued: bool = False
    """Several fields of this name are one comma-separated list (RFC 9110 5.3), read joined;
    a header that is not is refused when repeated (:mod:`gateway_api.http.guards`)."""

    @property
    def field(self) -> str:
        """How errors name it."""
        return f"header.{self.name}"

    def read(self, request: Request) -> str | None:
        """The header's value, None when absent.

        Raises:
            InvalidRequest: longer than ``max_length`` or not matching ``pattern``.
        """
        if self.list_valued:
            values = request.headers.getlist(self.name)
            value = ", ".join(values) if values else None
        else:
            value = request.headers.get(self.name)
        if value is None:
            return None
        if self.max_length is not None and len(value) > self.max_length:
            raise InvalidRequest([FieldError(self.field, f"at most {self.max_length} characters")])
        if self.pattern is not None and re.match(self.pattern, value) is None:
            raise InvalidRequest([FieldError(self.field, f"must match {self.pattern}")])
        return value

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI parameter object."""
        schema: dict[str, Any] = {"type": "string"}
        if self.max_length is not None:
            schema["maxLength"] = self.max_length
        if self.pattern is not None:
            schema["pattern"] = self.pattern
        param = {
            "name": self.name,
            "in": "header",
            "required": False,
            "description": self.description,
            "schema": schema,
        }
        if self.example is not None:
            param["example"] = self.example
        return param


IDEMPOTENCY_KEY = HeaderParam(
    "Idempotency-Key",
    "Makes retries safe: the same caller's same key and body return the same workflow; the "
    "same key with another body is refused with 422. Scoped to the caller (a digest of the "
    "principal before it), it becomes the workflow id after the route's prefix (and, for an "
    "update, the update's id).",
    max_length=128,
    pattern=r"^[A-Za-z0-9._:-]{1,128}$",
)
PREFER = HeaderParam(
    "Prefer",
    "RFC 7240 `wait=N`: wait up to N seconds for the answer (at most API_MAX_WAIT_SECONDS), "
    "then 202 with a Location to poll. `Preference-Applied` says what was used.",
    example="wait=10",
    list_valued=True,
)
"""Never refused (other preferences are ignored), so read only when a wait is decided."""
CALLBACK_URL = HeaderParam(
    "Callback-Url",
    "Call this URL (a signed POST, Standard Webhooks) when the workflow closes. The route "
    "must allow callbacks and this destination; see docs/webhooks.md.",
    max_length=MAX_URL_LENGTH,
)
CALLBACK_OUTCOMES = HeaderParam(
    "Callback-Outcomes",
    "Comma-separated outcomes to report: completed, failed, cancelled, terminated, "
    "timed_out. Unset: the route's default (all of them).",
    max_length=200,
)
IF_MATCH = HeaderParam(
    "If-Match",
    "RFC 9110: apply the change only while the schedule's `ETag` (from its description, "
    "creation or last update) is one of these; 412 `precondition-failed` otherwise. Unset: "
    "apply it to the schedule as it is.",
    max_length=1000,
    example='"AAAAAAAAAAM"',
    list_valued=True,
)

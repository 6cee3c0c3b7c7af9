"""Response bodies, shaped exactly as the seed guide documents them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class HealthResponse(BaseModel):
    service: str = Field(examples=["Temporal Workflow API"])
    status: str = Field(examples=["running"])
    temporal_connected: bool
    routes_version: str | None = Field(
        default=None, description="Version of the route table in use; null before one loads"
    )
    authentication: list[str] = Field(
        default_factory=list,
        description="The credentials accepted: 'api-key', 'jwt', or 'disabled' (development)",
        examples=[["api-key", "jwt"]],
    )
    warning: str | None = Field(
        default=None, description="Set (loudly) when authentication is disabled"
    )


class WorkflowResponse(BaseModel):
    """A started or finished workflow."""

    workflow_id: str = Field(examples=["shopping-workflow-abc123"])
    status: str = Field(
        description="'completed', 'started', or 'running' (202: still running, poll Location)",
        examples=["completed"],
    )
    result: Any = Field(default=None, examples=["Ordered 5 Apples...Ordered 3 Bananas..."])


class WorkflowStatusResponse(BaseModel):
    workflow_id: str
    status: str = Field(description="Temporal's execution status name", examples=["COMPLETED"])
    start_time: datetime | None = None
    close_time: datetime | None = None


class Problem(BaseModel):
    """RFC 9457 problem details (``application/problem+json``)."""

    type: str
    title: str
    status: int
    code: str = Field(description="Stable machine-readable error code")
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = None
    workflow_id: str | None = None

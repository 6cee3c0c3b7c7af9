"""What a schedule is, as a caller (``POST /workflows/<path>/schedules``) or a
``WorkflowSchedule`` resource says it: one set of pydantic models for both.

The HTTP API reads them by their Python names (``cron_expressions``, snake_case as every body
of the API is), the custom resource by their camelCase aliases (``cronExpressions``, Kubernetes
style); the CRD's schema is generated from the same models (``make crds``), so the two cannot
drift apart. What Temporal checks itself (a cron field's range, a calendar that never fires)
it refuses, and the gateway answers that as a 422 naming ``spec``; what is cheap to check here
is checked here, naming the field:

- a cron expression has 5 to 7 fields (Temporal's ``[second] minute hour day-of-month month
  day-of-week [year]``) of digits, names, ``*``, ``,``, ``-`` and ``/``, or is one of the
  predefined ``@hourly`` … ``@yearly``. Refused on purpose: ``#`` (Temporal reads the rest of the
  field as a comment, so ``5#3`` would silently mean "every Friday"), ``@every`` (an interval:
  say it in ``intervals``, where a description shows it) and ``CRON_TZ=`` (say ``time_zone``);
- a time zone the process's time zone database knows (when it has one; Temporal checks it
  again);
- at least one cron expression or interval, a start before the end, an interval's offset
  shorter than the interval.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from temporalio.client import ScheduleOverlapPolicy

MAX_SECONDS = 10 * 365 * 24 * 3600
"""Ten years: the longest interval, jitter or catch-up window a schedule may name."""
MAX_NOTE_LENGTH = 1000
PREDEFINED = frozenset({"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight",
                        "@hourly"})  # fmt: skip
"""Temporal's predefined cron expressions (``@every`` is an interval, said in ``intervals``)."""
_CRON_FIELD = re.compile(r"^[A-Za-z0-9*/,-]+$")
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
"""The times a schedule may name: Temporal's timestamps hold years 1 to 9999 in UTC, and a time
near either end with an offset would fall outside them once converted."""


def _in_range(moment: datetime) -> datetime:
    if not EARLIEST <= moment < LATEST:
        raise ValueError(f"must be from {EARLIEST.isoformat()} to before {LATEST.isoformat()}")
    return moment


Moment = Annotated[AwareDatetime, AfterValidator(_in_range)]
"""A time with its offset, within what Temporal holds."""


class _Model(BaseModel):
    """Kubernetes style on the wire of the resource (camelCase aliases), Python names over
    HTTP; unknown fields refused, values frozen, attribute docstrings as descriptions."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
    )


class OverlapPolicy(StrEnum):
    """What happens when a run is due while the previous one still runs (Temporal's
    ScheduleOverlapPolicy)."""

    SKIP = "Skip"
    BUFFER_ONE = "BufferOne"
    BUFFER_ALL = "BufferAll"
    CANCEL_OTHER = "CancelOther"
    TERMINATE_OTHER = "TerminateOther"
    ALLOW_ALL = "AllowAll"

    def to_temporal(self) -> ScheduleOverlapPolicy:
        return ScheduleOverlapPolicy[re.sub(r"(?<!^)([A-Z])", r"_\1", self.value).upper()]

    @classmethod
    def from_temporal(cls, policy: ScheduleOverlapPolicy) -> OverlapPolicy:
        return cls("".join(part.title() for part in policy.name.split("_")))


class ScheduleInterval(_Model):
    """A fixed period, counted from the Unix epoch, and an offset that shifts each run."""

    every_seconds: int = Field(gt=0, le=MAX_SECONDS)
    """The period: 3600 runs at every full hour (UTC), 86400 every midnight UTC."""
    offset_seconds: int = Field(default=0, ge=0, le=MAX_SECONDS)
    """Shifts each run: every 86400 with offset 7200 runs at 02:00 UTC. Less than the period."""

    @model_validator(mode="after")
    def _offset_within(self) -> ScheduleInterval:
        if self.offset_seconds >= self.every_seconds:
            raise ValueError("the offset must be shorter than the period")
        return self


def _cron(expression: str) -> str:
    problem = cron_problem(expression)
    if problem is not None:
        raise ValueError(problem)
    return expression


CRON_PATTERN = r"^ *(@[A-Za-z]+|[A-Za-z0-9*/,-]+( +[A-Za-z0-9*/,-]+){4,6}) *$"
"""What a cron expression looks like, for schemas (the CRD's API server check): the field
count and characters :func:`cron_problem` checks; its messages are the better ones."""
CronExpression = Annotated[
    str,
    Field(min_length=1, max_length=128, json_schema_extra={"pattern": CRON_PATTERN}),
    AfterValidator(_cron),
]


class ScheduleSpec(_Model):
    """When the schedule runs: cron expressions and intervals (each time any of them says),
    in a time zone, between a start and an end time."""

    cron_expressions: tuple[CronExpression, ...] = Field(default=(), max_length=32)
    """Cron expressions: ``minute hour day-of-month month day-of-week``, optionally with a
    seconds field before and a year field after (5 to 7 fields), or ``@hourly``, ``@daily``,
    ``@weekly``, ``@monthly``, ``@yearly``. Names (``MON-FRI``, ``JAN``) are read as numbers;
    a description shows them so."""
    intervals: tuple[ScheduleInterval, ...] = Field(default=(), max_length=32)
    """Fixed periods, each with an offset."""
    time_zone: str | None = Field(default=None, min_length=1, max_length=64)
    """An IANA time zone (``Europe/Paris``) the cron expressions are read in, daylight saving
    time included. Unset: UTC. Intervals are counted in UTC whatever it says."""
    jitter_seconds: int | None = Field(default=None, ge=0, le=MAX_SECONDS)
    """Delay each run by a random time up to this long, so many schedules due at one moment
    do not start together."""
    start_time: Moment | None = None
    """No run before this time (RFC 3339, with its offset)."""
    end_time: Moment | None = None
    """No run after this time (RFC 3339, with its offset)."""

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, name: str | None) -> str | None:
        if name is not None and not known_time_zone(name):
            raise ValueError(f"{name!r} is not an IANA time zone")
        return name

    @model_validator(mode="after")
    def _runs(self) -> ScheduleSpec:
        if not self.cron_expressions and not self.intervals:
            raise ValueError("name at least one cron expression or interval")
        if self.start_time and self.end_time and self.start_time >= self.end_time:
            raise ValueError("the start time must be before the end time")
        return self


class SchedulePolicy(_Model):
    """What the schedule does when runs overlap, are missed, or fail."""

    overlap: OverlapPolicy = OverlapPolicy.SKIP
    """Skip by default: a run due while the last one still runs is not started (a nightly job
    that takes more than a day is not run twice at once)."""
    catchup_window_seconds: int | None = Field(default=None, ge=10, le=MAX_SECONDS)
    """After an outage (Temporal down, the schedule paused), runs missed less than this long
    ago are still started. Unset: Temporal's default, one year."""
    pause_on_failure: bool = False
    """Pause the schedule when a run fails (its note says so), rather than run again next time."""


class ScheduleSettings(_Model):
    """A schedule's input, when it runs and how: what creating or replacing one sends."""

    input: Any
    """The workflow input each run starts with, checked against the route's ``inputSchema``."""
    spec: ScheduleSpec
    """When it runs."""
    policy: SchedulePolicy = Field(default_factory=SchedulePolicy)
    """Overlaps, missed runs and failures."""
    paused: bool | None = None
    """Paused: no run starts (a trigger or a backfill still does). Unset: not paused on
    create, unchanged on an update."""
    note: str | None = Field(default=None, max_length=MAX_NOTE_LENGTH)
    """Why it is (un)paused, shown by a description."""


def cron_problem(expression: str) -> str | None:
    """Why ``expression`` is not a cron expression the gateway sends Temporal; None when it
    may be one (Temporal checks the ranges)."""
    text = expression.strip()
    if not text or len(text) > 128:
        return "must be 1 to 128 characters"
    if text.startswith("@"):
        if text.lower() in PREDEFINED:
            return None
        if text.lower().startswith("@every"):
            return "an @every is an interval: say it in intervals"
        return f"not one of {', '.join(sorted(PREDEFINED))}"
    if "=" in text:
        return "CRON_TZ= and TZ= are not taken: name the schedule's time zone instead"
    fields = text.split()
    if not 5 <= len(fields) <= 7:
        return f"has {len(fields)} fields; a cron expression has 5 to 7"
    for field in fields:
        if not _CRON_FIELD.match(field):
            return f"field {field!r} may hold only digits, names, '*', ',', '-' and '/'"
    return None


def known_time_zone(name: str) -> bool:
    """Whether ``name`` is a time zone (True when this process has no time zone database to
    ask: Temporal then decides)."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return not zoneinfo.available_timezones()
    return True


def seconds(duration: timedelta | None) -> int | None:
    """A duration as whole seconds (None stays None)."""
    return None if duration is None else int(duration.total_seconds())


SCHEDULE_KIND = "WorkflowSchedule"
SCHEDULE_PLURAL = "workflowschedules"
ROUTE_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"
"""A Kubernetes object name (a DNS subdomain), as a WorkflowRoute's ``metadata.name`` is."""


class WorkflowScheduleSpec(_Model):
    """A schedule of a WorkflowRoute's workflow, kept in Temporal by the operator: the fields of
    ``POST /workflows/<path>/schedules``, with ``schedule`` for its ``spec``."""

    route: str = Field(min_length=1, max_length=253, pattern=ROUTE_NAME_PATTERN)
    """The name of the WorkflowRoute, in this namespace, whose workflow the schedule starts. It
    must list ``schedule`` in its ``operations``."""
    input: Any
    """The workflow input of every run, checked against the route's ``inputSchema``. While it
    does not fit (the route's schema changed) or the route is gone, the schedule is paused with
    a note naming the field."""
    schedule: ScheduleSpec
    """When it runs: cron expressions and intervals, a time zone, jitter, start and end."""
    policy: SchedulePolicy = Field(default_factory=SchedulePolicy)
    """Overlaps, missed runs and failures."""
    paused: bool = False
    """No run starts while it is paused; the operator keeps Temporal's schedule so."""
    note: str | None = Field(default=None, max_length=MAX_NOTE_LENGTH)
    """Why it is (un)paused, shown in Temporal."""

    def settings(self) -> ScheduleSettings:
        """What the API would be sent to make the same schedule."""
        return ScheduleSettings(
            input=self.input,
            spec=self.schedule,
            policy=self.policy,
            paused=self.paused,
            note=self.note,
        )


class ScheduleMetadata(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str = Field(min_length=1, max_length=253)
    namespace: str = "default"


class WorkflowSchedule(BaseModel):
    """One WorkflowSchedule document."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )

    api_version: Literal["temporal-gateway.dev/v1alpha1"]
    kind: Literal["WorkflowSchedule"]
    metadata: ScheduleMetadata
    spec: WorkflowScheduleSpec

"""Schedules: cron for any route. What a schedule is (:mod:`.spec`, shared by the HTTP API's
bodies and the ``WorkflowSchedule`` resource) and how it becomes a Temporal schedule and back
(:mod:`.convert`, shared by the API and the operator).

The one Temporal call both make that needs more than the SDK (an update known to be applied)
is :mod:`.calls`.

Import from here; the modules behind it are the package's own layout.
"""

from gateway_core.schedules import calls
from gateway_core.schedules.convert import (
    EncodedAction,
    build,
    cron_of,
    digest,
    encode_action,
    policy_of,
    spec_of,
    starts_route_workflow,
)
from gateway_core.schedules.spec import (
    CRON_PATTERN,
    MAX_NOTE_LENGTH,
    MAX_SECONDS,
    PREDEFINED,
    ROUTE_NAME_PATTERN,
    SCHEDULE_KIND,
    SCHEDULE_PLURAL,
    Moment,
    OverlapPolicy,
    ScheduleInterval,
    SchedulePolicy,
    ScheduleSettings,
    ScheduleSpec,
    WorkflowSchedule,
    WorkflowScheduleSpec,
    cron_problem,
    known_time_zone,
    seconds,
)

__all__ = [
    "CRON_PATTERN",
    "MAX_NOTE_LENGTH",
    "MAX_SECONDS",
    "PREDEFINED",
    "ROUTE_NAME_PATTERN",
    "SCHEDULE_KIND",
    "SCHEDULE_PLURAL",
    "EncodedAction",
    "Moment",
    "OverlapPolicy",
    "ScheduleInterval",
    "SchedulePolicy",
    "ScheduleSettings",
    "ScheduleSpec",
    "WorkflowSchedule",
    "WorkflowScheduleSpec",
    "build",
    "calls",
    "cron_of",
    "cron_problem",
    "digest",
    "encode_action",
    "known_time_zone",
    "policy_of",
    "seconds",
    "spec_of",
    "starts_route_workflow",
]  # fmt: skip

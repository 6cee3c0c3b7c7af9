"""Structured logging for every service.

structlog renders JSON when stdout is not a terminal (a pod, a log file) and readable console
lines when it is. The standard library's loggers (uvicorn, temporalio) go through the same
renderer, so one service never mixes formats. Request-scoped fields (``request_id``, ``route``,
``workflow_id``) come from structlog's contextvars. When several processes of a service share
one stdout (the API's workers), each line carries its ``pid``.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Literal

import structlog
from temporalio import activity, workflow

from gateway_core.telemetry import add_trace_ids

LogFormat = Literal["auto", "json", "console"]


def configure_logging(
    *, service: str, level: str = "INFO", fmt: LogFormat = "auto", pid: bool = False
) -> None:
    """Route structlog and stdlib logging to stdout in one format.

    Args:
        pid: add the process id to every line, to tell apart processes writing to one stdout.
    """
    use_json = fmt == "json" or (fmt == "auto" and not sys.stdout.isatty())
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        add_trace_ids,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    foreign: list[structlog.types.Processor] = [
        *shared,
        structlog.stdlib.ExtraAdder(),
        _lift_temporal_context,
    ]
    renderer: structlog.types.Processor
    if use_json:
        shared.append(structlog.processors.format_exc_info)
        foreign.append(structlog.processors.format_exc_info)
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer()

    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        # Drops calls below the level before any processor runs (stdlib's BoundLogger would
        # build the whole event dict first, and let the stdlib logger discard it).
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=foreign,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                _add_service(service),
                *([_add_pid] if pid else []),
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn installs its own handlers; let its records reach ours instead.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True


def _add_service(service: str) -> structlog.types.Processor:
    def add(
        _logger: object, _method: str, event: structlog.types.EventDict
    ) -> structlog.types.EventDict:
        event.setdefault("service", service)
        return event

    return add


def _add_pid(
    _logger: object, _method: str, event: structlog.types.EventDict
) -> structlog.types.EventDict:
    event.setdefault("pid", os.getpid())
    return event


def _lift_temporal_context(
    _logger: object, _method: str, event: structlog.types.EventDict
) -> structlog.types.EventDict:
    """The SDK puts workflow/activity details in one ``extra`` dict; make them top-level
    fields (``workflow_id``, ``run_id``, ``activity_type``...) like the API's own. Drop the
    extras that are noise, not context."""
    # kopf passes its whole settings object (and an internal flag) with each record.
    event.pop("settings", None)
    event.pop("k8s_skip", None)
    for key in ("temporal_workflow", "temporal_activity"):
        details = event.pop(key, None)
        if isinstance(details, dict):
            for name, value in details.items():
                event.setdefault(name, value)
    return event


def quiet_temporal_messages() -> None:
    """Keep the SDK's workflow/activity details out of message text (they are fields)."""
    activity.logger.activity_info_on_message = False
    workflow.logger.workflow_info_on_message = False

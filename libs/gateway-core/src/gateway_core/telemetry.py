"""OpenTelemetry tracing for every service, configured by the standard ``OTEL_*`` variables.

- ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``): where spans go
  over OTLP/HTTP. Unset: no span is recorded at all (the sampler drops every one, so spans are
  the SDK's cheap non-recording kind), but trace context still flows, so log lines and
  responses carry trace ids that a caller's own traces can join.
- ``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``: the resource.
- ``OTEL_TRACES_SAMPLER`` and ``OTEL_TRACES_SAMPLER_ARG``: sampling, e.g.
  ``parentbased_traceidratio`` and ``0.1``; the default samples everything, following the
  caller's decision when a ``traceparent`` arrives.

Workflow code never imports this module (the sandbox replays workflows; Temporal's tracing
interceptor handles spans there).
"""

from __future__ import annotations

import os

import structlog
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")


def configure_tracing(service: str) -> TracerProvider:
    """Install the global tracer provider; export only when an OTLP endpoint is configured.

    Reads ``os.environ`` only, as the SDK's exporter and sampler do, so all of them always see
    the same settings.

    Args:
        service: ``service.name`` unless ``OTEL_SERVICE_NAME`` says otherwise.
    """
    env = os.environ
    resource = Resource.create({SERVICE_NAME: env.get("OTEL_SERVICE_NAME") or service})
    if tracing_enabled():
        # The sampler comes from OTEL_TRACES_SAMPLER.
        provider = TracerProvider(resource=resource)
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    else:
        # Nothing would read a recorded span: record none. Ids are still made and continued.
        provider = TracerProvider(resource=resource, sampler=ALWAYS_OFF)
    trace.set_tracer_provider(provider)
    return provider


def tracing_enabled() -> bool:
    """Whether spans are exported (an OTLP endpoint is configured)."""
    return any(os.environ.get(name) for name in ENDPOINT_VARIABLES)


def current_ids() -> tuple[str, str] | None:
    """The current trace and span ids (hex), when there is a valid span."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def add_trace_ids(
    _logger: object, _method: str, event: structlog.types.EventDict
) -> structlog.types.EventDict:
    """structlog processor: ``trace_id`` and ``span_id`` of the span the line is logged in."""
    ids = current_ids()
    if ids is not None:
        event.setdefault("trace_id", ids[0])
        event.setdefault("span_id", ids[1])
    return event

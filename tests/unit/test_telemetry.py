"""configure_tracing from the standard OTEL_* variables: export only with an endpoint, the
sampler from OTEL_TRACES_SAMPLER. No network: nothing here ends a span on an exporting
provider, and every provider is shut down.

The first call in a process also installs the global tracer provider (later calls cannot
replace it); the first test here is the one without an endpoint, so that global never exports.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from gateway_core.telemetry import configure_tracing, current_ids

OTEL_VARIABLES = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
)


@pytest.fixture(autouse=True)
def clean_otel_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # The SDK reads the sampler and the exporter's endpoint from os.environ itself.
    for name in OTEL_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def providers() -> Iterator[list[TracerProvider]]:
    made: list[TracerProvider] = []
    yield made
    for provider in made:
        provider.shutdown()


def processors(provider: TracerProvider) -> tuple[SpanProcessor, ...]:
    # The SDK has no public accessor for the processors a provider was given.
    return tuple(provider._active_span_processor._span_processors)


def test_without_an_endpoint_nothing_is_recorded_but_ids_flow(providers) -> None:
    provider = configure_tracing("temporal-gateway-test")
    providers.append(provider)

    assert processors(provider) == ()
    with provider.get_tracer(__name__).start_as_current_span("request") as span:
        assert not span.is_recording()
        ids = current_ids()
    assert ids == (
        format(span.get_span_context().trace_id, "032x"),
        format(span.get_span_context().span_id, "016x"),
    )
    assert provider.resource.attributes[SERVICE_NAME] == "temporal-gateway-test"


@pytest.mark.parametrize(
    "variable", ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
)
def test_an_endpoint_adds_one_batch_processor(monkeypatch, providers, variable) -> None:
    monkeypatch.setenv(variable, "http://127.0.0.1:4318")
    provider = configure_tracing("temporal-gateway-test")
    providers.append(provider)

    (processor,) = processors(provider)
    assert isinstance(processor, BatchSpanProcessor)


def test_an_empty_endpoint_is_no_endpoint(monkeypatch, providers) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
    provider = configure_tracing("temporal-gateway-test")
    providers.append(provider)
    assert processors(provider) == ()


def test_otel_service_name_wins(monkeypatch, providers) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "checkout-api")
    provider = configure_tracing("temporal-gateway-test")
    providers.append(provider)
    assert provider.resource.attributes[SERVICE_NAME] == "checkout-api"


def sampled_roots(provider: TracerProvider, count: int = 50) -> set[bool]:
    # Asks the provider's sampler rather than ending spans: this provider exports.
    return {
        provider.sampler.should_sample(None, random.getrandbits(128), "root").decision.is_sampled()
        for _ in range(count)
    }


@pytest.mark.parametrize(
    ("sampler", "arg", "expected"),
    [
        (None, None, {True}),  # the default: everything
        ("traceidratio", "0", {False}),
        ("traceidratio", "1", {True}),
        ("parentbased_traceidratio", "0", {False}),
        ("always_off", None, {False}),
    ],
)
def test_sampler_and_ratio_come_from_the_environment(
    monkeypatch, providers, sampler, arg, expected
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")  # sampling on
    if sampler is not None:
        monkeypatch.setenv("OTEL_TRACES_SAMPLER", sampler)
    if arg is not None:
        monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", arg)
    provider = configure_tracing("temporal-gateway-test")
    providers.append(provider)
    assert sampled_roots(provider) == expected


def test_parent_based_ratio_follows_a_sampled_caller(monkeypatch, providers) -> None:
    """Ratio 0 for our own roots, yet a caller's sampled ``traceparent`` is honoured."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0")
    provider = configure_tracing("temporal-gateway-test")
    providers.append(provider)
    caller = trace.SpanContext(
        trace_id=0x4BF92F3577B34DA6A3CE929D0E0E4736,
        span_id=0x00F067AA0BA902B7,
        is_remote=True,
        trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED),
    )
    parent = trace.set_span_in_context(trace.NonRecordingSpan(caller))
    decision = provider.sampler.should_sample(parent, caller.trace_id, "request").decision
    assert decision.is_sampled()


def test_without_an_endpoint_a_callers_trace_id_still_flows(providers) -> None:
    provider = configure_tracing("temporal-gateway-test")
    providers.append(provider)
    caller = trace.SpanContext(
        trace_id=0x4BF92F3577B34DA6A3CE929D0E0E4736,
        span_id=0x00F067AA0BA902B7,
        is_remote=True,
        trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED),
    )
    parent = trace.set_span_in_context(trace.NonRecordingSpan(caller))
    with provider.get_tracer(__name__).start_as_current_span("request", context=parent) as span:
        assert not span.is_recording()
        assert span.get_span_context().trace_id == caller.trace_id

"""The suite's one global SDK tracer provider (instrumentors under test use the global provider by default), built
from the shipped pytest plugin's pieces (:mod:`otel_genai.testing`), and the checks every test runs."""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from otel_genai.testing import ContextProblems, SpanRecorder

STARTS = SpanRecorder()  # every span started (``.started``) and, through its exporter, every span ended
EXPORTER = STARTS.exporter
PROVIDER = TracerProvider()
PROVIDER.add_span_processor(STARTS)
trace.set_tracer_provider(PROVIDER)

PROBLEMS = ContextProblems()  # context errors and double ends, from OpenTelemetry's loggers and ours
PROBLEMS.install()


def assert_all_ended() -> None:
    """Every span started so far has ended exactly once (the exporter sees each end once)."""
    STARTS.assert_all_ended()


def metric_points(reader: Any) -> dict[str, list[Any]]:
    """{metric name: [data points]} of what an ``InMemoryMetricReader`` collected so far."""
    out: dict[str, list[Any]] = {}
    data = reader.get_metrics_data()
    for rm in data.resource_metrics if data else ():
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                out[metric.name] = list(metric.data.data_points)
    return out

"""Shared set-up for the OpenAI instrumentor tests.

:func:`instrumented`: the instrumentor switched on with an SDK MeterProvider (InMemoryMetricReader) and
LoggerProvider (in-memory exporter), switched off on exit; each test module wraps it in its ``otel`` fixture.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from otel_genai.instrumentation.openai import OpenAIInstrumentor

INPUT = "gen_ai.input.messages"
OUTPUT = "gen_ai.output.messages"
CONTENT_KEYS = (INPUT, OUTPUT, "gen_ai.system_instructions", "gen_ai.tool.definitions")


@contextmanager
def instrumented() -> Iterator[SimpleNamespace]:
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    logs = InMemoryLogRecordExporter()
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(meter_provider=meter_provider, logger_provider=logger_provider)
    try:
        yield SimpleNamespace(reader=reader, logs=logs, instrumentor=instrumentor)
    finally:
        instrumentor.uninstrument()


def metric_points(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    """{metric name: [data points]} of everything recorded so far."""
    out: dict[str, list[Any]] = {}
    data = reader.get_metrics_data()
    for rm in data.resource_metrics if data else ():
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                out.setdefault(metric.name, []).extend(metric.data.data_points)
    return out


def token_sums(reader: InMemoryMetricReader) -> dict[str, int]:
    sums: dict[str, int] = {}
    for p in metric_points(reader).get("gen_ai.client.token.usage", []):
        key = p.attributes["gen_ai.token.type"]
        sums[key] = sums.get(key, 0) + int(p.sum)
    return sums


def only_span(spans):
    finished = spans.get_finished_spans()
    assert len(finished) == 1, [s.name for s in finished]
    return finished[0]


def loads(span, key: str) -> Any:
    return json.loads(span.attributes[key])


def run(coro: Any) -> Any:
    return asyncio.run(coro)

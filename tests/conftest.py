"""Shared test set-up: one real SDK tracer provider with an in-memory exporter, and guards that fail a test in
which OpenTelemetry's context machinery logs an error or a span is ended twice."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

os.environ.setdefault("AGNO_TELEMETRY", "false")  # agno phones home by default; tests never reach the network

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_genai import content

sys.path.insert(0, str(Path(__file__).parent))


class StartCounter:
    """Counts span starts, so 'every started span ends' can be checked against the exporter."""

    def __init__(self) -> None:
        self.started: list = []

    def on_start(self, span, parent_context=None) -> None:
        self.started.append(span)

    def on_end(self, span) -> None:
        pass

    def _on_ending(self, span) -> None:
        pass

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


EXPORTER = InMemorySpanExporter()
STARTS = StartCounter()
PROVIDER = TracerProvider()
PROVIDER.add_span_processor(STARTS)
PROVIDER.add_span_processor(SimpleSpanProcessor(EXPORTER))
trace.set_tracer_provider(PROVIDER)


class ProblemLog(logging.Handler):
    """Collects what must never be logged: context errors, and warnings about spans ended twice."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("opentelemetry.context") and record.levelno >= logging.ERROR:
            self.records.append(record)
        elif "ended span" in record.getMessage() or "different Context" in record.getMessage():
            self.records.append(record)


PROBLEMS = ProblemLog()
for name in ("opentelemetry.context", "opentelemetry.sdk.trace", "opentelemetry.trace", "otel_genai"):
    logging.getLogger(name).addHandler(PROBLEMS)


@pytest.fixture(autouse=True)
def spans():
    """The exporter, cleared before the test; after it, no context error or double end may have been logged."""
    EXPORTER.clear()
    STARTS.started.clear()
    PROBLEMS.records.clear()
    yield EXPORTER
    problems = [r.getMessage() for r in PROBLEMS.records]
    PROBLEMS.records.clear()
    assert not problems, f"OpenTelemetry logged problems: {problems}"


@pytest.fixture
def capture_content(monkeypatch):
    """Turn content capture on (SPAN_ONLY) for one test."""
    monkeypatch.setenv(content.CAPTURE_ENV, "SPAN_ONLY")
    content.reload()
    yield
    monkeypatch.delenv(content.CAPTURE_ENV)
    content.reload()


def assert_all_ended() -> None:
    """Every span started so far has ended exactly once (the exporter sees each end once)."""
    finished = EXPORTER.get_finished_spans()
    ids = [s.context.span_id for s in finished]
    assert len(ids) == len(set(ids)), "a span was exported twice"
    started = {s.context.span_id for s in STARTS.started}
    assert started == set(ids), f"{len(started - set(ids))} started span(s) never ended"

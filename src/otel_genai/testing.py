"""A pytest plugin for testing streamed LLM code traced by otel-genai (ours and yours).

Registered as a ``pytest11`` entry point, so it is active wherever otel-genai is installed; nothing happens until a
test asks for one of its fixtures. It needs ``opentelemetry-sdk`` (imported when a fixture is used).

* ``otel_genai_spans``: a :class:`SpanRecorder` with its own SDK ``TracerProvider`` and in-memory exporter, the
  global provider left untouched: pass ``otel_genai_spans.provider`` to ``instrument(tracer_provider=...)`` or to a
  decorator (``@workflow(tracer_provider=...)``). The guard below is on for the test.
* ``otel_genai_metrics``: an SDK ``MeterProvider`` with an ``InMemoryMetricReader`` (``.reader``), likewise local.
* ``otel_genai_guard``: fails the test in which OpenTelemetry's context machinery logs an error ("Failed to detach
  context", "... was created in a different Context") or the SDK warns that a span was ended twice.

Example, on an app's own stream::

    def test_stream_stopped_early(otel_genai_spans):
        OpenAIInstrumentor().instrument(tracer_provider=otel_genai_spans.provider)
        for chunk in app.answer("hi"):   # your generator over an instrumented client
            break
        otel_genai_spans.assert_all_ended()
        assert otel_genai_spans.outcomes() == {"chat gpt-4o": "stopped_early", ...}
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from otel_genai.semconv import OUTCOME

__all__ = ["ContextProblems", "SpanRecorder"]

_WATCHED_LOGGERS = ("opentelemetry.context", "opentelemetry.sdk.trace", "opentelemetry.trace", "otel_genai")


class ContextProblems(logging.Handler):
    """Collects what must never be logged: context errors, and warnings about spans ended twice."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.name.startswith("opentelemetry.context") and record.levelno >= logging.ERROR:
            self.records.append(record)
        elif "ended span" in message or "different Context" in message:
            self.records.append(record)

    def install(self) -> None:
        for name in _WATCHED_LOGGERS:
            logging.getLogger(name).addHandler(self)

    def remove(self) -> None:
        for name in _WATCHED_LOGGERS:
            logging.getLogger(name).removeHandler(self)

    def check(self) -> None:
        """Raise AssertionError listing what was logged (and forget it)."""
        problems = [r.getMessage() for r in self.records]
        self.records.clear()
        assert not problems, f"OpenTelemetry logged problems: {problems}"


class SpanRecorder:
    """A span processor that remembers every span started, beside an exporter that sees every span ended.

    Used as a processor of any SDK ``TracerProvider`` (``provider.add_span_processor(recorder)``), or made with its
    own provider by :meth:`with_provider`.
    """

    def __init__(self) -> None:
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        self.started: list[Any] = []
        self.exporter = InMemorySpanExporter()
        self._export = SimpleSpanProcessor(self.exporter)
        self.provider: Any = None

    @classmethod
    def with_provider(cls) -> SpanRecorder:
        from opentelemetry.sdk.trace import TracerProvider

        recorder = cls()
        recorder.provider = TracerProvider()
        recorder.provider.add_span_processor(recorder)
        return recorder

    # SpanProcessor
    def on_start(self, span: Any, parent_context: Any = None) -> None:
        self.started.append(span)

    def _on_ending(self, span: Any) -> None:
        pass

    def on_end(self, span: Any) -> None:
        self._export.on_end(span)

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True

    # reading
    def finished(self) -> tuple[Any, ...]:
        return self.exporter.get_finished_spans()

    def clear(self) -> None:
        self.started.clear()
        self.exporter.clear()

    def outcomes(self) -> dict[str, Any]:
        """``{span name: otel_genai.outcome}`` of the finished spans that have one (the last of each name)."""
        return {s.name: s.attributes[OUTCOME] for s in self.finished() if OUTCOME in (s.attributes or {})}

    def assert_all_ended(self, with_outcome: tuple[str, ...] = ()) -> None:
        """Every span started so far ended exactly once; the spans named in ``with_outcome`` carry an outcome."""
        finished = self.finished()
        ids = [s.context.span_id for s in finished]
        assert len(ids) == len(set(ids)), "a span was exported twice"
        started = {s.context.span_id for s in self.started}
        open_ = [s.name for s in self.started if s.context.span_id not in set(ids)]
        assert started == set(ids), f"{len(open_)} started span(s) never ended: {open_}"
        missing = [s.name for s in finished if s.name in with_outcome and OUTCOME not in (s.attributes or {})]
        assert not missing, f"ended without {OUTCOME}: {missing}"


@pytest.fixture
def otel_genai_guard() -> Iterator[ContextProblems]:
    """Fail the test if OpenTelemetry logs a context error or a double end while it runs."""
    problems = ContextProblems()
    problems.install()
    try:
        yield problems
        problems.check()
    finally:
        problems.remove()


@pytest.fixture
def otel_genai_spans(otel_genai_guard: ContextProblems) -> Iterator[SpanRecorder]:
    """A :class:`SpanRecorder` with its own tracer provider (the global one is not touched)."""
    recorder = SpanRecorder.with_provider()
    yield recorder
    recorder.provider.shutdown()


@pytest.fixture
def otel_genai_metrics() -> Iterator[Any]:
    """An SDK ``MeterProvider`` whose ``.reader`` (an ``InMemoryMetricReader``) collects its points."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    provider.reader = reader  # type: ignore[attr-defined]
    yield provider
    provider.shutdown()

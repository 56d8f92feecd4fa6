"""OpenTelemetry instrumentation for LLM clients and agent frameworks whose spans stay right when everything streams."""

from otel_genai.context_attributes import ContextAttributesSpanProcessor, using_attributes
from otel_genai.decorators import agent, task, tool, workflow
from otel_genai.lifecycle import Observer, Outcome, SpanRun, start_run, wrap_result
from otel_genai.version import __version__

__all__ = [
    "ContextAttributesSpanProcessor",
    "Observer",
    "Outcome",
    "SpanRun",
    "__version__",
    "agent",
    "start_run",
    "task",
    "tool",
    "using_attributes",
    "workflow",
    "wrap_result",
]

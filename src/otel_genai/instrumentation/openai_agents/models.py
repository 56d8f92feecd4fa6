"""Model calls under the right agent: the models' ``get_response`` / ``stream_response`` run with the OTel span of the
SDK's current span current.

For the OpenAI instrumentor's CLIENT span to nest under the agent that made the call, the OTel context must hold that
agent's span while the OpenAI SDK runs. At call time the SDK's current span (``agents.tracing.get_current_span()``:
the turn or agent span) is looked up in the processor's map, and its OTel span is made current while the coroutine is
awaited or, for the streamed async generator, during each step (the engine's :func:`~otel_genai.lifecycle.call_in_span`,
so no token is held across a ``yield``). No span of its own is added.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.utils import is_instrumentation_enabled

from otel_genai.instrumentation._llm import Telemetry
from otel_genai.instrumentation.openai_agents.processor import MODEL_KEY, OTelTracingProcessor
from otel_genai.lifecycle import call_in_context

# (module, class) whose get_response / stream_response run the model call
MODEL_CLASSES = (
    ("agents.models.openai_chatcompletions", "OpenAIChatCompletionsModel"),
    ("agents.models.openai_responses", "OpenAIResponsesModel"),
)
MODEL_METHODS = ("get_response", "stream_response")


def model_call_wrapper(processor: OTelTracingProcessor) -> Any:
    """Run a model's get_response / stream_response with the OTel span of the SDK's current span current."""
    from agents.tracing import get_current_span

    def wrapper(telemetry: Telemetry, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        try:
            sdk_span = get_current_span()
            span = processor.otel_span(sdk_span.span_id) if sdk_span is not None else None
        except Exception:
            span = None
        if span is None or not is_instrumentation_enabled():
            return wrapped(*args, **kwargs)
        ctx = trace.set_span_in_context(span, otel_context.get_current())
        model = getattr(instance, "model", None)
        if model is not None:
            ctx = otel_context.set_value(MODEL_KEY, str(model), ctx)
        # a non-recording span: the engine keeps `ctx` current for the call (each step of a stream), adds no span
        return call_in_context(ctx, wrapped, args, kwargs)

    return wrapper

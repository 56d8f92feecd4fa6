"""Tool calls: ``FunctionCall.execute`` / ``aexecute`` as ``execute_tool {name}`` spans.

The team's delegate tools return a *generator* from ``execute`` / ``aexecute`` that Agno consumes later, and the
member agent runs while it is consumed. The tool span therefore stays open over that generator (wrapped by the
engine, so the member's ``invoke_agent`` span nests under ``execute_tool delegate_task_to_member``). A tool that
raised returns a result with status ``failure``: that sets the span's status to ERROR.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind

from otel_genai import content
from otel_genai import semconv as gen_ai
from otel_genai.instrumentation._llm import Telemetry
from otel_genai.instrumentation.agno.runs import failed
from otel_genai.lifecycle import SpanRun, await_attached, call_attached, start_run, wrap_result

logger = logging.getLogger(__name__)

TOOL_ERROR = "agno.ToolCallFailure"


def _settle_tool(run: SpanRun, call: Any, result: Any) -> Any:
    """End the tool span now, or, when the tool returned a generator (team delegation), when that is consumed."""
    inner = getattr(result, "result", None)
    if inspect.isgenerator(inner) or inspect.isasyncgen(inner):
        traced = wrap_result(run, inner)
        try:
            result.result = traced
            if getattr(call, "result", None) is inner:
                call.result = traced  # the async path reads the generator from the FunctionCall
        except Exception:
            logger.debug("otel-genai: could not wrap a tool's generator", exc_info=True)
            run.end()
        return result
    span = run.span
    try:
        if getattr(result, "status", None) == "failure":
            failed(span, getattr(result, "error", None), TOOL_ERROR)
        elif content.capture_mode().on_span and inner is not None:
            span.set_attribute(gen_ai.GEN_AI_TOOL_CALL_RESULT, content.to_json(inner))
    except Exception:
        logger.debug("otel-genai: recording a tool result failed", exc_info=True)
    run.end()
    return result


def _start_tool(tracer: trace.Tracer, call: Any) -> SpanRun | None:
    function = getattr(call, "function", None)
    name = getattr(function, "name", None) or "tool"
    span_name, attrs = gen_ai.tool_span(name, getattr(call, "call_id", None))
    arguments = getattr(call, "arguments", None)
    if arguments is not None and content.capture_mode().on_span:
        attrs[gen_ai.GEN_AI_TOOL_CALL_ARGUMENTS] = content.to_json(arguments)
    return start_run(tracer, span_name, SpanKind.INTERNAL, attrs)


def tool_wrapper(is_async: bool) -> Any:
    """``FunctionCall.execute`` (sync) or ``aexecute`` (a coroutine), run with the tool span current (the engine's
    :func:`~otel_genai.lifecycle.call_attached` / :func:`~otel_genai.lifecycle.await_attached`): an exception ends
    the span; on success :func:`_settle_tool` ends it, or leaves it open over a generator the tool returned."""

    def wrapper(telemetry: Telemetry, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        run = _start_tool(telemetry.tracer, instance)
        if run is None:
            return wrapped(*args, **kwargs)
        if is_async:

            async def asettled(*a: Any, **k: Any) -> Any:
                return _settle_tool(run, instance, await wrapped(*a, **k))

            # with the span current; an exception or cancellation ends it, success is settled by _settle_tool
            return await_attached(run, asettled(*args, **kwargs))

        def settled(*a: Any, **k: Any) -> Any:
            return _settle_tool(run, instance, wrapped(*a, **k))

        return call_attached(run, settled, *args, **kwargs)

    return wrapper

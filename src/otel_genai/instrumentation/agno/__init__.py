"""Agno -> OpenTelemetry GenAI spans.

``Agent.run`` / ``Agent.arun`` and ``Team.run`` / ``Team.arun`` become ``invoke_agent {name}`` spans, tool calls
(``FunctionCall.execute`` / ``aexecute``) ``execute_tool {name}`` spans.

What a call returns decides how its span ends, never its arguments (``stream=True`` may come from the call, from
``Agent(stream=True)`` or from a team default): the result goes to the engine (:func:`otel_genai.lifecycle
.call_in_span`), so ``arun()`` returning a coroutine ends the span when awaited, ``arun(stream=True)`` (a plain
``def`` returning an async generator) gives back an async generator usable with ``async for`` and no ``await``,
``run(stream=True)`` a generator; a stream's span covers the whole stream, ends once, and each event reaches the
consumer as soon as Agno yields it.

Agno reports failures as data rather than exceptions: a run that failed (e.g. HTTP 500 from the model) returns a
``RunOutput`` with status ``ERROR`` or streams a ``RunError`` event; a tool that raised returns a result with status
``failure``. Those set the span's status to ERROR.

Tools: the team's delegate tools return a *generator* from ``execute`` / ``aexecute`` that Agno consumes later, and
the member agent runs while it is consumed. The tool span therefore stays open over that generator (wrapped by the
engine, so the member's ``invoke_agent`` span nests under ``execute_tool delegate_task_to_member``).

Agno makes no model spans of its own; model calls through the OpenAI SDK get their CLIENT span from the OpenAI
instrumentor, nested under ``invoke_agent`` because the engine keeps the agent span current while Agno runs.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Collection
from typing import Any

import wrapt
from opentelemetry import trace
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor
from opentelemetry.instrumentation.utils import unwrap
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from otel_genai import content
from otel_genai.decorators import INPUT, OUTPUT, SPAN_TYPE
from otel_genai.lifecycle import ERROR_TYPE, Observer, SpanRun, call_in_span, start_run, wrap_result
from otel_genai.version import __version__

logger = logging.getLogger(__name__)

RUN_ERROR_EVENTS = frozenset({"RunError", "TeamRunError"})
RUN_COMPLETED_EVENTS = frozenset({"RunCompleted", "TeamRunCompleted"})
TOOL_ERROR = "agno.ToolCallFailure"

# (module, class, methods)
TARGETS = (
    ("agno.agent.agent", "Agent", ("run", "arun")),
    ("agno.team.team", "Team", ("run", "arun")),
    ("agno.tools.function", "FunctionCall", ("execute", "aexecute")),
)


def _failed(span: Span, message: Any, error_type: str) -> None:
    span.set_attribute(ERROR_TYPE, error_type)
    span.set_status(Status(StatusCode.ERROR, str(message or error_type)))


class _RunObserver(Observer):
    """Per-run: notices failures reported as data, and the output when content capture is on."""

    __slots__ = ("capture", "error", "output")

    def __init__(self, capture: bool) -> None:
        self.capture = capture
        self.error: Any = None
        self.output: Any = None

    def on_item(self, item: Any) -> None:
        event = getattr(item, "event", None)
        if event in RUN_ERROR_EVENTS:
            self.error = getattr(item, "content", None) or event
        elif self.capture and event in RUN_COMPLETED_EVENTS:
            self.output = getattr(item, "content", None)

    def on_value(self, span: Span, value: Any) -> None:
        if str(getattr(value, "status", "")).upper().endswith("ERROR"):
            self.error = getattr(value, "content", None) or "run failed"
        elif self.capture:
            self.output = getattr(value, "content", None)

    def on_end(self, span: Span, error: BaseException | None) -> None:
        if error is None and self.error is not None:
            _failed(span, self.error, "agno.RunError")
        if self.output is not None:
            span.set_attribute(OUTPUT, content.to_json(self.output))


def _run_wrapper(tracer: trace.Tracer) -> Any:
    def wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        name = getattr(instance, "name", None) or getattr(instance, "id", None) or type(instance).__name__
        attrs: dict[str, Any] = {
            SPAN_TYPE: "agent",
            gen_ai.GEN_AI_OPERATION_NAME: "invoke_agent",
            gen_ai.GEN_AI_AGENT_NAME: str(name),
        }
        agent_id = getattr(instance, "id", None)
        if agent_id:
            attrs[gen_ai.GEN_AI_AGENT_ID] = str(agent_id)
        session_id = kwargs.get("session_id") or getattr(instance, "session_id", None)
        if session_id:
            attrs[gen_ai.GEN_AI_CONVERSATION_ID] = str(session_id)
        capture = content.capture_mode().on_span
        if capture:
            user_input = args[0] if args else kwargs.get("input")
            if user_input is not None:
                attrs[INPUT] = content.to_json(user_input)
        run = start_run(tracer, f"invoke_agent {name}", SpanKind.INTERNAL, attrs, _RunObserver(capture))
        return call_in_span(run, wrapped, args, kwargs)

    return wrapper


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
            _failed(span, getattr(result, "error", None), TOOL_ERROR)
        elif content.capture_mode().on_span and inner is not None:
            span.set_attribute(gen_ai.GEN_AI_TOOL_CALL_RESULT, content.to_json(inner))
    except Exception:
        logger.debug("otel-genai: recording a tool result failed", exc_info=True)
    run.end()
    return result


def _start_tool(tracer: trace.Tracer, call: Any) -> SpanRun | None:
    function = getattr(call, "function", None)
    name = getattr(function, "name", None) or "tool"
    attrs: dict[str, Any] = {
        SPAN_TYPE: "tool",
        gen_ai.GEN_AI_OPERATION_NAME: "execute_tool",
        gen_ai.GEN_AI_TOOL_NAME: name,
        gen_ai.GEN_AI_TOOL_TYPE: "function",
    }
    call_id = getattr(call, "call_id", None)
    if call_id:
        attrs[gen_ai.GEN_AI_TOOL_CALL_ID] = str(call_id)
    arguments = getattr(call, "arguments", None)
    if arguments is not None and content.capture_mode().on_span:
        attrs[gen_ai.GEN_AI_TOOL_CALL_ARGUMENTS] = content.to_json(arguments)
    return start_run(tracer, f"execute_tool {name}", SpanKind.INTERNAL, attrs)


class _ErrorsOnly(SpanRun):
    """Carries a tool span's context through the engine's :func:`call_in_span` and passes on only an error: on
    success :func:`_settle_tool` decides, as the span may have to stay open over a generator the tool returned."""

    __slots__ = ("_run",)

    def __init__(self, run: SpanRun) -> None:
        super().__init__(run.span, run.otel_context)
        self._run = run

    def end(self, outcome: str | None = None, error: BaseException | None = None) -> None:
        if error is not None:
            self._run.end(error=error)


def _tool_wrapper(tracer: trace.Tracer, is_async: bool) -> Any:
    """``FunctionCall.execute`` (sync) or ``aexecute`` (a coroutine), run by the engine with the tool span current."""

    def wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        run = _start_tool(tracer, instance)
        if run is None:
            return wrapped(*args, **kwargs)
        if is_async:

            async def settled(*a: Any, **k: Any) -> Any:
                return _settle_tool(run, instance, await wrapped(*a, **k))

        else:

            def settled(*a: Any, **k: Any) -> Any:
                return _settle_tool(run, instance, wrapped(*a, **k))

        return call_in_span(_ErrorsOnly(run), settled, args, kwargs)

    return wrapper


class AgnoInstrumentor(BaseInstrumentor):
    """Trace Agno agents, teams and tool calls as OpenTelemetry GenAI spans."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("agno >= 2.0.0",)

    def _instrument(self, **kwargs: Any) -> None:
        import importlib

        content.reload()
        tracer = trace.get_tracer(__name__, __version__, tracer_provider=kwargs.get("tracer_provider"))
        wrappers = {
            "run": _run_wrapper(tracer),
            "arun": _run_wrapper(tracer),
            "execute": _tool_wrapper(tracer, is_async=False),
            "aexecute": _tool_wrapper(tracer, is_async=True),
        }
        for module, cls, methods in TARGETS:
            target = getattr(importlib.import_module(module), cls)
            for method in methods:
                wrapt.wrap_function_wrapper(target, method, wrappers[method])

    def _uninstrument(self, **kwargs: Any) -> None:
        import importlib

        for module, cls, methods in TARGETS:
            target = getattr(importlib.import_module(module), cls)
            for method in methods:
                unwrap(target, method)

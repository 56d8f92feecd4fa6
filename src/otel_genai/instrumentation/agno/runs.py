"""Agent and team runs: ``Agent.run`` / ``arun`` and ``Team.run`` / ``arun`` as ``invoke_agent {name}`` spans.

What a call returns decides how its span ends, never its arguments (``stream=True`` may come from the call, from
``Agent(stream=True)`` or from a team default): the result goes to the engine, so ``arun()`` returning a coroutine
ends the span when awaited, ``arun(stream=True)`` (a plain ``def`` returning an async generator) gives back an async
generator usable with ``async for`` and no ``await``, ``run(stream=True)`` a generator.

Agno reports failures as data rather than exceptions: a run that failed returns a ``RunOutput`` with status
``ERROR`` or streams a ``RunError`` event. Those set the span's status to ERROR.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from otel_genai import content
from otel_genai import semconv as gen_ai
from otel_genai.instrumentation._llm import Telemetry
from otel_genai.lifecycle import Observer, call_in_span, start_run

RUN_ERROR_EVENTS = frozenset({"RunError", "TeamRunError"})
RUN_COMPLETED_EVENTS = frozenset({"RunCompleted", "TeamRunCompleted"})


def failed(span: Span, message: Any, error_type: str) -> None:
    """Mark ``span`` failed for an error Agno reported as data."""
    span.set_attribute(gen_ai.ERROR_TYPE, error_type)
    span.set_status(Status(StatusCode.ERROR, str(message or error_type)))


class RunObserver(Observer):
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
            failed(span, self.error, "agno.RunError")
        if self.output is not None:
            span.set_attribute(gen_ai.OUTPUT, content.to_json(self.output))


def run_wrapper(telemetry: Telemetry, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
    """``Agent.run`` / ``arun``, ``Team.run`` / ``arun``: the engine ends the span when the result is consumed."""
    name = getattr(instance, "name", None) or getattr(instance, "id", None) or type(instance).__name__
    span_name, attrs = gen_ai.agent_span(str(name), getattr(instance, "id", None))
    session_id = kwargs.get("session_id") or getattr(instance, "session_id", None)
    if session_id:
        attrs[gen_ai.GEN_AI_CONVERSATION_ID] = str(session_id)
    capture = content.capture_mode().on_span
    if capture:
        user_input = args[0] if args else kwargs.get("input")
        if user_input is not None:
            attrs[gen_ai.INPUT] = content.to_json(user_input)
    run = start_run(telemetry.tracer, span_name, SpanKind.INTERNAL, attrs, RunObserver(capture))
    return call_in_span(run, wrapped, args, kwargs)

"""``@workflow``, ``@task``, ``@agent`` and ``@tool`` for user code.

Each is a ``wrapt.FunctionWrapper``: methods, classmethods and staticmethods bind as usual, and ``inspect`` sees the
original function's kind (coroutine / generator / async generator function), so frameworks that dispatch on it
keep working. At call time the span starts, the function runs with the span current, and whatever it returned goes
to the engine (:mod:`otel_genai.lifecycle`), which ends the span when that result is consumed.

Spans go to the global tracer provider, or to the one given as ``tracer_provider=`` (``@task(tracer_provider=p)``:
a test's own provider, one per tenant, a provider that is not the global one).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar, overload

import wrapt
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind

from otel_genai import content
from otel_genai import semconv as gen_ai
from otel_genai.lifecycle import Observer, call_in_span, start_run
from otel_genai.version import __version__

F = TypeVar("F", bound=Callable[..., Any])

INPUT = gen_ai.INPUT
OUTPUT = gen_ai.OUTPUT
SPAN_TYPE = gen_ai.SPAN_TYPE

_SCOPE = "otel_genai"
_tracer = trace.get_tracer(_SCOPE, __version__)  # the global provider, resolved at each span start


class _ValueObserver(Observer):
    """Records the final value (tool result / function output) when content capture is on."""

    __slots__ = ("attribute",)

    def __init__(self, attribute: str) -> None:
        self.attribute = attribute

    def on_value(self, span: Span, value: Any) -> None:
        span.set_attribute(self.attribute, content.to_json(value))  # to_json never raises


_TOOL_RESULT = _ValueObserver(gen_ai.GEN_AI_TOOL_CALL_RESULT)
_OUTPUT = _ValueObserver(OUTPUT)


def _arguments(fn: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> dict[str, Any]:
    try:
        bound = inspect.signature(fn).bind_partial(*args, **kwargs)
        return dict(bound.arguments)
    except (TypeError, ValueError):
        return {"args": list(args), "kwargs": kwargs}


def _captured_arguments(fn: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> str:
    """The call's arguments as capped JSON; a placeholder if even that fails (capture never breaks the call)."""
    try:
        return content.to_json(_arguments(fn, instance, args, kwargs))
    except Exception:
        return content.to_json(content.placeholder(args))


_SHAPES = {"workflow": gen_ai.workflow_span, "agent": gen_ai.agent_span, "tool": gen_ai.tool_span}


class _SpanSpec:
    """What a decorator puts on its spans; built once per decorated function."""

    __slots__ = ("attributes", "input_attribute", "name", "output_observer")

    def __init__(self, span_type: str, name: str) -> None:
        shape = _SHAPES.get(span_type)
        if shape is not None:
            self.name, attributes = shape(name)
        else:
            self.name, attributes = name, {SPAN_TYPE: span_type}
        self.attributes = attributes
        is_tool = span_type == "tool"
        self.input_attribute = gen_ai.GEN_AI_TOOL_CALL_ARGUMENTS if is_tool else INPUT
        self.output_observer = _TOOL_RESULT if is_tool else _OUTPUT


def _decorator(
    span_type: str, fn: Callable[..., Any] | None, name: str | None, tracer_provider: trace.TracerProvider | None
) -> Any:
    tracer = _tracer if tracer_provider is None else trace.get_tracer(_SCOPE, __version__, tracer_provider)

    def decorate(fn: F) -> F:
        target = fn.__func__ if isinstance(fn, (classmethod, staticmethod)) else fn
        spec = _SpanSpec(span_type, name or getattr(target, "__name__", None) or span_type)

        def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
            attributes, observer = spec.attributes, None
            if content.capture_mode().on_span:
                attributes = dict(attributes)
                attributes[spec.input_attribute] = _captured_arguments(wrapped, instance, args, kwargs)
                observer = spec.output_observer
            run = start_run(tracer, spec.name, SpanKind.INTERNAL, attributes, observer)
            return call_in_span(run, wrapped, args, kwargs)

        if isinstance(fn, (classmethod, staticmethod)):
            return type(fn)(wrapt.FunctionWrapper(target, wrapper))  # type: ignore[return-value]
        return wrapt.FunctionWrapper(fn, wrapper)  # type: ignore[return-value]

    return decorate if fn is None else decorate(fn)


@overload
def workflow(fn: F) -> F: ...
@overload
def workflow(*, name: str | None = None, tracer_provider: trace.TracerProvider | None = None) -> Callable[[F], F]: ...
def workflow(fn: Any = None, *, name: str | None = None, tracer_provider: trace.TracerProvider | None = None) -> Any:
    """Trace a call as ``invoke_workflow {name}``: the top of an LLM application's unit of work."""
    return _decorator("workflow", fn, name, tracer_provider)


@overload
def task(fn: F) -> F: ...
@overload
def task(*, name: str | None = None, tracer_provider: trace.TracerProvider | None = None) -> Callable[[F], F]: ...
def task(fn: Any = None, *, name: str | None = None, tracer_provider: trace.TracerProvider | None = None) -> Any:
    """Trace a call as a span named ``{name}``: a step inside a workflow or agent."""
    return _decorator("task", fn, name, tracer_provider)


@overload
def agent(fn: F) -> F: ...
@overload
def agent(*, name: str | None = None, tracer_provider: trace.TracerProvider | None = None) -> Callable[[F], F]: ...
def agent(fn: Any = None, *, name: str | None = None, tracer_provider: trace.TracerProvider | None = None) -> Any:
    """Trace a call as ``invoke_agent {name}``."""
    return _decorator("agent", fn, name, tracer_provider)


@overload
def tool(fn: F) -> F: ...
@overload
def tool(*, name: str | None = None, tracer_provider: trace.TracerProvider | None = None) -> Callable[[F], F]: ...
def tool(fn: Any = None, *, name: str | None = None, tracer_provider: trace.TracerProvider | None = None) -> Any:
    """Trace a call as ``execute_tool {name}``; arguments and result are captured only when content capture is on."""
    return _decorator("tool", fn, name, tracer_provider)

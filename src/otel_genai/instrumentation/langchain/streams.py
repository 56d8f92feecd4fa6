"""Where the OTel context comes from: streams keep the caller's context, run bodies get their run's span.

**Streams** (``stream`` / ``astream`` / ``astream_events`` / ``astream_log`` of runnables, chat models and graphs):
the call returns a generator whose body, and the root run's first callback, runs only when the consumer pulls the
first item, possibly in another task (Starlette iterates a response body in its own task). The wrapper hands the
call to the engine's :func:`~otel_genai.lifecycle.call_in_context` with the context current *at call time*, so the
body runs there, each step in a private ``contextvars.Context``, and the root run's span is parented where the call
was made. The result keeps its kind (generator / async generator; other iterators through the engine's proxies),
items pass one by one (nothing buffered). Only calls made outside any LangChain run are wrapped: inside one, the
run's own context (below) already holds the right span.

A thin generator of the same kind around it tells a consumer that stopped (``close()`` / ``aclose()``) from a
stream dropped and collected unclosed: a collected generator's weak references are cleared before Python closes it,
so a dead weak reference to the wrapper at ``GeneratorExit`` means the stream was dropped (the root run then ends
``abandoned``, not ``stopped_early``).

**Run bodies.** LangChain and LangGraph run each runnable's body (a node's function, a tool, a step of a sequence)
inside ``set_config_context``, which copies the context and sets the child config in the copy through
``_set_config_context``. Our wrapper of ``_set_config_context`` also makes the span of the run whose body it is
current *in that copy*: spans started in a node's body (a decorated function, an OpenAI / httpx call) are the node's
children, whatever task or thread LangChain runs the body in. The token is never detached: the copy is private to
that body and discarded with it, so nothing is detached in a foreign context.
"""

from __future__ import annotations

import logging
import types
import weakref
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.utils import is_instrumentation_enabled

from otel_genai.instrumentation._llm import Telemetry
from otel_genai.instrumentation.langchain.callbacks import STREAM_KEY, OTelCallbackHandler, StreamState
from otel_genai.lifecycle import call_in_context, owned_first_step

__all__ = ["config_context_wrapper", "stream_wrapper"]

logger = logging.getLogger(__name__)


def stream_wrapper(telemetry: Telemetry, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
    """A top-level stream call: its body runs in the caller's context of now (see the module docstring)."""
    from langchain_core.runnables.config import var_child_runnable_config

    if (
        var_child_runnable_config.get() is not None
        or otel_context.get_value(STREAM_KEY) is not None
        or not is_instrumentation_enabled()
    ):
        return wrapped(*args, **kwargs)
    state = StreamState()
    result = call_in_context(otel_context.set_value(STREAM_KEY, state), wrapped, args, kwargs)
    try:
        if isinstance(result, types.GeneratorType):
            return _watched(result, state)
        if isinstance(result, types.AsyncGeneratorType):
            return _awatched(result, state)  # only our wrapper is known to the event loop; it closes this
    except Exception:
        logger.debug("otel-genai: watching a langchain stream failed", exc_info=True)
    return result


def _watched(gen: Any, state: StreamState) -> Any:
    ref: list[Any] = []
    outer = _watch(gen, state, ref)
    ref.append(weakref.ref(outer))
    return outer


def _watch(gen: Any, state: StreamState, ref: list[Any]) -> Any:
    op, arg = gen.send, None
    while True:
        try:
            item = op(arg)
        except StopIteration as stop:
            return stop.value
        try:
            arg = yield item
        except GeneratorExit:
            if not ref or ref[0]() is None:  # being collected: weak references are cleared before the close
                state.dropped = True
            gen.close()
            raise
        except BaseException as exc:
            op, arg = gen.throw, exc
        else:
            op = gen.send


def _awatched(agen: Any, state: StreamState) -> Any:
    ref: list[Any] = []
    outer = _awatch(agen, state, ref)
    ref.append(weakref.ref(outer))
    return outer


async def _awatch(agen: Any, state: StreamState, ref: list[Any]) -> Any:
    op, arg = owned_first_step, agen
    while True:
        try:
            item = await op(arg)
        except StopAsyncIteration:
            return
        try:
            arg = yield item
        except GeneratorExit:
            if not ref or ref[0]() is None:
                state.dropped = True
            await agen.aclose()
            raise
        except BaseException as exc:
            op, arg = agen.athrow, exc
        else:
            op = agen.asend


def config_context_wrapper(handler: OTelCallbackHandler) -> Any:
    """Wrap ``_set_config_context`` (LangChain's and LangGraph's): the body's run span becomes current in the copy."""

    def wrapper(telemetry: Telemetry, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        result = wrapped(*args, **kwargs)
        try:
            config = args[0] if args else kwargs.get("config")
            callbacks = config.get("callbacks") if isinstance(config, dict) else None
            parent = getattr(callbacks, "parent_run_id", None)
            if parent is not None:
                span = handler.span_of(parent)
                if span is not None:
                    otel_context.attach(trace.set_span_in_context(span))  # in set_config_context's private copy
        except Exception:
            logger.debug("otel-genai: making a langchain run's span current failed", exc_info=True)
        return result

    return wrapper

"""LangGraph checkpointers: one INTERNAL span ``checkpoint {operation}`` per ``get_tuple`` / ``list`` / ``put`` /
``put_writes`` and their async forms.

Savers override these methods, so wrapping the base class is not enough: the methods are wrapped on
``BaseCheckpointSaver`` and on every subclass that defines them, the ones that exist when LangGraph's checkpoint
module is imported and the ones defined later (a class hook, ``__init_subclass__``). Each wrapper is a wrapt
function wrapper over the original, so ``inspect.isasyncgenfunction(Saver.alist)`` and the other kinds are unchanged;
the engine gives back a result of the same kind (``alist()`` an async generator, never awaited; ``list()`` a
generator), and breaking out of it ends its span once. A saver method called by another one of the same call
(``InMemorySaver.aget_tuple`` calls ``get_tuple``) makes no second span. ``uninstrument()`` restores every class.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import wrapt
from opentelemetry import context as otel_context
from opentelemetry.trace import SpanKind

from otel_genai import semconv as gen_ai
from otel_genai.lifecycle import call_in_span, start_run

__all__ = ["METHODS", "instrument_checkpointers"]

logger = logging.getLogger(__name__)

METHODS = ("get_tuple", "list", "put", "put_writes", "aget_tuple", "alist", "aput", "aput_writes")
_IN_CHECKPOINT = otel_context.create_key("otel_genai.langchain.checkpoint")


class _CheckpointWrapper(wrapt.FunctionWrapper):
    """Marks our wrappers, so a class is never wrapped twice."""


def _wrapper(operation: str, instrumentor: Any) -> Callable[..., Any]:
    def wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        telemetry = instrumentor.telemetry
        if telemetry is None or otel_context.get_value(_IN_CHECKPOINT) is not None:
            return wrapped(*args, **kwargs)
        try:
            attrs: dict[str, Any] = {
                gen_ai.SPAN_TYPE: "checkpoint",
                gen_ai.CHECKPOINT_OPERATION: operation,
                gen_ai.CHECKPOINT_SAVER: type(instance).__name__,
            }
            config = args[0] if args else kwargs.get("config")
            configurable = config.get("configurable") if isinstance(config, dict) else None
            thread_id = configurable.get("thread_id") if isinstance(configurable, dict) else None
            if thread_id is not None:
                attrs[gen_ai.GEN_AI_CONVERSATION_ID] = str(thread_id)
            run = start_run(telemetry.tracer, f"checkpoint {operation}", SpanKind.INTERNAL, attrs)
            if run is not None:
                run.otel_context = otel_context.set_value(_IN_CHECKPOINT, True, run.otel_context)
        except Exception:
            logger.debug("otel-genai: starting a checkpoint span failed", exc_info=True)
            run = None
        return call_in_span(run, wrapped, args, kwargs)

    return wrapper


def instrument_checkpointers(instrumentor: Any) -> Callable[[], None]:
    """Wrap the savers' methods, now and in classes defined later; return the undo."""
    from langgraph.checkpoint.base import BaseCheckpointSaver

    wrappers = {name: _wrapper(name, instrumentor) for name in METHODS}
    done: list[tuple[type, str, Any]] = []
    active = [True]

    def wrap_class(cls: type) -> None:
        for name, wrapper in wrappers.items():
            original = vars(cls).get(name)
            if original is None or isinstance(original, _CheckpointWrapper) or not callable(original):
                continue
            setattr(cls, name, _CheckpointWrapper(original, wrapper))
            done.append((cls, name, original))

    def subclasses(cls: type) -> list[type]:
        found, todo = [], [cls]
        while todo:
            for sub in todo.pop().__subclasses__():
                if sub not in found:
                    found.append(sub)
                    todo.append(sub)
        return found

    for cls in [BaseCheckpointSaver, *subclasses(BaseCheckpointSaver)]:
        wrap_class(cls)

    had_hook = "__init_subclass__" in vars(BaseCheckpointSaver)
    previous = vars(BaseCheckpointSaver).get("__init_subclass__")

    def init_subclass(cls: type, **kwargs: Any) -> None:
        if previous is not None:
            previous.__get__(None, cls)(**kwargs)
        else:
            super(BaseCheckpointSaver, cls).__init_subclass__(**kwargs)  # type: ignore[misc]
        if active[0]:
            try:
                wrap_class(cls)
            except Exception:
                logger.debug("otel-genai: wrapping checkpointer %r failed", cls, exc_info=True)

    hook = classmethod(init_subclass)
    BaseCheckpointSaver.__init_subclass__ = hook  # type: ignore[assignment,method-assign]

    def undo() -> None:
        active[0] = False
        if vars(BaseCheckpointSaver).get("__init_subclass__") is hook:
            if had_hook:
                BaseCheckpointSaver.__init_subclass__ = previous  # type: ignore[assignment,method-assign]
            else:
                del BaseCheckpointSaver.__init_subclass__
        for cls, name, original in reversed(done):
            if isinstance(vars(cls).get(name), _CheckpointWrapper):
                setattr(cls, name, original)
        done.clear()

    return undo

"""``LangChainInstrumentor``: the callback handler, the context hooks, the stream wrappers and the checkpointers.

The table is applied when the app imports ``langchain_core`` (all it needs: LangGraph and the ``langchain``
meta-package are optional). LangGraph's parts (``Pregel`` streams, its ``_set_config_context``, the checkpointers)
are applied when the app imports those LangGraph modules, never imported by us.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from otel_genai.instrumentation._llm import Telemetry
from otel_genai.instrumentation.base import LibraryInstrumentor, Patch, Setup
from otel_genai.instrumentation.langchain.package import INSTRUMENTS

__all__ = ["LangChainInstrumentor"]

logger = logging.getLogger(__name__)

_STREAMS = ("stream", "astream", "astream_log", "astream_events")
# (module, class) whose own stream methods are wrapped (a method a class does not define itself is skipped)
STREAM_CLASSES = (
    ("langchain_core.runnables.base", "Runnable"),
    ("langchain_core.runnables.base", "RunnableSequence"),
    ("langchain_core.runnables.base", "RunnableParallel"),
    ("langchain_core.runnables.base", "RunnableLambda"),
    ("langchain_core.runnables.base", "RunnableGenerator"),
    ("langchain_core.runnables.base", "RunnableBindingBase"),
    ("langchain_core.language_models.chat_models", "BaseChatModel"),
    ("langchain_core.language_models.llms", "BaseLLM"),
)
LANGGRAPH_STREAM_CLASSES = (("langgraph.pregel.main", "Pregel"),)


class LangChainInstrumentor(LibraryInstrumentor):
    """Trace LangChain and LangGraph runs as OpenTelemetry GenAI spans (a callback handler on every manager).

    ``instrument(tracer_provider=, meter_provider=, max_runs=)``: ``max_runs`` bounds the runs in flight (10 000).
    """

    entry_point = "otel_genai_langchain"
    library = "langchain_core"
    instruments = INSTRUMENTS

    _handler: Any = None
    _max_runs = 10_000

    @property
    def handler(self) -> Any:
        """The callback handler of this ``instrument()`` (None before the app imported langchain_core)."""
        return self._handler

    def _instrument(self, **kwargs: Any) -> None:
        self._max_runs = int(kwargs.pop("max_runs", 10_000))
        super()._instrument(**kwargs)

    def patches(self) -> Sequence[Patch | Setup]:
        from otel_genai.instrumentation.langchain.callbacks import OTelCallbackHandler
        from otel_genai.instrumentation.langchain.checkpoints import instrument_checkpointers
        from otel_genai.instrumentation.langchain.streams import config_context_wrapper, stream_wrapper

        telemetry = self.telemetry
        assert telemetry is not None
        handler = OTelCallbackHandler(telemetry, self._max_runs)
        context_hook = config_context_wrapper(handler)
        streams = [Patch(m, f"{c}.{s}", stream_wrapper) for m, c in STREAM_CLASSES for s in _STREAMS]
        graph_streams = [Patch(m, f"{c}.{s}", stream_wrapper) for m, c in LANGGRAPH_STREAM_CLASSES for s in _STREAMS]
        return [
            Setup("callback handler", lambda: self._use_handler(handler)),
            Patch("langchain_core.callbacks.base", "BaseCallbackManager.__init__", self._add_handler),
            Patch("langchain_core.runnables.config", "_set_config_context", context_hook),
            *streams,
            # LangGraph's part: applied if and when the app imports langgraph (each step waits for its module)
            Patch("langgraph._internal._runnable", "_set_config_context", context_hook),
            *graph_streams,
            Setup("checkpointers", lambda: instrument_checkpointers(self), "langgraph.checkpoint.base"),
        ]

    def _use_handler(self, handler: Any) -> Callable[[], None]:
        self._handler = handler

        def undo() -> None:
            self._handler = None
            handler.shutdown()

        return undo

    def _add_handler(self, telemetry: Telemetry, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        """Every callback manager gets our handler, inheritable (children inherit it), once."""
        result = wrapped(*args, **kwargs)
        handler = self._handler
        if handler is not None:
            try:
                if not any(h is handler for h in instance.inheritable_handlers) and not any(
                    h is handler for h in instance.handlers
                ):
                    instance.add_handler(handler, True)
            except Exception:
                logger.debug("otel-genai: adding the langchain callback handler failed", exc_info=True)
        return result

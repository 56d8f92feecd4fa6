"""``OpenAIAgentsInstrumentor``: registers the bridge's trace processor and wraps the model calls.

**An additive bridge.** One :class:`~.processor.OTelTracingProcessor` is added with the SDK's
``add_trace_processor`` (never ``set_trace_processors``, which would drop the user's and the SDK's own exporters);
``uninstrument()`` removes it again. The SDK has no public removal API, so the provider's processor tuple is rebuilt
under the provider's own lock; if the SDK's internals ever change shape, the processor is shut down instead, which
makes it inert.

**The SDK's own exporter.** By default the SDK also uploads every trace to OpenAI. ``instrument(
export_to_openai=False)`` (zero-code: ``OTEL_GENAI_OPENAI_AGENTS_EXPORT_TO_OPENAI=false``) takes the SDK's default
processor out while instrumented, and keeps every OTel span; ``uninstrument()`` puts it back. This, not
``set_tracing_disabled(True)``, is the way to keep traces away from OpenAI: disabling the SDK's tracing stops the
SDK from making the traces our bridge mirrors, so a WARNING says so when it is found on.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from typing import Any

from otel_genai.instrumentation._llm import Telemetry
from otel_genai.instrumentation.base import LibraryInstrumentor, Patch, Setup
from otel_genai.instrumentation.openai_agents.models import MODEL_CLASSES, MODEL_METHODS, model_call_wrapper
from otel_genai.instrumentation.openai_agents.package import INSTRUMENTS
from otel_genai.instrumentation.openai_agents.processor import OTelTracingProcessor

__all__ = ["EXPORT_TO_OPENAI_ENV", "OpenAIAgentsInstrumentor"]

logger = logging.getLogger(__name__)

EXPORT_TO_OPENAI_ENV = "OTEL_GENAI_OPENAI_AGENTS_EXPORT_TO_OPENAI"
TRACING_DISABLED_WARNING = (
    "otel-genai: openai-agents tracing is disabled (set_tracing_disabled(True) or OPENAI_AGENTS_DISABLE_TRACING): "
    "the SDK makes no traces, so no agent, tool or workflow span is recorded. To keep OpenTelemetry spans without "
    "uploading traces to OpenAI, leave the SDK's tracing on and instrument with "
    f"OpenAIAgentsInstrumentor().instrument(export_to_openai=False) or {EXPORT_TO_OPENAI_ENV}=false."
)


def _provider_processors(update: Callable[[tuple], tuple] | None = None) -> tuple:
    """The SDK provider's processors (no public getter), replaced by ``update(processors)`` under its lock."""
    from agents.tracing import get_trace_provider

    multi = get_trace_provider()._multi_processor  # type: ignore[attr-defined]
    with multi._lock:
        current = multi._processors
        if not isinstance(current, tuple):
            raise TypeError(f"unexpected processors {type(current)!r}")
        if update is not None:
            multi._processors = update(current)
    return current


def _tracing_disabled() -> bool:
    from agents.tracing import get_trace_provider

    manual = getattr(get_trace_provider(), "_manual_disabled", None)
    if manual is not None:
        return bool(manual)
    return os.environ.get("OPENAI_AGENTS_DISABLE_TRACING", "false").lower() in ("true", "1")


class OpenAIAgentsInstrumentor(LibraryInstrumentor):
    """Mirror the OpenAI Agents SDK's traces as OpenTelemetry GenAI spans (an additive trace processor).

    ``instrument(tracer_provider=, max_spans=, max_traces=, export_to_openai=)``.
    """

    entry_point = "otel_genai_openai_agents"
    library = "agents"
    instruments = INSTRUMENTS

    _processor: OTelTracingProcessor | None = None
    _options: dict[str, Any]
    _warned_disabled = False

    @property
    def processor(self) -> OTelTracingProcessor | None:
        return self._processor

    def _instrument(self, **kwargs: Any) -> None:
        self._options = {k: kwargs.pop(k) for k in ("max_spans", "max_traces", "export_to_openai") if k in kwargs}
        super()._instrument(**kwargs)

    def patches(self) -> Sequence[Patch | Setup]:
        telemetry = self.telemetry
        assert telemetry is not None
        options = dict(self._options)
        export = options.pop("export_to_openai", None)
        if export is None:
            export = os.environ.get(EXPORT_TO_OPENAI_ENV, "true").strip().lower() not in ("false", "0", "no")
        processor = OTelTracingProcessor(telemetry.tracer, **options)
        wrapper = model_call_wrapper(processor)
        models = [Patch(module, f"{cls}.{m}", wrapper) for module, cls in MODEL_CLASSES for m in MODEL_METHODS]
        table: list[Patch | Setup] = [Setup("trace processor", lambda: self._add_processor(processor))]
        if not export:
            table.append(Setup("without the SDK's OpenAI exporter", _without_openai_exporter))
        table.append(Patch("agents.tracing.provider", "DefaultTraceProvider.set_disabled", self._set_disabled))
        return [*table, *models]

    def _add_processor(self, processor: OTelTracingProcessor) -> Callable[[], None]:
        from agents.tracing import TracingProcessor, add_trace_processor

        TracingProcessor.register(OTelTracingProcessor)
        self._processor = processor
        add_trace_processor(processor)  # type: ignore[arg-type]
        if _tracing_disabled():
            self._warn_disabled()

        def undo() -> None:
            self._processor = None
            try:
                _provider_processors(lambda current: tuple(p for p in current if p is not processor))
            except Exception:
                logger.debug("otel-genai: could not remove the agents trace processor", exc_info=True)
            processor.shutdown()  # ends what is in flight; inert from now on even if it could not be removed

        return undo

    def _set_disabled(self, telemetry: Telemetry, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        """``set_tracing_disabled(True)`` silences our bridge too: say so, once."""
        result = wrapped(*args, **kwargs)
        if (args[0] if args else kwargs.get("disabled")) is True:
            self._warn_disabled()
        return result

    def _warn_disabled(self) -> None:
        if not self._warned_disabled:
            self._warned_disabled = True
            logger.warning(TRACING_DISABLED_WARNING)


def _without_openai_exporter() -> Callable[[], None]:
    """Take the SDK's default processor (the upload to OpenAI) out; the undo puts it back in front."""
    from agents.tracing.processors import default_processor

    default = default_processor()
    removed = []

    def drop(current: tuple) -> tuple:
        removed.extend(p for p in current if p is default)
        return tuple(p for p in current if p is not default)

    _provider_processors(drop)

    def undo() -> None:
        if removed:
            _provider_processors(lambda current: (default, *current) if default not in current else current)

    return undo

"""Instrumentors, one per library, each with its own entry point; and :class:`GenAIInstrumentor` for them all.

How to add a library: ``instrumentation/README.md``.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor

__all__ = ["INSTRUMENTORS", "GenAIInstrumentor", "load"]

logger = logging.getLogger(__name__)

# entry point name -> (module, class); the same table pyproject.toml registers (tests/test_packaging.py ties them)
INSTRUMENTORS: dict[str, tuple[str, str]] = {
    "otel_genai_openai": ("otel_genai.instrumentation.openai", "OpenAIInstrumentor"),
    "otel_genai_anthropic": ("otel_genai.instrumentation.anthropic", "AnthropicInstrumentor"),
    "otel_genai_openai_agents": ("otel_genai.instrumentation.openai_agents", "OpenAIAgentsInstrumentor"),
    "otel_genai_agno": ("otel_genai.instrumentation.agno", "AgnoInstrumentor"),
    "otel_genai_bedrock": ("otel_genai.instrumentation.bedrock", "BedrockInstrumentor"),
    "otel_genai_langchain": ("otel_genai.instrumentation.langchain", "LangChainInstrumentor"),
    "otel_genai_litellm": ("otel_genai.instrumentation.litellm", "LiteLLMInstrumentor"),
    "otel_genai_google_genai": ("otel_genai.instrumentation.google_genai", "GoogleGenAIInstrumentor"),
}


def load(entry_point: str) -> type[BaseInstrumentor]:
    """The instrumentor class registered under ``entry_point`` (imports our module, not the library)."""
    module, cls = INSTRUMENTORS[entry_point]
    return getattr(importlib.import_module(module), cls)


class GenAIInstrumentor(BaseInstrumentor):
    """Instruments every supported library that is installed in a supported version; skips the rest quietly.

    Each library is isolated: one that fails to instrument is logged and the others still are;
    ``uninstrument()`` undoes exactly the ones that were instrumented.
    """

    _active: list[BaseInstrumentor] = []

    def instrumentation_dependencies(self) -> Collection[str]:
        return ()

    def _instrument(self, **kwargs: Any) -> None:
        self._active = []
        for name in INSTRUMENTORS:
            try:
                instrumentor = load(name)()
                if instrumentor.is_instrumented_by_opentelemetry:
                    continue  # instrumented on its own: leave it to whoever did
                if instrumentor._check_dependency_conflicts() is not None:  # library missing or unsupported
                    logger.debug("otel-genai: %s skipped: %s", name, instrumentor._check_dependency_conflicts())
                    continue
                instrumentor.instrument(**kwargs)
            except Exception:
                logger.warning("otel-genai: instrumenting %s failed; the other libraries are unaffected", name)
                logger.debug("otel-genai: instrumenting %s failed", name, exc_info=True)
                continue
            if instrumentor.is_instrumented_by_opentelemetry:
                self._active.append(instrumentor)

    def _uninstrument(self, **kwargs: Any) -> None:
        while self._active:
            instrumentor = self._active.pop()
            try:
                instrumentor.uninstrument(**kwargs)
            except Exception:
                logger.warning("otel-genai: uninstrumenting %s failed", type(instrumentor).__name__, exc_info=True)

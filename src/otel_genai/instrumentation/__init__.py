"""Instrumentors, one per library, each a ``BaseInstrumentor`` with its own entry point; and one for them all."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor

logger = logging.getLogger(__name__)

# entry point name -> (module, class); the same table pyproject.toml registers
INSTRUMENTORS: dict[str, tuple[str, str]] = {
    "otel_genai_openai": ("otel_genai.instrumentation.openai", "OpenAIInstrumentor"),
    "otel_genai_anthropic": ("otel_genai.instrumentation.anthropic", "AnthropicInstrumentor"),
    "otel_genai_openai_agents": ("otel_genai.instrumentation.openai_agents", "OpenAIAgentsInstrumentor"),
    "otel_genai_agno": ("otel_genai.instrumentation.agno", "AgnoInstrumentor"),
}


class GenAIInstrumentor(BaseInstrumentor):
    """Instruments every supported library that is importable here; skips the rest quietly."""

    _active: list[BaseInstrumentor] = []

    def instrumentation_dependencies(self) -> Collection[str]:
        return ()

    def _instrument(self, **kwargs: Any) -> None:
        self._active = []
        for name, (module, cls) in INSTRUMENTORS.items():
            try:
                instrumentor = getattr(importlib.import_module(module), cls)()
            except ImportError:
                logger.debug("otel-genai: %s not available", name, exc_info=True)
                continue
            if instrumentor._check_dependency_conflicts() is not None:  # library missing or too old
                continue
            instrumentor.instrument(**kwargs)
            self._active.append(instrumentor)

    def _uninstrument(self, **kwargs: Any) -> None:
        while self._active:
            self._active.pop().uninstrument(**kwargs)

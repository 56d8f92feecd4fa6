"""OpenTelemetry instrumentation for LLM clients and agent frameworks whose spans stay right when everything streams.

The user API: the decorators, ``using_attributes``, the instrumentors (imported lazily, on first access: importing
``otel_genai`` imports no instrumented library and none of our instrumentation modules). Writing an instrumentation
uses :mod:`otel_genai.lifecycle` and :mod:`otel_genai.instrumentation.base`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from otel_genai.context_attributes import ContextAttributesSpanProcessor, using_attributes
from otel_genai.decorators import agent, task, tool, workflow
from otel_genai.lifecycle import Outcome
from otel_genai.version import __version__

if TYPE_CHECKING:
    from otel_genai.instrumentation import GenAIInstrumentor
    from otel_genai.instrumentation.agno import AgnoInstrumentor
    from otel_genai.instrumentation.anthropic import AnthropicInstrumentor
    from otel_genai.instrumentation.bedrock import BedrockInstrumentor
    from otel_genai.instrumentation.google_genai import GoogleGenAIInstrumentor
    from otel_genai.instrumentation.langchain import LangChainInstrumentor
    from otel_genai.instrumentation.litellm import LiteLLMInstrumentor
    from otel_genai.instrumentation.openai import OpenAIInstrumentor
    from otel_genai.instrumentation.openai_agents import OpenAIAgentsInstrumentor

__all__ = [
    "AgnoInstrumentor",
    "AnthropicInstrumentor",
    "BedrockInstrumentor",
    "ContextAttributesSpanProcessor",
    "GenAIInstrumentor",
    "GoogleGenAIInstrumentor",
    "LangChainInstrumentor",
    "LiteLLMInstrumentor",
    "OpenAIAgentsInstrumentor",
    "OpenAIInstrumentor",
    "Outcome",
    "__version__",
    "agent",
    "task",
    "tool",
    "using_attributes",
    "workflow",
]

_LAZY = {
    "GenAIInstrumentor": "otel_genai.instrumentation",
    "OpenAIInstrumentor": "otel_genai.instrumentation.openai",
    "AnthropicInstrumentor": "otel_genai.instrumentation.anthropic",
    "OpenAIAgentsInstrumentor": "otel_genai.instrumentation.openai_agents",
    "AgnoInstrumentor": "otel_genai.instrumentation.agno",
    "BedrockInstrumentor": "otel_genai.instrumentation.bedrock",
    "LangChainInstrumentor": "otel_genai.instrumentation.langchain",
    "LiteLLMInstrumentor": "otel_genai.instrumentation.litellm",
    "GoogleGenAIInstrumentor": "otel_genai.instrumentation.google_genai",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'otel_genai' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

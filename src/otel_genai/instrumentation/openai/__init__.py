"""OpenTelemetry instrumentation for the ``openai`` SDK (sync and async clients, Azure included).

Traced: ``chat.completions.create`` (stream or not), ``.parse``, ``.stream()`` (through ``create``),
``responses.create`` / ``.parse`` / ``.stream()``, ``embeddings.create``, and the same through
``with_raw_response``. One CLIENT span per API call, named ``{gen_ai.operation.name} {gen_ai.request.model}``;
streams end their span through the engine (:mod:`otel_genai.lifecycle`) however they are consumed.

Patches are made on the resource *classes*, so clients created before ``instrument()`` are traced. A
``with_raw_response`` object the SDK cached before ``instrument()`` holds the unpatched bound method; a data
descriptor on its class (:class:`~otel_genai.instrumentation.openai.patch.RawMethod`) resolves it through the
patched class while instrumented. ``uninstrument()`` restores every class, and any bound method the SDK cached
meanwhile passes straight through (the wrappers check :data:`~otel_genai.instrumentation.openai.patch.STATE`).
Stream helpers (``chat.completions.stream()``, ``responses.stream()``) close the HTTP response rather than the raw
stream, so their ``close()`` is wrapped to end the span too.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor
from opentelemetry.instrumentation.utils import unwrap
from wrapt import wrap_function_wrapper

from otel_genai import content
from otel_genai.instrumentation._llm import Telemetry
from otel_genai.instrumentation.openai import chat, embeddings, responses
from otel_genai.instrumentation.openai.patch import (
    STATE,
    RawMethod,
    async_helper_close_wrapper,
    call_wrapper,
    helper_close_wrapper,
    legacy_parse_wrapper,
)

logger = logging.getLogger(__name__)

_CHAT = "openai.resources.chat.completions.completions"
_RESPONSES = "openai.resources.responses.responses"
_EMBEDDINGS = "openai.resources.embeddings"

# (module, "Class.method", wrapper factory argument or wrapper)
_API_CALLS = [
    (_CHAT, "Completions.create", chat.OPERATION),
    (_CHAT, "AsyncCompletions.create", chat.OPERATION),
    (_CHAT, "Completions.parse", chat.OPERATION),
    (_CHAT, "AsyncCompletions.parse", chat.OPERATION),
    (_RESPONSES, "Responses.create", responses.OPERATION),
    (_RESPONSES, "AsyncResponses.create", responses.OPERATION),
    (_RESPONSES, "Responses.parse", responses.OPERATION),
    (_RESPONSES, "AsyncResponses.parse", responses.OPERATION),
    (_EMBEDDINGS, "Embeddings.create", embeddings.OPERATION),
    (_EMBEDDINGS, "AsyncEmbeddings.create", embeddings.OPERATION),
]
_FIXES = [
    ("openai.lib.streaming.chat._completions", "ChatCompletionStream.close", helper_close_wrapper),
    ("openai.lib.streaming.chat._completions", "AsyncChatCompletionStream.close", async_helper_close_wrapper),
    ("openai.lib.streaming.responses._responses", "ResponseStream.close", helper_close_wrapper),
    ("openai.lib.streaming.responses._responses", "AsyncResponseStream.close", async_helper_close_wrapper),
    ("openai._legacy_response", "LegacyAPIResponse.parse", legacy_parse_wrapper),
]

# (module, raw-response class, attribute holding the resource, methods, async)
_RAW = [
    (_CHAT, "CompletionsWithRawResponse", "_completions", ("create", "parse"), False),
    (_CHAT, "AsyncCompletionsWithRawResponse", "_completions", ("create", "parse"), True),
    (_RESPONSES, "ResponsesWithRawResponse", "_responses", ("create", "parse"), False),
    (_RESPONSES, "AsyncResponsesWithRawResponse", "_responses", ("create", "parse"), True),
    (_EMBEDDINGS, "EmbeddingsWithRawResponse", "_embeddings", ("create",), False),
    (_EMBEDDINGS, "AsyncEmbeddingsWithRawResponse", "_embeddings", ("create",), True),
]


def _owner(module: str, path: str) -> tuple[Any, str] | None:
    """(class, method name) for ``module``/``Class.method``, or None when this SDK version lacks it."""
    cls_name, method = path.split(".")
    try:
        cls = getattr(importlib.import_module(module), cls_name)
    except (ImportError, AttributeError):
        return None
    return (cls, method) if method in vars(cls) else None


class OpenAIInstrumentor(BaseInstrumentor):
    """Instruments the ``openai`` SDK; ``instrument(tracer_provider=, meter_provider=, logger_provider=)``."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("openai >= 1.66.0",)

    def _instrument(self, **kwargs: Any) -> None:
        content.reload()
        STATE.telemetry = Telemetry(**kwargs)
        self._patched: list[tuple[Any, str]] = []
        for module, path, operation in _API_CALLS:
            self._patch(module, path, call_wrapper(operation))
        for module, path, wrapper in _FIXES:
            self._patch(module, path, wrapper)
        self._raw_methods: list[tuple[Any, str]] = []
        try:
            legacy = importlib.import_module("openai._legacy_response")
            for module, cls_name, resource_attr, methods, is_async in _RAW:
                cls = getattr(importlib.import_module(module), cls_name)
                wrap = legacy.async_to_raw_response_wrapper if is_async else legacy.to_raw_response_wrapper
                for method in methods:
                    if method not in vars(cls):  # never shadow something the SDK itself defines on the class
                        setattr(cls, method, RawMethod(resource_attr, method, wrap))
                        self._raw_methods.append((cls, method))
        except (ImportError, AttributeError):
            logger.debug("otel-genai: openai raw-response classes not found", exc_info=True)
        STATE.enabled = True

    def _patch(self, module: str, path: str, wrapper: Any) -> None:
        owner = _owner(module, path)
        if owner is None:
            logger.debug("otel-genai: openai has no %s.%s; not patched", module, path)
            return
        wrap_function_wrapper(module, path, wrapper)
        self._patched.append(owner)

    def _uninstrument(self, **kwargs: Any) -> None:
        STATE.enabled = False
        for cls, method in getattr(self, "_patched", ()):
            unwrap(cls, method)
        for cls, method in getattr(self, "_raw_methods", ()):
            if isinstance(vars(cls).get(method), RawMethod):
                delattr(cls, method)
        self._patched = []
        self._raw_methods = []

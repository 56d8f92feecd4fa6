"""``OpenAIInstrumentor``: the patch table for the ``openai`` SDK (see the package docstring for what is traced)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence

from otel_genai.instrumentation.base import LibraryInstrumentor, Patch, Setup
from otel_genai.instrumentation.openai import chat, embeddings, responses
from otel_genai.instrumentation.openai.package import INSTRUMENTS
from otel_genai.instrumentation.openai.patch import (
    RawMethod,
    async_helper_close_wrapper,
    call_wrapper,
    helper_close_wrapper,
    legacy_parse_wrapper,
)

__all__ = ["OpenAIInstrumentor"]

_CHAT = "openai.resources.chat.completions.completions"
_RESPONSES = "openai.resources.responses.responses"
_EMBEDDINGS = "openai.resources.embeddings"
_CHAT_HELPER = "openai.lib.streaming.chat._completions"
_RESPONSES_HELPER = "openai.lib.streaming.responses._responses"

# (module, "Class.method", operation): the API calls, one CLIENT span each
API_CALLS = (
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
)

# the stream helpers close the HTTP response rather than the raw stream; a raw response's parse() builds the stream
FIXES = (
    Patch(_CHAT_HELPER, "ChatCompletionStream.close", helper_close_wrapper),
    Patch(_CHAT_HELPER, "AsyncChatCompletionStream.close", async_helper_close_wrapper),
    Patch(_RESPONSES_HELPER, "ResponseStream.close", helper_close_wrapper),
    Patch(_RESPONSES_HELPER, "AsyncResponseStream.close", async_helper_close_wrapper),
    Patch("openai._legacy_response", "LegacyAPIResponse.parse", legacy_parse_wrapper),
)

# (module, raw-response class, attribute holding the resource, methods, async)
RAW_RESPONSE_CLASSES = (
    (_CHAT, "CompletionsWithRawResponse", "_completions", ("create", "parse"), False),
    (_CHAT, "AsyncCompletionsWithRawResponse", "_completions", ("create", "parse"), True),
    (_RESPONSES, "ResponsesWithRawResponse", "_responses", ("create", "parse"), False),
    (_RESPONSES, "AsyncResponsesWithRawResponse", "_responses", ("create", "parse"), True),
    (_EMBEDDINGS, "EmbeddingsWithRawResponse", "_embeddings", ("create",), False),
    (_EMBEDDINGS, "AsyncEmbeddingsWithRawResponse", "_embeddings", ("create",), True),
)


def _raw_methods() -> Callable[[], None]:
    """Put a :class:`RawMethod` on each ``*WithRawResponse`` class (see ``patch.RawMethod``); undo removes them."""
    legacy = importlib.import_module("openai._legacy_response")
    added: list[tuple[type, str]] = []
    for module, cls_name, resource_attr, methods, is_async in RAW_RESPONSE_CLASSES:
        cls = getattr(importlib.import_module(module), cls_name)
        wrap = legacy.async_to_raw_response_wrapper if is_async else legacy.to_raw_response_wrapper
        for method in methods:
            if method not in vars(cls):  # never shadow something the SDK itself defines on the class
                setattr(cls, method, RawMethod(resource_attr, method, wrap))
                added.append((cls, method))

    def undo() -> None:
        for cls, method in added:
            if isinstance(vars(cls).get(method), RawMethod):
                delattr(cls, method)

    return undo


class OpenAIInstrumentor(LibraryInstrumentor):
    """Instruments the ``openai`` SDK; ``instrument(tracer_provider=, meter_provider=, logger_provider=)``."""

    entry_point = "otel_genai_openai"
    library = "openai"
    instruments = INSTRUMENTS

    def patches(self) -> Sequence[Patch | Setup]:
        calls = [Patch(module, target, call_wrapper(operation)) for module, target, operation in API_CALLS]
        return [*calls, *FIXES, Setup("with_raw_response methods", _raw_methods)]

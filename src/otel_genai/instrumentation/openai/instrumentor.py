"""``OpenAIInstrumentor``: the patch table for the ``openai`` SDK (see the package docstring for what is traced)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

from otel_genai.instrumentation._stainless import (
    async_parse_wrapper,
    async_response_close_wrapper,
    parse_wrapper,
    raw_methods,
    response_close_wrapper,
)
from otel_genai.instrumentation.base import LibraryInstrumentor, Patch, Setup
from otel_genai.instrumentation.openai import chat, embeddings, responses
from otel_genai.instrumentation.openai.package import INSTRUMENTS
from otel_genai.instrumentation.openai.patch import async_helper_close_wrapper, call_wrapper, helper_close_wrapper

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

# the stream helpers close the HTTP response rather than the raw stream; a raw or streaming response's parse() reads
# the body (a stream or the parsed response) and its close() (with_streaming_response's exit) stops it
FIXES = (
    Patch(_CHAT_HELPER, "ChatCompletionStream.close", helper_close_wrapper),
    Patch(_CHAT_HELPER, "AsyncChatCompletionStream.close", async_helper_close_wrapper),
    Patch(_RESPONSES_HELPER, "ResponseStream.close", helper_close_wrapper),
    Patch(_RESPONSES_HELPER, "AsyncResponseStream.close", async_helper_close_wrapper),
    Patch("openai._legacy_response", "LegacyAPIResponse.parse", parse_wrapper),
    Patch("openai._response", "APIResponse.parse", parse_wrapper),
    Patch("openai._response", "AsyncAPIResponse.parse", async_parse_wrapper),
    Patch("openai._response", "APIResponse.close", response_close_wrapper),
    Patch("openai._response", "AsyncAPIResponse.close", async_response_close_wrapper),
)

_RAW = ("openai._legacy_response", "to_raw_response_wrapper")
_ASYNC_RAW = ("openai._legacy_response", "async_to_raw_response_wrapper")
_STREAMING = ("openai._response", "to_streamed_response_wrapper")
_ASYNC_STREAMING = ("openai._response", "async_to_streamed_response_wrapper")

# (module, raw- or streaming-response class, attribute holding the resource, methods, (module, SDK wrapper))
RAW_RESPONSE_CLASSES = (
    (_CHAT, "CompletionsWithRawResponse", "_completions", ("create", "parse"), _RAW),
    (_CHAT, "AsyncCompletionsWithRawResponse", "_completions", ("create", "parse"), _ASYNC_RAW),
    (_RESPONSES, "ResponsesWithRawResponse", "_responses", ("create", "parse"), _RAW),
    (_RESPONSES, "AsyncResponsesWithRawResponse", "_responses", ("create", "parse"), _ASYNC_RAW),
    (_EMBEDDINGS, "EmbeddingsWithRawResponse", "_embeddings", ("create",), _RAW),
    (_EMBEDDINGS, "AsyncEmbeddingsWithRawResponse", "_embeddings", ("create",), _ASYNC_RAW),
    (_CHAT, "CompletionsWithStreamingResponse", "_completions", ("create", "parse"), _STREAMING),
    (_CHAT, "AsyncCompletionsWithStreamingResponse", "_completions", ("create", "parse"), _ASYNC_STREAMING),
    (_RESPONSES, "ResponsesWithStreamingResponse", "_responses", ("create", "parse"), _STREAMING),
    (_RESPONSES, "AsyncResponsesWithStreamingResponse", "_responses", ("create", "parse"), _ASYNC_STREAMING),
    (_EMBEDDINGS, "EmbeddingsWithStreamingResponse", "_embeddings", ("create",), _STREAMING),
    (_EMBEDDINGS, "AsyncEmbeddingsWithStreamingResponse", "_embeddings", ("create",), _ASYNC_STREAMING),
)


def _raw_methods(module: str) -> Callable[[], None]:
    """The ``RawMethod`` descriptors of ``module``'s raw- and streaming-response classes (see ``_stainless``)."""
    return raw_methods(module, tuple(row[1:] for row in RAW_RESPONSE_CLASSES if row[0] == module))


class OpenAIInstrumentor(LibraryInstrumentor):
    """Instruments the ``openai`` SDK; ``instrument(tracer_provider=, meter_provider=, logger_provider=)``."""

    entry_point = "otel_genai_openai"
    library = "openai"
    instruments = INSTRUMENTS

    def patches(self) -> Sequence[Patch | Setup]:
        calls = [Patch(module, target, call_wrapper(operation)) for module, target, operation in API_CALLS]
        raw = [
            Setup(
                f"with_raw_response / with_streaming_response methods of {module}",
                partial(_raw_methods, module),
                module,
            )
            for module in dict.fromkeys(row[0] for row in RAW_RESPONSE_CLASSES)
        ]
        return [*calls, *FIXES, *raw]

"""``AnthropicInstrumentor``: the patch table for the ``anthropic`` SDK (see the package docstring)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from otel_genai.instrumentation._stainless import (
    async_parse_wrapper,
    async_response_close_wrapper,
    parse_wrapper,
    raw_methods,
    response_close_wrapper,
)
from otel_genai.instrumentation.anthropic.package import INSTRUMENTS
from otel_genai.instrumentation.anthropic.patch import (
    TracedAsyncMessageStreamManager,
    TracedMessageStreamManager,
    create_wrapper,
    sdk_span_wrapper,
    stream_wrapper,
)
from otel_genai.instrumentation.base import LibraryInstrumentor, Patch, Setup

__all__ = ["AnthropicInstrumentor"]

MESSAGES = "anthropic.resources.messages.messages"

_RESPONSE = "anthropic._response"

# (raw- or streaming-response class, attribute holding the resource, methods, (module, SDK wrapper))
RAW_RESPONSE_CLASSES = (
    ("MessagesWithRawResponse", "_messages", ("create",), (_RESPONSE, "to_raw_response_wrapper")),
    ("AsyncMessagesWithRawResponse", "_messages", ("create",), (_RESPONSE, "async_to_raw_response_wrapper")),
    ("MessagesWithStreamingResponse", "_messages", ("create",), (_RESPONSE, "to_streamed_response_wrapper")),
    ("AsyncMessagesWithStreamingResponse", "_messages", ("create",), (_RESPONSE, "async_to_streamed_response_wrapper")),
)


def _raw_methods() -> Callable[[], None]:
    """``messages.with_raw_response`` / ``with_streaming_response`` objects the SDK cached before ``instrument()``
    resolve ``create`` through the patched class again (see ``_stainless.RawMethod``)."""
    return raw_methods(MESSAGES, RAW_RESPONSE_CLASSES)


PATCHES = (
    Patch(MESSAGES, "Messages.create", create_wrapper),
    Patch(MESSAGES, "AsyncMessages.create", create_wrapper),
    Patch(MESSAGES, "Messages.stream", stream_wrapper(TracedMessageStreamManager)),
    Patch(MESSAGES, "AsyncMessages.stream", stream_wrapper(TracedAsyncMessageStreamManager)),
    # with_raw_response / with_streaming_response: the span waits for the response object's parse() or close()
    Patch(_RESPONSE, "APIResponse.parse", parse_wrapper),
    Patch(_RESPONSE, "AsyncAPIResponse.parse", async_parse_wrapper),
    Patch(_RESPONSE, "APIResponse.close", response_close_wrapper),
    Patch(_RESPONSE, "AsyncAPIResponse.close", async_response_close_wrapper),
    Setup("with_raw_response / with_streaming_response of messages", _raw_methods, MESSAGES),
    # anthropic >= 2.13's own call span, switched off for the calls we trace (absent before: not patched)
    Patch("anthropic._base_client", "start_api_call_span", sdk_span_wrapper),
)


class AnthropicInstrumentor(LibraryInstrumentor):
    """Instruments ``anthropic`` Messages calls. ``instrument(tracer_provider=, meter_provider=, logger_provider=)``."""

    entry_point = "otel_genai_anthropic"
    library = "anthropic"
    instruments = INSTRUMENTS

    def patches(self) -> Sequence[Patch | Setup]:
        return PATCHES

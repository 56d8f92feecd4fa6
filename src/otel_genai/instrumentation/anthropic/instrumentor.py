"""``AnthropicInstrumentor``: the patch table for the ``anthropic`` SDK (see the package docstring)."""

from __future__ import annotations

from collections.abc import Sequence

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

PATCHES = (
    Patch(MESSAGES, "Messages.create", create_wrapper),
    Patch(MESSAGES, "AsyncMessages.create", create_wrapper),
    Patch(MESSAGES, "Messages.stream", stream_wrapper(TracedMessageStreamManager)),
    Patch(MESSAGES, "AsyncMessages.stream", stream_wrapper(TracedAsyncMessageStreamManager)),
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

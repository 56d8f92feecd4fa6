"""``GoogleGenAIInstrumentor``: the patch table for the ``google-genai`` SDK (see the package docstring)."""

from __future__ import annotations

from collections.abc import Sequence

from otel_genai import semconv as gen_ai
from otel_genai.instrumentation.base import LibraryInstrumentor, Patch, Setup
from otel_genai.instrumentation.google_genai import embeddings, generate_content
from otel_genai.instrumentation.google_genai.package import INSTRUMENTS
from otel_genai.instrumentation.google_genai.patch import Operation, call_wrapper, chat_wrapper

__all__ = ["GoogleGenAIInstrumentor"]

_MODELS = "google.genai.models"
_CHATS = "google.genai.chats"

GENERATE = Operation(
    gen_ai.GENERATE_CONTENT,
    generate_content.GenerateContentObserver,
    generate_content.request,
    generate_content.capture,
)
GENERATE_STREAM = Operation(
    gen_ai.GENERATE_CONTENT,
    generate_content.GenerateContentObserver,
    generate_content.request,
    generate_content.capture,
    stream=True,
)
EMBED = Operation(gen_ai.EMBEDDINGS, embeddings.EmbedContentObserver, embeddings.request, embeddings.capture)

# (module, "Class.method", operation): the API calls, one CLIENT span each
API_CALLS = (
    (_MODELS, "Models.generate_content", GENERATE),
    (_MODELS, "AsyncModels.generate_content", GENERATE),
    (_MODELS, "Models.generate_content_stream", GENERATE_STREAM),
    (_MODELS, "AsyncModels.generate_content_stream", GENERATE_STREAM),
    (_MODELS, "Models.embed_content", EMBED),
    (_MODELS, "AsyncModels.embed_content", EMBED),
)
# chat sessions call the models above when stepped or awaited: these carry the caller's context there (no span)
CHAT_CALLS = (
    (_CHATS, "Chat.send_message_stream"),
    (_CHATS, "AsyncChat.send_message"),
    (_CHATS, "AsyncChat.send_message_stream"),
)


class GoogleGenAIInstrumentor(LibraryInstrumentor):
    """Instruments the ``google-genai`` SDK; ``instrument(tracer_provider=, meter_provider=, logger_provider=)``."""

    entry_point = "otel_genai_google_genai"
    library = "google.genai"  # the post-import hook waits for this module (a dotted name: wrapt matches it whole)
    instruments = INSTRUMENTS

    def patches(self) -> Sequence[Patch | Setup]:
        calls = [Patch(module, target, call_wrapper(operation)) for module, target, operation in API_CALLS]
        return [*calls, *(Patch(module, target, chat_wrapper) for module, target in CHAT_CALLS)]

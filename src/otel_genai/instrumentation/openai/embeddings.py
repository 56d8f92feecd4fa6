"""``embeddings.create``: request attributes and usage (no output content: vectors are not captured)."""

from __future__ import annotations

from typing import Any

from otel_genai import semconv as gen_ai
from otel_genai.instrumentation._llm import message, text_part
from otel_genai.instrumentation.openai.patch import OpenAIObserver, Operation

EMBEDDINGS = "embeddings"


def request(kwargs: dict) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    dimensions = kwargs.get("dimensions")
    if isinstance(dimensions, int) and not isinstance(dimensions, bool):
        attributes[gen_ai.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] = dimensions
    encoding = kwargs.get("encoding_format")
    if isinstance(encoding, str):  # only what the caller asked for; the SDK's own base64 default is not reported
        attributes[gen_ai.GEN_AI_REQUEST_ENCODING_FORMATS] = [encoding]
    return attributes


def capture(observer: OpenAIObserver, kwargs: dict) -> None:
    value = kwargs.get("input")
    texts = [value] if isinstance(value, str) else value
    if isinstance(texts, (list, tuple)) and all(isinstance(t, str) for t in texts):
        observer.input_messages = [message("user", [text_part(t) for t in texts])]


class EmbeddingsObserver(OpenAIObserver):
    __slots__ = ()

    def response(self, value: Any) -> None:
        self.response_model = value.model
        usage = value.usage
        if usage is not None:
            self.input_tokens = usage.prompt_tokens


OPERATION = Operation(EMBEDDINGS, EmbeddingsObserver, request, capture)

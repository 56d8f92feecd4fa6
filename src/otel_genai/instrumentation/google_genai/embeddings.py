"""``models.embed_content`` (sync and async): dimension count, usage, input text (vectors are not captured).

Input tokens: the response's ``usage_metadata.prompt_token_count`` when the API reports it, else the sum of the
embeddings' ``statistics.token_count`` (Vertex AI's ``predict`` endpoint reports it per text).
"""

from __future__ import annotations

from typing import Any

from otel_genai import semconv as gen_ai
from otel_genai.instrumentation._llm import LLMCallObserver, message
from otel_genai.instrumentation.google_genai import contents
from otel_genai.instrumentation.google_genai.contents import get


def request(config: Any) -> dict[str, Any]:
    dimensions = get(config, "output_dimensionality", "outputDimensionality")
    if isinstance(dimensions, int) and not isinstance(dimensions, bool):
        return {gen_ai.GEN_AI_EMBEDDINGS_DIMENSION_COUNT: dimensions}
    return {}


def capture(observer: LLMCallObserver, kwargs: dict) -> None:
    parts = [p for msg in contents.input_messages(kwargs.get("contents")) for p in msg["parts"]]
    if parts:
        observer.input_messages = [message("user", parts)]


class EmbedContentObserver(LLMCallObserver):
    __slots__ = ()

    def value(self, response: Any) -> None:
        usage = getattr(response, "usage_metadata", None)
        prompt = getattr(usage, "prompt_token_count", None)
        if prompt is not None:
            self.input_tokens = prompt
            return
        counted = [
            count
            for e in getattr(response, "embeddings", None) or ()
            if (count := getattr(getattr(e, "statistics", None), "token_count", None)) is not None
        ]
        if counted:
            self.input_tokens = int(sum(counted))

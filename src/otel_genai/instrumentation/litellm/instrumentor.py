"""``LiteLLMInstrumentor``: the patch table for ``litellm`` (see the package docstring for what is traced)."""

from __future__ import annotations

from collections.abc import Sequence

from otel_genai.instrumentation.base import LibraryInstrumentor, Patch, Setup
from otel_genai.instrumentation.litellm import calls
from otel_genai.instrumentation.litellm.package import INSTRUMENTS

__all__ = ["LiteLLMInstrumentor"]

# (package attribute, operation): the functions users call as litellm.<name>, one CLIENT span each
API_CALLS = (
    ("completion", calls.CHAT),
    ("acompletion", calls.CHAT),
    ("text_completion", calls.TEXT_COMPLETION),
    ("atext_completion", calls.TEXT_COMPLETION),
    ("embedding", calls.EMBEDDINGS),
    ("aembedding", calls.EMBEDDINGS),
)


class LiteLLMInstrumentor(LibraryInstrumentor):
    """Instruments ``litellm``; ``instrument(tracer_provider=, meter_provider=, logger_provider=)``."""

    entry_point = "otel_genai_litellm"
    library = "litellm"
    instruments = INSTRUMENTS

    def patches(self) -> Sequence[Patch | Setup]:
        return [Patch("litellm", name, calls.call_wrapper(operation)) for name, operation in API_CALLS]

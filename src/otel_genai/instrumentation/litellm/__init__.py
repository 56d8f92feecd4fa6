"""OpenTelemetry instrumentation for LiteLLM (``litellm.completion`` and the 100+ providers behind it).

Traced: ``litellm.completion`` / ``acompletion`` (stream or not), ``text_completion`` / ``atext_completion``,
``embedding`` / ``aembedding``. One CLIENT span per call, named ``{gen_ai.operation.name} {model}``, with
``gen_ai.provider.name`` the provider LiteLLM routed to (``openai``, ``anthropic``, ``aws.bedrock``,
``gcp.gemini``, ...; :mod:`.calls` maps LiteLLM's names to the conventions' values). A stream stays a
``CustomStreamWrapper`` (``isinstance``), usable with ``for``, ``async for``, ``with``, ``async with``, ``close()``,
``aclose()``: the engine's dual-protocol proxy ends the span however it is consumed.

Which span is the CLIENT span: LiteLLM's. LiteLLM calls some providers through their SDKs (OpenAI's among them);
with otel-genai's OpenAI instrumentor on as well, the provider SDK call inside runs untraced (the engine starts no
CLIENT span inside one of ours), so each call has exactly one CLIENT span and its tokens are counted once, in
whichever order the instrumentors were set up. Nested LiteLLM calls (fallbacks) are part of the outer call too.

Patch point: the functions as attributes of the ``litellm`` package (``litellm.completion(...)``, and ``from litellm
import completion`` made after the package was imported, which zero-code instrumentation guarantees). Not caught:
a reference taken before ``instrument()``, ``litellm.main.completion`` called directly, and LiteLLM's internal
calls through ``litellm.main`` (``acompletion`` runs ``completion`` that way: patching it too would trace one call
twice). ``Router`` calls ``litellm.acompletion`` / ``completion`` through the package, so its calls are traced.

Layout: :mod:`.instrumentor` (the patch table), :mod:`.package` (supported versions), :mod:`.calls` (the wrapper,
provider names, request attributes), :mod:`.responses` (the observers reading LiteLLM's response objects).
"""

from otel_genai.instrumentation.litellm.instrumentor import LiteLLMInstrumentor

__all__ = ["LiteLLMInstrumentor"]

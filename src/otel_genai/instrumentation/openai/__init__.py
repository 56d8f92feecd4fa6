"""OpenTelemetry instrumentation for the ``openai`` SDK (sync and async clients, Azure included).

Traced: ``chat.completions.create`` (stream or not), ``.parse``, ``.stream()`` (through ``create``),
``responses.create`` / ``.parse`` / ``.stream()``, ``embeddings.create``, and the same through
``with_raw_response``. One CLIENT span per API call, named ``{gen_ai.operation.name} {gen_ai.request.model}``;
streams end their span through the engine (:mod:`otel_genai.lifecycle`) however they are consumed.

Layout: :mod:`.instrumentor` (the patch table), :mod:`.package` (supported versions), :mod:`.patch` (the wrappers
every API shares), one module per API (:mod:`.chat`, :mod:`.responses`, :mod:`.embeddings`).

Patches are made on the resource *classes* when the application imports ``openai``, so clients created before
``instrument()`` are traced. A
``with_raw_response`` object the SDK cached before ``instrument()`` holds the unpatched bound method; a data
descriptor on its class (:class:`~otel_genai.instrumentation._stainless.RawMethod`) resolves it through the
patched class while instrumented. ``uninstrument()`` restores every class, and any bound method the SDK cached
meanwhile passes straight through (the instrumentor's enabled guard).
Stream helpers (``chat.completions.stream()``, ``responses.stream()``) close the HTTP response rather than the raw
stream, so their ``close()`` is wrapped to end the span too.
"""

from otel_genai.instrumentation.openai.instrumentor import OpenAIInstrumentor

__all__ = ["OpenAIInstrumentor"]

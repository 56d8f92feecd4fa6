"""OpenTelemetry instrumentation for the ``google-genai`` SDK (``from google import genai``), both the Gemini
Developer API and the Vertex AI mode.

Traced (sync ``client.models`` and async ``client.aio.models``): ``generate_content``, ``generate_content_stream``
(sync: a generator; async: a coroutine resolving to an async iterator, kept as such) and ``embed_content``; the chat
sessions (``client.chats`` / ``client.aio.chats``) ``send_message`` and ``send_message_stream`` through the models
calls they make. One CLIENT span per call, named ``generate_content {model}`` (``embeddings {model}`` for
``embed_content``), with ``gen_ai.provider.name`` ``gcp.gemini`` or ``gcp.vertex_ai`` after the client's mode;
streams end their span through the engine (:mod:`otel_genai.lifecycle`) however they are consumed.

Chats are ``generate_content``, not ``chat``
--------------------------------------------
A chat session's ``send_message`` is the same ``generateContent`` request with the session's history in
``contents``, sent through ``client.models`` (``send_message`` with automatic function calling sends one per
model turn). The conventions name that operation ``generate_content`` (Gemini's API), whatever the caller's
helper, so every request gets one ``generate_content {model}`` span and the session adds no span of its own: a
``chat`` span around it would be a second span for the same API call, and with automatic function calling one
span for several. The session's streaming call (and the async ``send_message``) only reaches the models call when
its generator is first stepped (or its coroutine awaited), perhaps in another task; its wrapper runs it in the
caller's context at call time, so the spans' parent is the caller's span, as for a direct models call.

``models.generate_content`` with automatic function calling (Python functions in ``config.tools``) or automatic
continuation sends several requests inside one SDK call; that call is the span (its usage is the final response's).
Its HTTP request starts at the first ``next()`` of a stream: the span starts at the call and its parent is the
caller's span at call time, also when the stream is read in another task or thread.

Layout: :mod:`.instrumentor` (the patch table), :mod:`.package` (supported versions), :mod:`.patch` (the client's
provider and server, the shared wrappers), :mod:`.generate_content`, :mod:`.embeddings`, :mod:`.contents`
(Gemini contents and parts -> the conventions' message shapes).
"""

from otel_genai.instrumentation.google_genai.instrumentor import GoogleGenAIInstrumentor

__all__ = ["GoogleGenAIInstrumentor"]

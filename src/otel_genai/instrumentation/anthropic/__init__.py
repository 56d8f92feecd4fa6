"""OpenTelemetry instrumentation of the ``anthropic`` SDK: one ``chat {model}`` CLIENT span per Messages API call.

Patched (sync and async clients): ``messages.create`` (stream or not; also through ``with_raw_response`` and
``with_streaming_response``, whose span ends with the body read by ``parse()``: langchain-anthropic sends every call
that way) and ``messages.stream()`` (the stream manager: ``text_stream``, ``get_final_message()``, ``until_done()``,
early ``with`` exit). Streams keep their type and attributes; every span ends exactly once through the engine
(:mod:`otel_genai.lifecycle`).

anthropic's own spans
---------------------
anthropic >= 2.13 emits its own CLIENT span ``anthropic.messages.create`` for every API call whenever a global
tracer provider is set (``ANTHROPIC_OPEN_TELEMETRY``), and injects that span's ``traceparent`` into the request.
With ours on as well, every call would get two client spans. We keep ours (one engine for every provider: outcome
of the stream, our metrics, content capture under ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``, a span even
when the SDK's own tracing is off or the SDK is older) and *switch theirs off for exactly the calls we trace*:

* the SDK starts its span through ``anthropic._base_client.start_api_call_span``; we wrap that function. When the
  current span is the span of one of our Messages calls, it starts nothing and returns None, so the SDK sends the
  request without running any tracing code of its own. When the client's ``propagation`` option is on (the
  default), we first add *our* span's trace headers (``traceparent``..., from the registered propagator) to the
  request's options: downstream services see our span as the parent, exactly as they saw theirs. A client whose
  own tracing is off (``ANTHROPIC_OPEN_TELEMETRY=false``, ``open_telemetry=False``) or that does not propagate
  gets no headers from us either, as before.
* calls we do not trace (``messages.count_tokens``, ``messages.parse``, beta, batches, models) keep the SDK's own
  span: still one span per call.
* inside ``suppress_instrumentation()`` the SDK's span is suppressed too, as every instrumentation's is.

This is a per-call decision taken at request time, so clients created before ``instrument()`` are covered, the
client's ``open_telemetry`` options are never changed, and ``uninstrument()`` gives the SDK its spans back. The hook
is a private function of the SDK: when it is missing (older SDKs, which have no spans of their own) nothing is
wrapped.

Layout: :mod:`.instrumentor` (the patch table), :mod:`.package` (supported versions), :mod:`.patch` (the wrappers),
:mod:`.messages` (reading requests, responses and stream events); raw and streaming responses are handled as for
OpenAI, by :mod:`otel_genai.instrumentation._stainless`.
"""

from otel_genai.instrumentation.anthropic.instrumentor import AnthropicInstrumentor

__all__ = ["AnthropicInstrumentor"]

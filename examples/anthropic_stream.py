"""Stream an Anthropic answer with ``messages.stream()``, traced by otel-genai, and print the span tree.

Runs offline: the anthropic SDK talks to an in-process fake of the Messages API (real SSE wire format, over an
``httpx2.MockTransport``) unless ANTHROPIC_API_KEY is set, in which case it calls the real API
(model from ANTHROPIC_MODEL, default claude-haiku-4-5). Shows that there is one ``chat {model}`` CLIENT span per
call although anthropic's own tracing is on, and that the request carried that span's ``traceparent``.

    python examples/anthropic_stream.py
    OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=SPAN_ONLY python examples/anthropic_stream.py
"""

from __future__ import annotations

import json
import os

import anthropic
import httpx2
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_genai import workflow
from otel_genai.console import SpanTreeConsoleExporter
from otel_genai.instrumentation.anthropic import AnthropicInstrumentor

MODEL = os.environ.get("ANTHROPIC_MODEL", "claude-haiku-4-5")
traceparents: list[str] = []


def fake_messages_api(request: httpx2.Request) -> httpx2.Response:
    """Answer like ``POST /v1/messages`` with ``stream: true``: message_start, one text block, message_delta/stop."""
    traceparents.append(request.headers.get("traceparent", "-"))
    words = ["Streams", " end", " their", " spans", " once", "."]
    events = [
        ("message_start", {"message": {"id": "msg_demo", "type": "message", "role": "assistant", "model": MODEL,
                                       "content": [], "stop_reason": None, "stop_sequence": None,
                                       "usage": {"input_tokens": 14, "output_tokens": 1}}}),
        ("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
        *[("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": w}}) for w in words],
        ("content_block_stop", {"index": 0}),
        ("message_delta", {"delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": 7}}),
        ("message_stop", {}),
    ]  # fmt: skip
    body = "".join(f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n" for name, data in events)
    return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body.encode())


def make_client() -> anthropic.Anthropic:
    if os.environ.get("ANTHROPIC_API_KEY"):
        return anthropic.Anthropic()
    return anthropic.Anthropic(
        api_key="offline", http_client=httpx2.Client(transport=httpx2.MockTransport(fake_messages_api))
    )


@workflow(name="explain")
def explain(client: anthropic.Anthropic) -> str:
    with client.messages.stream(
        model=MODEL,
        max_tokens=64,
        system="Answer in one short sentence.",
        messages=[{"role": "user", "content": "What does otel-genai guarantee about streamed spans?"}],
    ) as stream:
        for text in stream.text_stream:
            print(text, end="", flush=True)
        print()
        return stream.get_final_message().stop_reason or ""


def main() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))  # kept to look at the CLIENT span below
    provider.add_span_processor(SimpleSpanProcessor(SpanTreeConsoleExporter()))  # prints the tree when it ends
    trace.set_tracer_provider(provider)  # anthropic's own tracing turns on too: we keep it to one span per call
    AnthropicInstrumentor().instrument()

    explain(make_client())

    spans = exporter.get_finished_spans()
    chat = next(s for s in spans if s.kind is trace.SpanKind.CLIENT)
    for key in ("gen_ai.system_instructions", "gen_ai.input.messages", "gen_ai.output.messages"):
        if key in chat.attributes:  # only with OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT on
            print(f"{key}: {chat.attributes[key]}")
    if traceparents:
        print(f"request traceparent: {traceparents[0]} (client span id {chat.context.span_id:016x})")
    AnthropicInstrumentor().uninstrument()


if __name__ == "__main__":
    main()

"""Stream a chat completion through the OpenAI SDK with otel-genai, then print the span tree.

Offline by default: the SDK talks to an in-process fake transport (no key, no network). With ``OPENAI_API_KEY``
set it calls the real API (model from ``OPENAI_MODEL``, default ``gpt-4o-mini``).

    python examples/openai_stream.py
    OPENAI_API_KEY=sk-... python examples/openai_stream.py
    OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=SPAN_ONLY python examples/openai_stream.py
"""

from __future__ import annotations

import json
import os
import time

import httpx2
import openai
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from otel_genai import workflow
from otel_genai.console import SpanTreeConsoleExporter
from otel_genai.instrumentation.openai import OpenAIInstrumentor

provider = TracerProvider()
provider.add_span_processor(BatchSpanProcessor(SpanTreeConsoleExporter()))  # one tree per trace, on stdout
trace.set_tracer_provider(provider)
OpenAIInstrumentor().instrument()


def fake_transport() -> httpx2.MockTransport:
    """Serves a streamed chat completion as the real API does (SSE chunks, a usage chunk, then [DONE])."""

    def chunk(delta: dict, finish: str | None = None, usage: dict | None = None) -> bytes:
        choices = [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}]
        body = {
            "id": "chatcmpl-offline",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": "gpt-4o-mini-2024-07-18",
            "choices": choices,
            "usage": usage,
        }
        return f"data: {json.dumps(body)}\n\n".encode()

    def handler(request: httpx2.Request) -> httpx2.Response:
        words = "Streams end their spans exactly once.".split(" ")
        parts = [chunk({"role": "assistant", "content": ""})]
        parts += [chunk({"content": w if i == 0 else " " + w}) for i, w in enumerate(words)]
        parts += [chunk({}, "stop"), chunk({}, usage={"prompt_tokens": 9, "completion_tokens": 7, "total_tokens": 16})]
        parts.append(b"data: [DONE]\n\n")
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=b"".join(parts))

    return httpx2.MockTransport(handler)


def make_client() -> openai.OpenAI:
    if os.environ.get("OPENAI_API_KEY"):
        return openai.OpenAI()
    return openai.OpenAI(api_key="offline", http_client=httpx2.Client(transport=fake_transport()))


@workflow(name="answer")
def answer(client: openai.OpenAI, question: str) -> str:
    model = os.environ.get("OPENAI_MODEL", "gpt-4o-mini")
    text = []
    with client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": question}],
        stream=True,
        stream_options={"include_usage": True},
    ) as stream:
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                text.append(chunk.choices[0].delta.content)
                print(chunk.choices[0].delta.content, end="", flush=True)
    print()
    return "".join(text)


if __name__ == "__main__":
    answer(make_client(), "Why do stream spans need care?")
    provider.shutdown()  # exports what is still queued: the tree is printed here

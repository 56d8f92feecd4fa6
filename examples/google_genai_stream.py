"""Stream a Gemini answer with google-genai's async client, read it in another task, and print the span tree.

Runs offline: the SDK talks to an in-process fake of the Gemini API (``:streamGenerateContent?alt=sse``, its real
SSE wire format, over an ``httpx.MockTransport`` handed to the SDK through ``HttpOptions``) unless GOOGLE_API_KEY
(or GEMINI_API_KEY) is set, in which case it calls the real API (model from GEMINI_MODEL, default
gemini-2.5-flash). The stream is requested inside the ``explain`` workflow and read by another task: its
``generate_content {model}`` CLIENT span is still the workflow's child, and ends when the stream is exhausted.

    python examples/google_genai_stream.py
    OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=SPAN_ONLY python examples/google_genai_stream.py
"""

from __future__ import annotations

import asyncio
import json
import os

import httpx
from google import genai
from google.genai import types
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_genai import workflow
from otel_genai.console import SpanTreeConsoleExporter
from otel_genai.instrumentation.google_genai import GoogleGenAIInstrumentor

MODEL = os.environ.get("GEMINI_MODEL", "gemini-2.5-flash")


def fake_gemini_api(request: httpx.Request) -> httpx.Response:
    """Answer like ``POST /v1beta/models/{model}:streamGenerateContent?alt=sse``: text chunks, usage at the end."""
    words = ["Streams", " end", " their", " spans", " once", "."]
    chunks = []
    for i, word in enumerate(words):
        candidate = {"content": {"role": "model", "parts": [{"text": word}]}, "index": 0}
        chunk = {"candidates": [candidate], "modelVersion": f"{MODEL}-001", "responseId": "resp-demo"}
        if i == len(words) - 1:
            candidate["finishReason"] = "STOP"
            chunk["usageMetadata"] = {
                "promptTokenCount": 14,
                "candidatesTokenCount": 6,
                "thoughtsTokenCount": 9,
                "totalTokenCount": 29,
            }
        chunks.append(chunk)
    body = "".join(f"data: {json.dumps(chunk)}\r\n\r\n" for chunk in chunks)
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body.encode())


def make_client() -> genai.Client:
    if os.environ.get("GOOGLE_API_KEY") or os.environ.get("GEMINI_API_KEY"):
        return genai.Client()
    transport = httpx.MockTransport(fake_gemini_api)
    options = types.HttpOptions(httpx_async_client=httpx.AsyncClient(transport=transport))
    return genai.Client(api_key="offline", http_options=options)


@workflow(name="explain")
async def explain(client: genai.Client) -> object:
    """Start the stream here (the request itself only goes out at the first chunk)."""
    return await client.aio.models.generate_content_stream(
        model=MODEL,
        contents="What does otel-genai guarantee about streamed spans?",
        config=types.GenerateContentConfig(system_instruction="Answer in one short sentence.", temperature=0.2),
    )


async def read(stream: object) -> str:
    return "".join([chunk.text async for chunk in stream])  # type: ignore[attr-defined]


async def run() -> None:
    stream = await explain(make_client())
    answer = await asyncio.create_task(read(stream))  # read elsewhere: the span keeps the workflow as its parent
    print(f"answer: {answer}")


def main() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))  # kept to look at the CLIENT span below
    provider.add_span_processor(SimpleSpanProcessor(SpanTreeConsoleExporter()))  # prints the tree when it ends
    trace.set_tracer_provider(provider)
    GoogleGenAIInstrumentor().instrument()

    asyncio.run(run())

    call = next(s for s in exporter.get_finished_spans() if s.kind is trace.SpanKind.CLIENT)
    for key in ("gen_ai.system_instructions", "gen_ai.input.messages", "gen_ai.output.messages"):
        if key in call.attributes:  # only with OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT on
            print(f"{key}: {call.attributes[key]}")
    GoogleGenAIInstrumentor().uninstrument()


if __name__ == "__main__":
    main()

"""The main example: an agent that streams an OpenAI answer and calls a tool, traced by otel-genai.

Runs offline: the OpenAI SDK talks to an in-process fake of the API (real wire format, over
``httpx.MockTransport``) unless OPENAI_API_KEY is set, in which case it calls the real API.
Prints the span tree it produced through ``otel_genai.console.SpanTreeConsoleExporter``. ``make demo`` runs it.
"""

from __future__ import annotations

import asyncio
import json
import os

import httpx
import openai
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from otel_genai import agent, tool, using_attributes, workflow
from otel_genai.console import SpanTreeConsoleExporter
from otel_genai.instrumentation.openai import OpenAIInstrumentor

MODEL = "gpt-4o-mini"


def fake_openai(request: httpx.Request) -> httpx.Response:
    """Answer like the Chat Completions API does when asked to stream: SSE chunks, a usage chunk, [DONE]."""
    body = json.loads(request.content)
    words = ["It", " is", " sunny", " in", " Paris", "."]
    base = {"id": "chatcmpl-demo", "object": "chat.completion.chunk", "created": 1700000000, "model": MODEL}
    chunks = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}]
    chunks += [{**base, "choices": [{"index": 0, "delta": {"content": w}, "finish_reason": None}]} for w in words]
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    if body.get("stream_options", {}).get("include_usage"):
        chunks.append(
            {**base, "choices": [], "usage": {"prompt_tokens": 21, "completion_tokens": 6, "total_tokens": 27}}
        )
    sse = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=sse.encode())


def make_client() -> openai.AsyncOpenAI:
    if os.environ.get("OPENAI_API_KEY"):
        return openai.AsyncOpenAI()
    return openai.AsyncOpenAI(
        api_key="offline", http_client=httpx.AsyncClient(transport=httpx.MockTransport(fake_openai))
    )


@tool
def get_weather(city: str) -> dict:
    return {"city": city, "forecast": "sunny"}


@agent(name="weather")
async def weather_agent(client: openai.AsyncOpenAI, city: str):
    """An async generator: each text delta is yielded as soon as the API sends it."""
    facts = get_weather(city)
    stream = await client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": f"Weather in {city}? Facts: {facts}"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            yield chunk.choices[0].delta.content


@workflow(name="demo")
async def answer(city: str) -> str:
    client = make_client()
    return "".join([text async for text in weather_agent(client, city)])


def main() -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": "otel-genai-demo"}))
    # What `opentelemetry-instrument --traces_exporter otel_genai_console` sets up: spans reach the exporter in
    # batches, it prints each trace as one tree once the trace's root has ended.
    provider.add_span_processor(BatchSpanProcessor(SpanTreeConsoleExporter()))
    trace.set_tracer_provider(provider)
    OpenAIInstrumentor().instrument(tracer_provider=provider)

    with using_attributes(session_id="demo-session"):
        text = asyncio.run(answer("Paris"))
    print(f"answer: {text}\n")
    provider.shutdown()  # exports what is queued: the tree is printed here


if __name__ == "__main__":
    main()

"""Streaming an OpenAI Agents SDK run from FastAPI, traced with otel-genai (the same pattern serves an Agno stream).

The pattern: start the run *inside* the response body generator. The generator is what Starlette iterates, in its
own task, after the endpoint returned; starting the run there keeps the SDKs' own context variables (the Agents SDK's
current trace/span, Agno's run state) in the task that consumes the stream, and otel-genai joins the run's trace to
the request span either way.

Runs offline: the models talk to a fake OpenAI HTTP edge (an ``httpx.MockTransport``); each request's span tree is
printed by ``otel_genai.console.SpanTreeConsoleExporter``.

    python examples/fastapi_agents.py            # serve one request in-process and print the spans
    uvicorn examples.fastapi_agents:app          # or serve it: curl -N localhost:8000/weather
"""

from __future__ import annotations

import json
import os

os.environ.setdefault("AGNO_TELEMETRY", "false")

import httpx
import openai
from agents import Agent, OpenAIChatCompletionsModel, Runner, function_tool, set_trace_processors
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from otel_genai.console import SpanTreeConsoleExporter
from otel_genai.instrumentation.openai_agents import OpenAIAgentsInstrumentor

# --- telemetry ----------------------------------------------------------------------------------------------------
provider = TracerProvider()
provider.add_span_processor(BatchSpanProcessor(SpanTreeConsoleExporter()))  # each request's trace as one tree
trace.set_tracer_provider(provider)
set_trace_processors([])  # offline example: drop the Agents SDK's own exporter to api.openai.com
OpenAIAgentsInstrumentor().instrument()
try:  # model CLIENT spans, under the agent that made the call
    from otel_genai.instrumentation.openai import OpenAIInstrumentor

    OpenAIInstrumentor().instrument()
except ImportError:
    pass


# --- a fake OpenAI edge: first call asks for the tool, second answers -------------------------------------------------
def fake_openai(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    tool_done = any(m.get("role") == "tool" for m in body["messages"])
    delta = (
        {"content": "It is sunny in Paris."}
        if tool_done
        else {"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                              "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}]}
    )  # fmt: skip
    chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": body["model"]}
    events = [
        {**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", **delta}, "finish_reason": None}]},
        {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop" if tool_done else "tool_calls"}]},
    ]
    sse = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=sse.encode())


transport = httpx.MockTransport(fake_openai)
client = openai.AsyncOpenAI(api_key="offline", http_client=httpx.AsyncClient(transport=transport))


@function_tool
def get_weather(city: str) -> str:
    """Get the weather for a city."""
    return f"sunny in {city}"


agent = Agent(
    name="Weather",
    instructions="Answer with the weather.",
    tools=[get_weather],
    model=OpenAIChatCompletionsModel(model="gpt-4o-mini", openai_client=client),
)

# --- the app --------------------------------------------------------------------------------------------------------
app = FastAPI()


@app.get("/weather")
async def weather(city: str = "Paris") -> StreamingResponse:
    async def body():
        result = Runner.run_streamed(agent, f"What is the weather in {city}?")  # started inside the body
        try:
            async for event in result.stream_events():
                data = getattr(event, "data", None)
                if getattr(data, "type", "") == "response.output_text.delta":
                    yield data.delta
        finally:
            result.cancel()  # the client went away (or we stopped early): stop the run, which ends its spans

    return StreamingResponse(body(), media_type="text/plain")


if __name__ == "__main__":
    from fastapi.testclient import TestClient

    with TestClient(app) as test_client:
        print("response:", test_client.get("/weather").text)
    provider.shutdown()  # exports what is still queued: the tree is printed here

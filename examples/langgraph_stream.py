"""Stream a LangGraph agent's tokens, traced by otel-genai, and print the span tree.

A graph with two nodes, ``agent`` (ChatOpenAI with a bound tool) and ``tools`` (LangGraph's ``ToolNode``), looping
until the model answers; read with ``graph.astream(stream_mode="messages")``, token by token. LangChain's and
OpenAI's instrumentors are both on: each model call has exactly one CLIENT span (the OpenAI one, which sees the
wire), under the node that made it, and the graph's spans end when the stream does.

Runs offline: ChatOpenAI's HTTP client has an in-process ``httpx.MockTransport`` answering like OpenAI's
``POST /v1/chat/completions`` (real SSE wire format: first a tool call, then the answer), unless OPENAI_API_KEY is
set, in which case it calls the real API.

    python examples/langgraph_stream.py
    OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=SPAN_ONLY python examples/langgraph_stream.py
"""

from __future__ import annotations

import asyncio
import json
import os

import httpx
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from otel_genai.console import SpanTreeConsoleExporter
from otel_genai.instrumentation.langchain import LangChainInstrumentor
from otel_genai.instrumentation.openai import OpenAIInstrumentor

ANSWER = ["It", " is", " sunny", " in", " Paris", "."]


def _sse(chunks: list[dict]) -> bytes:
    base = {"id": "chatcmpl-demo", "object": "chat.completion.chunk", "created": 0, "model": "gpt-4o-mini"}
    return b"".join(f"data: {json.dumps({**base, **c})}\n\n".encode() for c in chunks) + b"data: [DONE]\n\n"


def _choice(delta: dict, finish: str | None = None) -> dict:
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def fake_openai(request: httpx.Request) -> httpx.Response:
    """A tool call first; once the request carries the tool's result, the answer, word by word."""
    messages = json.loads(request.content)["messages"]
    if any(m["role"] == "tool" for m in messages):
        chunks = [_choice({"role": "assistant", "content": ""}), *[_choice({"content": w}) for w in ANSWER]]
        chunks.append(_choice({}, "stop"))
        usage = {"prompt_tokens": 40, "completion_tokens": len(ANSWER), "total_tokens": 40 + len(ANSWER)}
    else:
        call = {"index": 0, "id": "call_1", "type": "function"}
        call["function"] = {"name": "get_weather", "arguments": json.dumps({"city": "Paris"})}
        chunks = [_choice({"role": "assistant", "content": None, "tool_calls": [call]}), _choice({}, "tool_calls")]
        usage = {"prompt_tokens": 30, "completion_tokens": 9, "total_tokens": 39}
    body = _sse([*chunks, {"choices": [], "usage": usage}])
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)


@tool
def get_weather(city: str) -> str:
    """Get the weather for a city."""
    return f"sunny in {city}"


def build_graph():
    if os.environ.get("OPENAI_API_KEY"):
        model = ChatOpenAI(model="gpt-4o-mini")
    else:
        transport = httpx.MockTransport(fake_openai)
        model = ChatOpenAI(
            model="gpt-4o-mini",
            api_key="offline",
            http_client=httpx.Client(transport=transport),
            http_async_client=httpx.AsyncClient(transport=transport),
            stream_usage=True,
        )
    model = model.bind_tools([get_weather])

    async def agent(state: MessagesState) -> dict:
        return {"messages": [await model.ainvoke(state["messages"])]}

    graph = StateGraph(MessagesState)
    graph.add_node("agent", agent)
    graph.add_node("tools", ToolNode([get_weather]))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", tools_condition, {"tools": "tools", END: END})
    graph.add_edge("tools", "agent")
    return graph.compile(name="weather")


async def main() -> None:
    graph = build_graph()
    print("answer: ", end="")
    async for chunk, meta in graph.astream(
        {"messages": [("user", "What is the weather in Paris?")]},
        {"configurable": {"thread_id": "demo-thread"}},
        stream_mode="messages",
    ):
        if meta["langgraph_node"] == "agent" and isinstance(chunk.content, str):
            finished = chunk.response_metadata.get("finish_reason") == "stop"
            print(chunk.content, end="\n" if finished else "", flush=True)  # the tree prints when the stream ends


if __name__ == "__main__":
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(SpanTreeConsoleExporter()))
    trace.set_tracer_provider(provider)
    LangChainInstrumentor().instrument()
    OpenAIInstrumentor().instrument()
    asyncio.run(main())
    provider.shutdown()

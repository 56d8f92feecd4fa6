"""LangGraph: a 3-node graph (a model call with a bound tool, langgraph's ToolNode running the tool, a second model
call) whose ChatOpenAI runs over the real openai SDK and an in-process ``httpx.MockTransport`` serving pre-encoded
OpenAI wire bytes; ``graph.invoke`` per run, ``graph.stream(stream_mode="messages")`` per streamed chunk.

Only the LangChain instrumentation of each family is on (no OpenAI instrumentor): what is measured is the cost of
tracing the graph, its nodes, the tool and the two model runs through LangChain's callbacks.
"""

from __future__ import annotations

import json
from typing import Any

OURS_INSTRUMENTOR = "otel_genai.instrumentation.langchain:LangChainInstrumentor"
# Spans otel-genai records per graph run or stream (workflow, 3 nodes, tool, 2 chat): spans/call is 7, not 1.
SPANS_PER_CALL = 7

NOTE = (
    "A LangGraph StateGraph of 3 nodes, plan -> tools -> answer -> END: `plan` is ChatOpenAI with a bound @tool "
    "(the model answers one tool call), `tools` is langgraph's ToolNode running it, `answer` is ChatOpenAI again "
    "(the final text). ChatOpenAI runs over the real openai SDK and an in-process httpx.MockTransport serving "
    "pre-encoded OpenAI wire bytes (chat.completion JSON, or chat.completion.chunk SSE when the request streams): "
    "the first request (no tool message) gets the tool call, the second (a role=tool message) the answer. "
    "µs/run = one `graph.invoke`. µs/chunk = (t(`graph.stream(stream_mode='messages')` read to the end, the answer "
    "streamed in 1000 content chunks) - t(same, 1 chunk)) / 999, per round: one more token through the whole stack "
    "(openai SSE parsing, LangChain's callbacks, LangGraph's stream queue from the node's thread), so the baseline "
    "per chunk is large and noisy and a difference below a few µs is not resolved. Memory: one such stream, as for "
    "openai. Each family's LangChain instrumentation only (no OpenAI instrumentor), same SDK TracerProvider and "
    "counting exporter as every group; langchain-core 1.8.3, langchain 1.5.2, langgraph 1.2.24, langchain-openai "
    "1.8.1, openai 3.57.0 in every venv. spans/call = spans per graph run or stream, by design > 1: otel-genai 7 "
    "(invoke_workflow LangGraph, the 3 nodes, execute_tool, 2 chat CLIENT spans), OpenLLMetry 8 (its "
    "LangGraph.workflow and invoke_agent LangGraph, 3 execute_task nodes, execute_tool, 2 ChatOpenAI.chat), "
    "OpenInference 7 (LangGraph, "
    "3 nodes, the tool, 2 ChatOpenAI), official genai-langchain 4 (invoke_workflow LangGraph, execute_tool, 2 chat: "
    "no node spans). Verified by hand (InMemorySpanExporter, invoke and stream): with content on, every configuration "
    "puts the question, the tool result and the answer on its spans; with off, none does. "
    "Targets for otel-genai: less added time per run and per chunk than every peer, <= 1 µs per chunk."
)
LABELS = {
    "chat": "graph run (3 nodes, 1 tool call, 2 model calls), µs/run",
    "stream_chunk": "graph stream (stream_mode=messages), µs/chunk",
    "memory": "graph stream memory growth, bytes/chunk",
}
_COMMON = ["langgraph", "langchain-core", "langchain-openai"]
CONFIGS: list[dict[str, Any]] = [
    {
        "name": "no instrumentation",
        "venv": "langgraph-ours",
        "kind": "none",
        "packages": _COMMON,
        "baseline": True,
    },
]
for _name, _venv, _kind, _packages in (
    ("otel-genai", "langgraph-ours", "ours", ["otel-genai"]),
    ("openllmetry", "langgraph-openllmetry", "openllmetry", ["opentelemetry-instrumentation-langchain"]),
    ("openinference", "langgraph-openinference", "openinference", ["openinference-instrumentation-langchain"]),
    (
        "otel genai-langchain",
        "langgraph-official",
        "official",
        ["opentelemetry-instrumentation-genai-langchain", "opentelemetry-util-genai"],
    ),
):
    for _content in ("off", "on"):
        CONFIGS.append({"name": _name, "venv": _venv, "kind": _kind, "packages": _packages, "content": _content})

MODEL = "gpt-4o-mini"
RESPONSE_MODEL = "gpt-4o-mini-2024-07-18"
QUESTION = "What is the capital of France, and what is it known for? Look it up."
TOOL_ARGS = {"city": "Paris"}
TOOL_RESULT = "Paris: capital of France, on the Seine; known for the Louvre, the Eiffel Tower and its cafés."
ANSWER = (
    "The capital of France is Paris, on the Seine. It is known for the Louvre, the Eiffel Tower and its cafés, "
    "and for being one of the great centres of art, fashion and gastronomy."
)
TOKEN = " word"
_ID = "chatcmpl-BENCH0000000000000000000000"
_CALL_ID = "call_BENCH00000000000000000"
_EXTRA = {"service_tier": "default", "system_fingerprint": "fp_0123456789"}


def _usage(prompt: int, completion: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _completion(message: dict[str, Any], finish: str, usage: dict[str, Any]) -> bytes:
    """A chat.completion body exactly as the API returns it."""
    message = {"role": "assistant", "refusal": None, "annotations": [], **message}
    choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
    body = {"id": _ID, "object": "chat.completion", "created": 1735689600, "model": RESPONSE_MODEL}
    return json.dumps({**body, "choices": [choice], "usage": usage, **_EXTRA}).encode()


def _tool_call() -> dict[str, Any]:
    return {"id": _CALL_ID, "type": "function", "function": {"name": "lookup_city", "arguments": json.dumps(TOOL_ARGS)}}


def _sse(choices: list[dict[str, Any]], usage: dict[str, Any] | None = None) -> bytes:
    chunk = {"id": _ID, "object": "chat.completion.chunk", "created": 1735689600, "model": RESPONSE_MODEL, **_EXTRA}
    return b"data: " + json.dumps({**chunk, "choices": choices, "usage": usage}).encode() + b"\n\n"


def _delta(delta: dict[str, Any], finish: str | None = None) -> list[dict[str, Any]]:
    return [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]


def tool_call_stream() -> bytes:
    """SSE of a tool call, as the API streams it: role chunk, tool-call head, argument pieces, finish, usage."""
    call = _tool_call()
    head = {"index": 0, "id": call["id"], "type": "function", "function": {"name": "lookup_city", "arguments": ""}}
    args = call["function"]["arguments"]
    pieces = [args[: len(args) // 2], args[len(args) // 2 :]]
    out = _sse(_delta({"role": "assistant", "content": None, "refusal": None}))
    out += _sse(_delta({"tool_calls": [head]}))
    for piece in pieces:
        out += _sse(_delta({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
    out += _sse(_delta({}, "tool_calls")) + _sse([], _usage(71, 16))
    return out + b"data: [DONE]\n\n"


def answer_stream(chunks: int) -> bytes:
    """SSE of the answer: role chunk, ``chunks`` content chunks, finish chunk, usage chunk, ``[DONE]``."""
    head = _sse(_delta({"role": "assistant", "content": "", "refusal": None}))
    tail = _sse(_delta({}, "stop")) + _sse([], _usage(112, chunks))
    return head + _sse(_delta({"content": TOKEN})) * chunks + tail + b"data: [DONE]\n\n"


def bench_class() -> type:
    """The bench class (harness imports the OTel SDK, so only inside a venv, never when run.py lists groups)."""
    from harness import HttpxBench

    class LangGraphBench(HttpxBench):
        """``graph.invoke`` (chat) and ``graph.stream(stream_mode="messages")`` (stream) of the 3-node graph."""

        LEAD = 0  # set in __init__: the items the stream yields before the answer's first content chunk

        def __init__(self) -> None:
            super().__init__()
            self.graph = self.build()
            self.LEAD = self.lead()

        def connect(self) -> Any:
            """ChatOpenAI over the openai SDK; the edge answers by the request's content (tool message or not)."""
            import httpx
            from langchain_openai import ChatOpenAI

            bodies = {
                (False, False): _completion(
                    {"content": None, "tool_calls": [_tool_call()]}, "tool_calls", _usage(71, 16)
                ),
                (False, True): _completion({"content": ANSWER}, "stop", _usage(112, 38)),
                (True, False): tool_call_stream(),
            }
            json_headers = {"content-type": "application/json"}
            stream_headers = {"content-type": "text/event-stream"}

            def handler(request: Any) -> Any:
                sent = request.content.replace(b" ", b"")
                stream, tool = b'"stream":true' in sent, b'"role":"tool"' in sent
                if stream:
                    body = self.body(self.chunks) if tool else bodies[True, False]
                    return httpx.Response(200, headers=stream_headers, content=body)
                return httpx.Response(200, headers=json_headers, content=bodies[False, tool])

            http_client = httpx.Client(transport=httpx.MockTransport(handler))
            return ChatOpenAI(
                model=MODEL,
                api_key="sk-bench",
                base_url="http://127.0.0.1:9/v1",
                max_retries=0,
                stream_usage=True,
                http_client=http_client,
            )

        def build(self) -> Any:
            from langchain_core.tools import tool
            from langgraph.graph import END, START, MessagesState, StateGraph
            from langgraph.prebuilt import ToolNode

            @tool
            def lookup_city(city: str) -> str:
                """Look up facts about a city."""
                return TOOL_RESULT if city == "Paris" else "unknown city"

            planner = self.client.bind_tools([lookup_city])
            model = self.client

            def plan(state: MessagesState) -> dict[str, Any]:
                return {"messages": [planner.invoke(state["messages"])]}

            def answer(state: MessagesState) -> dict[str, Any]:
                return {"messages": [model.invoke(state["messages"])]}

            graph = StateGraph(MessagesState)
            graph.add_node("plan", plan)
            graph.add_node("tools", ToolNode([lookup_city]))
            graph.add_node("answer", answer)
            graph.add_edge(START, "plan")
            graph.add_edge("plan", "tools")
            graph.add_edge("tools", "answer")
            graph.add_edge("answer", END)
            return graph.compile()

        def lead(self) -> int:
            """Index of the answer's first content chunk in the stream (checks the stream's items once)."""
            self.chunks = 3
            items = list(self.create(True))
            tokens = [i for i, (msg, _meta) in enumerate(items) if msg.content == TOKEN]
            if len(tokens) != 3 or tokens != list(range(tokens[0], tokens[0] + 3)):
                raise RuntimeError(f"unexpected graph stream: {[type(m).__name__ for m, _ in items]}")
            return tokens[0]

        def single_body(self) -> bytes:
            return b""  # not used: connect() serves its own bodies

        def stream_body(self, chunks: int) -> bytes:
            return answer_stream(chunks)

        def create(self, stream: bool) -> Any:
            inputs = {"messages": [("user", QUESTION)]}
            if stream:
                return self.graph.stream(inputs, stream_mode="messages")
            return self.graph.invoke(inputs)

        def answered(self, response: Any) -> bool:
            messages = response["messages"]
            return (
                len(messages) == 4
                and messages[1].tool_calls[0]["args"] == TOOL_ARGS
                and messages[2].content == TOOL_RESULT
                and messages[-1].content == ANSWER
            )

    return LangGraphBench


def setup(kind: str) -> Any:
    from harness import sdk_provider

    tp = sdk_provider()
    if kind == "none":
        pass
    elif kind == "ours":
        from harness import load

        load(OURS_INSTRUMENTOR)().instrument(tracer_provider=tp)
    elif kind == "openllmetry":
        from opentelemetry.instrumentation.langchain import LangchainInstrumentor

        LangchainInstrumentor().instrument(tracer_provider=tp)
    elif kind == "openinference":
        from openinference.instrumentation.langchain import LangChainInstrumentor

        LangChainInstrumentor().instrument(tracer_provider=tp)
    elif kind == "official":
        from opentelemetry.instrumentation.genai.langchain import LangChainInstrumentor as OfficialInstrumentor

        OfficialInstrumentor().instrument(tracer_provider=tp)
    else:
        raise ValueError(f"unknown langgraph instrumentation {kind!r}")
    return bench_class()()

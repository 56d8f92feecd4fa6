"""A scripted OpenAI HTTP edge for agent-framework tests, built on the wire-format fakes of :mod:`support.wire`.

The answer is decided from the request body, so one edge serves any number of runs and agents:

* a non-``transfer_to_*`` tool is offered and the history holds no tool output yet -> call that tool;
* a ``transfer_to_*`` tool is offered and no transfer happened yet -> call it (a handoff);
* otherwise -> the final text :data:`FINAL_TEXT`;
* a system prompt / instructions containing ``FAIL500`` -> HTTP 500.

``delay`` (seconds) streams SSE bodies one event at a time with a sleep before each (async clients only), so a run
can be cancelled or disconnected mid-stream. Nothing inside openai / agents / agno is mocked.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import httpx
import openai

from support import wire

FINAL_TEXT = "Final answer: it is sunny in Paris."
TOOL_ARGS: dict[str, dict[str, Any]] = {
    "delegate_task_to_member": {"member_id": "weather-agent", "task": "Find the weather in Paris"},
    "delegate_task_to_members": {"task": "Find the weather in Paris"},
}
DEFAULT_ARGS = {"city": "Paris"}


def _arguments(name: str) -> str:
    return "{}" if name.startswith("transfer_to_") else json.dumps(TOOL_ARGS.get(name, DEFAULT_ARGS))


def _decide(tools: list[str], tool_outputs: int, transferred: bool) -> str | None:
    plain = [n for n in tools if not n.startswith("transfer_to_")]
    transfers = [n for n in tools if n.startswith("transfer_to_")]
    if plain and tool_outputs == 0:
        return plain[0]
    if transfers and not transferred:
        return transfers[0]
    return None


def _chat_state(body: dict) -> tuple[str, list[str], int, bool]:
    messages = body.get("messages") or []
    system = " ".join(str(m.get("content")) for m in messages if m.get("role") in ("system", "developer"))
    tools = [t["function"]["name"] for t in body.get("tools") or [] if t.get("type") == "function"]
    outputs = sum(1 for m in messages if m.get("role") == "tool")
    transferred = any(
        str(call.get("function", {}).get("name", "")).startswith("transfer_to_")
        for m in messages
        if m.get("role") == "assistant"
        for call in m.get("tool_calls") or []
    )
    return system, tools, outputs, transferred


def _responses_state(body: dict) -> tuple[str, list[str], int, bool]:
    items = body.get("input") if isinstance(body.get("input"), list) else []
    tools = [t["name"] for t in body.get("tools") or [] if t.get("type") == "function"]
    outputs = sum(1 for i in items if i.get("type") == "function_call_output")
    transferred = any(
        i.get("type") == "function_call" and str(i.get("name", "")).startswith("transfer_to_") for i in items
    )
    return str(body.get("instructions") or ""), tools, outputs, transferred


class ScriptedEdge:
    """An ``httpx.MockTransport`` handler (sync, so it serves sync and async clients) answering as scripted above."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.requests: list[tuple[str, dict]] = []
        self.sent: list[wire.WireResponse] = []  # what was answered, in order (tests compare spans with it)
        self._lock = threading.Lock()

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content or b"{}")
        path = request.url.path
        with self._lock:
            self.requests.append((path, body))
        model = body.get("model", "gpt-4o-mini")
        stream = bool(body.get("stream"))
        chat = path.endswith("/chat/completions")
        system, tools, outputs, transferred = (_chat_state if chat else _responses_state)(body)
        if "FAIL500" in system:
            return self._send(wire.openai_error(500, message="boom"))
        tool = _decide(tools, outputs, transferred)
        text = None if tool else FINAL_TEXT
        if chat:
            calls = [wire.openai_tool_call(tool, _arguments(tool))] if tool else None
            build = wire.openai_chat_stream if stream else wire.openai_chat
            extra = {"include_usage": True} if stream else {}
            return self._send(build(text, model=model, tool_calls=calls, **extra))
        calls = [wire.responses_function_call(tool, _arguments(tool))] if tool else None
        build = wire.openai_responses_stream if stream else wire.openai_responses
        return self._send(build(text, model=model, function_calls=calls))

    def _send(self, response: wire.WireResponse) -> httpx.Response:
        self.sent.append(response)
        headers = response.headers
        if not self.delay or not (response.header("content-type") or "").startswith("text/event-stream"):
            return httpx.Response(response.status, headers=headers, content=response.body)
        events = [part + b"\n\n" for part in response.body.split(b"\n\n") if part]
        delay = self.delay

        async def slowly():
            for event in events:
                await asyncio.sleep(delay)
                yield event

        return httpx.Response(response.status, headers=headers, content=slowly())


def clients(edge: ScriptedEdge) -> tuple[openai.OpenAI, openai.AsyncOpenAI]:
    """A sync and an async OpenAI client over ``edge`` (retries off)."""
    transport = httpx.MockTransport(edge)
    kwargs: dict[str, Any] = {"api_key": "test", "max_retries": 0}
    return (
        openai.OpenAI(http_client=httpx.Client(transport=transport), **kwargs),
        openai.AsyncOpenAI(http_client=httpx.AsyncClient(transport=transport), **kwargs),
    )


# --- span-tree helpers ------------------------------------------------------------------------------------------


def by_id(spans: Any) -> dict[int, Any]:
    return {s.context.span_id: s for s in spans}


def parent_of(span: Any, index: dict[int, Any]) -> Any:
    return index.get(span.parent.span_id) if span.parent is not None else None


def ancestors(span: Any, index: dict[int, Any], ids: bool = False) -> list[Any]:
    """Names (or span ids) of ``span``'s ancestors, nearest first."""
    found = []
    while (span := parent_of(span, index)) is not None:
        found.append(span.context.span_id if ids else span.name)
    return found


def edges(spans: Any) -> list[tuple[str, str | None]]:
    """``(name, parent name)`` for every span, in start order."""
    index = by_id(spans)
    ordered = sorted(spans, key=lambda s: s.start_time)
    return [(s.name, getattr(parent_of(s, index), "name", None)) for s in ordered]


class CurrentSpanAtRequest(ScriptedEdge):
    """A :class:`ScriptedEdge` that also records the OTel span current when each HTTP request is sent."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__(delay)
        self.current: list[Any] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        from opentelemetry import trace

        self.current.append(trace.get_current_span())
        return super().__call__(request)


def openai_instrumentor() -> Any:
    """otel-genai's OpenAIInstrumentor class, or None while it is not importable."""
    try:
        from otel_genai.instrumentation.openai import OpenAIInstrumentor
    except ImportError:
        return None
    return OpenAIInstrumentor

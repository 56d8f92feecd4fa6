"""Stream a LiteLLM completion, traced by otel-genai, and print the span tree.

Runs offline: LiteLLM's ``api_base`` points at a tiny local server (127.0.0.1, any free port) that answers like
OpenAI's ``POST /v1/chat/completions`` with ``stream: true`` (real SSE wire format), unless OPENAI_API_KEY is set, in
which case it calls the real API (model from LITELLM_MODEL, default openai/gpt-4o-mini). Shows one ``chat {model}``
CLIENT span with ``gen_ai.provider.name`` the provider LiteLLM routed to, and that the stream is still LiteLLM's
``CustomStreamWrapper``, read here with ``async for`` and closed by ``async with``.

    python examples/litellm_stream.py
    OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=SPAN_ONLY python examples/litellm_stream.py
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # else importing litellm fetches its model cost map

import litellm
from litellm.litellm_core_utils.streaming_handler import CustomStreamWrapper
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from otel_genai import workflow
from otel_genai.console import SpanTreeConsoleExporter
from otel_genai.instrumentation.litellm import LiteLLMInstrumentor

MODEL = os.environ.get("LITELLM_MODEL", "openai/gpt-4o-mini")


class FakeOpenAI(BaseHTTPRequestHandler):
    """``POST /v1/chat/completions`` with ``stream: true``: a role chunk, the words, a finish chunk, usage, [DONE]."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        words = ["One", " span", " per", " call", ",", " whichever", " way", " it", " is", " read", "."]
        base = {"id": "chatcmpl-demo", "object": "chat.completion.chunk", "created": 0, "model": "gpt-4o-mini"}
        chunks = [
            {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]},
            *[{**base, "choices": [{"index": 0, "delta": {"content": w}, "finish_reason": None}]} for w in words],
            {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
            {**base, "choices": [], "usage": {"prompt_tokens": 15, "completion_tokens": 11, "total_tokens": 26}},
        ]  # fmt: skip
        body = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def endpoint() -> Iterator[dict[str, str]]:
    """Where to send the call: the real API with a key, else the local fake (stopped on exit)."""
    if os.environ.get("OPENAI_API_KEY"):
        yield {}
        return
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {"api_base": f"http://127.0.0.1:{server.server_address[1]}/v1", "api_key": "offline"}
    finally:
        server.shutdown()
        server.server_close()


@workflow(name="explain")
async def explain(where: dict[str, str]) -> str:
    stream = await litellm.acompletion(
        model=MODEL,
        messages=[{"role": "user", "content": "What does otel-genai guarantee about streamed spans?"}],
        stream=True,
        stream_options={"include_usage": True},
        **where,
    )
    assert isinstance(stream, CustomStreamWrapper)  # still LiteLLM's object
    text = []
    async with stream:
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                text.append(chunk.choices[0].delta.content)
                print(chunk.choices[0].delta.content, end="", flush=True)
    print()
    return "".join(text)


def main() -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(SpanTreeConsoleExporter()))  # prints the tree when it ends
    trace.set_tracer_provider(provider)
    LiteLLMInstrumentor().instrument()
    with endpoint() as where:
        asyncio.run(explain(where))


if __name__ == "__main__":
    main()

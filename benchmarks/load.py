"""Load benchmark: a real FastAPI app on uvicorn (127.0.0.1) streaming LLM output to many concurrent HTTP clients.

``python benchmarks/load.py --requests 1000 --concurrency 100`` serves the same requests from the same app twice per
round, uninstrumented and instrumented (otel-genai: OpenAI + openai-agents instrumentors, decorated body
generators, an SDK TracerProvider with a BatchSpanProcessor), and reports throughput and p50 / p99 latency of
each and their ratios (instrumented / uninstrumented). The app has two streamed endpoints:

* ``/chat``: a ``@workflow`` async generator over an async OpenAI chat stream;
* ``/agents``: an openai-agents ``Runner.run_streamed`` run (triage agent, a tool call, a handoff: three model calls).

The model is a scripted HTTP edge (``httpx.MockTransport``, real SSE wire format, a small delay per SSE event; see
tests/support/agents_edge.py): no network. A share of the clients (``--disconnect``) hang up after the first chunk.
tests/test_load.py drives the same app and checks what must hold under load (spans, leaks, context errors).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO / "tests") not in sys.path:
    sys.path.insert(0, str(REPO / "tests"))  # the scripted model edge and the server helper live with the tests

import httpx  # noqa: E402
from agents import Agent, OpenAIChatCompletionsModel, Runner, function_tool, set_trace_processors  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from fastapi.responses import StreamingResponse  # noqa: E402
from support.agents_edge import ScriptedEdge, clients  # noqa: E402

from otel_genai import workflow  # noqa: E402
from otel_genai.instrumentation.openai import OpenAIInstrumentor  # noqa: E402
from otel_genai.instrumentation.openai_agents import OpenAIAgentsInstrumentor  # noqa: E402

MODEL = "gpt-4o-mini"
EVENT_DELAY = 0.002  # seconds before each SSE event of the scripted model: streams take time, disconnects land
AGENTS_EVERY = 5  # every 5th request is an agent run, the others chat streams


@function_tool
def get_weather(city: str) -> str:
    """Get the weather for a city."""
    return f"sunny in {city}"


class LoadApp:
    """The app under load, switchable between traced and untraced without restarting the server."""

    def __init__(self, delay: float = EVENT_DELAY) -> None:
        set_trace_processors([])  # openai-agents exports its own traces to OpenAI by default: never here
        self.edge = ScriptedEdge(delay=delay)
        self.chat_client = clients(self.edge)[1]
        model = OpenAIChatCompletionsModel(model=MODEL, openai_client=self.chat_client)
        specialist = Agent(name="Specialist", instructions="specialist", model=model)
        self.agent = Agent(
            name="Triage", instructions="triage", tools=[get_weather], handoffs=[specialist], model=model
        )
        self.traced = False
        self.instrumentors = [OpenAIInstrumentor(), OpenAIAgentsInstrumentor()]
        self.traced_chat = workflow(name="chat")(self.chat_body)
        self.app = self._build()

    async def chat_body(self) -> AsyncIterator[str]:
        messages = [{"role": "user", "content": "weather?"}]
        stream = await self.chat_client.chat.completions.create(model=MODEL, messages=messages, stream=True)
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                yield chunk.choices[0].delta.content + "\n"

    async def agents_body(self) -> AsyncIterator[str]:
        result = Runner.run_streamed(self.agent, "weather?")
        async for event in result.stream_events():
            yield f"{event.type}\n"

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.get("/chat")
        async def chat() -> StreamingResponse:
            body = self.traced_chat() if self.traced else self.chat_body()
            return StreamingResponse(body, media_type="text/plain")

        @app.get("/agents")
        async def agents() -> StreamingResponse:
            return StreamingResponse(self.agents_body(), media_type="text/plain")

        return app

    def instrument(self, **kwargs: Any) -> None:
        for instrumentor in self.instrumentors:
            instrumentor.instrument(**kwargs)
        self.traced = True

    def uninstrument(self) -> None:
        self.traced = False
        for instrumentor in reversed(self.instrumentors):
            instrumentor.uninstrument()


@dataclass
class Batch:
    """What one batch of requests measured: wall time, per-request latency (full reads only), lines read."""

    wall: float = 0.0
    latencies: list[float] = field(default_factory=list)
    first_chunk: list[float] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    disconnected: int = 0

    @property
    def requests(self) -> int:
        return len(self.lines)

    def throughput(self) -> float:
        return self.requests / self.wall

    def percentile(self, q: float) -> float:
        data = sorted(self.latencies)
        return data[min(len(data) - 1, int(q * len(data)))]


def plan(requests: int, disconnect: float, seed: int = 7) -> list[tuple[str, bool]]:
    """(path, hang up after the first chunk) for each request: the same plan for every configuration."""
    rng = random.Random(seed)
    return [("/agents" if i % AGENTS_EVERY == 0 else "/chat", rng.random() < disconnect) for i in range(requests)]


async def drive(base_url: str, requests: list[tuple[str, bool]], concurrency: int) -> Batch:
    """Send ``requests`` with at most ``concurrency`` in flight; a disconnecting client leaves after one line."""
    batch = Batch()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=0)
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as client:

        async def one(path: str, hang_up: bool) -> None:
            async with gate:
                started = time.perf_counter()
                n = 0
                async with client.stream("GET", path) as response:
                    response.raise_for_status()
                    async for text in response.aiter_lines():
                        if text:
                            n += 1
                            if n == 1:
                                batch.first_chunk.append(time.perf_counter() - started)
                            if hang_up:
                                break  # leaving the `with` closes the connection: a client disconnect
                if hang_up:
                    batch.disconnected += 1
                else:
                    batch.latencies.append(time.perf_counter() - started)
                batch.lines.append(n)

        started = time.perf_counter()
        await asyncio.gather(*(one(path, hang_up) for path, hang_up in requests))
        batch.wall = time.perf_counter() - started
    return batch


def run_batch(base_url: str, requests: list[tuple[str, bool]], concurrency: int) -> Batch:
    return asyncio.run(drive(base_url, requests, concurrency))


def summary(name: str, batch: Batch) -> dict[str, float]:
    return {
        "config": name,
        "requests": batch.requests,
        "throughput_rps": round(batch.throughput(), 1),
        "p50_ms": round(batch.percentile(0.50) * 1000, 1),
        "p99_ms": round(batch.percentile(0.99) * 1000, 1),
        "first_chunk_p50_ms": round(statistics.median(batch.first_chunk) * 1000, 1),
    }


def compare(plain: Batch, traced: Batch) -> dict[str, float]:
    """Instrumented / uninstrumented: throughput ratio (< 1 is slower), latency ratios (> 1 is slower)."""
    return {
        "throughput_ratio": round(traced.throughput() / plain.throughput(), 3),
        "p50_ratio": round(traced.percentile(0.50) / plain.percentile(0.50), 3),
        "p99_ratio": round(traced.percentile(0.99) / plain.percentile(0.99), 3),
    }


def _sdk_provider() -> Any:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class Discard(SpanExporter):
        """Receives every batch (the export path runs) and keeps nothing."""

        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Discard()))
    return provider


def main(argv: list[str] | None = None, *, report: Callable[[str], None] = print) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--disconnect", type=float, default=0.3, help="share of clients hanging up after one chunk")
    parser.add_argument("--rounds", type=int, default=2, help="uninstrumented / instrumented pairs, alternating")
    args = parser.parse_args(argv)

    from opentelemetry import trace
    from support.server import serve

    trace.set_tracer_provider(_sdk_provider())  # the decorators trace to the global provider
    load = LoadApp()
    requests = plan(args.requests, args.disconnect)
    plain: list[Batch] = []
    traced: list[Batch] = []
    with serve(load.app) as base_url:
        run_batch(base_url, plan(max(args.concurrency, 50), args.disconnect, seed=1), args.concurrency)  # warm-up
        load.instrument()
        run_batch(base_url, plan(max(args.concurrency, 50), args.disconnect, seed=2), args.concurrency)
        load.uninstrument()
        for _ in range(args.rounds):
            plain.append(run_batch(base_url, requests, args.concurrency))
            load.edge.requests.clear()
            load.instrument()
            traced.append(run_batch(base_url, requests, args.concurrency))
            load.uninstrument()
            load.edge.requests.clear()
    best_plain = max(plain, key=Batch.throughput)  # best of rounds: the least disturbed by the machine
    best_traced = max(traced, key=Batch.throughput)
    result = {
        "requests": args.requests,
        "concurrency": args.concurrency,
        "disconnect": args.disconnect,
        "uninstrumented": summary("uninstrumented", best_plain),
        "instrumented": summary("otel-genai", best_traced),
        "ratios": compare(best_plain, best_traced),
    }
    for key in ("uninstrumented", "instrumented"):
        report("  ".join(f"{k}={v}" for k, v in result[key].items()))
    report("  ".join(f"{k}={v}" for k, v in result["ratios"].items()))
    return result


if __name__ == "__main__":
    main()

"""Overhead and spans per run of otel-genai's agent instrumentors (openai-agents, Agno).

One agent run = a tool call then the final answer: two model calls over an in-process fake of the OpenAI API (the
tests' scripted HTTP edge). Instrumented and uninstrumented runs alternate one by one (the instrumentors are toggled
outside the timed part), and medians are reported. Spans go through a SimpleSpanProcessor into memory: the
synchronous worst case. Peers' agent instrumentations are not part of this script yet.

    python benchmarks/agent_runs.py            # N=300 runs per arm
    N=30 python benchmarks/agent_runs.py       # quicker
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

os.environ.setdefault("AGNO_TELEMETRY", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from agents import Agent, OpenAIChatCompletionsModel, Runner, function_tool, set_trace_processors
from agno.agent import Agent as AgnoAgent
from agno.models.openai import OpenAIChat
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from support.agents_edge import ScriptedEdge, clients

from otel_genai.instrumentation.agno import AgnoInstrumentor
from otel_genai.instrumentation.openai import OpenAIInstrumentor
from otel_genai.instrumentation.openai_agents import OpenAIAgentsInstrumentor

N = int(os.environ.get("N", "300"))
EXPORTER = InMemorySpanExporter()


@function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def agno_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def bench(label: str, run_once: Callable[[], object], instrumentors: Sequence) -> str:
    """One markdown row: median ms per run off / on (alternating runs), and spans per instrumented run."""
    for _ in range(20):
        run_once()
    times: dict[bool, list[float]] = {False: [], True: []}
    spans: list[int] = []
    for i in range(2 * N):
        on = bool(i % 2)
        for instrumentor in instrumentors:
            if on != instrumentor.is_instrumented_by_opentelemetry:
                (instrumentor.instrument if on else instrumentor.uninstrument)()
        EXPORTER.clear()
        start = time.perf_counter()
        run_once()
        times[on].append(time.perf_counter() - start)
        if on:
            spans.append(len(EXPORTER.get_finished_spans()))
    for instrumentor in instrumentors:
        if instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()
    off, on_ms = statistics.median(times[False]) * 1e3, statistics.median(times[True]) * 1e3
    return f"| {label} | {statistics.median(spans):.0f} | {off:.2f} | {on_ms:.2f} | {on_ms - off:+.2f} |"


def main() -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
    trace.set_tracer_provider(provider)
    set_trace_processors([])  # no SDK exporter: only our bridge, when instrumented
    edge = ScriptedEdge()
    sync_client, async_client = clients(edge)
    model = OpenAIChatCompletionsModel(model="gpt-4o-mini", openai_client=async_client)
    oa_agent = Agent(name="W", instructions="x", tools=[get_weather], model=model)
    agno_model = OpenAIChat(id="gpt-4o-mini", client=sync_client, async_client=async_client)
    ag_agent = AgnoAgent(name="W", model=agno_model, tools=[agno_weather])
    loop = asyncio.new_event_loop()

    def oa_run() -> object:
        return loop.run_until_complete(Runner.run(oa_agent, "weather?"))

    def ag_run() -> object:
        return ag_agent.run("weather?")

    print(f"{N} runs per arm, alternating; medians in ms per agent run")
    print("| scenario | spans per run | uninstrumented ms | instrumented ms | added ms |")
    print("|---|---|---|---|---|")
    print(bench("openai-agents Runner.run, agents instrumentor", oa_run, [OpenAIAgentsInstrumentor()]))
    print(
        bench("openai-agents Runner.run, agents + OpenAI", oa_run, [OpenAIAgentsInstrumentor(), OpenAIInstrumentor()])
    )
    print(bench("Agno Agent.run, Agno instrumentor", ag_run, [AgnoInstrumentor()]))
    print(bench("Agno Agent.run, Agno + OpenAI", ag_run, [AgnoInstrumentor(), OpenAIInstrumentor()]))
    loop.close()


if __name__ == "__main__":
    main()

"""Agent runs streamed from FastAPI through a real uvicorn server on 127.0.0.1 and a real httpx client.

The classic failure: the endpoint calls ``Runner.run_streamed(...)`` and returns a ``StreamingResponse`` whose body
iterates ``stream_events()`` in Starlette's task. Every scenario checks: one trace per request, joined to the request
span, every span ended, no OTel context errors (conftest's guard), no doubled model spans.
"""

from __future__ import annotations

import asyncio
import gc
import os
import threading
import time
import types

os.environ["AGNO_TELEMETRY"] = "false"

import httpx
import pytest
import uvicorn
from agents import Agent, OpenAIChatCompletionsModel, Runner, function_tool, set_trace_processors
from agno.agent import Agent as AgnoAgent
from agno.models.openai import OpenAIChat
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from opentelemetry.sdk.trace import Span as SdkSpan
from opentelemetry.trace import SpanKind
from support.agents_edge import ScriptedEdge, ancestors, by_id, clients, openai_instrumentor
from support.telemetry import EXPORTER, STARTS

from otel_genai import lifecycle
from otel_genai.instrumentation.agno import AgnoInstrumentor
from otel_genai.instrumentation.openai_agents import OpenAIAgentsInstrumentor
from otel_genai.instrumentation.openai_agents.processor import _Entry
from otel_genai.lifecycle import SpanRun

set_trace_processors([])  # no SDK exporter
OPENAI = openai_instrumentor()


@function_tool
def get_weather(city: str) -> str:
    """Get the weather for a city."""
    return f"sunny in {city}"


EDGES: list[ScriptedEdge] = []
DELAY = {"value": 0.0}


def _edge() -> ScriptedEdge:
    edge = ScriptedEdge(delay=DELAY["value"])
    EDGES.append(edge)
    return edge


def triage() -> Agent:
    model = OpenAIChatCompletionsModel(model="gpt-4o-mini", openai_client=clients(_edge())[1])
    specialist = Agent(name="Specialist", instructions="specialist", model=model)
    return Agent(name="Triage", instructions="triage", tools=[get_weather], handoffs=[specialist], model=model)


def weather() -> AgnoAgent:
    sync_client, async_client = clients(_edge())
    chat = OpenAIChat(id="gpt-4o-mini", client=sync_client, async_client=async_client)

    def agno_weather(city: str) -> str:
        """Get the weather for a city."""
        return f"sunny in {city}"

    return AgnoAgent(name="Weather", model=chat, tools=[agno_weather], instructions="Use the tool.")


def line(event) -> str:
    return f"{getattr(event, 'type', None) or getattr(event, 'event', '?')}\n"


app = FastAPI()  # FastAPI traces itself: a SERVER span per request (from the global tracer provider), the request span


@app.get("/agents/outer")
async def agents_outer():
    result = Runner.run_streamed(triage(), "weather?")  # started in the endpoint, consumed in Starlette's task

    async def body():
        async for event in result.stream_events():
            yield line(event)

    return StreamingResponse(body(), media_type="text/plain")


@app.get("/agents/inner")
async def agents_inner():
    async def body():  # the recommended pattern: the run starts inside the body generator
        result = Runner.run_streamed(triage(), "weather?")
        async for event in result.stream_events():
            yield line(event)

    return StreamingResponse(body(), media_type="text/plain")


@app.get("/agents/break")
async def agents_break():
    result = Runner.run_streamed(triage(), "weather?")

    async def body():
        n = 0
        async for event in result.stream_events():
            yield line(event)
            n += 1
            if n == 2:
                break
        result.cancel()
        yield "cancelled\n"

    return StreamingResponse(body(), media_type="text/plain")


@app.get("/agno/async")
async def agno_async():
    agen = weather().arun("weather?", stream=True, stream_events=True)

    async def body():
        async for event in agen:
            yield line(event)

    return StreamingResponse(body(), media_type="text/plain")


@app.get("/agno/sync")
def agno_sync():
    gen = weather().run("weather?", stream=True, stream_events=True)
    return StreamingResponse((line(e) for e in gen), media_type="text/plain")  # iterated in a threadpool


@pytest.fixture(scope="module")
def base_url():
    instrumentors = [OpenAIAgentsInstrumentor(), AgnoInstrumentor()] + ([OPENAI()] if OPENAI else [])
    for instrumentor in instrumentors:
        instrumentor.instrument()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, name="uvicorn-agents", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    assert not thread.is_alive(), "uvicorn did not stop"
    for instrumentor in reversed(instrumentors):
        instrumentor.uninstrument()


@pytest.fixture(autouse=True)
def fresh():
    EDGES.clear()
    DELAY["value"] = 0.0
    yield


def settle(timeout: float = 10.0) -> list:
    """Wait (bounded) until every started span has ended and the agents processor holds nothing; the spans."""
    processor = OpenAIAgentsInstrumentor().processor
    deadline = time.monotonic() + timeout
    while True:
        started = {s.context.span_id for s in STARTS.started}
        finished = EXPORTER.get_finished_spans()
        done = started == {s.context.span_id for s in finished} and processor.in_flight() == (0, 0)
        if done or time.monotonic() > deadline:
            break
        gc.collect()  # Starlette never closes a sync iterator it abandons: that ends when it is collected
        time.sleep(0.02)
    ids = [s.context.span_id for s in finished]
    assert len(ids) == len(set(ids)), "a span was ended twice"
    unended = [s.name for s in STARTS.started if s.context.span_id not in set(ids)]
    assert done, f"span(s) never ended: {unended}; in flight: {processor.in_flight()}"
    return list(finished)


def check_traces(finished: list, requests: int, root: str, cancelled: bool = False) -> None:
    """One trace per request, rooted at the request span, holding one ``root`` span whose parent is that span;
    exactly one CLIENT span per HTTP call made to the model edge (a cancelled run may also have one for a call
    cancelled before it reached the transport)."""
    index = by_id(finished)
    servers = [s for s in finished if s.kind is SpanKind.SERVER]
    assert len(servers) == requests
    assert len({s.context.trace_id for s in finished}) == requests
    for server in servers:
        mine = [s for s in finished if s.context.trace_id == server.context.trace_id]
        roots = [s for s in mine if s.name == root]
        assert len(roots) == 1, [s.name for s in mine]
        assert index[ancestors(roots[0], index, ids=True)[-1]] is server  # joined to the request span
        assert all(s.parent is not None for s in mine if s is not server)
    http_calls = sum(len(edge.requests) for edge in EDGES)
    client_spans = [s for s in finished if s.kind is SpanKind.CLIENT]
    if root.startswith("invoke_workflow") or OPENAI is not None:
        assert http_calls <= len(client_spans) <= http_calls + cancelled


def read_lines(client: httpx.Client, url: str, stop_after: int | None = None) -> list[str]:
    got: list[str] = []
    with client.stream("GET", url) as response:
        assert response.status_code == 200
        for text in response.iter_lines():
            if text:
                got.append(text)
            if stop_after is not None and len(got) == stop_after:
                break  # leaving the `with` closes the connection: a client disconnect
    return got


@pytest.mark.parametrize("path", ["/agents/outer", "/agents/inner"])
def test_agents_full_consumption(base_url, path):
    with httpx.Client(timeout=10) as client:
        got = read_lines(client, base_url + path)
    assert got[0] == "agent_updated_stream_event" and "run_item_stream_event" in got
    finished = settle()
    check_traces(finished, 1, "invoke_workflow Agent workflow")
    names = [s.name for s in finished]
    for expected in ("invoke_agent Triage", "invoke_agent Specialist", "execute_tool get_weather"):
        assert expected in names
    assert len(EDGES[0].requests) == 3


@pytest.mark.parametrize("path", ["/agents/outer", "/agents/inner"])
def test_agents_client_disconnect_after_two_events(base_url, path):
    DELAY["value"] = 0.02
    with httpx.Client(timeout=10) as client:
        assert len(read_lines(client, base_url + path, stop_after=2)) == 2
    finished = settle()
    check_traces(finished, 1, "invoke_workflow Agent workflow", cancelled=True)
    assert len(EDGES[0].requests) < 3  # the run was cancelled, not run to the end


def test_agents_break_and_cancel(base_url):
    DELAY["value"] = 0.02
    with httpx.Client(timeout=10) as client:
        got = read_lines(client, base_url + "/agents/break")
    assert got[-1] == "cancelled" and len(got) == 3
    finished = settle()
    check_traces(finished, 1, "invoke_workflow Agent workflow", cancelled=True)
    assert len(EDGES[0].requests) < 3


@pytest.mark.parametrize("path", ["/agno/async", "/agno/sync"])
@pytest.mark.parametrize("stop_after", [None, 2])
def test_agno_streamed(base_url, path, stop_after):
    DELAY["value"] = 0.02 if stop_after and path == "/agno/async" else 0.0
    with httpx.Client(timeout=10) as client:
        got = read_lines(client, base_url + path, stop_after=stop_after)
    assert got[0] == "RunStarted"
    if stop_after is None:
        assert got[-1] == "RunCompleted"
    finished = settle()
    check_traces(finished, 1, "invoke_agent Weather", cancelled=stop_after is not None)
    invoke = next(s for s in finished if s.name == "invoke_agent Weather")
    outcome = invoke.attributes["otel_genai.outcome"]
    if stop_after is None:
        assert outcome == "completed"
    elif path == "/agno/async":
        assert outcome == "cancelled"  # a disconnect cancels Starlette's body task
    else:
        # Starlette never closes a sync iterator it drives in the threadpool: it drops it. Refcounting then closes
        # the run's generator (``stopped_early``), unless the disconnect left it in a reference cycle (a traceback
        # holding its frame): the collector then finalizes the run before the generator (``abandoned``).
        assert outcome in ("stopped_early", "abandoned")


def test_hundred_concurrent_streamed_runs_end_everything_and_leak_nothing(base_url):
    before = Preexisting()

    async def batch(path: str, n: int) -> None:
        limits = httpx.Limits(max_connections=n, max_keepalive_connections=0)
        async with httpx.AsyncClient(timeout=30, limits=limits) as client:

            async def one() -> int:
                async with client.stream("GET", base_url + path) as response:
                    return len([text async for text in response.aiter_lines() if text])

            counts = await asyncio.gather(*(one() for _ in range(n)))
        assert all(c > 10 for c in counts)

    def measured(path: str, n: int) -> list:
        EXPORTER.clear()
        STARTS.started.clear()
        EDGES.clear()
        asyncio.run(batch(path, n))
        return settle(timeout=30)

    for path in ("/agents/outer", "/agents/inner"):
        measured(path, 10)  # warm-up: imports, caches, pools
    finished = measured("/agents/outer", 100)
    check_traces(finished, 100, "invoke_workflow Agent workflow")

    for _ in range(2):
        measured("/agents/outer", 100)
    EXPORTER.clear()
    STARTS.started.clear()
    EDGES.clear()
    assert OpenAIAgentsInstrumentor().processor.in_flight() == (0, 0)
    # Nothing a traced run makes outlives it. (Counting objects, not heap bytes: the process's heap moves by about
    # 1.5 MB between batches of 100 runs whatever we do, from the server, the HTTP clients and the event loops.)
    deadline = time.monotonic() + 10  # the server may still be finishing the last responses
    while (live := _live_tracing_objects(before)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert live == {}


def _tracing_objects() -> list:
    """Objects of a traced run alive now: runs, processor entries, our SDK spans, stream proxies, per-item loops."""
    loops = {lifecycle._iterate_in.__code__, lifecycle._aiterate_in.__code__}
    kinds = (SpanRun, _Entry, SdkSpan, lifecycle.TracedIterator, lifecycle.TracedAsyncIterator)
    found = []
    gc.collect()
    for o in gc.get_objects():
        scope = o.instrumentation_scope if isinstance(o, SdkSpan) else None
        if isinstance(o, SdkSpan) and not (scope and scope.name.startswith("otel_genai")):
            continue  # FastAPI's own server spans, ended by the server in its own time
        if isinstance(o, kinds) or (type(o) is types.GeneratorType and o.gi_code in loops):
            found.append(o)
        elif type(o) is types.AsyncGeneratorType and o.ag_code in loops:
            found.append(o)
    return found


class Preexisting:
    """What other tests left alive before this one started (held here, so no id of theirs is reused meanwhile):
    litellm, for one, keeps the contexts of the calls it logs, and with them the spans of those calls."""

    def __init__(self) -> None:
        self.objects = _tracing_objects()
        self.ids = {id(o) for o in self.objects}


def _live_tracing_objects(before: Preexisting | None = None) -> dict[str, int]:
    """Objects of a traced run still alive (those in ``before`` left out), counted by kind."""
    loops = {lifecycle._iterate_in.__code__, lifecycle._aiterate_in.__code__}
    counts: dict[str, int] = {}
    for o in _tracing_objects():
        if before is not None and id(o) in before.ids:
            continue
        code = getattr(o, "gi_code", None) or getattr(o, "ag_code", None)
        name = "per-item loop" if code in loops else type(o).__name__
        counts[name] = counts.get(name, 0) + 1
    return counts

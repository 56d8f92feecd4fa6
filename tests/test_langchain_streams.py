"""LangGraph streams at the framework level: the FastAPI scenario through real uvicorn (graph stream created in the
endpoint, iterated by Starlette, full read and disconnect), 100 concurrent graph streams with random disconnects and
nothing retained after, and hypothesis consumption programs over ``graph.astream``."""

from __future__ import annotations

import asyncio
import gc
import random
import weakref
from typing import Annotated, TypedDict

import httpx
import pytest

pytest.importorskip("langchain_core")
pytest.importorskip("langgraph")
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langgraph.graph import END, START, StateGraph
from opentelemetry import trace
from opentelemetry.trace import StatusCode
from support.server import serve, wait_until
from support.telemetry import EXPORTER, STARTS, assert_all_ended

from otel_genai.instrumentation.langchain import LangChainInstrumentor
from otel_genai.lifecycle import OUTCOME, Outcome

tracer = trace.get_tracer("tests.langchain")
ROOT = "invoke_workflow LangGraph"


@pytest.fixture(autouse=True, scope="module")
def instrumented():
    instrumentor = LangChainInstrumentor()
    instrumentor.instrument()
    yield instrumentor
    instrumentor.uninstrument()


class State(TypedDict):
    tokens: Annotated[list[str], lambda a, b: a + b]


def token_graph(nodes: int = 4, fail_at: int | None = None, delay: float = 0.0):
    """A chain of ``nodes`` async nodes, each emitting one token (``fail_at``: that node raises)."""

    def make(i: int):
        async def node(state: State) -> dict:
            with tracer.start_as_current_span(f"work {i}"):
                if delay:
                    await asyncio.sleep(delay)
                if i == fail_at:
                    raise RuntimeError(f"node {i} failed")
                return {"tokens": [f"t{i}"]}

        return node

    graph = StateGraph(State)
    for i in range(nodes):
        graph.add_node(f"n{i}", make(i))
    graph.add_edge(START, "n0")
    for i in range(nodes - 1):
        graph.add_edge(f"n{i}", f"n{i + 1}")
    graph.add_edge(f"n{nodes - 1}", END)
    return graph.compile()


def roots():
    return [s for s in EXPORTER.get_finished_spans() if s.name == ROOT]


def unended() -> list[str]:
    ended = {s.context.span_id for s in EXPORTER.get_finished_spans()}
    return [s.name for s in STARTS.started if s.context.span_id not in ended]


def errors() -> list[tuple[str, object]]:
    """Ours (FastAPI's own server span records the client's disconnect as its error)."""
    return [
        (s.name, s.attributes.get("error.type"))
        for s in EXPORTER.get_finished_spans()
        if s.status.status_code == StatusCode.ERROR and s.instrumentation_scope.name.startswith("otel_genai")
    ]


def check_tree() -> None:
    """Every node span under the graph span of its own trace, every 'work' span under its node."""
    finished = EXPORTER.get_finished_spans()
    by_id = {s.context.span_id: s for s in finished}
    for span in finished:
        if span.name.startswith("n") and span.name[1:].isdigit():
            assert by_id[span.parent.span_id].name == ROOT
        if span.name.startswith("work "):
            assert by_id[span.parent.span_id].name == f"n{span.name.split()[1]}"


# -- FastAPI through real uvicorn -------------------------------------------------------------------------------

api = FastAPI()
endpoint_spans: list[int] = []


@api.get("/graph")
async def graph_endpoint(nodes: int = 4, delay: float = 0.0):
    with tracer.start_as_current_span("endpoint") as span:
        endpoint_spans.append(span.get_span_context().span_id)
        stream = token_graph(nodes, delay=delay).astream({"tokens": []}, stream_mode="updates")

    async def body():
        async for update in stream:
            for value in update.values():
                yield f"data: {value['tokens'][0]}\n\n"

    return StreamingResponse(body(), media_type="text/event-stream")


@pytest.fixture(scope="module")
def server():
    with serve(api) as url:
        yield url


def test_fastapi_full_read(spans, server, instrumented):
    endpoint_spans.clear()
    with httpx.Client(base_url=server, timeout=10) as client:
        response = client.get("/graph", params={"nodes": 4})
    assert response.text.count("data: ") == 4
    wait_until(lambda: len(roots()) == 1, what="the graph span")
    root = roots()[0]
    assert root.parent.span_id == endpoint_spans[0]  # created in the endpoint, iterated by Starlette elsewhere
    assert root.attributes[OUTCOME] == Outcome.COMPLETED
    wait_until(lambda: unended() == [], what="FastAPI's own server span")
    check_tree()
    assert_all_ended()
    assert instrumented.handler.in_flight() == 0


def test_fastapi_disconnect(spans, server, instrumented):
    endpoint_spans.clear()
    with httpx.Client(base_url=server, timeout=10) as client:
        with client.stream("GET", "/graph", params={"nodes": 30, "delay": 0.05}) as response:
            lines = response.iter_lines()
            assert next(lines).startswith("data: ")
    wait_until(lambda: len(roots()) == 1, what="the graph span to end after the disconnect")
    root = roots()[0]
    assert root.parent.span_id == endpoint_spans[0]
    assert root.attributes[OUTCOME] in (Outcome.STOPPED_EARLY, Outcome.CANCELLED, Outcome.ABANDONED)
    assert errors() == []
    wait_until(lambda: instrumented.handler.in_flight() == 0, what="the run map to empty")
    wait_until(lambda: unended() == [], what="every span to end")
    check_tree()
    assert_all_ended()


# -- 100 concurrent graph streams with random disconnects -------------------------------------------------------


async def test_hundred_concurrent_streams_random_disconnects(spans, instrumented):
    rng = random.Random(7)
    graph = token_graph(5)
    refs: list[weakref.ref] = []

    async def one(i: int) -> str:
        stop = rng.choice([None, 0, 1, 3])
        mode = rng.choice(["aclose", "break_drop", "cancel"])
        with tracer.start_as_current_span(f"request {i}"):
            stream = graph.astream({"tokens": []}, stream_mode="updates")
        refs.append(weakref.ref(stream))
        seen = 0
        async for _ in stream:
            if stop is not None and seen == stop:
                if mode == "aclose":
                    await stream.aclose()
                elif mode == "cancel":
                    raise asyncio.CancelledError
                break
            seen += 1
            await asyncio.sleep(rng.random() / 1000)
        return "full" if stop is None else mode

    async def guarded(i: int) -> str:
        try:
            return await one(i)
        except asyncio.CancelledError:
            return "cancel"

    kinds = await asyncio.gather(*(guarded(i) for i in range(100)))
    assert "full" in kinds and len(set(kinds)) > 2
    for _ in range(300):
        gc.collect()
        if len(roots()) == 100 and instrumented.handler.in_flight() == 0:
            break
        await asyncio.sleep(0.01)
    assert len(roots()) == 100
    by_id = {s.context.span_id: s for s in EXPORTER.get_finished_spans()}
    assert {by_id[r.parent.span_id].name for r in roots()} == {f"request {i}" for i in range(100)}
    assert errors() == []
    assert instrumented.handler.in_flight() == 0
    gc.collect()
    assert all(ref() is None for ref in refs)  # no stream retained
    check_tree()
    assert_all_ended()


# -- hypothesis consumption programs over graph.astream ---------------------------------------------------------

PROGRAMS = st.fixed_dictionaries(
    {
        "nodes": st.integers(1, 4),
        "take": st.integers(0, 5),
        "end": st.sampled_from(["exhaust", "aclose", "drop", "cancel", "error"]),
        "other_task": st.booleans(),
    }
)


def expected(program: dict) -> set[str]:
    """A graph stream is complete only once the consumer saw its end; stopping between items (even after the last
    one) is an early stop; a consumer whose task is cancelled between items drops the stream: abandoned."""
    take, end = program["take"], program["end"]
    if end == "error":
        return {Outcome.ERROR}
    if end == "exhaust" or take > program["nodes"]:  # a consumer that asks past the last item sees the end
        return {Outcome.COMPLETED}
    if take == 0:
        return {"none"}  # never started: no run, no span
    return {Outcome.STOPPED_EARLY} if end == "aclose" else {Outcome.ABANDONED}


async def run_program(program: dict) -> None:
    nodes, take, end = program["nodes"], program["take"], program["end"]
    graph = token_graph(nodes, fail_at=nodes - 1 if end == "error" else None)
    with tracer.start_as_current_span("caller"):
        stream = graph.astream({"tokens": []}, stream_mode="updates")

    async def consume(stream):
        got = 0
        if end in ("exhaust", "error"):
            async for _ in stream:
                got += 1
            return got
        while got < take:
            try:
                await stream.__anext__()
            except StopAsyncIteration:
                return got
            got += 1
        if end == "aclose":
            await stream.aclose()
        elif end == "cancel":
            raise asyncio.CancelledError
        return got

    try:
        if program["other_task"]:
            await asyncio.create_task(consume(stream))
        else:
            await consume(stream)
    except (RuntimeError, asyncio.CancelledError):
        pass
    del stream


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(program=PROGRAMS)
def test_astream_programs(spans, instrumented, program):
    assert_all_ended()
    EXPORTER.clear()
    STARTS.started.clear()

    async def main():
        await run_program(program)
        for _ in range(200):
            gc.collect()
            if instrumented.handler.in_flight() == 0 and (roots() or expected(program) == {"none"}):
                break
            await asyncio.sleep(0.005)

    asyncio.run(main())
    gc.collect()
    found = {r.attributes[OUTCOME] for r in roots()} or {"none"}
    assert found == expected(program), (program, found)
    if found != {"none"}:
        assert roots()[0].parent is not None
    if program["end"] != "error":
        assert errors() == []
    assert instrumented.handler.in_flight() == 0
    check_tree()
    assert_all_ended()

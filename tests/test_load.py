"""Load: many concurrent streamed requests through a real server, threads racing instrument()/uninstrument(), and
a thousand asyncio tasks cancelled at random points. What must hold under load: every span ends exactly once, no
context error (conftest's guard), nothing of ours outlives its request, object counts stay flat batch over batch,
and the event loop closes cleanly.

The app is benchmarks/load.py's (a ``@workflow`` generator over an async OpenAI stream, and an openai-agents
streamed run, both over a scripted ``httpx.MockTransport`` edge); run that script for the throughput figures.
"""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import random
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from support.agents_edge import ScriptedEdge, clients
from support.server import serve
from support.telemetry import EXPORTER, STARTS, assert_all_ended
from support.wire import make_transport, openai_chat_stream, openai_client
from test_fastapi_agents import Preexisting, _live_tracing_objects, settle

from otel_genai import task
from otel_genai.instrumentation.openai import OpenAIInstrumentor
from otel_genai.lifecycle import OUTCOME

pytestmark = pytest.mark.load

_spec = importlib.util.spec_from_file_location("load_benchmark", Path(__file__).parent.parent / "benchmarks/load.py")
load = importlib.util.module_from_spec(_spec)
sys.modules["load_benchmark"] = load
_spec.loader.exec_module(load)


def _reset() -> None:
    EXPORTER.clear()
    STARTS.started.clear()


# --- a real server under load -------------------------------------------------------------------------------------

REQUESTS, CONCURRENCY, DISCONNECT, BATCHES = 1000, 100, 0.3, 5


@pytest.mark.timeout(600)
def test_a_thousand_streamed_requests_with_disconnects():
    before = Preexisting()
    app = load.LoadApp()
    per_batch = REQUESTS // BATCHES
    with serve(app.app) as base_url:
        run = app.instrument, app.uninstrument
        run[0]()
        try:
            load.run_batch(base_url, load.plan(per_batch, DISCONNECT, seed=0), CONCURRENCY)  # warm-up
            settle(timeout=60)
            _reset()
            objects: list[int] = []
            traced: list[Any] = []
            for i in range(BATCHES):
                batch = load.run_batch(base_url, load.plan(per_batch, DISCONNECT, seed=i + 1), CONCURRENCY)
                traced.append(batch)
                assert batch.requests == per_batch and batch.disconnected > 0
                assert all(n > 0 for n in batch.lines)
                finished = settle(timeout=60)  # every started span ended, once; the agents processor holds nothing
                assert_all_ended()
                outcomes = [s.attributes.get(OUTCOME) for s in finished if s.name == "invoke_workflow chat"]
                assert len(outcomes) == sum(
                    1 for path, _ in load.plan(per_batch, DISCONNECT, seed=i + 1) if path == "/chat"
                )
                assert set(outcomes) <= {"completed", "cancelled", "stopped_early"}
                _reset()
                app.edge.requests.clear()
                app.edge.sent.clear()  # what the fake edge answered (kept for the tests that read it back)
                assert _wait_nothing_live(before) == {}
                gc.collect()
                objects.append(len(gc.get_objects()))
        finally:
            run[1]()
        plain = load.run_batch(base_url, load.plan(per_batch, DISCONNECT, seed=1), CONCURRENCY)
    # flat: the last batches hold no more objects than the second (the first still fills caches); counting objects,
    # not heap bytes (the heap moves by megabytes between batches whatever we do)
    growth = objects[-1] - objects[1]
    print(f"\nobjects after each batch of {per_batch}: {objects}")
    assert growth < 0.02 * objects[1], objects
    ratios = load.compare(plain, traced[0])
    print(load.summary("uninstrumented", plain), load.summary("otel-genai (batch 1)", traced[0]), ratios)


def _wait_nothing_live(before: Preexisting, timeout: float = 10.0) -> dict[str, int]:
    deadline = time.monotonic() + timeout  # the server may still be finishing the last responses
    while (live := _live_tracing_objects(before)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return live


# --- threads racing instrument() / uninstrument() -----------------------------------------------------------------


def test_sixteen_threads_share_a_client_while_instrumentation_toggles():
    response = openai_chat_stream("word " * 40, chunks=40)
    client = openai_client(make_transport(lambda _req: response, lib="httpx2"))
    instrumentor = OpenAIInstrumentor()
    stop = threading.Event()
    errors: list[BaseException] = []
    toggles = [0]

    def toggle() -> None:
        while not stop.is_set():
            instrumentor.instrument()
            time.sleep(0.001)
            instrumentor.uninstrument()
            toggles[0] += 1
            time.sleep(0.001)

    def stream(seed: int) -> None:
        rng = random.Random(seed)
        deadline = time.monotonic() + 30
        rounds = 0
        try:
            # At least 15 streams each, and on until the toggler has flipped often enough: on a slow 2-core
            # machine 16 workers can finish 15 rounds before the toggler gets its sixth turn.
            while rounds < 15 or (toggles[0] <= 10 and time.monotonic() < deadline):
                rounds += 1
                chunks = client.chat.completions.create(
                    model="m", messages=[{"role": "user", "content": "hi"}], stream=True
                )
                stop_at = rng.choice([None, 0, 1, 5, 20])
                got = 0
                for _chunk in chunks:
                    got += 1
                    if stop_at is not None and got > stop_at:
                        break
                if stop_at is not None and rng.random() < 0.5:
                    chunks.close()  # else dropped: ends at collection as abandoned
                assert stop_at is not None or got == 43
        except BaseException as exc:
            errors.append(exc)

    toggler = threading.Thread(target=toggle)
    toggler.start()
    workers = [threading.Thread(target=stream, args=(i,)) for i in range(16)]
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
    finally:
        stop.set()
        toggler.join(10)
        instrumentor.uninstrument()
    assert errors == []
    assert toggles[0] > 5
    gc.collect()
    assert_all_ended()
    assert STARTS.started, "no call was traced: the race never happened"
    assert {s.attributes[OUTCOME] for s in EXPORTER.get_finished_spans()} <= {
        "completed",
        "stopped_early",
        "abandoned",
    }


# --- a thousand cancelled tasks -------------------------------------------------------------------------------------


@task
async def slow_numbers(n: int) -> Any:
    for i in range(n):
        await asyncio.sleep(0.001)
        yield i


def test_a_thousand_tasks_cancelled_at_random_points():
    openai_instrumentor = OpenAIInstrumentor()
    openai_instrumentor.instrument()
    problems: list[dict] = []
    done = {"decorated": [0, 0], "openai": [0, 0]}  # [completed, cancelled]

    async def main() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda _loop, ctx: problems.append(ctx))
        edge = ScriptedEdge(delay=0.001)
        client = clients(edge)[1]
        rng = random.Random(42)

        async def decorated() -> None:
            assert [i async for i in slow_numbers(10)] == list(range(10))

        async def streamed() -> None:
            stream = await client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "hi"}], stream=True
            )
            assert len([c async for c in stream]) > 3

        async def one(kind: str, how: str, delay: float) -> None:
            body = decorated() if kind == "decorated" else streamed()
            try:
                if how == "timeout":
                    await asyncio.wait_for(body, delay)
                else:
                    inner = asyncio.ensure_future(body)
                    await asyncio.wait([inner], timeout=delay)
                    inner.cancel()  # does nothing to a task already done
                    await inner
            except (asyncio.CancelledError, asyncio.TimeoutError):
                done[kind][1] += 1
            else:
                done[kind][0] += 1

        # a fifth of the tasks get a deadline they meet; the others one at a random point of their run
        jobs = [
            one(
                rng.choice(["decorated", "openai"]),
                rng.choice(["timeout", "cancel"]),
                30.0 if rng.random() < 0.2 else rng.uniform(0, 0.3),
            )
            for _ in range(1000)
        ]
        await asyncio.gather(*jobs)

    try:
        asyncio.run(main())
    finally:
        openai_instrumentor.uninstrument()
    gc.collect()
    assert problems == [], [p.get("message") for p in problems]
    assert_all_ended()
    finished = EXPORTER.get_finished_spans()
    for kind, name in (("decorated", "slow_numbers"), ("openai", "chat m")):
        outcomes = [s.attributes.get(OUTCOME) for s in finished if s.name == name]
        completed, cancelled = done[kind]
        assert completed and cancelled, done  # both paths really happened
        assert outcomes.count("completed") == completed, (kind, done, outcomes)
        # a cancellation lands inside the stream (cancelled) or before the call returned a stream at all (no span)
        assert len(outcomes) - completed <= cancelled
        assert set(outcomes) <= {"completed", "cancelled"}, (kind, set(outcomes))
        assert outcomes.count("cancelled") > 100, (kind, done)

"""Property-based: random consumption programs over real openai streams (sync and async, create / raw / helper).

Every program must end the call's span exactly once, with the outcome its consumption implies, and leave the
caller's OpenTelemetry context untouched after every step, whichever task took the step.
"""

from __future__ import annotations

import asyncio
import gc

import openai
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry import context as otel_context
from opentelemetry import trace
from support.openai_setup import instrumented
from support.telemetry import EXPORTER, STARTS, assert_all_ended
from support.wire import make_transport, openai_chat_stream, openai_client

from otel_genai.lifecycle import OUTCOME

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
tracer = trace.get_tracer("tests.openai.properties")
MESSAGES = [{"role": "user", "content": "hi"}]

programs = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["create", "raw", "helper"]),
        "chunks": st.integers(1, 5),
        "steps": st.integers(0, 10),
        "end": st.sampled_from(["close", "with_exit", "drop", "exhaust"]),
        "switch": st.lists(st.booleans(), min_size=12, max_size=12),  # async: take step i in a new task
    }
)


@pytest.fixture
def otel():
    with instrumented() as telemetry:
        yield telemetry


def _fresh(chunks: int, is_async: bool):
    EXPORTER.clear()
    STARTS.started.clear()
    wire = openai_chat_stream("one two three four five six", chunks=chunks)
    total = sum(1 for _, d in wire.events() if d != "[DONE]")
    return openai_client(make_transport(wire, lib="httpx2"), is_async=is_async), total


def _expected(program: dict, total: int, exhausted: bool) -> str:
    if program["kind"] != "helper":  # one item per chunk: the model must agree with what the consumer saw
        assert exhausted == (program["steps"] > total)
    if program["end"] == "exhaust" or exhausted:
        return "completed"
    return "abandoned" if program["end"] == "drop" else "stopped_early"


def _check(program: dict, total: int, exhausted: bool) -> None:
    gc.collect()
    assert_all_ended()
    (span,) = [s for s in EXPORTER.get_finished_spans() if s.name.startswith("chat")]
    assert span.attributes[OUTCOME] == _expected(program, total, exhausted), program


@SETTINGS
@given(program=programs)
def test_sync_stream_programs(otel, program):
    client, total = _fresh(program["chunks"], False)
    before = otel_context.get_current()
    completions = client.chat.completions
    if program["kind"] == "helper":
        manager = completions.stream(model="m", messages=MESSAGES)
        stream = manager.__enter__()
        close = stream.close
    else:
        if program["kind"] == "raw":
            stream = completions.with_raw_response.create(model="m", messages=MESSAGES, stream=True).parse()
        else:
            stream = completions.create(model="m", messages=MESSAGES, stream=True)
        assert isinstance(stream, openai.Stream)
        close = stream.close
    assert otel_context.get_current() is before

    exhausted = False

    def steps():
        nonlocal exhausted
        for _ in range(program["steps"]):
            try:
                next(stream)
            except StopIteration:
                exhausted = True
                return
            assert otel_context.get_current() is before

    end = program["end"]
    if end == "with_exit":
        with stream:
            steps()
    else:
        steps()
        if end == "close":
            close()
        elif end == "exhaust":
            for _ in stream:
                pass
        else:
            del stream, close
            if program["kind"] == "helper":
                del manager
    assert otel_context.get_current() is before
    _check(program, total, exhausted)


@SETTINGS
@given(program=programs)
def test_async_stream_programs(otel, program):
    client, total = _fresh(program["chunks"], True)

    exhausted = False

    async def main():
        nonlocal exhausted
        before = otel_context.get_current()
        completions = client.chat.completions
        manager = None
        if program["kind"] == "helper":
            manager = completions.stream(model="m", messages=MESSAGES)
            stream = await manager.__aenter__()
        elif program["kind"] == "raw":
            response = await completions.with_raw_response.create(model="m", messages=MESSAGES, stream=True)
            stream = response.parse()
            del response
        else:
            stream = await completions.create(model="m", messages=MESSAGES, stream=True)
            assert isinstance(stream, openai.AsyncStream)
        assert otel_context.get_current() is before

        async def steps():
            nonlocal exhausted
            for i in range(program["steps"]):
                step = stream.__anext__()
                try:
                    if program["switch"][i]:
                        await asyncio.create_task(_run(step))
                    else:
                        await step
                except StopAsyncIteration:
                    exhausted = True
                    return
                assert otel_context.get_current() is before

        end = program["end"]
        if end == "with_exit":
            async with stream:
                await steps()
        else:
            await steps()
            if end == "close":
                await stream.close()
            elif end == "exhaust":
                async for _ in stream:
                    pass
            else:
                del stream, manager
        assert otel_context.get_current() is before

    asyncio.run(main())
    _check(program, total, exhausted)


async def _run(awaitable):
    return await awaitable

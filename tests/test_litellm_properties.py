"""Property-based: random consumption programs over real LiteLLM streams (``CustomStreamWrapper``: both an iterator
and an async iterator), consumed sync or async, against a local fake provider.

Every program must leave the result a ``CustomStreamWrapper``, end the call's span exactly once with the outcome its
consumption implies and the number of items the consumer got, and leave the caller's OpenTelemetry context
untouched after every step, whichever task took the step.
"""

from __future__ import annotations

import asyncio
import gc

import litellm
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litellm.litellm_core_utils.streaming_handler import CustomStreamWrapper
from opentelemetry import context as otel_context
from opentelemetry import trace
from support.provider_server import provider
from support.telemetry import EXPORTER, STARTS, assert_all_ended
from support.wire import openai_chat_stream

from otel_genai.instrumentation.litellm import LiteLLMInstrumentor
from otel_genai.lifecycle import OUTCOME, STREAM_ITEMS

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
tracer = trace.get_tracer("tests.litellm.properties")

programs = st.fixed_dictionaries(
    {
        "chunks": st.integers(1, 4),
        "steps": st.integers(0, 8),
        "end": st.sampled_from(["close", "aclose", "with_exit", "drop", "exhaust"]),
        "switch": st.lists(st.booleans(), min_size=16, max_size=16),  # async: take step i in a new task
    }
)


@pytest.fixture(scope="module")
def fake():
    with provider() as server:
        yield server


@pytest.fixture(scope="module")
def otel():
    instrumentor = LiteLLMInstrumentor()
    instrumentor.instrument()
    yield
    instrumentor.uninstrument()


def _fresh(fake, chunks: int) -> dict:
    EXPORTER.clear()
    STARTS.started.clear()
    fake.reset()
    fake.push(openai_chat_stream("one two three four five six", chunks=chunks))
    return {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "stream": True,
            "api_base": fake.url + "/v1", "api_key": "k"}  # fmt: skip


def _check(program: dict, items: int, exhausted: bool) -> None:
    gc.collect()
    assert_all_ended()
    (span,) = EXPORTER.get_finished_spans()
    if program["end"] == "exhaust" or exhausted:
        expected = "completed"
    else:
        expected = "abandoned" if program["end"] == "drop" else "stopped_early"
    assert span.attributes[OUTCOME] == expected, program
    assert span.attributes.get(STREAM_ITEMS, 0) == items


@SETTINGS
@given(program=programs)
def test_sync_consumption_programs(fake, otel, program):
    kwargs = _fresh(fake, program["chunks"])
    before = otel_context.get_current()
    stream = litellm.completion(**kwargs)
    assert isinstance(stream, CustomStreamWrapper)
    entered = stream.__enter__() if program["end"] == "with_exit" else stream
    items, exhausted = 0, False
    for _ in range(program["steps"] if program["end"] != "exhaust" else 100):
        try:
            next(entered)
        except StopIteration:
            exhausted = True
            break
        items += 1
        assert otel_context.get_current() is before
    if program["end"] == "with_exit":
        stream.__exit__(None, None, None)
    elif program["end"] == "close":
        stream.close()
    elif program["end"] == "aclose":
        asyncio.run(stream.aclose())
    del stream, entered
    assert otel_context.get_current() is before
    _check(program, items, exhausted)


@SETTINGS
@given(program=programs)
def test_async_consumption_programs(fake, otel, program):
    kwargs = _fresh(fake, program["chunks"])

    async def main():
        before = otel_context.get_current()
        stream = await litellm.acompletion(**kwargs)
        assert isinstance(stream, CustomStreamWrapper)
        entered = await stream.__aenter__() if program["end"] == "with_exit" else stream
        items, exhausted = 0, False
        for i in range(program["steps"] if program["end"] != "exhaust" else 100):
            try:
                if program["switch"][i % 16]:
                    await asyncio.ensure_future(entered.__anext__())
                else:
                    await entered.__anext__()
            except StopAsyncIteration:
                exhausted = True
                break
            items += 1
            assert otel_context.get_current() is before
        if program["end"] == "with_exit":
            await stream.__aexit__(None, None, None)
        elif program["end"] == "close":
            stream.close()
        elif program["end"] == "aclose":
            await stream.aclose()
        del stream, entered
        gc.collect()
        assert otel_context.get_current() is before
        return items, exhausted

    items, exhausted = asyncio.run(main())
    _check(program, items, exhausted)

"""Property test: any way of consuming an instrumented anthropic stream ends its one span exactly once, with the
outcome the consumption implies, and never changes the caller's OpenTelemetry context.

A program is: the API (``messages.create(stream=True)`` or the ``messages.stream()`` manager), sync or async, how
many events to read and how (``next`` or a ``for`` loop left by ``break``), whether each read runs elsewhere (another
thread for sync, another task for async), then how it ends: exhausted, ``close()``, ``with`` exit, or dropped and
garbage-collected.
"""

from __future__ import annotations

import asyncio
import gc
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry import context as otel_context
from opentelemetry import trace
from support.telemetry import EXPORTER, STARTS, assert_all_ended
from support.wire import anthropic_client, anthropic_message_stream, make_transport

from otel_genai import Outcome
from otel_genai.instrumentation.anthropic import AnthropicInstrumentor
from otel_genai.lifecycle import OUTCOME, STREAM_ITEMS

KW = {"model": "claude-test", "max_tokens": 10, "messages": [{"role": "user", "content": "Hi"}]}
EVENTS = 8  # message_start, content_block_start, 3 deltas, content_block_stop, message_delta, message_stop
tracer = trace.get_tracer("tests.anthropic.properties")
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))

programs = st.fixed_dictionaries(
    {
        "api": st.sampled_from(["create", "stream"]),
        "reads": st.integers(0, EVENTS - 1),
        "loop": st.booleans(),  # read with `for ... break` instead of next()
        "elsewhere": st.lists(st.booleans(), min_size=EVENTS + 1, max_size=EVENTS + 1),
        "end": st.sampled_from(["exhaust", "close", "with_exit", "drop_gc"]),
    }
)
EXPECTED = {
    "exhaust": Outcome.COMPLETED,
    "close": Outcome.STOPPED_EARLY,
    "with_exit": Outcome.STOPPED_EARLY,
    "drop_gc": Outcome.ABANDONED,
}


@pytest.fixture(scope="module", autouse=True)
def instrumented():
    instrumentor = AnthropicInstrumentor()
    instrumentor.instrument()
    yield
    instrumentor.uninstrument()


class Caller:
    """Checks the caller's context object is the same before and after every step of the program."""

    def __init__(self) -> None:
        self.context = otel_context.get_current()

    def check(self) -> None:
        assert otel_context.get_current() is self.context


def in_thread(fn):
    out: list = []
    thread = threading.Thread(target=lambda: out.append(fn()))
    thread.start()
    thread.join()
    return out[0]


def run_sync(program: dict, caller: Caller) -> None:
    c = anthropic_client(make_transport(anthropic_message_stream("one two three", chunks=3), lib="httpx2"))
    if program["api"] == "create":
        stream = c.messages.create(stream=True, **KW)
        manager = None
    else:
        manager = c.messages.stream(**KW)
        stream = manager.__enter__()
    caller.check()

    def read(i: int) -> None:
        if program["loop"]:
            for _ in stream:
                break
        elif program["elsewhere"][i]:
            in_thread(lambda: next(stream))
        else:
            next(stream)
        caller.check()

    for i in range(program["reads"]):
        read(i)
    end = program["end"]
    if end == "exhaust":
        for _ in stream:
            caller.check()
    elif end == "close":
        stream.close()
    elif end == "with_exit":
        (manager or stream).__exit__(None, None, None)
    else:
        del stream, manager
        gc.collect()
    caller.check()


async def run_async(program: dict, caller: Caller) -> None:
    c = anthropic_client(
        make_transport(anthropic_message_stream("one two three", chunks=3), lib="httpx2"), is_async=True
    )
    if program["api"] == "create":
        stream = await c.messages.create(stream=True, **KW)
        manager = None
    else:
        manager = c.messages.stream(**KW)
        stream = await manager.__aenter__()
    caller.check()

    for i in range(program["reads"]):
        if program["loop"]:
            async for _ in stream:
                break
        elif program["elsewhere"][i]:
            await asyncio.create_task(stream.__anext__())
        else:
            await stream.__anext__()
        caller.check()
    end = program["end"]
    if end == "exhaust":
        async for _ in stream:
            caller.check()
    elif end == "close":
        await stream.close()
    elif end == "with_exit":
        await (manager or stream).__aexit__(None, None, None)
    else:
        del stream, manager
        gc.collect()
    caller.check()


def check_span(program: dict, parent: trace.Span) -> None:
    finished = EXPORTER.get_finished_spans()
    # one client span (anthropic's is off); a dropped stream may end after its parent
    assert sorted(s.name for s in finished) == ["chat claude-test", "parent"]
    (span,) = [s for s in finished if s.name == "chat claude-test"]
    assert span.parent.span_id == parent.get_span_context().span_id
    assert span.attributes[OUTCOME] == EXPECTED[program["end"]]
    if program["api"] == "create":  # raw events: the span counts exactly what the consumer read
        reads = EVENTS if program["end"] == "exhaust" else program["reads"]
        assert span.attributes.get(STREAM_ITEMS, 0) == reads
    if program["end"] == "exhaust":
        assert span.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert_all_ended()


def reset() -> None:
    gc.collect()
    EXPORTER.clear()
    STARTS.started.clear()


@SETTINGS
@given(programs)
def test_sync_stream_programs(program):
    reset()
    with tracer.start_as_current_span("parent") as parent:
        caller = Caller()
        run_sync(program, caller)
        caller.check()
    check_span(program, parent)


@SETTINGS
@given(programs)
def test_async_stream_programs(program):
    reset()

    async def main():
        with tracer.start_as_current_span("parent") as parent:
            caller = Caller()
            await run_async(program, caller)
            caller.check()
        return parent

    parent = asyncio.run(main())
    # `async for ... break` over an AsyncMessageStream leaves async generators that asyncio finalizes on its loop
    # (at the latest when asyncio.run shuts down): only then is a dropped stream garbage
    gc.collect()
    check_span(program, parent)

"""Property test: any way of consuming an instrumented google-genai stream ends its one span exactly once, with the
outcome the consumption implies, under the caller's span at call time, and never changes the caller's context.

The stream shapes: ``models.generate_content_stream`` (sync: a generator; async: a coroutine resolving to an async
generator) and a chat session's ``send_message_stream`` (the same shapes, around the models call). A program is: the
API, sync or async, how many chunks to read and how (``next`` or a ``for`` loop left by ``break``), whether each read
runs elsewhere (another thread for sync, another task for async), then how it ends: exhausted, ``close()`` /
``aclose()``, a ``closing`` block's exit, dropped and garbage-collected, or the connection dropping mid-stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry import context as otel_context
from opentelemetry import trace
from support import gemini_wire as wire
from support.telemetry import EXPORTER, STARTS, assert_all_ended

from otel_genai import Outcome
from otel_genai.instrumentation.google_genai import GoogleGenAIInstrumentor
from otel_genai.lifecycle import OUTCOME, STREAM_ITEMS

MODEL = "gemini-test"
NAME = f"generate_content {MODEL}"
CHUNKS = 4
tracer = trace.get_tracer("tests.google_genai.properties")
SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))

programs = st.fixed_dictionaries(
    {
        "api": st.sampled_from(["models", "chat"]),
        "reads": st.integers(0, CHUNKS - 1),
        "loop": st.booleans(),
        "elsewhere": st.lists(st.booleans(), min_size=CHUNKS + 1, max_size=CHUNKS + 1),
        "end": st.sampled_from(["exhaust", "close", "with_exit", "drop_gc", "broken"]),
    }
)


def expected(program: dict) -> str:
    end = program["end"]
    if end == "exhaust":
        return Outcome.COMPLETED
    if end == "broken":
        return Outcome.ERROR
    if program["reads"] == 0:
        # a generator closed or dropped before its first step runs no code (Python's rule): the engine's generator
        # never sees the close, and the span ends when its run is collected, with the frame, as abandoned
        return Outcome.ABANDONED
    return Outcome.STOPPED_EARLY


@pytest.fixture(scope="module", autouse=True)
def instrumented():
    instrumentor = GoogleGenAIInstrumentor()
    instrumentor.instrument()
    yield
    instrumentor.uninstrument()


class Caller:
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


# one client for every example (creating one costs about 0.2 s: the SDK builds an SSL context); each example puts
# the response its request gets in QUEUE
QUEUE: list = []
CLIENT = wire.genai_client(lambda _request: QUEUE.pop(0))


def client(program: dict):
    response = wire.generate_content_stream("a b c d", chunks=CHUNKS)
    QUEUE[:] = [response.broken(after=program["reads"]) if program["end"] == "broken" else response]
    return CLIENT


def run_sync(program: dict, caller: Caller) -> None:
    c = client(program)
    if program["api"] == "models":
        stream = c.models.generate_content_stream(model=MODEL, contents="Hi")
    else:
        stream = c.chats.create(model=MODEL).send_message_stream("Hi")
    caller.check()
    for i in range(program["reads"]):
        if program["loop"]:
            for _ in stream:
                break
        elif program["elsewhere"][i]:
            in_thread(lambda: next(stream))
        else:
            next(stream)
        caller.check()
    end = program["end"]
    if end in ("exhaust", "broken"):
        with contextlib.suppress(httpx.ReadError):
            for _ in stream:
                caller.check()
    elif end == "close":
        stream.close()
    elif end == "with_exit":
        with contextlib.closing(stream):
            pass
    else:
        del stream
        gc.collect()
    caller.check()


async def run_async(program: dict, caller: Caller) -> None:
    c = client(program)
    if program["api"] == "models":
        stream = await c.aio.models.generate_content_stream(model=MODEL, contents="Hi")
    else:
        stream = await c.aio.chats.create(model=MODEL).send_message_stream("Hi")
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
    if end in ("exhaust", "broken"):
        with contextlib.suppress(httpx.ReadError):
            async for _ in stream:
                caller.check()
    elif end == "close":
        await stream.aclose()
    elif end == "with_exit":
        async with contextlib.aclosing(stream):
            pass
    else:
        del stream
        gc.collect()
    # the loop's finalizer closes a dropped async generator in a task of its own; so is the models stream a closed
    # async chat session was iterating (an async generator closed inside `async for` leaves the inner one to it)
    for _ in range(5):
        await asyncio.sleep(0)
    caller.check()


def check_span(program: dict, parent: trace.Span) -> None:
    gc.collect()
    finished = EXPORTER.get_finished_spans()
    ours = [s for s in finished if s.name == NAME]
    if program["api"] == "chat" and program["reads"] == 0 and program["end"] not in ("exhaust", "broken"):
        assert ours == []  # the session was never stepped: it never called the model, so there is no span
        assert_all_ended()
        return
    (span,) = ours
    assert sorted(s.name for s in finished) == sorted([NAME, "parent"])
    assert span.parent.span_id == parent.get_span_context().span_id
    assert span.attributes[OUTCOME] == expected(program)
    reads = CHUNKS if program["end"] == "exhaust" else program["reads"]
    assert span.attributes.get(STREAM_ITEMS, 0) == reads
    if program["end"] == "exhaust":
        assert span.attributes["gen_ai.response.finish_reasons"] == ("stop",)
        assert span.attributes["gen_ai.usage.output_tokens"] == 5
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
    check_span(program, parent)

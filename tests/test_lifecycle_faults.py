"""The engine under faults: async generators closed by their event loop or the garbage collector (never twice, never
concurrently), and spans whose decorations fail (a user exception whose ``__str__`` raises, a span whose setters
raise, observer hooks that raise) still end, exactly once."""

from __future__ import annotations

import asyncio
import gc
import re
import sys
from collections.abc import Callable
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import Span as SdkSpan
from opentelemetry.sdk.trace import Tracer as SdkTracer
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from support.telemetry import EXPORTER, assert_all_ended

from otel_genai import Outcome, task
from otel_genai.lifecycle import ERROR_TYPE, OUTCOME, Observer, call_in_span, start_run

# --- async generators closed by their loop -------------------------------------------------------------------


class LoopTrouble:
    """Collects what asyncio reports to a loop's exception handler and what Python reports as unraisable."""

    def __init__(self) -> None:
        self.reports: list[str] = []

    def handler(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        message = re.sub(r" <.*>", "", str(context.get("message")))  # what, not which object: traced vs plain
        self.reports.append(f"{message}: {context.get('exception')!r}")

    def unraisable(self, hook_args: Any) -> None:
        self.reports.append(f"unraisable: {hook_args.exc_value!r}")

    def __enter__(self) -> LoopTrouble:
        self._old = sys.unraisablehook
        sys.unraisablehook = self.unraisable
        return self

    def __exit__(self, *exc: Any) -> None:
        sys.unraisablehook = self._old


def make_body(cleaned: list[str]) -> Callable[[], Any]:
    async def body():
        try:
            yield 1
            yield 2
        finally:
            await asyncio.sleep(0)  # cleanup that awaits
            cleaned.append("cleaned")

    return body


def body_span():
    ours = [s for s in EXPORTER.get_finished_spans() if s.name == "body"]
    assert len(ours) == 1, [s.name for s in EXPORTER.get_finished_spans()]
    return ours[0]


def run_kept_until_shutdown(body: Callable[[], Any], trouble: LoopTrouble) -> None:
    """Start the generator and keep it: asyncio.run's shutdown_asyncgens() closes it."""
    kept = []

    async def main():
        asyncio.get_running_loop().set_exception_handler(trouble.handler)
        g = body()
        assert await g.__anext__() == 1
        kept.append(g)

    asyncio.run(main())


def run_dropped_in_a_cycle(body: Callable[[], Any], trouble: LoopTrouble) -> None:
    """Start the generator, then drop it inside a reference cycle: one collection finalizes everything in it."""

    async def main():
        asyncio.get_running_loop().set_exception_handler(trouble.handler)
        g = body()
        assert await g.__anext__() == 1
        cycle: list[Any] = [g]
        cycle.append(cycle)
        del g, cycle
        gc.collect()
        for _ in range(10):  # the loop's finalizer schedules aclose() tasks: let them run
            await asyncio.sleep(0)

    asyncio.run(main())


def run_dropped(body: Callable[[], Any], trouble: LoopTrouble) -> None:
    async def main():
        asyncio.get_running_loop().set_exception_handler(trouble.handler)
        g = body()
        assert await g.__anext__() == 1
        del g
        gc.collect()
        for _ in range(10):
            await asyncio.sleep(0)

    asyncio.run(main())


@pytest.mark.parametrize(
    ("scenario", "outcome"),
    [
        (run_kept_until_shutdown, Outcome.STOPPED_EARLY),  # closed by shutdown_asyncgens(): its cleanup ran in the span
        (run_dropped, Outcome.STOPPED_EARLY),  # closed by the loop's finalizer, before the run could be collected
        # collected with the run in one pass: the span ends abandoned then, the cleanup the loop runs comes after
        (run_dropped_in_a_cycle, Outcome.ABANDONED),
    ],
)
def test_async_generator_closed_by_its_loop_is_closed_once(spans, scenario, outcome):
    """The loop closes our wrapper only; the wrapper closes the user's generator, whose awaiting cleanup runs once."""
    plain_cleaned: list[str] = []
    with LoopTrouble() as plain_trouble:
        scenario(make_body(plain_cleaned), plain_trouble)
    assert plain_trouble.reports == []
    assert plain_cleaned == ["cleaned"]

    traced_cleaned: list[str] = []
    with LoopTrouble() as trouble:
        scenario(task(name="body")(make_body(traced_cleaned)), trouble)
        gc.collect()
    assert trouble.reports == []
    assert traced_cleaned == ["cleaned"]
    span = body_span()
    assert span.attributes[OUTCOME] == outcome
    assert span.status.status_code is StatusCode.UNSET
    assert_all_ended()


async def first_item(g: Any) -> Any:
    """Step a generator inside a running loop, so it takes that loop's hooks, as real code does."""
    return await g.__anext__()


def run_in_a_loop_closed_unshut(body: Callable[[], Any], trouble: LoopTrouble) -> None:
    """Started in a loop that is closed without shutdown_asyncgens(), collected after."""
    loop = asyncio.new_event_loop()
    loop.set_exception_handler(trouble.handler)
    g = body()
    assert loop.run_until_complete(first_item(g)) == 1
    loop.close()
    del g
    gc.collect()


def run_started_outside_any_loop(body: Callable[[], Any], trouble: LoopTrouble) -> None:
    """First stepped with no loop hooks at all (the step object was made outside the loop), collected after."""
    loop = asyncio.new_event_loop()
    loop.set_exception_handler(trouble.handler)
    g = body()
    assert loop.run_until_complete(g.__anext__()) == 1
    loop.close()
    del g
    gc.collect()


def run_collected_while_another_loop_runs(body: Callable[[], Any], trouble: LoopTrouble) -> None:
    """Started in loop A, dropped while loop B runs: A's finalizer queues the close on A, which runs it later."""
    loop_a = asyncio.new_event_loop()
    loop_a.set_exception_handler(trouble.handler)
    box = [body()]
    assert loop_a.run_until_complete(first_item(box[0])) == 1

    async def in_b():
        asyncio.get_running_loop().set_exception_handler(trouble.handler)
        box.clear()
        gc.collect()
        await asyncio.sleep(0)

    asyncio.run(in_b())
    loop_a.run_until_complete(asyncio.sleep(0.01))  # A runs the aclose() its finalizer queued
    loop_a.run_until_complete(loop_a.shutdown_asyncgens())
    loop_a.close()
    gc.collect()


@pytest.mark.parametrize(
    ("scenario", "outcome"),
    [
        (run_in_a_loop_closed_unshut, Outcome.ABANDONED),
        (run_started_outside_any_loop, Outcome.ABANDONED),
        (run_collected_while_another_loop_runs, Outcome.STOPPED_EARLY),
    ],
)
def test_async_generator_outliving_its_loop_behaves_as_untraced(spans, scenario, outcome):
    """Whatever Python and asyncio do to the plain generator (close it, leave it, report a cleanup that awaited
    with no loop to run it), they do to the traced one, once; the span ends with what happened to it."""
    results = {}
    for name, traced in (("plain", False), ("traced", True)):
        cleaned: list[str] = []
        body = make_body(cleaned)
        if traced:
            body = task(name="body")(body)
        with LoopTrouble() as trouble:
            scenario(body, trouble)
            gc.collect()
        results[name] = (cleaned, trouble.reports)
    assert results["traced"] == results["plain"]
    assert body_span().attributes[OUTCOME] == outcome
    assert_all_ended()


# --- spans whose decorations fail still end, once ------------------------------------------------------------


class UnprintableError(Exception):
    """A user exception whose ``__str__`` raises."""

    def __str__(self) -> str:
        raise ValueError("no str for you")


@pytest.mark.swallows(ValueError, reason="the exception's __str__, called by record_exception and for the status")
def test_exception_whose_str_raises_still_ends_the_span(spans):
    @task(name="unprintable")
    def fails():
        raise UnprintableError()

    with pytest.raises(UnprintableError) as raised:
        fails()
    assert type(raised.value) is UnprintableError
    (span,) = spans.get_finished_spans()
    assert span.attributes[OUTCOME] == Outcome.ERROR
    assert span.attributes[ERROR_TYPE].endswith("UnprintableError")
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "UnprintableError"
    assert_all_ended()


@pytest.mark.swallows(ValueError, reason="the exception's __str__, called by record_exception and for the status")
async def test_exception_whose_str_raises_ends_an_async_generator_span(spans):
    @task(name="unprintable")
    async def fails():
        yield 1
        raise UnprintableError()

    items = []
    with pytest.raises(UnprintableError):
        async for item in fails():
            items.append(item)
    assert items == [1]
    (span,) = spans.get_finished_spans()
    assert span.attributes[OUTCOME] == Outcome.ERROR
    assert span.attributes["otel_genai.stream.items"] == 1
    assert_all_ended()


class FaultySpan(SdkSpan):
    """A real SDK span whose decorations raise; ``end()`` works. Which ones raise is set per test."""

    __slots__ = ()
    failing: frozenset[str] = frozenset()

    def _fail(self, name: str) -> None:
        if name in self.failing:
            raise RuntimeError(f"{name} is broken")

    def set_attribute(self, key: str, value: Any) -> None:
        self._fail("set_attribute")
        super().set_attribute(key, value)

    def set_status(self, *args: Any, **kwargs: Any) -> None:
        self._fail("set_status")
        super().set_status(*args, **kwargs)

    def record_exception(self, *args: Any, **kwargs: Any) -> None:
        self._fail("record_exception")
        super().record_exception(*args, **kwargs)


class FaultyTracer(SdkTracer):
    """The SDK's tracer, handing out its spans as :class:`FaultySpan` (same layout, so the class can be swapped)."""

    def start_span(self, *args: Any, **kwargs: Any) -> Any:
        span = super().start_span(*args, **kwargs)
        span.__class__ = FaultySpan
        return span


class EndCounter(SimpleSpanProcessor):
    """Exports ended spans and counts each span's ends."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        super().__init__(self.exporter)
        self.started: list = []
        self.ends: dict[int, int] = {}

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        self.started.append(span.context.span_id)

    def on_end(self, span: Any) -> None:
        self.ends[span.context.span_id] = self.ends.get(span.context.span_id, 0) + 1
        super().on_end(span)


@pytest.fixture
def faulty():
    """A tracer from its own SDK provider whose spans' decorations raise, and what its processor saw."""
    counter = EndCounter()
    provider = TracerProvider()
    provider.add_span_processor(counter)
    tracer = provider.get_tracer("tests.faults")
    tracer.__class__ = FaultyTracer
    yield tracer, counter
    FaultySpan.failing = frozenset()
    provider.shutdown()


def ended_once(counter: EndCounter) -> None:
    assert counter.started, "no span started"
    assert counter.ends == dict.fromkeys(counter.started, 1)


@pytest.mark.swallows(RuntimeError, reason="the span's decorations raise")
@pytest.mark.parametrize("failing", ["set_attribute", "set_status", "record_exception"])
def test_span_whose_setters_raise_still_ends_once_on_error(faulty, failing):
    tracer, counter = faulty
    FaultySpan.failing = frozenset({failing})
    error = KeyError("user's")

    def fails():
        raise error

    run = start_run(tracer, "faulty")
    with pytest.raises(KeyError) as raised:
        call_in_span(run, fails, (), {})
    assert raised.value is error
    run.end()  # a later end does nothing
    ended_once(counter)


@pytest.mark.swallows(
    RuntimeError, optional=True, reason="the span's decorations raise; a completed stream sets no status, no exception"
)
@pytest.mark.parametrize("failing", ["set_attribute", "set_status", "record_exception"])
def test_span_whose_setters_raise_still_ends_once_after_a_stream(faulty, failing):
    tracer, counter = faulty
    FaultySpan.failing = frozenset({failing})

    def stream():
        yield from range(3)

    run = start_run(tracer, "faulty")
    assert list(call_in_span(run, stream, (), {})) == [0, 1, 2]
    ended_once(counter)
    (span,) = counter.exporter.get_finished_spans()
    if failing != "set_attribute":
        assert span.attributes[OUTCOME] == Outcome.COMPLETED


class RaisingObserver(Observer):
    """Every hook raises."""

    def on_item(self, item: Any) -> None:
        raise ValueError("on_item bug")

    def on_value(self, span: Any, value: Any) -> None:
        raise ValueError("on_value bug")

    def on_end(self, span: Any, error: BaseException | None) -> None:
        raise ValueError("on_end bug")


@pytest.mark.swallows(ValueError, reason="the observer's hooks raise")
@pytest.mark.parametrize("kind", ["value", "error", "generator", "coroutine"])
async def test_observer_hooks_that_raise_never_keep_the_span_open(spans, kind):
    error = KeyError("user's")

    def value():
        return {"a": 1}

    def fails():
        raise error

    def generator():
        yield from range(2)

    async def coroutine():
        return 5

    run = start_run(trace.get_tracer("tests.faults"), "observed", observer=RaisingObserver())
    if kind == "value":
        assert call_in_span(run, value, (), {}) == {"a": 1}
    elif kind == "error":
        with pytest.raises(KeyError) as raised:
            call_in_span(run, fails, (), {})
        assert raised.value is error
    elif kind == "generator":
        assert list(call_in_span(run, generator, (), {})) == [0, 1]
    else:
        assert await call_in_span(run, coroutine, (), {}) == 5
    assert len(spans.get_finished_spans()) == 1
    assert_all_ended()

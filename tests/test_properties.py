"""Property-based tests of the engine's invariants over random consumption programs.

Each program is run twice, against a plain generator and against the same generator decorated with ``@task``:
what the consumer observes (items, return values, exceptions, and the identity of exceptions it threw in) must be
identical, and on the traced run every invariant must hold after every step:

1. the span ends exactly once, with the outcome the consumption implies;
2. the caller's OpenTelemetry context is the same object before and after each step, in whatever thread, task or
   context the step ran, and the generator body sees its own span current at each resumption;
3. the generator stays a generator / async generator;
4. nothing is buffered (each step produces exactly one item);
5. user exceptions pass as the same object;
plus the span's parent is the span current where the generator was created.

Async programs also end by leaving the generator to the event loop (``keep``: asyncio.run's shutdown_asyncgens()
closes it; ``drop`` / ``drop_cycle``: the garbage collector and the loop's finalizer do), optionally with a cleanup
that awaits, and asyncio must report nothing (no "error occurred during closing of asynchronous generator").
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import gc
import inspect
import sys
import threading
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry import context as otel_context
from opentelemetry import trace
from support.telemetry import EXPORTER, STARTS, assert_all_ended

from otel_genai import Outcome, task
from otel_genai.lifecycle import OUTCOME, STREAM_ITEMS

tracer = trace.get_tracer("tests.properties")
# 50 programs per shape: each runs ~1 s here (threads, tasks, gc per program); the suite must fit CI's budget
SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))


class RecoverableError(Exception):
    """The generator catches this one and goes on."""


class FatalError(Exception):
    """The generator lets this one through."""


def current_span_id() -> int:
    return trace.get_current_span().get_span_context().span_id


# --- sync --------------------------------------------------------------------------------------------------------

SYNC_OPS = st.lists(
    st.tuples(
        st.sampled_from(["next", "send", "throw_recoverable", "throw_fatal", "close", "break", "drop"]),
        st.sampled_from(["here", "thread", "other_context"]),
    ),
    max_size=12,
)


def sync_body(n: int, seen: list[int]):
    total = 0
    for i in range(n):
        seen.append(current_span_id())
        try:
            got = yield (i, total)
        except RecoverableError:
            total = -100
            continue
        if got is not None:
            total += got
    return total


traced_sync_body = task(name="sync_body")(sync_body)


def run_elsewhere(where: str, fn):
    """Run one step ``here``, in a fresh ``thread`` or in an ``other_context``; check the caller's context there."""
    box: dict[str, Any] = {}

    def step():
        before = otel_context.get_current()
        try:
            box["result"] = fn()
        except BaseException as exc:
            box["error"] = exc
        box["context_kept"] = otel_context.get_current() is before

    if where == "thread":
        t = threading.Thread(target=step)
        t.start()
        t.join(10)
    elif where == "other_context":
        contextvars.copy_context().run(step)
    else:
        step()
    assert box["context_kept"], "the caller's context changed across a step"
    if "error" in box:
        raise box["error"]
    return box["result"]


def sync_step(gen, op: str, thrown: BaseException, started: bool):
    if op == "next" or (op == "send" and not started):
        return next(gen)
    if op == "send":
        return gen.send(3)
    if op == "close":
        return gen.close()
    return gen.throw(thrown)


def run_sync_program(make, program) -> tuple[list, bool]:
    """Apply ``program`` to ``make()``; return what the consumer saw and whether the generator was started."""
    gen = make()
    assert inspect.isgenerator(gen)
    observed: list = []
    started = False
    for op, where in program:
        if op in ("drop", "break"):
            if op == "break":  # a for-loop that breaks after one item, then drops the generator
                for item in gen:
                    observed.append(("item", item))
                    started = True
                    break
                else:
                    observed.append(("stop", None))
            del gen
            gc.collect()
            observed.append((op, started))
            return observed, started
        thrown = RecoverableError() if op == "throw_recoverable" else FatalError()
        try:
            result = run_elsewhere(where, functools.partial(sync_step, gen, op, thrown, started))
        except StopIteration as stop:
            observed.append(("stop", stop.value))
        except (RecoverableError, FatalError) as exc:
            observed.append(("raised", type(exc).__name__, exc is thrown, started))
        else:
            observed.append(("closed", started) if op == "close" else ("item", result))
        started = started or op != "close"
    del gen
    gc.collect()
    return observed, started


def expected_outcome(observed: list, started: bool) -> str:
    """The outcome the first ending event implies. A generator that never ran ends 'abandoned' whatever ends it:
    Python closes it, or raises what is thrown into it, without entering the body (ours included)."""
    for event in observed:
        kind, ran = event[0], event[-1]
        if kind == "stop":
            return Outcome.COMPLETED
        if kind in ("raised", "closed", "drop", "break"):
            if not ran:
                return Outcome.ABANDONED
            return Outcome.ERROR if kind == "raised" else Outcome.STOPPED_EARLY
    return Outcome.STOPPED_EARLY if started else Outcome.ABANDONED


def fresh_example() -> None:
    gc.collect()  # spans of earlier examples kept alive by reference cycles end now, not in this example
    EXPORTER.clear()
    STARTS.started.clear()


def check_span(outer, seen: list[int], outcome: str | tuple[str, ...]) -> None:
    gc.collect()  # tracebacks that hold the generator's frame in a cycle
    ours = [s for s in EXPORTER.get_finished_spans() if s.name in ("sync_body", "async_body")]
    assert len(ours) == 1
    span = ours[0]
    assert span.parent.span_id == outer.get_span_context().span_id
    assert span.attributes[OUTCOME] in (outcome if isinstance(outcome, tuple) else (outcome,))
    assert set(seen) <= {span.context.span_id}, "the body did not see its own span current"
    assert_all_ended()


@pytest.mark.timeout(900)  # a few hundred programs: generous, for a loaded CI machine
@SETTINGS
@given(n=st.integers(0, 4), program=SYNC_OPS)
def test_sync_generator_consumption_programs(n, program):
    fresh_example()
    plain_seen: list[int] = []
    plain, plain_started = run_sync_program(lambda: sync_body(n, plain_seen), program)

    traced_seen: list[int] = []
    with tracer.start_as_current_span("outer") as outer:
        outer_context = otel_context.get_current()
        traced, _ = run_sync_program(lambda: traced_sync_body(n, traced_seen), program)
        assert otel_context.get_current() is outer_context
    assert traced == plain
    assert len(traced_seen) == len(plain_seen)
    check_span(outer, traced_seen, expected_outcome(plain, plain_started))


# --- async -------------------------------------------------------------------------------------------------------

ASYNC_OPS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "anext",
                "asend",
                "athrow_recoverable",
                "athrow_fatal",
                "aclose",
                "cancel",
                "timeout",
                "break",
                "drop",
                "drop_cycle",
                "keep",
            ]
        ),
        st.sampled_from(["here", "task"]),
    ),
    max_size=10,
)


async def async_body(n: int, seen: list[int], cleaned: list[int] | None = None):
    """With ``cleaned``, a cleanup that awaits (``finally`` with ``await``): the case where two closers collide."""
    total = 0
    try:
        for i in range(n):
            await asyncio.sleep(0)  # a real suspension inside each step
            seen.append(current_span_id())
            try:
                got = yield (i, total)
            except RecoverableError:
                total = -100
                continue
            if got == "slow":
                await asyncio.sleep(10)
            elif got is not None:
                total += got
    finally:
        if cleaned is not None:
            await asyncio.sleep(0)
            cleaned.append(current_span_id())


traced_async_body = task(name="async_body")(async_body)


def async_step(agen, op: str, thrown: BaseException, started: bool):
    """The awaitable for one step (not yet awaited)."""
    if op in ("cancel", "timeout"):
        return agen.asend("slow") if started else agen.__anext__()
    if op == "anext" or (op == "asend" and not started):
        return agen.__anext__()
    if op == "asend":
        return agen.asend(3)
    if op == "aclose":
        return agen.aclose()
    return agen.athrow(thrown)


async def settle() -> None:
    """Collect, then let the loop run what its async-generator finalizer scheduled (aclose() tasks)."""
    gc.collect()
    for _ in range(10):
        await asyncio.sleep(0)


async def run_async_program(make, program, kept: list) -> tuple[list, bool]:
    """Apply ``program``; ``keep`` leaves the generator in ``kept`` for asyncio.run's shutdown_asyncgens() to close,
    ``drop_cycle`` drops it inside a reference cycle, so one collection finalizes the run and the generator."""
    agen = make()
    assert inspect.isasyncgen(agen)
    observed: list = []
    started = False
    for op, where in program:
        if op in ("drop", "break", "drop_cycle", "keep"):
            if op == "break":
                async for item in agen:
                    observed.append(("item", item))
                    started = True
                    break
                else:
                    observed.append(("stop", None))
            elif op == "keep":
                kept.append(agen)
            elif op == "drop_cycle":
                cycle: list[Any] = [agen]
                cycle.append(cycle)
                del cycle
            del agen
            await settle()
            observed.append((op, started))
            return observed, started
        thrown = RecoverableError() if op == "athrow_recoverable" else FatalError()
        aw = async_step(agen, op, thrown, started)
        before = otel_context.get_current()
        t = None
        try:
            if op == "timeout":
                result = await asyncio.wait_for(aw, 0.01)
            elif op == "cancel" or where == "task":  # the step runs in another task
                t = asyncio.ensure_future(aw)
                if op == "cancel":
                    for _ in range(3):
                        await asyncio.sleep(0)
                    t.cancel()
                result = await t
            else:
                result = await aw
        except StopAsyncIteration:
            observed.append(("stop", None))
        except (RecoverableError, FatalError) as exc:
            observed.append(("raised", type(exc).__name__, exc is thrown, started))
        except (asyncio.CancelledError, asyncio.TimeoutError) as exc:
            observed.append(("cancelled", type(exc).__name__))
        else:
            observed.append(("closed", started) if op == "aclose" else ("item", result))
        assert otel_context.get_current() is before, "the caller's context changed across a step"
        started = started or op != "aclose"
        aw = t = None  # a finished asend object still holds the generator: let 'drop' really drop it
    del agen
    await settle()
    return observed, started


def expected_async_outcome(observed: list, started: bool) -> str | tuple[str, ...]:
    for index, event in enumerate(observed):
        if event[0] == "cancelled":
            return Outcome.CANCELLED
        if event[0] == "drop_cycle":
            if not event[1]:
                return Outcome.ABANDONED
            # Collected with its run in one pass: abandoned. But a step run in a task leaves asyncio holding the
            # finished step object (and so the generator) a little longer: then the loop closes it first.
            return (Outcome.ABANDONED, Outcome.STOPPED_EARLY)
        if event[0] == "keep":  # shutdown_asyncgens() closes a started generator; an unstarted one is collected
            return Outcome.STOPPED_EARLY if event[1] else Outcome.ABANDONED
        if event[0] != "item":
            return expected_outcome(observed[index:], started)
    return expected_outcome(observed, started)


class LoopReports:
    """What asyncio reports to the loop's exception handler ("an error occurred during closing of asynchronous
    generator", "Task exception was never retrieved") and what Python reports as unraisable: none is allowed."""

    def __init__(self) -> None:
        self.reports: list[str] = []

    def handler(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        self.reports.append(f"{context.get('message')}: {context.get('exception')!r}")

    def unraisable(self, hook_args: Any) -> None:
        self.reports.append(f"unraisable: {hook_args.exc_value!r} in {hook_args.object!r}")


@pytest.mark.timeout(900)
@SETTINGS
@given(n=st.integers(0, 4), program=ASYNC_OPS, awaiting_cleanup=st.booleans())
def test_async_generator_consumption_programs(n, program, awaiting_cleanup):
    fresh_example()
    kept: list = []  # outlives main(): asyncio.run's shutdown_asyncgens() closes what 'keep' left here
    reports = LoopReports()
    plain_cleaned: list[int] | None = [] if awaiting_cleanup else None
    traced_cleaned: list[int] | None = [] if awaiting_cleanup else None

    async def main():
        asyncio.get_running_loop().set_exception_handler(reports.handler)
        plain_seen: list[int] = []
        plain, started = await run_async_program(lambda: async_body(n, plain_seen, plain_cleaned), program, kept)
        traced_seen: list[int] = []
        with tracer.start_as_current_span("outer") as outer:
            outer_context = otel_context.get_current()
            make = lambda: traced_async_body(n, traced_seen, traced_cleaned)  # noqa: E731
            traced, _ = await run_async_program(make, program, kept)
            assert otel_context.get_current() is outer_context
        return plain, started, traced, traced_seen, plain_seen, outer

    unraisable, sys.unraisablehook = sys.unraisablehook, reports.unraisable
    try:
        plain, started, traced, traced_seen, plain_seen, outer = asyncio.run(main())
        kept.clear()
        gc.collect()
    finally:
        sys.unraisablehook = unraisable
    assert reports.reports == []
    assert traced == plain
    assert len(traced_seen) == len(plain_seen)
    if awaiting_cleanup:
        assert len(traced_cleaned) == len(plain_cleaned) <= 1  # the cleanup ran as often as untraced, at most once
        traced_seen += traced_cleaned
    # A cancelled or timed-out step that ran no item before the cancel still started the generator.
    check_span(outer, traced_seen, expected_async_outcome(plain, started))


# --- objects that are both iterators and async iterators (LiteLLM's CustomStreamWrapper is one) ---------------------


class DualStream:
    """An SDK-style stream object with both protocols: ``for`` and ``async for``, ``close()`` (sync) and
    ``aclose()``, ``with`` and ``async with``. Raises ``FatalError`` at item ``fail_at`` (once; the consumer stops
    there, as SDK streams are dead after an error). Each async step really suspends once."""

    def __init__(self, n: int, fail_at: int | None, seen: list[int]) -> None:
        self.n, self.fail_at, self.seen = n, fail_at, seen
        self.i = 0
        self.closed = False

    def __iter__(self) -> DualStream:
        return self

    def __next__(self) -> int:
        self.seen.append(current_span_id())
        if self.closed or self.i >= self.n:
            raise StopIteration
        if self.i == self.fail_at:
            raise FatalError()
        self.i += 1
        return self.i - 1

    def __aiter__(self) -> DualStream:
        return self

    async def __anext__(self) -> int:
        await asyncio.sleep(0)
        try:
            return self.__next__()
        except StopIteration:
            raise StopAsyncIteration from None

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        await asyncio.sleep(0)
        self.closed = True

    def __enter__(self) -> DualStream:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    async def __aenter__(self) -> DualStream:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()


def open_dual(n: int, fail_at: int | None, seen: list[int]) -> DualStream:
    return DualStream(n, fail_at, seen)


traced_open_dual = task(name="dual_stream")(open_dual)

DUAL_PROGRAMS = st.fixed_dictionaries(
    {
        "n": st.integers(0, 4),
        "fail_at": st.one_of(st.none(), st.integers(0, 4)),
        # "next": a step here; "elsewhere": in a thread (sync) / another task (async); "cancel": in another context
        # (sync) / another task, cancelled while suspended (async); "break": a for / async for that breaks
        "steps": st.lists(st.sampled_from(["next", "break", "elsewhere", "cancel"]), max_size=7),
        "end": st.sampled_from(["close", "aclose", "with_exit", "drop", "exhaust"]),
    }
)


class StoppedError(Exception):
    """The program stops stepping: the stream ended, raised or was cancelled."""


def dual_expected(observed: list, end: str) -> str:
    for event in observed:
        if event[0] == "stop":
            return Outcome.COMPLETED
        if event[0] == "raised":
            return Outcome.ERROR
        if event[0] == "cancelled":
            return Outcome.CANCELLED
    return Outcome.ABANDONED if end == "drop" else Outcome.STOPPED_EARLY


def record_step(observed: list, fn) -> None:
    """One step; what it produced goes to ``observed``; StoppedError when the program must stop stepping."""
    try:
        item = fn()
    except (StopIteration, StopAsyncIteration):
        observed.append(("stop",))
        raise StoppedError from None
    except FatalError:
        observed.append(("raised",))
        raise StoppedError from None
    observed.append(("item", item))


def first(stream) -> Any:
    """A ``for`` loop that breaks after one item."""
    for item in stream:
        return item
    raise StopIteration


async def afirst(stream) -> Any:
    """An ``async for`` loop that breaks after one item."""
    async for item in stream:
        return item
    raise StopAsyncIteration


def dual_sync_program(make, program) -> list:
    stream = make()
    observed: list = []
    entered = stream.__enter__() if program["end"] == "with_exit" else stream
    try:
        for op in [*program["steps"], *(["next"] * 6 if program["end"] == "exhaust" else [])]:
            if op == "break":
                record_step(observed, functools.partial(first, entered))
            else:
                where = "thread" if op == "elsewhere" else "other_context" if op == "cancel" else "here"
                record_step(observed, functools.partial(run_elsewhere, where, functools.partial(next, entered)))
    except StoppedError:
        pass
    if program["end"] == "with_exit":
        stream.__exit__(None, None, None)
    elif program["end"] == "close":
        stream.close()
    elif program["end"] == "aclose":
        asyncio.run(stream.aclose())
    del stream, entered
    gc.collect()
    return observed


async def dual_async_program(make, program) -> list:
    stream = make()
    observed: list = []
    entered = await stream.__aenter__() if program["end"] == "with_exit" else stream
    try:
        for op in [*program["steps"], *(["next"] * 6 if program["end"] == "exhaust" else [])]:
            before = otel_context.get_current()
            if op == "break":
                record_step(observed, replay(await capture(afirst(entered))))
            elif op == "next":
                record_step(observed, replay(await capture(entered.__anext__())))
            else:
                t = asyncio.ensure_future(capture(entered.__anext__()))
                if op == "cancel":
                    await asyncio.sleep(0)
                    t.cancel()
                try:
                    outcome = await t
                except asyncio.CancelledError:
                    observed.append(("cancelled",))
                    raise StoppedError from None
                record_step(observed, replay(outcome))
            assert otel_context.get_current() is before, "the caller's context changed across a step"
    except StoppedError:
        pass
    if program["end"] == "with_exit":
        await stream.__aexit__(None, None, None)
    elif program["end"] == "close":
        stream.close()
    elif program["end"] == "aclose":
        await stream.aclose()
    del stream, entered
    await settle()
    return observed


async def capture(awaitable) -> tuple[str, Any]:
    """Await one step; its result or exception as a value (CancelledError passes)."""
    try:
        return "item", await awaitable
    except (StopAsyncIteration, FatalError) as exc:
        return "error", exc


def replay(outcome: tuple[str, Any]):
    """A step that gives back what ``capture`` got."""
    kind, value = outcome

    def step():
        if kind == "error":
            raise value
        return value

    return step


def check_dual_span(outer, program, observed: list, seen: list[int]) -> None:
    gc.collect()
    (span,) = [s for s in EXPORTER.get_finished_spans() if s.name == "dual_stream"]
    assert span.parent.span_id == outer.get_span_context().span_id
    assert span.attributes[OUTCOME] == dual_expected(observed, program["end"]), (program, observed)
    items = sum(1 for event in observed if event[0] == "item")
    assert span.attributes.get(STREAM_ITEMS, 0) == items
    assert set(seen) <= {span.context.span_id}, "the stream did not see its own span current"
    assert_all_ended()


@pytest.mark.timeout(600)
@SETTINGS
@given(program=DUAL_PROGRAMS)
def test_dual_protocol_stream_consumed_sync(program):
    fresh_example()
    plain_seen: list[int] = []
    plain = dual_sync_program(lambda: open_dual(program["n"], program["fail_at"], plain_seen), program)
    traced_seen: list[int] = []
    with tracer.start_as_current_span("outer") as outer:
        outer_context = otel_context.get_current()
        make = lambda: traced_open_dual(program["n"], program["fail_at"], traced_seen)  # noqa: E731
        traced = dual_sync_program(make, program)
        assert otel_context.get_current() is outer_context
    assert traced == plain
    assert len(traced_seen) == len(plain_seen)
    check_dual_span(outer, program, plain, traced_seen)


@pytest.mark.timeout(600)
@SETTINGS
@given(program=DUAL_PROGRAMS)
def test_dual_protocol_stream_consumed_async(program):
    fresh_example()
    reports = LoopReports()

    async def main():
        asyncio.get_running_loop().set_exception_handler(reports.handler)
        plain_seen: list[int] = []
        plain = await dual_async_program(lambda: open_dual(program["n"], program["fail_at"], plain_seen), program)
        traced_seen: list[int] = []
        with tracer.start_as_current_span("outer") as outer:
            outer_context = otel_context.get_current()
            make = lambda: traced_open_dual(program["n"], program["fail_at"], traced_seen)  # noqa: E731
            traced = await dual_async_program(make, program)
            assert otel_context.get_current() is outer_context
        return plain, traced, plain_seen, traced_seen, outer

    unraisable, sys.unraisablehook = sys.unraisablehook, reports.unraisable
    try:
        plain, traced, plain_seen, traced_seen, outer = asyncio.run(main())
        gc.collect()
    finally:
        sys.unraisablehook = unraisable
    assert reports.reports == []
    assert traced == plain
    assert len(traced_seen) == len(plain_seen)
    check_dual_span(outer, program, plain, traced_seen)

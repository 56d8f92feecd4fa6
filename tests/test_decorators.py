"""Example-based tests of the decorators and the engine: names, kinds, results, errors, content, attributes."""

from __future__ import annotations

import asyncio
import gc
import inspect
import json
import threading

import pytest
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.trace import StatusCode
from support.streams import Countdown
from support.telemetry import assert_all_ended

from otel_genai import Outcome, agent, task, tool, using_attributes, workflow
from otel_genai import content as content_settings
from otel_genai.lifecycle import OUTCOME, Observer, start_run, wrap_result

tracer = trace.get_tracer("tests")


def only_span(spans):
    finished = spans.get_finished_spans()
    assert len(finished) == 1, [s.name for s in finished]
    return finished[0]


# --- names and attributes -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("decorator", "span_name", "operation"),
    [
        (workflow, "invoke_workflow plan", "invoke_workflow"),
        (task, "plan", None),
        (agent, "invoke_agent plan", "invoke_agent"),
        (tool, "execute_tool plan", "execute_tool"),
    ],
)
def test_span_names_bare_and_called(spans, decorator, span_name, operation):
    @decorator
    def plan(x):
        return x * 2

    @decorator(name="plan")
    def other(x):
        return x * 3

    assert plan(2) == 4
    assert other(2) == 6
    finished = spans.get_finished_spans()
    assert [s.name for s in finished] == [span_name, span_name]
    for s in finished:
        assert s.attributes.get("gen_ai.operation.name") == operation
        assert OUTCOME not in s.attributes  # a plain value is not a stream


def test_tool_attributes(spans):
    @tool(name="lookup")
    def find(city: str) -> str:
        return "sunny"

    find("Paris")
    s = only_span(spans)
    assert s.attributes["gen_ai.tool.name"] == "lookup"
    assert s.attributes["gen_ai.tool.type"] == "function"
    assert "gen_ai.tool.call.arguments" not in s.attributes  # content capture is off by default
    assert "gen_ai.tool.call.result" not in s.attributes


def test_content_capture_on_is_size_capped(spans, capture_content, monkeypatch):
    monkeypatch.setenv(content_settings.MAX_LENGTH_ENV, "40")
    content_settings.reload()

    @tool
    def echo(text: str, times: int = 1) -> str:
        return text * times

    echo("ab", times=50)
    s = only_span(spans)
    assert s.attributes["gen_ai.tool.call.arguments"] == '{"text":"ab","times":50}'
    raw = s.attributes["gen_ai.tool.call.result"]
    result = json.loads(raw)  # capped inside: still valid JSON, and at most 40 characters in all
    kept = result.removesuffix(content_settings.TRUNCATED)
    assert result.endswith(content_settings.TRUNCATED) and ("ab" * 50).startswith(kept)
    assert 36 <= len(raw) <= 40


def test_workflow_input_output_with_capture(spans, capture_content):
    @workflow
    async def answer(question):
        return {"answer": 42}

    assert asyncio.run(answer("why")) == {"answer": 42}
    s = only_span(spans)
    assert s.attributes["otel_genai.input"] == '{"question":"why"}'
    assert s.attributes["otel_genai.output"] == '{"answer":42}'


# --- function kinds -------------------------------------------------------------------------------------------


def _kinds(fn):
    return (
        inspect.iscoroutinefunction(fn),
        inspect.isgeneratorfunction(fn),
        inspect.isasyncgenfunction(fn),
        asyncio.iscoroutinefunction(fn),
    )


def test_function_kind_is_preserved():
    def f():
        return 1

    async def c():
        return 1

    def g():
        yield 1

    async def ag():
        yield 1

    for fn in (f, c, g, ag):
        for decorator in (workflow, task, agent, tool, task(name="n"), using_attributes(user_id="u")):
            decorated = decorator(fn)
            assert _kinds(decorated) == _kinds(fn), (fn, decorator)
            assert decorated.__name__ == fn.__name__
            assert inspect.signature(decorated) == inspect.signature(fn)


def test_methods_classmethods_staticmethods(spans):
    class Planner:
        factor = 3

        @task
        def method(self, x):
            return x * self.factor

        @classmethod
        @task
        def klass(cls, x):
            return x * cls.factor

        @task
        @classmethod
        def klass_outer(cls, x):
            return x + cls.factor

        @staticmethod
        @task
        def static(x):
            return x - 1

        @task
        async def agen_method(self, n):
            for i in range(n):
                yield i * self.factor

    p = Planner()
    assert p.method(2) == 6
    assert Planner.klass(2) == 6
    assert Planner.klass_outer(2) == 5
    assert p.static(2) == 1 and Planner.static(2) == 1
    assert inspect.isasyncgenfunction(p.agen_method)

    async def consume():
        return [x async for x in p.agen_method(3)]

    assert asyncio.run(consume()) == [0, 3, 6]
    assert [s.name for s in spans.get_finished_spans()] == [
        "method",
        "klass",
        "klass_outer",
        "static",
        "static",
        "agen_method",
    ]


def test_async_generator_is_never_awaited_and_streams(spans):
    @agent(name="streamer")
    async def stream(n):
        for i in range(n):
            await asyncio.sleep(0)
            yield i

    async def main():
        agen = stream(3)
        assert inspect.isasyncgen(agen)
        got = []
        async for x in agen:
            got.append(x)
            # the span is still open while the consumer holds an item
            assert not spans.get_finished_spans()
        return got

    assert asyncio.run(main()) == [0, 1, 2]
    s = only_span(spans)
    assert s.attributes[OUTCOME] == Outcome.COMPLETED
    assert s.attributes["otel_genai.stream.items"] == 3


def test_sync_def_returning_async_generator_like_agno_arun(spans):
    async def events(n):
        for i in range(n):
            yield {"event": i}

    class Agent:
        @agent(name="agno-like")
        def arun(self, n, stream=False):
            if stream:
                return events(n)

            async def run():
                return {"content": "done"}

            return run()

    async def main():
        a = Agent()
        assert not inspect.iscoroutinefunction(a.arun)
        streamed = [e async for e in a.arun(2, stream=True)]  # usable without await
        result = await a.arun(2)
        return streamed, result

    streamed, result = asyncio.run(main())
    assert streamed == [{"event": 0}, {"event": 1}] and result == {"content": "done"}
    first, second = spans.get_finished_spans()
    assert first.attributes[OUTCOME] == Outcome.COMPLETED
    assert OUTCOME not in second.attributes


def test_async_def_returning_async_iterator_keeps_span_open_until_consumed(spans):
    @task
    async def open_stream():
        return Countdown(3)

    async def main():
        stream = await open_stream()
        assert isinstance(stream, Countdown)  # the proxy keeps isinstance and attributes
        assert stream.n == 3
        assert not spans.get_finished_spans()
        return [x async for x in stream]

    assert asyncio.run(main()) == [2, 1, 0]
    assert only_span(spans).attributes[OUTCOME] == Outcome.COMPLETED


def test_iterator_object_proxy_with_protocol(spans):
    class Stream:
        def __init__(self):
            self.items, self.closed = [1, 2, 3], False
            self.response = "raw"

        def __iter__(self):
            return self

        def __next__(self):
            if not self.items:
                raise StopIteration
            return self.items.pop(0)

        def close(self):
            self.closed = True

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.close()

    @task
    def open_stream():
        return Stream()

    with open_stream() as stream:
        assert isinstance(stream, Stream) and stream.response == "raw"
        assert next(stream) == 1
    assert stream.closed
    assert only_span(spans).attributes[OUTCOME] == Outcome.STOPPED_EARLY


def test_iterator_proxy_mixes_next_for_and_break(spans):
    """``for`` and ``next()`` drive the same per-item loop: a break keeps the stream open and resumable."""

    @task
    def open_stream():
        return iter_object(range(5))

    stream = open_stream()
    assert next(stream) == 0
    for item in stream:
        assert item == 1
        break
    assert not spans.get_finished_spans()  # a break is not the end: the stream may be read on
    assert list(stream) == [2, 3, 4]
    span = only_span(spans)
    assert span.attributes[OUTCOME] == Outcome.COMPLETED
    assert span.attributes["otel_genai.stream.items"] == 5
    with pytest.raises(StopIteration):
        next(stream)  # exhausted, as the stream itself would be
    assert len(spans.get_finished_spans()) == 1


def test_async_iterator_proxy_dropped_mid_stream_ends_at_collection(spans):
    @task
    def open_stream():
        return Countdown(3)

    async def main():
        stream = open_stream()
        async for _ in stream:
            break
        await stream.__anext__()
        del stream
        gc.collect()
        assert only_span(spans).attributes[OUTCOME] == Outcome.ABANDONED  # at once, not at the loop's next turn

    asyncio.run(main())


def test_result_kinds_are_cached_per_class_within_a_bound(spans):
    from otel_genai import lifecycle

    @task
    def make(cls):
        return cls()

    for i in range(lifecycle._KINDS_MAX + 10):
        make(type(f"Value{i}", (), {}))
    assert len(lifecycle._KINDS) <= lifecycle._KINDS_MAX
    assert len(spans.get_finished_spans()) == lifecycle._KINDS_MAX + 10


class iter_object:  # noqa: N801 - a minimal iterator class, like an SDK stream
    def __init__(self, items):
        self._it = iter(items)

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._it)


# --- results and errors ---------------------------------------------------------------------------------------


def test_generator_send_throw_and_return_value_pass_through(spans):
    @task
    def accumulate():
        total = 0
        while True:
            try:
                value = yield total
            except KeyError:
                total = -1
                continue
            if value is None:
                return total
            total += value

    g = accumulate()
    assert next(g) == 0
    assert g.send(5) == 5
    assert g.throw(KeyError("k")) == -1
    with pytest.raises(StopIteration) as stop:
        g.send(None)
    assert stop.value.value == -1
    assert only_span(spans).attributes[OUTCOME] == Outcome.COMPLETED


def test_user_exception_is_the_same_object_and_marks_error(spans):
    boom = RuntimeError("boom")

    @tool
    def fail():
        raise boom

    @task
    def fail_mid_stream():
        yield 1
        raise boom

    with pytest.raises(RuntimeError) as raised:
        fail()
    assert raised.value is boom
    with pytest.raises(RuntimeError) as raised:
        list(fail_mid_stream())
    assert raised.value is boom
    for s in spans.get_finished_spans():
        assert s.status.status_code is StatusCode.ERROR
        assert s.attributes["error.type"] == "RuntimeError"
        assert s.events[0].name == "exception"


def test_never_iterated_generator_ends_when_collected(spans):
    @task
    def gen():
        yield 1

    g = gen()
    assert not spans.get_finished_spans()
    del g
    gc.collect()
    assert only_span(spans).attributes[OUTCOME] == Outcome.ABANDONED
    assert_all_ended()


def test_abandoned_async_generator_after_its_loop_closed(spans):
    @task
    async def gen():
        yield 1
        yield 2

    loop = asyncio.new_event_loop()
    agen = gen()
    assert loop.run_until_complete(agen.__anext__()) == 1
    loop.close()  # without shutdown_asyncgens: the generator outlives its loop
    hooks_error = []
    unraisable = __import__("sys").unraisablehook
    __import__("sys").unraisablehook = hooks_error.append  # asyncio itself complains the loop is closed
    try:
        del agen
        gc.collect()
    finally:
        __import__("sys").unraisablehook = unraisable
    assert only_span(spans).attributes[OUTCOME] in (Outcome.ABANDONED, Outcome.STOPPED_EARLY)
    assert_all_ended()


def test_cancellation_is_recorded_as_such(spans):
    @task
    async def slow():
        await asyncio.sleep(10)

    @task
    async def slow_stream():
        yield 1
        await asyncio.sleep(10)
        yield 2

    async def main():
        t = asyncio.ensure_future(slow())
        await asyncio.sleep(0)
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t
        agen = slow_stream()
        await agen.__anext__()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(agen.__anext__(), 0.01)

    asyncio.run(main())
    finished = spans.get_finished_spans()
    assert [s.attributes[OUTCOME] for s in finished] == [Outcome.CANCELLED, Outcome.CANCELLED]
    assert all(s.status.status_code is StatusCode.UNSET for s in finished)


def test_suppress_instrumentation_is_honoured(spans):
    @workflow
    def f():
        return 1

    @task
    def g():
        yield 1

    with suppress_instrumentation():
        assert f() == 1
        assert list(g()) == [1]
    assert spans.get_finished_spans() == ()


@pytest.mark.swallows(ValueError, reason="the observer's hooks raise")
def test_failing_hook_never_reaches_the_user(spans):
    class Broken(Observer):
        def on_item(self, item):
            raise ValueError("hook bug")

        def on_end(self, span, error):
            raise ValueError("hook bug")

    run = start_run(tracer, "observed", observer=Broken())

    def gen():
        yield from range(3)

    assert list(wrap_result(run, gen())) == [0, 1, 2]
    assert only_span(spans).attributes["otel_genai.stream.items"] == 3


# --- context -------------------------------------------------------------------------------------------------


def test_parent_child_and_context_restored_between_items(spans):
    @task
    def child():
        yield trace.get_current_span()
        yield trace.get_current_span()

    @workflow
    def parent():
        yield from child()

    with tracer.start_as_current_span("outer") as outer:
        seen = []
        for inner in parent():
            assert trace.get_current_span() is outer  # the caller's context is back before each item
            seen.append(inner)
    by_name = {s.name: s for s in spans.get_finished_spans()}
    assert by_name["child"].parent.span_id == by_name["invoke_workflow parent"].context.span_id
    assert by_name["invoke_workflow parent"].parent.span_id == outer.get_span_context().span_id
    assert {s.get_span_context().span_id for s in seen} == {by_name["child"].context.span_id}


def test_generator_iterated_in_another_thread_keeps_creation_context(spans):
    @task
    def gen():
        yield trace.get_current_span().get_span_context().trace_id

    with (
        tracer.start_as_current_span("request") as request,
        using_attributes(session_id="s-1", user_id="u-1", metadata={"tier": "gold"}, tags=["a"]),
    ):
        g = gen()
    got = []
    t = threading.Thread(target=lambda: got.extend(g))
    t.start()
    t.join()
    assert got == [request.get_span_context().trace_id]
    s = spans.get_finished_spans()[-1]
    assert s.name == "gen"
    assert s.attributes["session.id"] == "s-1" and s.attributes["user.id"] == "u-1"
    assert s.attributes["otel_genai.metadata.tier"] == "gold"
    assert s.attributes["otel_genai.tags"] == ("a",)


def test_using_attributes_nests_and_decorates(spans):
    @using_attributes(user_id="u-2", tags=["inner"])
    @task
    def work():
        return 1

    @using_attributes(session_id="s-3")
    async def agen():
        @task
        def child():
            return 2

        yield child()

    with using_attributes(session_id="s-2", tags=["outer"]):
        work()

    async def main():
        return [x async for x in agen()]

    assert asyncio.run(main()) == [2]
    first, second = spans.get_finished_spans()
    assert first.attributes["session.id"] == "s-2" and first.attributes["user.id"] == "u-2"
    assert first.attributes["otel_genai.tags"] == ("outer", "inner")
    assert second.attributes["session.id"] == "s-3"
    assert otel_context.get_value("otel_genai.context_attributes") is None


def test_body_tokens_survive_task_switches():
    """A badly-behaved body attaching on one step and detaching on a later one still works: its tokens live in the
    generator's private context, whichever task iterates it."""

    @task
    async def leaky():
        token = otel_context.attach(otel_context.set_value("k", "v"))
        yield otel_context.get_value("k")
        otel_context.detach(token)
        yield otel_context.get_value("k")

    async def main():
        agen = leaky()
        first = await asyncio.create_task(agen.__anext__())
        second = await asyncio.create_task(agen.__anext__())
        assert otel_context.get_value("k") is None
        return first, second

    assert asyncio.run(main()) == ("v", None)


def test_end_from_racing_threads_ends_once(spans):
    for _ in range(50):
        run = start_run(tracer, "raced")
        barrier = threading.Barrier(4)

        def end(run=run, barrier=barrier):
            barrier.wait()
            run.end(Outcome.STOPPED_EARLY)

        threads = [threading.Thread(target=end) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(spans.get_finished_spans()) == 50
    assert_all_ended()


def test_future_returned_by_a_plain_function_ends_the_span_when_done(spans):
    @task
    def schedule(loop, value):
        future = loop.create_future()
        loop.call_later(0.01, future.set_result, value)
        return future

    @task
    def doomed(loop):
        return loop.create_future()

    async def main():
        loop = asyncio.get_running_loop()
        future = schedule(loop, 7)
        assert isinstance(future, asyncio.Future)  # the same object, not a wrapper
        assert not spans.get_finished_spans()
        assert await future == 7
        pending = doomed(loop)
        pending.cancel()
        await asyncio.sleep(0)

    asyncio.run(main())
    done, cancelled = spans.get_finished_spans()
    assert OUTCOME not in done.attributes and done.status.status_code is StatusCode.UNSET
    assert cancelled.attributes[OUTCOME] == Outcome.CANCELLED
    assert_all_ended()


def test_no_client_span_inside_a_client_span_of_ours(spans):
    """One CLIENT span per call: a gateway's CLIENT run makes a nested CLIENT start (a provider SDK it calls) return
    None; other kinds still nest, and a sibling CLIENT call after it is traced again."""
    from opentelemetry.trace import SpanKind

    outer = start_run(tracer, "gateway", SpanKind.CLIENT)
    token = otel_context.attach(outer.otel_context)
    try:
        assert start_run(tracer, "provider", SpanKind.CLIENT) is None
        inner = start_run(tracer, "step", SpanKind.INTERNAL)
        assert inner is not None
        inner.end()
    finally:
        otel_context.detach(token)
    outer.end()
    after = start_run(tracer, "next call", SpanKind.CLIENT)
    after.end()
    assert [s.name for s in spans.get_finished_spans()] == ["step", "gateway", "next call"]
    assert_all_ended()

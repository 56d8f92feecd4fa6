"""Faults around the instrumentation: broken telemetry pipelines, broken wires, odd input from users.

Whatever breaks, the user's call returns (or raises) exactly what it does uninstrumented: every scenario runs the
same scripted HTTP edge (real SDKs over ``httpx2.MockTransport``, real SSE framing) once without us and once with us,
and compares. Nothing inside the SDKs or OpenTelemetry is mocked: the faulty pipeline pieces are real SDK
``TracerProvider`` / ``SpanProcessor`` / ``SpanExporter`` implementations of our own.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import httpx2
import pytest
from opentelemetry.sdk.trace import SpanProcessor, Tracer, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from support import wire
from support.telemetry import STARTS, assert_all_ended
from support.wire import (
    Recorder,
    WireResponse,
    anthropic_client,
    anthropic_error,
    anthropic_message_stream,
    openai_chat,
    openai_chat_stream,
    openai_client,
    openai_error,
    sse_event,
)

from otel_genai import content, decorators
from otel_genai.context_attributes import using_attributes
from otel_genai.decorators import task, tool, workflow
from otel_genai.instrumentation.anthropic import AnthropicInstrumentor
from otel_genai.instrumentation.openai import OpenAIInstrumentor
from otel_genai.lifecycle import OUTCOME

TEXT = "The quick brown fox jumps over the lazy dog."
OPENAI_KW = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say something."}]}
ANTHROPIC_KW = {"model": "claude-test", "max_tokens": 100, "messages": [{"role": "user", "content": "Hi"}]}


# --- the scripted edge and the user's calls ----------------------------------------------------------------------


def transport(
    responses: WireResponse | Sequence[WireResponse] | Callable,
    *,
    recorder: Recorder | None = None,
    error: type[Exception] = httpx2.ReadError,
) -> httpx2.MockTransport:
    """Like ``wire.make_transport`` (httpx2), but a broken body raises ``error`` (ReadError, RemoteProtocolError...)."""
    if isinstance(responses, WireResponse):
        responses = [responses]
    handler = responses if callable(responses) else wire.sequence(responses)
    stream_cls = wire._stream_class(httpx2)

    def handle(request: httpx2.Request) -> httpx2.Response:
        recorded = wire.RecordedRequest(request.method, str(request.url), dict(request.headers), request.content)
        if recorder is not None:
            recorder.requests.append(recorded)
        response = handler(recorded)
        stream = stream_cls(response.chunks, response.fail_after, error)
        return httpx2.Response(response.status, headers=response.headers, stream=stream, request=request)

    return httpx2.MockTransport(handle)


def outcome(call: Callable[[], Any]) -> tuple:
    """What the user gets from ``call``: ("returned", value) or ("raised", type, message)."""
    try:
        return ("returned", call())
    except Exception as exc:
        return ("raised", type(exc), str(exc))


def openai_chat_call(response: WireResponse, **client_kwargs: Any) -> Callable[[], Any]:
    def call() -> Any:
        client = openai_client(transport(lambda _req: response), **client_kwargs)
        return client.chat.completions.create(**OPENAI_KW).model_dump()

    return call


def openai_stream_call(response: WireResponse, *, error: type[Exception] = httpx2.ReadError) -> Callable[[], Any]:
    def call() -> Any:
        client = openai_client(transport(lambda _req: response, error=error))
        return [chunk.model_dump() for chunk in client.chat.completions.create(stream=True, **OPENAI_KW)]

    return call


def anthropic_stream_call(response: WireResponse, *, error: type[Exception] = httpx2.ReadError) -> Callable[[], Any]:
    def call() -> Any:
        client = anthropic_client(transport(lambda _req: response, error=error))
        return [event.model_dump() for event in client.messages.create(stream=True, **ANTHROPIC_KW)]

    return call


@task
async def numbers(n: int) -> Any:
    for i in range(n):
        await asyncio.sleep(0)
        yield i


def decorated_agen_call() -> Any:
    async def collect() -> list[int]:
        return [i async for i in numbers(5)]

    return asyncio.run(collect())


# one scripted edge per call, reused by the uninstrumented and the instrumented run (ids and timestamps match)
CALLS: dict[str, Callable[[], Callable[[], Any]]] = {
    "openai chat": lambda: openai_chat_call(openai_chat(TEXT)),
    "openai chat stream": lambda: openai_stream_call(openai_chat_stream(TEXT, chunks=6)),
    "anthropic stream": lambda: anthropic_stream_call(anthropic_message_stream(TEXT, chunks=6)),
    "decorated async generator": lambda: decorated_agen_call,
}


# --- faulty pipelines: real SDK implementations of our own --------------------------------------------------------


class RaisingExporter(SpanExporter):
    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        raise RuntimeError("exporter down")

    def shutdown(self) -> None:
        pass


class BlockingExporter(SpanExporter):
    """Blocks ``seconds`` per export (released early by :meth:`release`, so the test's teardown does not wait)."""

    made: list[BlockingExporter] = []

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.released = threading.Event()
        self.exported = 0
        self.made.append(self)

    def release(self) -> None:
        self.released.set()

    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        self.released.wait(self.seconds)
        self.exported += len(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self.released.set()


class RaisingProcessor(SpanProcessor):
    def __init__(self, where: str) -> None:
        self.where = where

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        if self.where == "on_start":
            raise RuntimeError("processor on_start failed")

    def on_end(self, span: Any) -> None:
        if self.where == "on_end":
            raise RuntimeError("processor on_end failed")


class RaisingTracer(Tracer):
    def start_span(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("start_span failed")


class RaisingTracerProvider(TracerProvider):
    """A real SDK provider whose tracers cannot start a span."""

    def get_tracer(self, *args: Any, **kwargs: Any) -> Any:
        tracer = super().get_tracer(*args, **kwargs)
        tracer.__class__ = RaisingTracer
        return tracer


def _provider(*processors: SpanProcessor) -> TracerProvider:
    provider = TracerProvider()
    for processor in processors:
        provider.add_span_processor(processor)
    return provider


FAULTS: dict[str, Callable[[], TracerProvider]] = {
    "exporter raises": lambda: _provider(SimpleSpanProcessor(RaisingExporter())),
    "batch exporter raises": lambda: _provider(BatchSpanProcessor(RaisingExporter(), schedule_delay_millis=1)),
    "exporter blocks 2s": lambda: _provider(
        BatchSpanProcessor(BlockingExporter(2.0), schedule_delay_millis=1, max_export_batch_size=1)
    ),
    "batch queue overflows": lambda: _provider(
        BatchSpanProcessor(BlockingExporter(2.0), max_queue_size=1, max_export_batch_size=1, schedule_delay_millis=1)
    ),
    "processor on_start raises": lambda: _provider(RaisingProcessor("on_start")),
    "processor on_end raises": lambda: _provider(RaisingProcessor("on_end")),
    "start_span raises": lambda: RaisingTracerProvider(),
}


@pytest.fixture
def faulty(request, monkeypatch) -> Iterator[Callable[[TracerProvider], None]]:
    """``use(provider)``: openai, anthropic and the decorators trace into ``provider``; undone after the test."""
    providers: list[TracerProvider] = []
    instrumentors = [OpenAIInstrumentor(), AnthropicInstrumentor()]

    def use(provider: TracerProvider) -> None:
        providers.append(provider)
        for instrumentor in instrumentors:
            instrumentor.instrument(tracer_provider=provider)
        monkeypatch.setattr(decorators, "_tracer", provider.get_tracer("otel_genai"))

    yield use
    for instrumentor in instrumentors:
        instrumentor.uninstrument()
    while BlockingExporter.made:
        BlockingExporter.made.pop().release()
    for provider in providers:
        provider.shutdown()


@pytest.mark.swallows(RuntimeError, reason="a span processor or provider that raises, on purpose", optional=True)
@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("call", list(CALLS))
def test_a_broken_pipeline_never_reaches_the_user(faulty, fault, call):
    user_call = CALLS[call]()
    expected = outcome(user_call)
    assert expected[0] == "returned"
    faulty(FAULTS[fault]())
    for _ in range(3):  # more spans than the overflowing queue holds
        assert outcome(user_call) == expected


def test_a_blocked_exporter_behind_a_batch_processor_does_not_slow_streams(faulty):
    response = openai_chat_stream("word " * 100, chunks=100)  # 100 content chunks per stream

    def streams() -> float:
        started = time.perf_counter()
        for _ in range(10):  # 10 spans: the exporter blocks 2 s on each batch of one
            assert len(openai_stream_call(response)()) == 103
        return time.perf_counter() - started

    streams()  # warm-up
    baseline = streams()
    exporter = BlockingExporter(2.0)
    faulty(_provider(BatchSpanProcessor(exporter, schedule_delay_millis=1, max_export_batch_size=1)))
    traced = streams()
    assert exporter.exported < 10  # the exporter really was blocked while the streams ran
    # had any span end waited for the exporter, 10 streams would take 2 s more each
    assert traced - baseline < 1.0, f"uninstrumented {baseline:.2f}s, traced behind a blocked exporter {traced:.2f}s"


# --- broken wire ------------------------------------------------------------------------------------------------


@pytest.fixture
def instrumented() -> Iterator[None]:
    instrumentors = [OpenAIInstrumentor(), AnthropicInstrumentor()]
    for instrumentor in instrumentors:
        instrumentor.instrument()
    yield
    for instrumentor in instrumentors:
        instrumentor.uninstrument()


def reset(spans) -> None:
    """Forget the spans of the uninstrumented run (anthropic's own SDK spans), started and ended."""
    spans.clear()
    STARTS.started.clear()


def ours(spans) -> list:
    return [s for s in spans.get_finished_spans() if s.instrumentation_scope.name.startswith("otel_genai")]


def _malformed(response: WireResponse, at: int) -> WireResponse:
    """The ``at``-th SSE frame keeps its ``event:`` line (if any) but its JSON is cut short."""
    chunks = list(response.chunks)
    event = [line for line in chunks[at].split(b"\n") if line.startswith(b"event:")]
    chunks[at] = b"".join(line + b"\n" for line in event) + b'data: {"type": "content_block_delta", "index": [\n\n'
    return WireResponse(response.status, list(response.headers), chunks)


def _without_last(response: WireResponse) -> WireResponse:
    return WireResponse(response.status, list(response.headers), list(response.chunks[:-1]))


OPENAI_STREAM = openai_chat_stream(TEXT, chunks=6)
ANTHROPIC_STREAM = anthropic_message_stream(TEXT, chunks=6)

BROKEN: dict[str, Callable[[], Any]] = {
    "openai malformed json": openai_stream_call(_malformed(OPENAI_STREAM, 3)),
    "openai ReadError mid-body": openai_stream_call(OPENAI_STREAM.broken(3)),
    "openai RemoteProtocolError mid-body": openai_stream_call(
        OPENAI_STREAM.broken(3), error=httpx2.RemoteProtocolError
    ),
    "openai no [DONE]": openai_stream_call(_without_last(OPENAI_STREAM)),
    "anthropic malformed json": anthropic_stream_call(_malformed(ANTHROPIC_STREAM, 3)),
    "anthropic ReadError mid-body": anthropic_stream_call(ANTHROPIC_STREAM.broken(3)),
    "anthropic RemoteProtocolError mid-body": anthropic_stream_call(
        ANTHROPIC_STREAM.broken(3), error=httpx2.RemoteProtocolError
    ),
    "anthropic no message_stop": anthropic_stream_call(_without_last(ANTHROPIC_STREAM)),
    "anthropic error event": anthropic_stream_call(
        anthropic_message_stream(TEXT, chunks=6, error={"type": "overloaded_error", "message": "Overloaded"})
    ),
}


def _qualified(cls: type) -> str:
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_broken_wire_raises_the_sdks_own_exception(spans, case):
    expected = outcome(BROKEN[case])
    reset(spans)
    with _instrumented_now():
        got = outcome(BROKEN[case])
    assert got == expected  # same type and message (or the same value when the SDK does not raise)
    (span,) = ours(spans)
    assert_all_ended()
    if expected[0] == "raised":
        assert span.status.status_code is StatusCode.ERROR
        assert span.attributes["error.type"] == _qualified(expected[1])
        assert span.attributes[OUTCOME] == "error"
    else:  # the SDK itself ends a stream without its terminator quietly: so do we
        assert span.status.status_code is StatusCode.UNSET
        assert span.attributes[OUTCOME] == "completed"


class _instrumented_now:  # noqa: N801 - a context manager used like a function
    def __enter__(self) -> None:
        self.instrumentors = [OpenAIInstrumentor(), AnthropicInstrumentor()]
        for instrumentor in self.instrumentors:
            instrumentor.instrument()

    def __exit__(self, *exc: Any) -> None:
        for instrumentor in self.instrumentors:
            instrumentor.uninstrument()


def _retry_fast(response: WireResponse) -> WireResponse:
    """The error with ``retry-after-ms: 1`` (both SDKs honour it), so retries do not sleep for seconds."""
    headers = [(k, v) for k, v in response.headers if k.lower() != "retry-after"] + [("retry-after-ms", "1")]
    return WireResponse(response.status, headers, list(response.chunks))


RETRIES: dict[str, tuple[Callable[..., Any], list[WireResponse]]] = {
    "openai 429, 500, then 200": ("openai", [openai_error(429), openai_error(500), openai_chat(TEXT)]),
    "openai 500 three times": ("openai", [openai_error(500)] * 3),
    "openai stream 429, then 200": ("openai-stream", [openai_error(429), OPENAI_STREAM]),
    "anthropic 429, 500, then 200": ("anthropic", [anthropic_error(429), anthropic_error(500), ANTHROPIC_STREAM]),
    "anthropic 500 three times": ("anthropic", [anthropic_error(500)] * 3),
}


@pytest.mark.parametrize("case", list(RETRIES))
def test_sdk_retries_make_one_span_per_api_call(spans, case):
    # The span covers the whole API call as the user made it: every attempt the SDK makes (max_retries=2: up to three
    # HTTP requests) and the back-off sleeps between them; it ends once, with the final attempt's result or error.
    kind, responses = RETRIES[case]
    responses = [_retry_fast(r) if r.status >= 400 else r for r in responses]

    def call(recorder: Recorder) -> Any:
        edge = transport(list(responses), recorder=recorder)
        if kind == "openai":
            return openai_client(edge, max_retries=2).chat.completions.create(**OPENAI_KW).model_dump()
        if kind == "openai-stream":
            client = openai_client(edge, max_retries=2)
            return [c.model_dump() for c in client.chat.completions.create(stream=True, **OPENAI_KW)]
        client = anthropic_client(edge, max_retries=2)
        return [e.model_dump() for e in client.messages.create(stream=True, **ANTHROPIC_KW)]

    plain = Recorder()
    expected = outcome(lambda: call(plain))
    reset(spans)
    traced = Recorder()
    with _instrumented_now():
        got = outcome(lambda: call(traced))
    assert got == expected
    assert len(traced.requests) == len(plain.requests) == len(responses)
    (span,) = ours(spans)
    assert_all_ended()
    if expected[0] == "raised":
        assert span.status.status_code is StatusCode.ERROR
        assert span.attributes["error.type"] == _qualified(expected[1])
    else:
        assert span.status.status_code is StatusCode.UNSET
        assert span.attributes.get("error.type") is None


# --- bad input from users -----------------------------------------------------------------------------------------


class Point:
    def __init__(self, x: int, y: int) -> None:
        self.x, self.y = x, y

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)

    __hash__ = None  # type: ignore[assignment]


class Adder:
    def __call__(self, a: int, b: int) -> int:
        return a + b


def _power(base: int, exp: int) -> int:
    return base**exp


ODD_TARGETS: dict[str, tuple[Any, tuple, Any]] = {
    "a class": (Point, (1, 2), Point(1, 2)),
    "functools.partial": (functools.partial(_power, 2), (10,), 1024),
    "a callable object": (Adder(), (2, 3), 5),
    "a builtin (len)": (len, ([1, 2, 3],), 3),
    "a builtin method (dict.get)": ({"k": "v"}.get, ("k",), "v"),
}


@pytest.mark.parametrize("decorator", [task, tool, workflow])
@pytest.mark.parametrize("target", list(ODD_TARGETS))
@pytest.mark.parametrize("capture", [False, True])
def test_odd_decorator_targets(spans, monkeypatch, decorator, target, capture):
    if capture:
        monkeypatch.setenv(content.CAPTURE_ENV, "SPAN_ONLY")
    content.reload()
    try:
        fn, args, expected = ODD_TARGETS[target]
        traced = decorator(fn)
        assert traced(*args) == expected
        assert decorator(name="named")(fn)(*args) == expected
    finally:
        monkeypatch.delenv(content.CAPTURE_ENV, raising=False)
        content.reload()
    finished = spans.get_finished_spans()
    assert len(finished) == 2
    assert_all_ended()
    for span in finished:
        assert_valid_attributes(span.attributes)


def _valid_value(value: Any) -> bool:
    if isinstance(value, (str, bool, int, float)):
        return True
    if isinstance(value, tuple) and value:
        kinds = {bool if isinstance(v, bool) else type(v) for v in value if v is not None}
        return len(kinds) <= 1 and kinds <= {str, bool, int, float}
    return isinstance(value, tuple)


def assert_valid_attributes(attributes: Any, limit: int | None = None) -> None:
    limit = limit if limit is not None else content.settings().max_length + len(content.TRUNCATED)
    for key, value in attributes.items():
        assert isinstance(key, str) and _valid_value(value), (key, value)
        for text in value if isinstance(value, tuple) else (value,):
            assert not isinstance(text, str) or len(text) <= limit, (key, len(text))


class _AttributeWarnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


HUGE = "x" * 1_000_000

ODD_ATTRIBUTES: dict[str, dict[str, Any]] = {
    "non-strings": {"session_id": 12345, "user_id": 3.5, "metadata": {1: object(), "n": 7}, "tags": [1, None, 2.5]},
    "None everywhere": {"session_id": None, "user_id": None, "metadata": {"a": None, None: "b"}, "tags": None},
    "huge values": {"session_id": HUGE, "user_id": HUGE, "metadata": {"big": HUGE, HUGE: 1}, "tags": [HUGE]},
    "nested and mixed": {"metadata": {"list": [1, "a", None], "dict": {"x": {"y": [b"bytes"]}}, "set": {1}}},
    "empty": {"metadata": {}, "tags": []},
}


@pytest.mark.parametrize("case", list(ODD_ATTRIBUTES))
def test_using_attributes_with_odd_values(spans, case):
    warnings = _AttributeWarnings()
    attributes_logger = logging.getLogger("opentelemetry.attributes")
    attributes_logger.addHandler(warnings)
    try:
        with using_attributes(**ODD_ATTRIBUTES[case]):
            assert [i for i in _sync_numbers(3)] == [0, 1, 2]
            assert asyncio.run(_awaited(4)) == 4
    finally:
        attributes_logger.removeHandler(warnings)
    finished = spans.get_finished_spans()
    assert len(finished) == 2
    assert_all_ended()
    for span in finished:
        assert_valid_attributes(span.attributes)
    assert warnings.messages == []  # the SDK dropped nothing as an invalid attribute


@task
def _sync_numbers(n: int) -> Iterator[int]:
    yield from range(n)


@task
async def _awaited(n: int) -> int:
    return n


def test_a_10mb_message_with_content_capture(spans, capture_content):
    huge = "y" * (10 * 1024 * 1024)
    response = openai_chat(huge)
    messages = [{"role": "system", "content": huge}, {"role": "user", "content": huge}]

    def call() -> Any:
        client = openai_client(transport(lambda _req: response))
        return client.chat.completions.create(model="gpt-4o-mini", messages=messages).model_dump()

    expected = call()
    reset(spans)
    with _instrumented_now():
        assert call() == expected
    (span,) = ours(spans)
    assert_all_ended()
    assert_valid_attributes(span.attributes)
    for key in ("gen_ai.input.messages", "gen_ai.output.messages"):
        captured = span.attributes[key]
        assert content.TRUNCATED in captured and json.loads(captured), key  # cut inside: still valid JSON


def test_the_faulty_pieces_are_really_faulty():
    """The pipelines above fail for real (no test above passes because a fault never happened)."""
    exporter = InMemorySpanExporter()
    for fault in ("processor on_start raises", "start_span raises"):
        with pytest.raises(RuntimeError):
            FAULTS[fault]().get_tracer("t").start_span("s")
    provider = _provider(RaisingProcessor("on_end"), SimpleSpanProcessor(exporter))
    with pytest.raises(RuntimeError):
        provider.get_tracer("t").start_span("s").end()
    with pytest.raises(RuntimeError):
        RaisingExporter().export([])
    assert json.loads(sse_event({"a": 1})[len(b"data: ") :]) == {"a": 1}
    assert OPENAI_STREAM.chunks[-1] == b"data: [DONE]\n\n"  # so _without_last really drops the terminator

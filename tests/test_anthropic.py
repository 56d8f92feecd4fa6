"""AnthropicInstrumentor against the real anthropic SDK, faked only at the HTTP edge (httpx2 MockTransport).

anthropic's own OpenTelemetry spans are on (its default: conftest sets a global tracer provider), so every test
that counts spans also checks that there is exactly one CLIENT span per API call.
"""

from __future__ import annotations

import gc
import json

import anthropic
import httpx2
import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.trace import SpanKind, StatusCode
from support.telemetry import assert_all_ended, metric_points
from support.wire import (
    Recorder,
    anthropic_client,
    anthropic_error,
    anthropic_message,
    anthropic_message_stream,
    anthropic_tool_use,
    make_transport,
)

from otel_genai import Outcome
from otel_genai.instrumentation.anthropic import AnthropicInstrumentor
from otel_genai.lifecycle import OUTCOME, STREAM_ITEMS

MODEL = "claude-test"
KW = {"model": MODEL, "max_tokens": 100, "messages": [{"role": "user", "content": "Hi"}]}
OURS = "otel_genai.instrumentation.anthropic"
THEIRS = "com.anthropic.sdk.python"
tracer = trace.get_tracer("tests.anthropic")


@pytest.fixture
def metrics():
    return InMemoryMetricReader()


@pytest.fixture
def instrumented(metrics):
    instrumentor = AnthropicInstrumentor()
    instrumentor.instrument(meter_provider=MeterProvider(metric_readers=[metrics]))
    yield instrumentor
    instrumentor.uninstrument()


def client(responses, *, is_async=False, recorder=None, **kwargs):
    return anthropic_client(make_transport(responses, lib="httpx2", recorder=recorder), is_async=is_async, **kwargs)


def only_span(spans):
    """The one span of the call: every finished span, whatever its scope, is that one CLIENT span of ours."""
    finished = spans.get_finished_spans()
    assert [(s.name, s.instrumentation_scope.name) for s in finished] == [(f"chat {MODEL}", OURS)]
    assert finished[0].kind is SpanKind.CLIENT
    assert_all_ended()
    return finished[0]


# --- non-stream -------------------------------------------------------------------------------------------------


def test_create_attributes_and_usage_including_cache(spans, instrumented):
    wire = anthropic_message("Hello!", cache_read_input_tokens=3, cache_creation_input_tokens=2, id="msg_1")
    message = client(wire).messages.create(stop_sequences=["END"], extra_body={"temperature": 0.3, "top_k": 7}, **KW)
    assert isinstance(message, anthropic.types.Message) and message.content[0].text == "Hello!"
    span = only_span(spans)
    assert dict(span.attributes) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": MODEL,
        "gen_ai.request.max_tokens": 100,
        "gen_ai.request.temperature": 0.3,
        "gen_ai.request.top_k": 7,
        "gen_ai.request.stop_sequences": ("END",),
        "server.address": "api.anthropic.com",
        "server.port": 443,
        "gen_ai.response.model": "claude-sonnet-4-5-20250929",
        "gen_ai.response.id": "msg_1",
        "gen_ai.response.finish_reasons": ("stop",),
        "anthropic.message.stop_reason": "end_turn",
        "gen_ai.usage.input_tokens": 17,  # 12 uncached + 3 read + 2 written: the conventions count them all
        "gen_ai.usage.cache_read.input_tokens": 3,
        "gen_ai.usage.cache_creation.input_tokens": 2,
        "gen_ai.usage.output_tokens": 5,
    }
    assert span.status.status_code is StatusCode.UNSET


async def test_async_create(spans, instrumented):
    message = await client(anthropic_message("Hey"), is_async=True).messages.create(**KW)
    assert message.content[0].text == "Hey"
    span = only_span(spans)
    assert span.attributes["gen_ai.usage.output_tokens"] == 5
    assert OUTCOME not in span.attributes


def test_custom_base_url_and_max_tokens_stop(spans, instrumented):
    wire = anthropic_message(stop_reason="max_tokens")
    client(wire, base_url="http://localhost:8080").messages.create(stop_sequences="X", **KW)
    span = only_span(spans)
    assert span.attributes["server.address"] == "localhost"
    assert span.attributes["server.port"] == 8080
    assert span.attributes["gen_ai.request.stop_sequences"] == ("X",)
    assert span.attributes["gen_ai.response.finish_reasons"] == ("length",)


@pytest.mark.parametrize("is_async", [False, True])
@pytest.mark.parametrize(("status", "error"), [(429, "RateLimitError"), (500, "InternalServerError")])
async def test_http_error_marks_span_and_propagates(spans, instrumented, metrics, is_async, status, error):
    c = client(anthropic_error(status), is_async=is_async)
    with pytest.raises(getattr(anthropic, error)) as caught:
        result = c.messages.create(**KW)
        if is_async:
            await result
    assert caught.value.status_code == status  # the SDK's exception, unchanged
    span = only_span(spans)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == f"anthropic.{error}"
    assert span.attributes[OUTCOME] == Outcome.ERROR
    (point,) = metric_points(metrics)["gen_ai.client.operation.duration"]
    assert point.attributes["error.type"] == f"anthropic.{error}"


@pytest.mark.parametrize("kind", ["create", "stream"])
async def test_http_error_async_stream_calls(spans, instrumented, kind):
    c = client(anthropic_error(500), is_async=True)
    with pytest.raises(anthropic.InternalServerError):
        if kind == "create":
            await c.messages.create(stream=True, **KW)
        else:
            async with c.messages.stream(**KW):
                pass
    assert only_span(spans).attributes[OUTCOME] == Outcome.ERROR


def test_http_error_stream_manager(spans, instrumented):
    with pytest.raises(anthropic.RateLimitError), client(anthropic_error(429)).messages.stream(**KW):
        pass
    span = only_span(spans)
    assert span.attributes["error.type"] == "anthropic.RateLimitError"


# --- streams: every way of consuming them ------------------------------------------------------------------------

MODES = ["full", "break_close", "with_exit", "drop_gc"]
EXPECTED = {
    "full": Outcome.COMPLETED,
    "break_close": Outcome.STOPPED_EARLY,
    "with_exit": Outcome.STOPPED_EARLY,
    "drop_gc": Outcome.ABANDONED,
}


def consume_sync(c, api, mode):
    """Consume a sync stream of ``api`` ("create" or "stream") as ``mode`` says; returns the text read."""
    if api == "create":
        stream = c.messages.create(stream=True, **KW)
        assert isinstance(stream, anthropic.Stream)
        if mode == "full":
            return "".join(e.delta.text for e in stream if e.type == "content_block_delta")
        if mode == "break_close":
            for _ in stream:
                break
            stream.close()
        elif mode == "with_exit":
            with stream as s:
                next(s)
        else:
            next(stream)
            del stream
            gc.collect()
        return None
    manager = c.messages.stream(**KW)
    if mode == "full":
        with manager as stream:
            assert isinstance(stream, anthropic.lib.streaming.MessageStream)
            text = "".join(stream.text_stream)
            assert stream.get_final_message().content[0].text == text
            assert stream.request_id.startswith("req_")
            return text
    if mode == "break_close":
        with manager as stream:
            for _ in stream.text_stream:
                break
            stream.close()
    elif mode == "with_exit":
        with manager as stream:
            next(stream)
    else:
        stream = manager.__enter__()
        next(stream)
        del stream, manager
        gc.collect()
    return None


async def consume_async(c, api, mode):
    if api == "create":
        stream = await c.messages.create(stream=True, **KW)
        assert isinstance(stream, anthropic.AsyncStream)
        if mode == "full":
            return "".join([e.delta.text async for e in stream if e.type == "content_block_delta"])
        if mode == "break_close":
            async for _ in stream:
                break
            await stream.close()
        elif mode == "with_exit":
            async with stream as s:
                await s.__anext__()
        else:
            await stream.__anext__()
            del stream
            gc.collect()
        return None
    manager = c.messages.stream(**KW)
    if mode == "full":
        async with manager as stream:
            assert isinstance(stream, anthropic.lib.streaming.AsyncMessageStream)
            text = "".join([t async for t in stream.text_stream])
            assert (await stream.get_final_message()).content[0].text == text
            return text
    if mode == "break_close":
        async with manager as stream:
            async for _ in stream.text_stream:
                break
            await stream.close()
    elif mode == "with_exit":
        async with manager as stream:
            await stream.__anext__()
    else:
        stream = await manager.__aenter__()
        await stream.__anext__()
        del stream, manager
        gc.collect()
    return None


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("api", ["create", "stream"])
@pytest.mark.parametrize("is_async", [False, True])
async def test_stream_lifecycles(spans, instrumented, metrics, is_async, api, mode):
    rec = Recorder()
    c = client(anthropic_message_stream("Hello there", chunks=3, output_tokens=9), is_async=is_async, recorder=rec)
    with tracer.start_as_current_span("caller") as caller:
        before = trace.get_current_span()
        text = await consume_async(c, api, mode) if is_async else consume_sync(c, api, mode)
        assert trace.get_current_span() is before  # the caller's context is untouched
    finished = spans.get_finished_spans()
    assert [s.name for s in finished] == [f"chat {MODEL}", "caller"]  # one client span; anthropic's is off
    span = finished[0]
    assert span.parent.span_id == caller.get_span_context().span_id
    assert span.attributes[OUTCOME] == EXPECTED[mode]
    assert span.attributes["gen_ai.response.id"].startswith("msg_")  # message_start is always read
    assert span.attributes["gen_ai.usage.input_tokens"] == 12
    assert span.attributes["gen_ai.response.time_to_first_chunk"] > 0
    assert rec.streams[0].closed or mode == "drop_gc"
    if mode == "full":
        assert text == "Hello there"
        assert span.attributes["gen_ai.usage.output_tokens"] == 9
        assert span.attributes["gen_ai.response.finish_reasons"] == ("stop",)
        assert span.attributes[STREAM_ITEMS] == 8  # message_start..message_stop, the ping skipped by the SDK
    else:
        assert "gen_ai.response.finish_reasons" not in span.attributes  # message_delta was never read
    assert span.status.status_code is StatusCode.UNSET
    assert_all_ended()
    points = metric_points(metrics)
    assert len(points["gen_ai.client.operation.duration"]) == 1
    assert points["gen_ai.client.operation.duration"][0].count == 1
    assert points["gen_ai.client.operation.time_to_first_chunk"][0].count == 1


@pytest.mark.parametrize("api", ["create", "stream"])
@pytest.mark.parametrize("is_async", [False, True])
@pytest.mark.parametrize("failure", ["broken", "sse_error"])
async def test_stream_failures_mid_stream(spans, instrumented, is_async, api, failure):
    if failure == "broken":
        wire = anthropic_message_stream("a b c d e", chunks=5).broken(after=4)
        expected = (httpx2.ReadError, anthropic.APIConnectionError)
    else:
        wire = anthropic_message_stream("a b c d", error={"type": "overloaded_error", "message": "Overloaded"})
        expected = anthropic.APIStatusError
    c = client(wire, is_async=is_async)
    with pytest.raises(expected) as caught:
        await consume_async(c, api, "full") if is_async else consume_sync(c, api, "full")
    span = only_span(spans)
    assert span.attributes[OUTCOME] == Outcome.ERROR
    assert span.status.status_code is StatusCode.ERROR
    cls = type(caught.value)
    assert span.attributes["error.type"] == f"{cls.__module__}.{cls.__qualname__}"


def test_stream_manager_exception_in_with_body_is_recorded(spans, instrumented):
    with pytest.raises(KeyError), client(anthropic_message_stream()).messages.stream(**KW) as stream:
        next(stream)
        raise KeyError("user code")
    span = only_span(spans)
    assert span.attributes[OUTCOME] == Outcome.ERROR
    assert span.attributes["error.type"] == "KeyError"


def test_stream_manager_never_entered_starts_no_span(spans, instrumented):
    client(anthropic_message_stream()).messages.stream(**KW)
    gc.collect()
    assert spans.get_finished_spans() == ()
    assert_all_ended()


def test_until_done_and_stream_attributes(spans, instrumented):
    wire = anthropic_message_stream("ok", cache_read_input_tokens=4)
    with client(wire).messages.stream(**KW) as stream:
        stream.until_done()
        assert stream.response.status_code == 200
        assert stream.current_message_snapshot.usage.cache_read_input_tokens == 4
    span = only_span(spans)
    assert span.attributes[OUTCOME] == Outcome.COMPLETED
    assert span.attributes["gen_ai.usage.input_tokens"] == 16
    assert span.attributes["gen_ai.usage.cache_read.input_tokens"] == 4


# --- tool use and content -----------------------------------------------------------------------------------------

TOOLS = [
    {
        "name": "get_weather",
        "description": "Weather for a city",
        "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}},
    },
    {"type": "web_search_20250305", "name": "web_search"},
]
CONVERSATION = {
    "system": "Be brief.",
    "messages": [
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"location": "Paris"}}],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "Sunny"}]},
    ],
}
INPUT = [
    {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]},
    {
        "role": "assistant",
        "parts": [{"type": "tool_call", "id": "toolu_1", "name": "get_weather", "arguments": {"location": "Paris"}}],
    },
    {"role": "user", "parts": [{"type": "tool_call_response", "id": "toolu_1", "response": "Sunny"}]},
]
TOOL_DEFINITIONS = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}},
    },
    {"type": "web_search_20250305", "name": "web_search"},
]
CONTENT_KEYS = {
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "gen_ai.tool.definitions",
}


def _tool_call(stream: bool):
    use = anthropic_tool_use("get_weather", {"location": "Lyon", "unit": "C"}, id="toolu_2")
    make = anthropic_message_stream if stream else anthropic_message
    return make("Checking.", tool_uses=[use])


def _call(c, stream: str):
    kwargs = {**KW, **CONVERSATION, "tools": TOOLS}
    if stream == "no":
        return c.messages.create(**kwargs)
    if stream == "create":
        return list(c.messages.create(stream=True, **kwargs))
    with c.messages.stream(**kwargs) as s:
        return s.get_final_message()


@pytest.mark.parametrize("stream", ["no", "create", "stream"])
def test_tool_use_with_content_capture(spans, instrumented, capture_content, stream):
    _call(client(_tool_call(stream != "no")), stream)
    span = only_span(spans)
    assert span.attributes["gen_ai.response.finish_reasons"] == ("tool_call",)
    assert json.loads(span.attributes["gen_ai.system_instructions"]) == [{"type": "text", "content": "Be brief."}]
    assert json.loads(span.attributes["gen_ai.input.messages"]) == INPUT
    assert json.loads(span.attributes["gen_ai.tool.definitions"]) == TOOL_DEFINITIONS
    assert json.loads(span.attributes["gen_ai.output.messages"]) == [
        {
            "role": "assistant",
            "parts": [
                {"type": "text", "content": "Checking."},
                {
                    "type": "tool_call",
                    "id": "toolu_2",
                    "name": "get_weather",
                    "arguments": {"location": "Lyon", "unit": "C"},
                },
            ],
            "finish_reason": "tool_call",
        }
    ]


@pytest.mark.parametrize("stream", ["no", "create", "stream"])
def test_no_content_without_opt_in(spans, instrumented, stream):
    _call(client(_tool_call(stream != "no")), stream)
    span = only_span(spans)
    assert span.attributes["gen_ai.response.finish_reasons"] == ("tool_call",)
    assert not CONTENT_KEYS & set(span.attributes)
    assert not any("Paris" in str(v) or "Lyon" in str(v) for v in span.attributes.values())


def test_content_of_a_stream_stopped_early_is_what_was_read(spans, instrumented, capture_content):
    stream = client(anthropic_message_stream("one two three four", chunks=4)).messages.create(stream=True, **KW)
    for event in stream:
        if event.type == "content_block_delta":
            break
    stream.close()
    span = only_span(spans)
    output = json.loads(span.attributes["gen_ai.output.messages"])
    assert event.delta.text != "one two three four"
    expected = [
        {"role": "assistant", "parts": [{"type": "text", "content": event.delta.text}], "finish_reason": "error"}
    ]
    assert output == expected  # an interrupted output says so: the schema requires a finish reason
    assert span.attributes[OUTCOME] == Outcome.STOPPED_EARLY


def test_metrics(spans, instrumented, metrics):
    c = client([anthropic_message(cache_read_input_tokens=8), anthropic_message_stream(output_tokens=7)])
    c.messages.create(**KW)
    list(c.messages.create(stream=True, **KW))
    points = metric_points(metrics)
    (duration,) = points["gen_ai.client.operation.duration"]  # same attributes for both calls
    assert duration.count == 2
    assert duration.attributes == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": MODEL,
        "gen_ai.response.model": "claude-sonnet-4-5-20250929",
        "server.address": "api.anthropic.com",
        "server.port": 443,
    }
    assert duration.explicit_bounds[:3] == (0.01, 0.02, 0.04)
    tokens = {p.attributes["gen_ai.token.type"]: p for p in points["gen_ai.client.token.usage"]}
    assert (tokens["input"].count, tokens["input"].sum) == (2, 20 + 12)
    assert (tokens["output"].count, tokens["output"].sum) == (2, 5 + 7)
    (ttft,) = points["gen_ai.client.operation.time_to_first_chunk"]
    assert ttft.count == 1  # the stream only
    assert len(spans.get_finished_spans()) == 2


# --- anthropic's own spans, propagation ---------------------------------------------------------------------------


def test_without_us_anthropic_traces_itself(spans):
    """The premise of the one-span tests: in this environment anthropic emits its own span and traceparent."""
    rec = Recorder()
    client(anthropic_message(), recorder=rec).messages.create(**KW)
    (theirs,) = spans.get_finished_spans()
    assert (theirs.name, theirs.instrumentation_scope.name) == ("anthropic.messages.create", THEIRS)
    assert rec.last.headers["traceparent"].split("-")[2] == f"{theirs.context.span_id:016x}"


@pytest.mark.parametrize("api", ["create", "create_stream", "stream"])
@pytest.mark.parametrize("is_async", [False, True])
async def test_traceparent_is_ours(spans, instrumented, is_async, api):
    rec = Recorder()
    wire = anthropic_message() if api == "create" else anthropic_message_stream()
    c = client(wire, is_async=is_async, recorder=rec)
    with tracer.start_as_current_span("caller"):
        if api == "create":
            result = c.messages.create(**KW)
            await result if is_async else None
        elif api == "create_stream":
            await consume_async(c, "create", "full") if is_async else consume_sync(c, "create", "full")
        else:
            await consume_async(c, "stream", "full") if is_async else consume_sync(c, "stream", "full")
    ours, caller = spans.get_finished_spans()
    assert caller.name == "caller" and ours.instrumentation_scope.name == OURS
    _, trace_id, span_id, _ = rec.last.headers["traceparent"].split("-")
    assert (trace_id, span_id) == (f"{ours.context.trace_id:032x}", f"{ours.context.span_id:016x}")


@pytest.mark.parametrize("option", [{"propagation": False}, False], ids=["propagation-off", "anthropic-otel-off"])
def test_client_options_of_anthropic_are_respected(spans, instrumented, option):
    rec = Recorder()
    client(anthropic_message(), recorder=rec, open_telemetry=option).messages.create(**KW)
    only_span(spans)
    assert "traceparent" not in rec.last.headers  # anthropic sent none for this client before we came either


def test_calls_we_do_not_trace_keep_anthropics_span(spans, instrumented):
    c = client([anthropic_message()])
    c.messages.with_raw_response.count_tokens(model=MODEL, messages=KW["messages"])
    (span,) = spans.get_finished_spans()
    assert span.instrumentation_scope.name == THEIRS  # still exactly one span


# --- with_raw_response / with_streaming_response (langchain-anthropic sends every call through with_raw_response) --


def _raw_call(c, variant: str, stream: bool):
    resource = c.messages.with_raw_response if variant == "raw" else c.messages.with_streaming_response
    return resource.create(stream=True, **KW) if stream else resource.create(**KW)


def _read(parsed, stream: bool) -> str:
    if stream:
        return "".join(e.delta.text for e in parsed if e.type == "content_block_delta")
    return parsed.content[0].text


async def _aread(parsed, stream: bool) -> str:
    if stream:
        return "".join([e.delta.text async for e in parsed if e.type == "content_block_delta"])
    return parsed.content[0].text


@pytest.mark.parametrize("stream", [False, True], ids=["message", "stream"])
@pytest.mark.parametrize("variant", ["raw", "streaming"])
def test_raw_and_streaming_response_traced_to_the_end_of_the_body(spans, instrumented, variant, stream):
    wire = anthropic_message_stream("one two", id="msg_r") if stream else anthropic_message("one two", id="msg_r")
    c = client([wire])
    if variant == "raw":
        response = _raw_call(c, variant, stream)
        assert spans.get_finished_spans() == ()  # the span waits for the body
        assert _read(response.parse(), stream) == "one two"
    else:
        with _raw_call(c, variant, stream) as response:
            assert _read(response.parse(), stream) == "one two"
    span = only_span(spans)
    assert span.attributes["gen_ai.response.id"] == "msg_r"
    assert span.attributes["gen_ai.usage.output_tokens"] == 5
    assert span.attributes.get(OUTCOME, "completed") == "completed"


@pytest.mark.parametrize("stream", [False, True], ids=["message", "stream"])
@pytest.mark.parametrize("variant", ["raw", "streaming"])
async def test_async_raw_and_streaming_response(spans, instrumented, variant, stream):
    wire = anthropic_message_stream("one two", id="msg_r") if stream else anthropic_message("one two", id="msg_r")
    c = client([wire], is_async=True)
    if variant == "raw":
        response = await _raw_call(c, variant, stream)
        assert await _aread(await response.parse(), stream) == "one two"
    else:
        async with _raw_call(c, variant, stream) as response:
            assert await _aread(await response.parse(), stream) == "one two"
    span = only_span(spans)
    assert span.attributes["gen_ai.response.id"] == "msg_r"
    assert span.attributes["gen_ai.usage.output_tokens"] == 5


def test_streaming_response_closed_unread_stops_early(spans, instrumented):
    with client([anthropic_message_stream("one two")]).messages.with_streaming_response.create(stream=True, **KW):
        pass
    assert only_span(spans).attributes[OUTCOME] == Outcome.STOPPED_EARLY


def test_raw_response_object_cached_before_instrument_is_traced_and_then_released(spans):
    c = client([anthropic_message("a"), anthropic_message("b"), anthropic_message("c")])
    raw = c.messages.with_raw_response  # the SDK caches it, holding the bound create of that moment
    raw.create(**KW).parse()
    instrumentor = AnthropicInstrumentor()
    instrumentor.instrument()
    try:
        assert raw.create(**KW).parse().content[0].text == "b"
    finally:
        instrumentor.uninstrument()
    raw.create(**KW).parse()
    scopes = [s.instrumentation_scope.name for s in spans.get_finished_spans()]
    assert scopes == [THEIRS, OURS, THEIRS]  # one span per call; after uninstrument exactly the SDK's own again
    assert_all_ended()

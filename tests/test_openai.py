"""The OpenAI instrumentor against the real SDK, faked only at the HTTP edge (tests/support/wire.py).

Matrix: every patched call x sync/async x (streams) full / early break + close / ``with`` exit / drop + gc / HTTP
error mid-stream, and (non-stream) success / HTTP error, with content capture off and on.
"""

from __future__ import annotations

import asyncio
import gc
import json

import openai
import pydantic
import pytest
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.trace import SpanKind, StatusCode
from support.openai_setup import CONTENT_KEYS, INPUT, OUTPUT, instrumented, loads, metric_points, only_span, run
from support.telemetry import assert_all_ended
from support.wire import (
    make_transport,
    openai_chat,
    openai_chat_stream,
    openai_client,
    openai_embeddings,
    openai_error,
    openai_responses,
    openai_responses_stream,
    openai_tool_call,
)

from otel_genai import content as content_settings
from otel_genai.instrumentation._llm import DURATION_BUCKETS, OPERATION_DETAILS_EVENT, TOKEN_BUCKETS
from otel_genai.instrumentation.openai import OpenAIInstrumentor
from otel_genai.lifecycle import OUTCOME, STREAM_ITEMS

tracer = trace.get_tracer("tests.openai")
MODEL = "gpt-4o-mini"
TEXT = "The quick brown fox jumps over the lazy dog."
MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say something."}]


@pytest.fixture
def otel():
    with instrumented() as telemetry:
        yield telemetry


class Answer(pydantic.BaseModel):
    answer: str


def client_for(responses, is_async=False, **kwargs):
    return openai_client(make_transport(responses, lib="httpx2"), is_async=is_async, **kwargs)


# --- stream calls ------------------------------------------------------------------------------------------------

# kind -> (wire builder, opener(client) -> stream or manager, is manager, id of the wire)
STREAM_KINDS = ["chat.create", "chat.raw", "chat.stream", "responses.create", "responses.raw", "responses.stream"]


def _stream_wire(kind):
    if kind.startswith("chat"):
        return openai_chat_stream(TEXT, chunks=6)
    return openai_responses_stream(TEXT, chunks=6)


def _expected_stream(kind, wire):
    events = wire.events()
    if kind.startswith("chat"):
        data = [json.loads(d) for _, d in events if d != "[DONE]"]
        usage = data[-1]["usage"]
        return data[0]["id"], data[0]["model"], usage["prompt_tokens"], usage["completion_tokens"], len(data)
    data = [json.loads(d) for _, d in events]
    final = data[-1]["response"]
    return final["id"], final["model"], final["usage"]["input_tokens"], final["usage"]["output_tokens"], len(data)


def _open(kind, client):
    """The object a caller iterates (or, for the .stream() helpers, the manager)."""
    chat = kind.startswith("chat")
    if chat:
        kwargs = {"model": MODEL, "messages": MESSAGES}
        resource = client.chat.completions
    else:
        kwargs = {"model": MODEL, "input": "Say something.", "instructions": "Be brief."}
        resource = client.responses
    if kind.endswith(".stream"):
        return resource.stream(**kwargs)
    if chat:
        kwargs["stream_options"] = {"include_usage": True}
    if kind.endswith(".raw"):
        return resource.with_raw_response.create(stream=True, **kwargs)
    return resource.create(stream=True, **kwargs)


def _consume_sync(kind, mode, client):
    opened = _open(kind, client)
    if kind.endswith(".raw"):
        assert isinstance(opened, openai._legacy_response.LegacyAPIResponse)
        opened = opened.parse()
    if kind.endswith(".stream"):
        if mode == "drop_gc":
            stream = opened.__enter__()
            next(iter(stream))
            del stream, opened
            gc.collect()
            return
        with opened as stream:
            if mode in ("full", "broken"):
                for _ in stream:
                    pass
                final = stream.get_final_completion() if kind.startswith("chat") else stream.get_final_response()
                assert final.id
                return
            for _ in stream:
                break
            if mode == "break_close":
                stream.close()
        return
    assert isinstance(opened, openai.Stream)
    assert opened.response.status_code == 200
    if mode in ("full", "broken"):
        for _ in opened:
            pass
    elif mode == "break_close":
        for _ in opened:
            break
        opened.close()
    elif mode == "with_exit":
        with opened as stream:
            assert stream is opened
            next(stream)
    elif mode == "drop_gc":
        next(opened)
        del opened
        gc.collect()


async def _consume_async(kind, mode, client):
    opened = _open(kind, client)
    if not kind.endswith(".stream"):
        opened = await opened
    if kind.endswith(".raw"):
        opened = opened.parse()
    if kind.endswith(".stream"):
        if mode == "drop_gc":
            stream = await opened.__aenter__()
            await stream.__anext__()
            del stream, opened
            gc.collect()
            return
        async with opened as stream:
            if mode in ("full", "broken"):
                async for _ in stream:
                    pass
                final = await (
                    stream.get_final_completion() if kind.startswith("chat") else stream.get_final_response()
                )
                assert final.id
                return
            async for _ in stream:
                break
            if mode == "break_close":
                await stream.close()
        return
    assert isinstance(opened, openai.AsyncStream)
    assert opened.response.status_code == 200
    if mode in ("full", "broken"):
        async for _ in opened:
            pass
    elif mode == "break_close":
        async for _ in opened:
            break
        await opened.close()
    elif mode == "with_exit":
        async with opened as stream:
            assert stream is opened
            await stream.__anext__()
    elif mode == "drop_gc":
        await opened.__anext__()
        del opened
        gc.collect()


OUTCOMES = {
    "full": "completed",
    "break_close": "stopped_early",
    "with_exit": "stopped_early",
    "drop_gc": "abandoned",
    "broken": "error",
}


@pytest.mark.parametrize("capture", [False, True], ids=["content_off", "content_on"])
@pytest.mark.parametrize("mode", list(OUTCOMES))
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("kind", STREAM_KINDS)
def test_stream_lifecycle(spans, otel, request, kind, is_async, mode, capture):
    if capture:
        request.getfixturevalue("capture_content")
    wire = _stream_wire(kind)
    response_id, response_model, input_tokens, output_tokens, n_items = _expected_stream(kind, wire)
    client = client_for(wire.broken(after=3) if mode == "broken" else wire, is_async)
    before = otel_context.get_current()
    with tracer.start_as_current_span("caller") as caller:
        if mode == "broken":
            with pytest.raises(openai.APIConnectionError) as raised:
                run(_consume_async(kind, mode, client)) if is_async else _consume_sync(kind, mode, client)
        elif is_async:
            run(_consume_async(kind, mode, client))
        else:
            _consume_sync(kind, mode, client)
        assert trace.get_current_span() is caller
    assert otel_context.get_current() is before
    gc.collect()
    assert_all_ended()
    span = next(s for s in spans.get_finished_spans() if s.name != "caller")
    attrs = span.attributes
    assert span.name == f"chat {MODEL}"
    assert span.kind is SpanKind.CLIENT
    assert span.parent.span_id == caller.get_span_context().span_id
    assert attrs[OUTCOME] == OUTCOMES[mode]
    assert attrs["gen_ai.request.stream"] is True
    assert attrs["gen_ai.response.model"] == response_model
    assert attrs["gen_ai.response.id"] == response_id
    assert attrs["gen_ai.response.time_to_first_chunk"] > 0
    assert not span.events if mode != "broken" else len(span.events) == 1  # no per-chunk events
    if mode == "full":
        assert attrs[STREAM_ITEMS] == n_items
        assert attrs["gen_ai.usage.input_tokens"] == input_tokens
        assert attrs["gen_ai.usage.output_tokens"] == output_tokens
        assert list(attrs["gen_ai.response.finish_reasons"]) == ["stop"]
    else:
        assert attrs[STREAM_ITEMS] < n_items
        assert "gen_ai.usage.input_tokens" not in attrs
    if mode == "broken":
        assert span.status.status_code is StatusCode.ERROR
        assert attrs["error.type"] == "openai.APIConnectionError"
        assert raised.type is openai.APIConnectionError
    points = metric_points(otel.reader)
    assert sum(p.count for p in points["gen_ai.client.operation.duration"]) == 1
    assert sum(p.count for p in points["gen_ai.client.operation.time_to_first_chunk"]) == 1
    if not capture:
        assert not any(key in attrs for key in CONTENT_KEYS)
        return
    if kind.startswith("chat"):
        assert [m["role"] for m in loads(span, INPUT)] == ["system", "user"]
    else:
        assert loads(span, "gen_ai.system_instructions") == [{"type": "text", "content": "Be brief."}]
        assert loads(span, INPUT) == [{"role": "user", "parts": [{"type": "text", "content": "Say something."}]}]
    output = loads(span, OUTPUT) if OUTPUT in attrs else []
    text = "".join(p["content"] for m in output for p in m["parts"] if p["type"] == "text")
    if mode == "full":
        assert text == TEXT
        assert output[0]["finish_reason"] == "stop"
    else:
        assert TEXT.startswith(text)
        assert len(text) < len(TEXT)


# --- non-stream calls ----------------------------------------------------------------------------------------------

PLAIN_KINDS = [
    "chat.create",
    "chat.parse",
    "chat.raw",
    "responses.create",
    "responses.parse",
    "responses.raw",
    "embeddings.create",
    "embeddings.raw",
]


def _plain_wire(kind):
    if kind.startswith("chat"):
        return openai_chat('{"answer":"42"}' if kind == "chat.parse" else TEXT)
    if kind.startswith("responses"):
        return openai_responses('{"answer":"42"}' if kind == "responses.parse" else TEXT)
    return openai_embeddings(2)


def _plain_call(kind, client):
    group, how = kind.split(".")
    if group == "chat":
        resource, kwargs = client.chat.completions, {"model": MODEL, "messages": MESSAGES, "temperature": 0.5}
    elif group == "responses":
        resource, kwargs = client.responses, {"model": MODEL, "input": "Say something.", "temperature": 0.5}
    else:
        resource, kwargs = client.embeddings, {"model": "text-embedding-3-small", "input": ["a", "b"]}
    if how == "parse":
        kwargs["response_format" if group == "chat" else "text_format"] = Answer
        return resource.parse(**kwargs)
    if how == "raw":
        return resource.with_raw_response.create(**kwargs)
    return resource.create(**kwargs)


async def _await_plain(kind, client):
    return await _plain_call(kind, client)


@pytest.mark.parametrize("capture", [False, True], ids=["content_off", "content_on"])
@pytest.mark.parametrize("failing", [False, True], ids=["ok", "http_error"])
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("kind", PLAIN_KINDS)
def test_plain_call(spans, otel, request, kind, is_async, failing, capture):
    if capture:
        request.getfixturevalue("capture_content")
    wire = openai_error(500) if failing else _plain_wire(kind)
    client = client_for(wire, is_async)

    def call():
        return run(_await_plain(kind, client)) if is_async else _plain_call(kind, client)

    if failing:
        with pytest.raises(openai.InternalServerError) as raised:
            call()
        assert raised.value.status_code == 500
        span = only_span(spans)
        assert span.status.status_code is StatusCode.ERROR
        assert span.attributes["error.type"].endswith("InternalServerError")
        assert span.attributes[OUTCOME] == "error"
        (point,) = metric_points(otel.reader)["gen_ai.client.operation.duration"]
        assert point.attributes["error.type"] == span.attributes["error.type"]
        return
    result = call()
    if kind.endswith(".raw"):
        assert isinstance(result, openai._legacy_response.LegacyAPIResponse)
        result = result.parse()
    span = only_span(spans)
    attrs = span.attributes
    body = wire.json()
    group = kind.split(".")[0]
    assert span.name == (f"chat {MODEL}" if group != "embeddings" else "embeddings text-embedding-3-small")
    assert attrs["gen_ai.response.model"] == body["model"]
    assert OUTCOME not in attrs
    if group == "chat":
        assert result.id == attrs["gen_ai.response.id"] == body["id"]
        assert attrs["gen_ai.usage.input_tokens"] == body["usage"]["prompt_tokens"]
        assert attrs["gen_ai.usage.output_tokens"] == body["usage"]["completion_tokens"]
        assert list(attrs["gen_ai.response.finish_reasons"]) == ["stop"]
        assert attrs["gen_ai.request.temperature"] == 0.5
    elif group == "responses":
        assert result.id == attrs["gen_ai.response.id"] == body["id"]
        assert attrs["gen_ai.usage.input_tokens"] == body["usage"]["input_tokens"]
        assert list(attrs["gen_ai.response.finish_reasons"]) == ["stop"]
    else:
        assert len(result.data) == 2
        assert attrs["gen_ai.usage.input_tokens"] == body["usage"]["prompt_tokens"]
        assert "gen_ai.request.encoding_formats" not in attrs  # the SDK's own base64 default is not the caller's
    if kind.endswith(".parse"):
        parsed = result.choices[0].message.parsed if group == "chat" else result.output_parsed
        assert parsed == Answer(answer="42")
        assert attrs["gen_ai.output.type"] == "json"
    points = metric_points(otel.reader)
    assert "gen_ai.client.operation.time_to_first_chunk" not in points
    assert sum(p.count for p in points["gen_ai.client.operation.duration"]) == 1
    if not capture:
        assert not any(key in attrs for key in CONTENT_KEYS)
        return
    if group == "embeddings":
        assert loads(span, INPUT) == [{"role": "user", "parts": [{"type": "text", "content": t} for t in "ab"]}]
        return
    (message,) = loads(span, OUTPUT)
    assert message["role"] == "assistant"
    assert message["parts"][0]["content"] == ('{"answer":"42"}' if kind.endswith(".parse") else TEXT)


# --- tool calls, content shapes, events -------------------------------------------------------------------------

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city.",
            "parameters": {"type": "object", "properties": {"location": {"type": "string"}}},
        },
    }
]


CALL_PART = {"type": "tool_call", "id": "call_1", "name": "get_weather", "arguments": {"location": "Paris"}}


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_tool_calls_content_shape(spans, otel, capture_content, stream):
    call = openai_tool_call("get_weather", {"location": "Paris"}, id="call_1")
    wire = openai_chat_stream(None, tool_calls=[call]) if stream else openai_chat(None, tool_calls=[call])
    client = client_for(wire)
    messages = [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]
    result = client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS, stream=stream)
    if stream:
        list(result)
    span = only_span(spans)
    assert loads(span, INPUT) == [
        {"role": "user", "parts": [{"type": "text", "content": "Weather?"}]},
        {"role": "assistant", "parts": [CALL_PART]},
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_1", "response": "sunny"}]},
    ]
    assert loads(span, OUTPUT) == [
        {
            "role": "assistant",
            "parts": [CALL_PART],
            "finish_reason": "tool_calls",
        }
    ]
    assert loads(span, "gen_ai.tool.definitions") == [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Weather for a city.",
            "parameters": TOOLS[0]["function"]["parameters"],
        }
    ]
    assert list(span.attributes["gen_ai.response.finish_reasons"]) == ["tool_calls"]


def test_long_streamed_text_is_captured_whole(spans, otel, capture_content):
    """Streamed pieces are compacted every 64 (StreamedText): the captured text is still exactly the streamed one."""
    text = " ".join(f"w{i}" for i in range(300))
    client = client_for(openai_chat_stream(text, chunks=300))
    streamed = "".join(
        c.choices[0].delta.content or ""
        for c in client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        if c.choices
    )
    assert streamed == text
    assert loads(only_span(spans), OUTPUT)[0]["parts"] == [{"type": "text", "content": text}]


def test_streamed_text_compacts_pieces():
    from otel_genai.instrumentation._llm import StreamedText

    streamed = StreamedText()
    assert not streamed and str(streamed) == ""
    for i in range(130):
        streamed.add(str(i % 10))
    assert streamed and str(streamed) == "".join(str(i % 10) for i in range(130))
    assert len(streamed._blocks) == 2 and len(streamed._pieces) == 2  # 130 pieces held as 4 strings


@pytest.mark.parametrize(("mode", "on_span"), [("EVENT_ONLY", False), ("SPAN_AND_EVENT", True), ("true", True)])
def test_content_modes(spans, otel, monkeypatch, mode, on_span):
    monkeypatch.setenv(content_settings.CAPTURE_ENV, mode)
    content_settings.reload()
    try:
        client = client_for(openai_chat(TEXT))
        client.chat.completions.create(model=MODEL, messages=MESSAGES)
    finally:
        monkeypatch.delenv(content_settings.CAPTURE_ENV)
        content_settings.reload()
    span = only_span(spans)
    assert (OUTPUT in span.attributes) is on_span
    records = [r.log_record for r in otel.logs.get_finished_logs()]
    if mode == "true":
        assert records == []
        return
    (record,) = records
    assert record.event_name == OPERATION_DETAILS_EVENT
    assert record.span_id == span.context.span_id
    assert json.loads(record.attributes[OUTPUT])[0]["parts"] == [{"type": "text", "content": TEXT}]
    assert record.attributes["gen_ai.response.id"] == span.attributes["gen_ai.response.id"]
    assert record.attributes["gen_ai.response.model"] == span.attributes["gen_ai.response.model"]
    assert record.attributes["gen_ai.usage.output_tokens"] == span.attributes["gen_ai.usage.output_tokens"]


def test_content_is_size_capped_and_has_no_secrets(spans, otel, monkeypatch, capture_content):
    monkeypatch.setenv(content_settings.MAX_LENGTH_ENV, "40")
    content_settings.reload()
    client = client_for(openai_chat(TEXT * 10))
    client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x" * 500}])
    monkeypatch.delenv(content_settings.MAX_LENGTH_ENV)
    span = only_span(spans)
    for key in (INPUT, OUTPUT):  # capped inside: still valid JSON, at most 40 characters of text kept
        (text,) = [p["content"] for m in loads(span, key) for p in m["parts"]]
        assert text.endswith(content_settings.TRUNCATED)
        assert len(text) <= 40 + len(content_settings.TRUNCATED)
    assert not any("test" == str(v) or "Bearer" in str(v) for v in span.attributes.values())


# --- metrics ---------------------------------------------------------------------------------------------------


def test_metrics_stream(spans, otel):
    wire = openai_chat_stream(TEXT, chunks=20, prompt_tokens=7, completion_tokens=9)
    client = client_for(wire)
    stream = client.chat.completions.create(
        model=MODEL, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    assert sum(1 for _ in stream) > 20
    points = metric_points(otel.reader)
    (duration,) = points["gen_ai.client.operation.duration"]
    (ttfc,) = points["gen_ai.client.operation.time_to_first_chunk"]
    assert duration.count == ttfc.count == 1  # one record per call, never per chunk
    assert duration.sum >= ttfc.sum > 0
    assert tuple(duration.explicit_bounds) == DURATION_BUCKETS
    assert tuple(ttfc.explicit_bounds) == DURATION_BUCKETS
    usage = {p.attributes["gen_ai.token.type"]: p for p in points["gen_ai.client.token.usage"]}
    assert (usage["input"].sum, usage["output"].sum) == (7, 9)
    assert tuple(usage["input"].explicit_bounds) == TOKEN_BUCKETS
    expected = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": MODEL,
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
        "server.address": "api.openai.com",
        "server.port": 443,
    }
    assert dict(duration.attributes) == expected
    assert dict(usage["output"].attributes) == {**expected, "gen_ai.token.type": "output"}


def test_stream_without_usage_records_no_tokens(spans, otel):
    client = client_for(openai_chat_stream(TEXT, include_usage=False))
    list(client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True))
    span = only_span(spans)
    assert "gen_ai.usage.input_tokens" not in span.attributes
    assert "gen_ai.client.token.usage" not in metric_points(otel.reader)


# --- providers, servers, parents -------------------------------------------------------------------------------


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_azure(spans, otel, is_async):
    client = client_for(openai_chat(TEXT), is_async, azure=True)
    call = client.chat.completions.create(model="my-deployment", messages=MESSAGES)
    if is_async:
        run(_await(call))
    span = only_span(spans)
    assert span.name == "chat my-deployment"
    assert span.attributes["gen_ai.provider.name"] == "azure.ai.openai"
    assert span.attributes["server.address"] == "example-resource.openai.azure.com"
    assert span.attributes["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"


async def _await(awaitable):
    return await awaitable


def test_v1_style_azure_and_custom_base_url(spans, otel):
    azure = client_for(openai_chat(TEXT), base_url="https://res.openai.azure.com/openai/v1/")
    local = client_for(openai_chat(TEXT), base_url="http://localhost:8080/v1")
    azure.chat.completions.create(model=MODEL, messages=MESSAGES)
    local.chat.completions.create(model=MODEL, messages=MESSAGES)
    first, second = spans.get_finished_spans()
    assert first.attributes["gen_ai.provider.name"] == "azure.ai.openai"
    assert second.attributes["gen_ai.provider.name"] == "openai"
    assert (second.attributes["server.address"], second.attributes["server.port"]) == ("localhost", 8080)


def test_request_parameters(spans, otel):
    client = client_for(openai_chat(TEXT))
    client.chat.completions.create(
        model=MODEL,
        messages=MESSAGES,
        temperature=0.1,
        top_p=0.9,
        max_completion_tokens=50,
        stop="END",
        seed=7,
        frequency_penalty=0.2,
        presence_penalty=0.3,
        n=1,
        response_format={"type": "json_object"},
        top_logprobs=openai.NOT_GIVEN,
    )
    attrs = only_span(spans).attributes
    assert attrs["gen_ai.request.temperature"] == 0.1
    assert attrs["gen_ai.request.top_p"] == 0.9
    assert attrs["gen_ai.request.max_tokens"] == 50
    assert attrs["gen_ai.request.stop_sequences"] == ("END",)
    assert attrs["gen_ai.request.seed"] == 7
    assert attrs["gen_ai.request.frequency_penalty"] == 0.2
    assert attrs["gen_ai.request.presence_penalty"] == 0.3
    assert attrs["gen_ai.output.type"] == "json"
    assert "gen_ai.request.choice.count" not in attrs


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_sdk_exception_propagates_unchanged(spans, otel, is_async):
    client = client_for(openai_error(404), is_async)
    with pytest.raises(openai.NotFoundError) as raised:
        call = client.chat.completions.create(model="does-not-exist", messages=MESSAGES)
        if is_async:
            run(_await(call))
    assert raised.value.body["code"] == "model_not_found"
    span = only_span(spans)
    assert span.attributes["error.type"] == f"{openai.NotFoundError.__module__}.NotFoundError"
    assert span.status.status_code is StatusCode.ERROR


# --- switches: suppress, twice, uninstrument, raw responses cached across instrument/uninstrument -----------------


def test_suppress_instrumentation(spans, otel):
    client = client_for([openai_chat(TEXT), openai_chat_stream(TEXT)])
    with suppress_instrumentation():
        client.chat.completions.create(model=MODEL, messages=MESSAGES)
        stream = client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        assert type(stream) is openai.Stream
        list(stream)
    assert spans.get_finished_spans() == ()
    assert metric_points(otel.reader) == {}


def test_instrument_twice_is_harmless(spans, otel):
    OpenAIInstrumentor().instrument()
    client = client_for(openai_chat(TEXT))
    client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert len(spans.get_finished_spans()) == 1


def test_uninstrument_restores_the_sdk(spans):
    originals = {
        (cls, name): vars(cls)[name]
        for cls, name in [
            (openai.resources.chat.completions.Completions, "create"),
            (openai.resources.chat.completions.AsyncCompletions, "parse"),
            (openai.resources.responses.Responses, "create"),
            (openai.resources.embeddings.Embeddings, "create"),
            (openai._legacy_response.LegacyAPIResponse, "parse"),
            (openai.lib.streaming.chat.ChatCompletionStream, "close"),
        ]
    }
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument()
    client = client_for([openai_chat(TEXT), openai_chat_stream(TEXT), openai_chat_stream(TEXT)])
    raw = client.chat.completions.with_raw_response  # cached while instrumented: holds the wrapped bound method
    raw.create(model=MODEL, messages=MESSAGES).parse()
    assert len(spans.get_finished_spans()) == 1
    instrumentor.uninstrument()
    for (cls, name), original in originals.items():
        assert vars(cls)[name] is original, (cls, name)
    response = raw.create(model=MODEL, messages=MESSAGES, stream=True)
    stream = response.parse()
    assert type(stream) is openai.Stream  # no proxy, exactly what the SDK returns
    assert len(list(stream)) > 3
    assert type(client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)) is openai.Stream
    assert len(spans.get_finished_spans()) == 1


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_client_created_before_instrument_raw_stream(spans, is_async):
    client = client_for([openai_chat_stream(TEXT)], is_async)
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument()
    try:

        async def consume_async():
            response = await client.chat.completions.with_raw_response.create(
                model=MODEL, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
            )
            stream = response.parse()
            assert response.parse() is stream
            assert isinstance(stream, openai.AsyncStream)
            return [c async for c in stream]

        if is_async:
            chunks = run(consume_async())
        else:
            response = client.chat.completions.with_raw_response.create(
                model=MODEL, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
            )
            assert response.headers["content-type"].startswith("text/event-stream")
            stream = response.parse()
            assert response.parse() is stream
            assert isinstance(stream, openai.Stream)
            chunks = list(stream)
    finally:
        instrumentor.uninstrument()
    span = only_span(spans)
    assert span.attributes[OUTCOME] == "completed"
    assert span.attributes[STREAM_ITEMS] == len(chunks)
    assert span.attributes["gen_ai.usage.output_tokens"] == chunks[-1].usage.completion_tokens


def test_raw_stream_never_parsed_ends_when_dropped(spans, otel):
    client = client_for(openai_chat_stream(TEXT))
    response = client.chat.completions.with_raw_response.create(model=MODEL, messages=MESSAGES, stream=True)
    assert spans.get_finished_spans() == ()
    del response
    gc.collect()
    assert only_span(spans).attributes[OUTCOME] == "abandoned"
    assert_all_ended()


def test_async_stream_consumed_in_other_tasks(spans, otel):
    """Chunks pulled from different tasks: the span ends once and no task's context changes."""
    client = client_for(openai_chat_stream(TEXT, chunks=8), is_async=True)

    async def main():
        stream = await client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        outer = otel_context.get_current()
        first = await asyncio.create_task(stream.__anext__())
        rest = await asyncio.gather(asyncio.create_task(_drain(stream)))
        assert otel_context.get_current() is outer
        return [first, *rest[0]]

    chunks = run(main())
    assert len(chunks) > 8
    assert only_span(spans).attributes[OUTCOME] == "completed"
    assert_all_ended()


async def _drain(stream):
    return [c async for c in stream]


def test_instrumentation_dependencies():
    assert OpenAIInstrumentor().instrumentation_dependencies() == ("openai >= 1.66.0",)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_raw_response_cached_before_instrument(spans, is_async):
    """``with_raw_response`` touched before instrument(): still traced; after uninstrument exactly the SDK's own."""
    client = client_for([openai_chat(TEXT), openai_chat_stream(TEXT), openai_chat(TEXT)], is_async)
    raw = client.chat.completions.with_raw_response
    cached = raw.create  # the SDK's wrapper around the unpatched bound method
    raw_cls = type(raw)

    def call(**kwargs):
        result = raw.create(model=MODEL, messages=MESSAGES, **kwargs)
        return run(_await(result)) if is_async else result

    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument()
    try:
        assert call().parse().id
        stream = call(stream=True).parse()
        if is_async:
            run(_drain(stream))
        else:
            list(stream)
    finally:
        instrumentor.uninstrument()
    first, second = spans.get_finished_spans()
    assert first.attributes["gen_ai.response.id"]
    assert second.attributes[OUTCOME] == "completed"
    assert "create" not in vars(raw_cls)
    assert raw.create is cached
    assert call().parse().id
    assert len(spans.get_finished_spans()) == 2


def test_responses_failed_event_marks_the_span(spans, otel):
    client = client_for(openai_responses_stream(TEXT, final_event="response.failed"))
    events = list(client.responses.create(model=MODEL, input="hi", stream=True))
    assert events[-1].type == "response.failed"  # the SDK does not raise: the failure is in-band
    span = only_span(spans)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == events[-1].response.error.code
    assert list(span.attributes["gen_ai.response.finish_reasons"]) == ["error"]
    (point,) = metric_points(otel.reader)["gen_ai.client.operation.duration"]
    assert point.attributes["error.type"] == events[-1].response.error.code


def test_responses_incomplete_is_length(spans, otel):
    client = client_for(openai_responses_stream(TEXT, final_event="response.incomplete"))
    list(client.responses.create(model=MODEL, input="hi", stream=True))
    span = only_span(spans)
    assert list(span.attributes["gen_ai.response.finish_reasons"]) == ["length"]
    assert span.status.status_code is StatusCode.UNSET


def test_azure_prompt_filter_chunk_first(spans, otel):
    """Azure leads some streams with a chunk whose id and model are empty: the real ones still get recorded."""
    wire = openai_chat_stream(TEXT)
    first = json.loads(wire.events()[0][1])
    lead = {**first, "id": "", "model": "", "choices": [], "prompt_filter_results": []}
    wire.chunks.insert(0, f"data: {json.dumps(lead)}\n\n".encode())
    client = client_for(wire, azure=True)
    list(client.chat.completions.create(model="deployment", messages=MESSAGES, stream=True))
    attrs = only_span(spans).attributes
    assert attrs["gen_ai.response.id"] == first["id"]
    assert attrs["gen_ai.response.model"] == first["model"]


def test_server_attributes_follow_a_changed_base_url(spans, otel):
    client = client_for([openai_chat(TEXT), openai_chat(TEXT)])
    client.chat.completions.create(model=MODEL, messages=MESSAGES)
    client.base_url = "http://other-host:9000/v1"
    client.chat.completions.create(model=MODEL, messages=MESSAGES)
    first, second = spans.get_finished_spans()
    assert (first.attributes["server.address"], first.attributes["server.port"]) == ("api.openai.com", 443)
    assert (second.attributes["server.address"], second.attributes["server.port"]) == ("other-host", 9000)


def test_short_lived_clients_leave_nothing_behind(spans, otel):
    from otel_genai.instrumentation.openai import patch

    gc.collect()
    before = len(patch._server_cache)  # clients other tests' libraries keep (litellm caches its own) stay
    for _ in range(20):
        client_for(openai_chat(TEXT)).chat.completions.create(model=MODEL, messages=MESSAGES)
    gc.collect()
    assert len(patch._server_cache) == before
    assert len(spans.get_finished_spans()) == 20

"""GoogleGenAIInstrumentor against the real google-genai SDK, faked only at the HTTP edge (an httpx MockTransport
handed to the SDK through its public ``HttpOptions``), with the Gemini / Vertex AI wire formats of
``support/gemini_wire.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading

import httpx
import pytest
from google.genai import chats, errors, models, types
from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.trace import SpanKind, StatusCode
from support import gemini_wire as wire
from support.telemetry import assert_all_ended, metric_points
from support.wire import Recorder
from test_content_schemas import check_attributes

from otel_genai import Outcome
from otel_genai.instrumentation._llm import INTERRUPTED
from otel_genai.instrumentation.google_genai import GoogleGenAIInstrumentor
from otel_genai.lifecycle import OUTCOME, STREAM_ITEMS

MODEL = "gemini-test"
NAME = f"generate_content {MODEL}"
OURS = "otel_genai.instrumentation.google_genai"
CHUNKS = 3  # stream_chunks("one two three", chunks=3)
tracer = trace.get_tracer("tests.google_genai")


@pytest.fixture
def metrics():
    return InMemoryMetricReader()


@pytest.fixture
def instrumented(metrics):
    instrumentor = GoogleGenAIInstrumentor()
    instrumentor.instrument(meter_provider=MeterProvider(metric_readers=[metrics]))
    yield instrumentor
    instrumentor.uninstrument()


def only_span(spans, name=NAME):
    gc.collect()
    finished = spans.get_finished_spans()
    assert [(s.name, s.instrumentation_scope.name) for s in finished] == [(name, OURS)]
    assert finished[0].kind is SpanKind.CLIENT
    assert_all_ended()
    return finished[0]


CONFIG = types.GenerateContentConfig(
    temperature=0.3,
    top_p=0.9,
    top_k=20,
    max_output_tokens=64,
    stop_sequences=["END"],
    seed=7,
    candidate_count=1,
    presence_penalty=0.1,
    frequency_penalty=0.2,
)
REQUEST_ATTRIBUTES = {
    "gen_ai.request.temperature": 0.3,
    "gen_ai.request.top_p": 0.9,
    "gen_ai.request.top_k": 20,
    "gen_ai.request.max_tokens": 64,
    "gen_ai.request.stop_sequences": ("END",),
    "gen_ai.request.seed": 7,
    "gen_ai.request.choice.count": 1,
    "gen_ai.request.presence_penalty": 0.1,
    "gen_ai.request.frequency_penalty": 0.2,
}


# --- non-stream -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("vertex", [False, True], ids=["gemini", "vertex"])
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_generate_content_attributes_and_usage(spans, instrumented, vertex, is_async):
    body = wire.generate_content(
        "Hi!", usage_metadata=wire.usage(prompt=20, candidates=5, thoughts=7, cached=8), response_id="r-1"
    )
    rec = Recorder()
    c = wire.genai_client(body, vertex=vertex, recorder=rec)
    if is_async:
        response = await c.aio.models.generate_content(model=MODEL, contents="Hello", config=CONFIG)
    else:
        response = c.models.generate_content(model=MODEL, contents="Hello", config=CONFIG)
    assert isinstance(response, types.GenerateContentResponse)
    assert response.text == "Hi!"
    assert rec.last.path.endswith(f"{MODEL}:generateContent")
    span = only_span(spans)
    expected = {
        "gen_ai.operation.name": "generate_content",
        "gen_ai.provider.name": "gcp.vertex_ai" if vertex else "gcp.gemini",
        "gen_ai.request.model": MODEL,
        "server.address": "aiplatform.googleapis.com" if vertex else "generativelanguage.googleapis.com",
        "server.port": 443,
        **REQUEST_ATTRIBUTES,
        "gen_ai.response.model": wire.MODEL_VERSION,
        "gen_ai.response.id": "r-1",
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": 20,
        "gen_ai.usage.output_tokens": 12,  # candidates + thoughts
        "gen_ai.usage.reasoning.output_tokens": 7,
        "gen_ai.usage.cache_read.input_tokens": 8,
    }
    assert {k: span.attributes.get(k) for k in expected} == expected
    assert "gen_ai.request.stream" not in span.attributes
    assert OUTCOME not in span.attributes or span.attributes[OUTCOME] == Outcome.COMPLETED
    assert span.status.status_code is StatusCode.UNSET


def test_config_as_dict_snake_and_camel_case(spans, instrumented):
    c = wire.genai_client([wire.generate_content(), wire.generate_content()])
    c.models.generate_content(
        model=MODEL, contents="x", config={"temperature": 0.5, "max_output_tokens": 9, "stop_sequences": ["a", "b"]}
    )
    c.models.generate_content(model=MODEL, contents="x", config={"topK": 3, "maxOutputTokens": 10, "candidateCount": 2})
    first, second = spans.get_finished_spans()
    assert first.attributes["gen_ai.request.temperature"] == 0.5
    assert first.attributes["gen_ai.request.max_tokens"] == 9
    assert first.attributes["gen_ai.request.stop_sequences"] == ("a", "b")
    assert second.attributes["gen_ai.request.top_k"] == 3
    assert second.attributes["gen_ai.request.max_tokens"] == 10
    assert second.attributes["gen_ai.request.choice.count"] == 2


def test_finish_reasons_per_candidate_and_tool_call(spans, instrumented):
    c = wire.genai_client(
        [
            wire.generate_content("x", candidates=2, finish="MAX_TOKENS"),
            wire.generate_content(parts=[wire.function_call()], finish="STOP"),
            wire.generate_content("x", finish="SAFETY"),
        ]
    )
    c.models.generate_content(model=MODEL, contents="x", config={"candidate_count": 2})
    c.models.generate_content(model=MODEL, contents="x", config={"automatic_function_calling": {"disable": True}})
    c.models.generate_content(model=MODEL, contents="x")
    reasons = [s.attributes["gen_ai.response.finish_reasons"] for s in spans.get_finished_spans()]
    assert reasons == [("length", "length"), ("tool_call",), ("content_filter",)]


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("status", [400, 429, 500])
async def test_http_error_marks_span_and_propagates(spans, instrumented, metrics, is_async, status):
    c = wire.genai_client(wire.error(status))
    with pytest.raises(errors.APIError) as info:
        if is_async:
            await c.aio.models.generate_content(model=MODEL, contents="x")
        else:
            c.models.generate_content(model=MODEL, contents="x")
    span = only_span(spans)
    error_type = f"google.genai.errors.{type(info.value).__name__}"
    assert span.attributes["error.type"] == error_type
    assert span.attributes[OUTCOME] == Outcome.ERROR
    assert span.status.status_code is StatusCode.ERROR
    assert span.events[0].attributes["exception.type"] == error_type
    (point,) = metric_points(metrics)["gen_ai.client.operation.duration"]
    assert point.attributes["error.type"] == error_type


# --- streams ----------------------------------------------------------------------------------------------------


def consume_sync(stream, mode):
    """Consume a sync stream (a generator) as ``mode`` says; returns the texts read."""
    texts = []
    if mode == "full":
        texts = [chunk.text for chunk in stream]
    elif mode == "break_close":
        for chunk in stream:
            texts.append(chunk.text)
            break
        stream.close()
    elif mode == "with_exit":
        with contextlib.closing(stream) as s:
            texts.append(next(s).text)
    elif mode == "drop_gc":  # the caller drops it
        texts.append(next(stream).text)
    return texts


async def consume_async(stream, mode):
    texts = []
    if mode == "full":
        texts = [chunk.text async for chunk in stream]
    elif mode == "break_close":
        async for chunk in stream:
            texts.append(chunk.text)
            break
        await stream.aclose()
    elif mode == "with_exit":
        async with contextlib.aclosing(stream) as s:
            texts.append((await s.__anext__()).text)
    elif mode == "drop_gc":  # the caller drops it (see settle)
        texts.append((await stream.__anext__()).text)
    return texts


async def settle():
    """Collect garbage and let the loop run the tasks in which its finalizer closes dropped async generators."""
    gc.collect()
    for _ in range(5):
        await asyncio.sleep(0)


EXPECTED = {
    "full": Outcome.COMPLETED,
    "break_close": Outcome.STOPPED_EARLY,
    "with_exit": Outcome.STOPPED_EARLY,
    "drop_gc": Outcome.STOPPED_EARLY,  # Python (or the loop) closes a dropped generator it had started
}


@pytest.mark.parametrize("mode", list(EXPECTED))
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("vertex", [False, True], ids=["gemini", "vertex"])
async def test_stream_lifecycles(spans, instrumented, metrics, vertex, is_async, mode):
    rec = Recorder()
    body = wire.generate_content_stream(usage_metadata=wire.usage(prompt=11, candidates=3, thoughts=2, cached=4))
    c = wire.genai_client(body, vertex=vertex, recorder=rec)
    if is_async:
        call = c.aio.models.generate_content_stream(model=MODEL, contents="Hi", config=CONFIG)
        assert asyncio.iscoroutine(call)  # a coroutine resolving to an async iterator, as without us
        stream = await call
        assert hasattr(stream, "__anext__")
        assert rec.requests == []  # the request starts at the first next
        texts = await consume_async(stream, mode)
    else:
        stream = c.models.generate_content_stream(model=MODEL, contents="Hi", config=CONFIG)
        assert rec.requests == []
        texts = consume_sync(stream, mode)
    del stream
    await settle()
    assert texts[0] == "one "
    assert rec.last.url.endswith(":streamGenerateContent?alt=sse")
    span = only_span(spans)
    assert span.attributes[OUTCOME] == EXPECTED[mode]
    assert span.attributes["gen_ai.request.stream"] is True
    assert span.attributes["gen_ai.provider.name"] == ("gcp.vertex_ai" if vertex else "gcp.gemini")
    assert span.attributes["gen_ai.request.temperature"] == 0.3
    assert span.attributes["gen_ai.response.model"] == wire.MODEL_VERSION
    assert span.attributes["gen_ai.response.id"].startswith("resp-")
    assert span.attributes["gen_ai.response.time_to_first_chunk"] >= 0
    points = metric_points(metrics)
    (duration,) = points["gen_ai.client.operation.duration"]
    (first_chunk,) = points["gen_ai.client.operation.time_to_first_chunk"]
    assert first_chunk.sum <= duration.sum
    if mode == "full":
        assert texts == ["one ", "two ", "three"]
        assert span.attributes[STREAM_ITEMS] == CHUNKS
        assert span.attributes["gen_ai.response.finish_reasons"] == ("stop",)
        assert span.attributes["gen_ai.usage.input_tokens"] == 11
        assert span.attributes["gen_ai.usage.output_tokens"] == 5
        assert span.attributes["gen_ai.usage.reasoning.output_tokens"] == 2
        assert span.attributes["gen_ai.usage.cache_read.input_tokens"] == 4
        tokens = {p.attributes["gen_ai.token.type"]: p.sum for p in points["gen_ai.client.token.usage"]}
        assert tokens == {"input": 11, "output": 5}
    else:
        assert span.attributes[STREAM_ITEMS] == 1
        assert "gen_ai.response.finish_reasons" not in span.attributes
        assert span.attributes["gen_ai.usage.input_tokens"] == 12  # what the chunks read so far reported


def test_unstarted_stream_dropped_is_abandoned(spans, instrumented):
    c = wire.genai_client(wire.generate_content_stream())
    stream = c.models.generate_content_stream(model=MODEL, contents="Hi")
    del stream
    span = only_span(spans)
    assert span.attributes[OUTCOME] == Outcome.ABANDONED


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_stream_broken_mid_stream(spans, instrumented, is_async):
    c = wire.genai_client(wire.generate_content_stream().broken(after=2))
    texts = []
    with pytest.raises(httpx.ReadError) as info:
        if is_async:
            async for chunk in await c.aio.models.generate_content_stream(model=MODEL, contents="Hi"):
                texts.append(chunk.text)
        else:
            for chunk in c.models.generate_content_stream(model=MODEL, contents="Hi"):
                texts.append(chunk.text)
    assert texts == ["one ", "two "]
    span = only_span(spans)
    assert span.attributes[OUTCOME] == Outcome.ERROR
    assert span.attributes["error.type"] == "httpx.ReadError"
    assert span.attributes[STREAM_ITEMS] == 2
    assert str(info.value) == "simulated connection drop"


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_stream_http_error_status(spans, instrumented, is_async):
    c = wire.genai_client(wire.error(503, "overloaded"))
    with pytest.raises(errors.ServerError):
        if is_async:
            stream = await c.aio.models.generate_content_stream(model=MODEL, contents="Hi")
            await stream.__anext__()
        else:
            next(c.models.generate_content_stream(model=MODEL, contents="Hi"))
    span = only_span(spans)
    assert span.attributes["error.type"] == "google.genai.errors.ServerError"
    assert span.attributes[OUTCOME] == Outcome.ERROR


async def test_async_stream_cancelled(spans, instrumented):
    c = wire.genai_client(wire.generate_content_stream())
    stream = await c.aio.models.generate_content_stream(model=MODEL, contents="Hi")
    reading = asyncio.Event()
    never = asyncio.Event()

    async def read():
        async for _ in stream:
            reading.set()
            await never.wait()  # the consumer is cancelled while it holds a chunk

    task = asyncio.create_task(read())
    await reading.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await stream.aclose()
    span = only_span(spans)
    assert span.attributes[OUTCOME] in (Outcome.STOPPED_EARLY, Outcome.CANCELLED)


async def test_async_stream_cancelled_inside_the_sdk(spans, instrumented):
    """Cancelled while the SDK awaits the network: the span says cancelled."""
    gate = asyncio.Event()

    async def slow(request):
        await gate.wait()
        return httpx.Response(200)

    from google import genai

    client = genai.Client(
        api_key="test",
        http_options=types.HttpOptions(
            httpx_async_client=httpx.AsyncClient(transport=httpx.MockTransport(slow)),
            retry_options=types.HttpRetryOptions(attempts=1),
        ),
    )
    stream = await client.aio.models.generate_content_stream(model=MODEL, contents="Hi")
    task = asyncio.create_task(stream.__anext__())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    span = only_span(spans)
    assert span.attributes[OUTCOME] == Outcome.CANCELLED


# --- parents: the caller's span at call time, wherever the stream is read --------------------------------------


async def test_async_stream_read_in_another_task_keeps_the_callers_parent(spans, instrumented):
    c = wire.genai_client(wire.generate_content_stream())
    with tracer.start_as_current_span("caller") as caller:
        stream = await c.aio.models.generate_content_stream(model=MODEL, contents="Hi")

    async def reader():
        with tracer.start_as_current_span("reader"):
            return [chunk.text async for chunk in stream]

    assert await asyncio.create_task(reader()) == ["one ", "two ", "three"]
    gc.collect()
    (span,) = [s for s in spans.get_finished_spans() if s.name == NAME]
    assert span.parent.span_id == caller.get_span_context().span_id
    assert span.attributes[OUTCOME] == Outcome.COMPLETED
    assert_all_ended()


def test_sync_stream_read_in_another_thread_keeps_the_callers_parent(spans, instrumented):
    c = wire.genai_client(wire.generate_content_stream())
    with tracer.start_as_current_span("caller") as caller:
        stream = c.models.generate_content_stream(model=MODEL, contents="Hi")
    out = []
    thread = threading.Thread(target=lambda: out.extend(chunk.text for chunk in stream))
    thread.start()
    thread.join()
    assert out == ["one ", "two ", "three"]
    (span,) = [s for s in spans.get_finished_spans() if s.name == NAME]
    assert span.parent.span_id == caller.get_span_context().span_id


# --- chat sessions ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_chat_send_message_is_one_generate_content_span_per_turn(spans, instrumented, capture_content, is_async):
    rec = Recorder()
    c = wire.genai_client([wire.generate_content("first"), wire.generate_content("second")], recorder=rec)
    with tracer.start_as_current_span("caller") as caller:
        if is_async:
            chat = c.aio.chats.create(model=MODEL, config={"temperature": 0.1})
            assert (await chat.send_message("one")).text == "first"
            assert (await chat.send_message("two")).text == "second"
        else:
            chat = c.chats.create(model=MODEL, config={"temperature": 0.1})
            assert chat.send_message("one").text == "first"
            assert chat.send_message("two").text == "second"
    finished = [s for s in spans.get_finished_spans() if s.name != "caller"]
    assert [s.name for s in finished] == [NAME, NAME]
    assert all(s.parent.span_id == caller.get_span_context().span_id for s in finished)
    assert finished[1].attributes["gen_ai.request.temperature"] == 0.1
    found = check_attributes(finished[1].attributes)
    roles = [m["role"] for m in found["gen_ai.input.messages"]]
    assert roles == ["user", "assistant", "user"]  # the session's history goes with the second turn
    assert found["gen_ai.output.messages"][0]["parts"] == [{"type": "text", "content": "second"}]


@pytest.mark.parametrize("elsewhere", [False, True], ids=["here", "other_task"])
async def test_async_chat_stream_parent_is_the_callers_span(spans, instrumented, elsewhere):
    c = wire.genai_client(wire.generate_content_stream())
    chat = c.aio.chats.create(model=MODEL)
    with tracer.start_as_current_span("caller") as caller:
        call = chat.send_message_stream("Hi")
    assert asyncio.iscoroutine(call)

    async def read():
        with tracer.start_as_current_span("reader"):
            return [chunk.text async for chunk in await call]

    texts = await (asyncio.create_task(read()) if elsewhere else read())
    assert texts == ["one ", "two ", "three"]
    gc.collect()
    (span,) = [s for s in spans.get_finished_spans() if s.name == NAME]
    assert span.parent.span_id == caller.get_span_context().span_id
    assert span.attributes[OUTCOME] == Outcome.COMPLETED
    assert span.attributes[STREAM_ITEMS] == CHUNKS
    history = chat.get_history()
    assert history[0].parts[0].text == "Hi" and history[-1].role == "model"  # the session recorded the turn
    assert_all_ended()


@pytest.mark.parametrize("mode", list(EXPECTED))
def test_sync_chat_stream_lifecycles(spans, instrumented, mode):
    c = wire.genai_client(wire.generate_content_stream())
    chat = c.chats.create(model=MODEL)
    with tracer.start_as_current_span("caller") as caller:
        stream = chat.send_message_stream("Hi")
    with tracer.start_as_current_span("reader"):
        texts = consume_sync(stream, mode)
    del stream
    assert texts[0] == "one "
    gc.collect()
    (span,) = [s for s in spans.get_finished_spans() if s.name == NAME]
    assert span.parent.span_id == caller.get_span_context().span_id
    assert span.attributes[OUTCOME] == EXPECTED[mode]
    assert_all_ended()


# --- embeddings -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_embed_content_gemini(spans, instrumented, capture_content, is_async):
    rec = Recorder()
    c = wire.genai_client(wire.batch_embed_contents(count=2, dimensions=8), recorder=rec)
    kwargs = {"model": "text-embedding-004", "contents": ["a", "b"], "config": {"output_dimensionality": 8}}
    if is_async:
        response = await c.aio.models.embed_content(**kwargs)
    else:
        response = c.models.embed_content(**kwargs)
    assert len(response.embeddings) == 2
    assert rec.last.path.endswith(":batchEmbedContents")
    span = only_span(spans, "embeddings text-embedding-004")
    assert span.attributes["gen_ai.operation.name"] == "embeddings"
    assert span.attributes["gen_ai.provider.name"] == "gcp.gemini"
    assert span.attributes["gen_ai.embeddings.dimension.count"] == 8
    assert "gen_ai.usage.input_tokens" not in span.attributes  # the Gemini API does not report it
    found = check_attributes(span.attributes)
    assert found["gen_ai.input.messages"] == [
        {"role": "user", "parts": [{"type": "text", "content": "a"}, {"type": "text", "content": "b"}]}
    ]
    assert "gen_ai.output.messages" not in found


def test_embed_content_vertex_counts_tokens(spans, instrumented, metrics):
    rec = Recorder()
    c = wire.genai_client(wire.vertex_predict_embeddings([3, 4]), vertex=True, recorder=rec)
    c.models.embed_content(model="text-embedding-004", contents=["abc", "defg"])
    assert rec.last.path.endswith(":predict")
    span = only_span(spans, "embeddings text-embedding-004")
    assert span.attributes["gen_ai.provider.name"] == "gcp.vertex_ai"
    assert span.attributes["gen_ai.usage.input_tokens"] == 7
    tokens = {p.attributes["gen_ai.token.type"]: p.sum for p in metric_points(metrics)["gen_ai.client.token.usage"]}
    assert tokens == {"input": 7}


# --- content ----------------------------------------------------------------------------------------------------

WEATHER = types.FunctionDeclaration(
    name="get_weather",
    description="The weather in a city.",
    parameters=types.Schema(type="OBJECT", properties={"city": types.Schema(type="STRING")}, required=["city"]),
)


def _content_call(c, stream):
    config = types.GenerateContentConfig(
        system_instruction="Be brief.",
        tools=[types.Tool(function_declarations=[WEATHER])],
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
    )
    contents = [
        types.Content(role="user", parts=[types.Part.from_text(text="Weather in Paris?")]),
        types.Content(role="model", parts=[types.Part.from_function_call(name="get_weather", args={"city": "Paris"})]),
        types.Content(
            role="user", parts=[types.Part.from_function_response(name="get_weather", response={"temp": 21})]
        ),
        types.Part.from_bytes(data=b"\x89PNG", mime_type="image/png"),
    ]
    if stream:
        return list(c.models.generate_content_stream(model=MODEL, contents=contents, config=config))
    return c.models.generate_content(model=MODEL, contents=contents, config=config)


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_content_capture_validates(spans, instrumented, capture_content, stream):
    if stream:
        body = wire.generate_content_stream(thought="Thinking.", tail=[wire.function_call("get_weather")])
    else:
        body = wire.generate_content(parts=[{"text": "Thinking.", "thought": True}, {"text": "one two three"}])
    _content_call(wire.genai_client(body), stream)
    span = only_span(spans)
    found = check_attributes(span.attributes)
    assert set(found) == {
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.system_instructions",
        "gen_ai.tool.definitions",
    }
    assert [m["role"] for m in found["gen_ai.input.messages"]] == ["user", "assistant", "tool", "user"]
    assert found["gen_ai.input.messages"][1]["parts"][0] == {
        "type": "tool_call",
        "id": None,
        "name": "get_weather",
        "arguments": {"city": "Paris"},
    }
    assert found["gen_ai.input.messages"][3]["parts"][0]["type"] == "blob"
    assert found["gen_ai.system_instructions"] == [{"type": "text", "content": "Be brief."}]
    (tool,) = found["gen_ai.tool.definitions"]
    assert tool["name"] == "get_weather"
    assert tool["parameters"]["type"] == "object"
    (output,) = found["gen_ai.output.messages"]
    assert output["parts"][:2] == [
        {"type": "reasoning", "content": "Thinking."},
        {"type": "text", "content": "one two three"},
    ]
    if stream:
        assert output["parts"][2]["type"] == "tool_call"
        assert output["finish_reason"] == "tool_call"
    else:
        assert output["finish_reason"] == "stop"


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_no_content_without_opt_in(spans, instrumented, stream):
    body = wire.generate_content_stream() if stream else wire.generate_content()
    _content_call(wire.genai_client(body), stream)
    span = only_span(spans)
    assert not [k for k in span.attributes if k.startswith(("gen_ai.input", "gen_ai.output", "gen_ai.system"))]
    assert "gen_ai.tool.definitions" not in span.attributes


def test_content_of_a_stream_stopped_early_is_what_was_read(spans, instrumented, capture_content):
    c = wire.genai_client(wire.generate_content_stream())
    stream = c.models.generate_content_stream(model=MODEL, contents="Hi")
    next(stream)
    next(stream)
    stream.close()
    span = only_span(spans)
    (output,) = check_attributes(span.attributes)["gen_ai.output.messages"]
    assert output["parts"] == [{"type": "text", "content": "one two "}]
    assert output["finish_reason"] == INTERRUPTED


def test_afc_python_function_is_a_tool_definition(spans, instrumented, capture_content):
    def get_weather(city: str) -> str:
        """The weather in a city."""
        return "sunny"

    c = wire.genai_client([wire.generate_content(parts=[wire.function_call()]), wire.generate_content("Sunny.")])
    response = c.models.generate_content(model=MODEL, contents="Weather?", config={"tools": [get_weather]})
    assert response.text == "Sunny."
    span = only_span(spans)  # one SDK call, two requests: one span, the final response's usage
    found = check_attributes(span.attributes)
    assert found["gen_ai.tool.definitions"] == [
        {"type": "function", "name": "get_weather", "description": "The weather in a city."}
    ]


# --- instrumentor -----------------------------------------------------------------------------------------------


METHODS = ("generate_content", "generate_content_stream", "embed_content", "send_message", "send_message_stream")


def _sdk_functions():
    return {
        (cls.__name__, name): vars(cls)[name]
        for cls in (models.Models, models.AsyncModels, chats.Chat, chats.AsyncChat)
        for name in METHODS
        if name in vars(cls)
    }


def test_uninstrument_restores_exactly(spans):
    before = _sdk_functions()
    instrumentor = GoogleGenAIInstrumentor()
    instrumentor.instrument()
    patched = _sdk_functions()
    assert {k for k in before if patched[k] is not before[k]} == {
        ("Models", "generate_content"),
        ("Models", "generate_content_stream"),
        ("Models", "embed_content"),
        ("AsyncModels", "generate_content"),
        ("AsyncModels", "generate_content_stream"),
        ("AsyncModels", "embed_content"),
        ("Chat", "send_message_stream"),
        ("AsyncChat", "send_message"),
        ("AsyncChat", "send_message_stream"),
    }
    instrumentor.uninstrument()
    after = _sdk_functions()
    assert all(after[k] is before[k] for k in before)
    wire.genai_client(wire.generate_content()).models.generate_content(model=MODEL, contents="x")
    assert spans.get_finished_spans() == ()


def test_instrument_twice_is_harmless(spans):
    instrumentor = GoogleGenAIInstrumentor()
    instrumentor.instrument()
    instrumentor.instrument()
    try:
        wire.genai_client(wire.generate_content()).models.generate_content(model=MODEL, contents="x")
        only_span(spans)
    finally:
        instrumentor.uninstrument()
    assert "__wrapped__" not in dir(models.Models.generate_content)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_suppress_instrumentation_silences_every_span(spans, instrumented, is_async):
    c = wire.genai_client([wire.generate_content(), wire.generate_content_stream(), wire.generate_content_stream()])
    with suppress_instrumentation():
        if is_async:
            await c.aio.models.generate_content(model=MODEL, contents="x")
            assert [x.text async for x in await c.aio.models.generate_content_stream(model=MODEL, contents="x")]
            chat = c.aio.chats.create(model=MODEL)
            assert [x.text async for x in await chat.send_message_stream("x")]
        else:
            c.models.generate_content(model=MODEL, contents="x")
            assert [x.text for x in c.models.generate_content_stream(model=MODEL, contents="x")]
            assert [x.text for x in c.chats.create(model=MODEL).send_message_stream("x")]
    gc.collect()
    assert spans.get_finished_spans() == ()
    assert_all_ended()


async def test_concurrent_async_streams_each_end_once(spans, instrumented):
    c = wire.genai_client(lambda _request: wire.generate_content_stream())

    async def one(i):
        with tracer.start_as_current_span(f"caller-{i}") as caller:
            stream = await c.aio.models.generate_content_stream(model=MODEL, contents="Hi")
            texts = [chunk.text async for chunk in stream]
        return caller, texts

    results = await asyncio.gather(*(one(i) for i in range(8)))
    ours = [s for s in spans.get_finished_spans() if s.name == NAME]
    assert len(ours) == 8
    parents = {s.parent.span_id for s in ours}
    assert parents == {caller.get_span_context().span_id for caller, _ in results}
    assert all(s.attributes[OUTCOME] == Outcome.COMPLETED for s in ours)
    assert_all_ended()


def test_patched_when_google_genai_is_imported_after_instrument():
    """The table waits for ``google.genai`` (a dotted name): instrument() imports nothing, the import patches."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from otel_genai.instrumentation.google_genai import GoogleGenAIInstrumentor\n"
        "GoogleGenAIInstrumentor().instrument()\n"
        "assert 'google.genai' not in sys.modules\n"
        "import google.auth\n"  # another package of the `google` namespace does not trigger it
        "assert 'google.genai' not in sys.modules\n"
        "from google import genai\n"
        "from google.genai import models\n"
        "print(hasattr(models.Models.generate_content, '__wrapped__'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"

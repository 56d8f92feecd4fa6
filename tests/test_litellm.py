"""LiteLLMInstrumentor against the real litellm, its providers faked at the HTTP edge: a local uvicorn server on
127.0.0.1 (``api_base``) speaking the OpenAI and Anthropic wire formats (tests/support/wire.py).

Every test checks there is exactly one CLIENT span per call; the OpenAI instrumentor's tests at the end check it
with both instrumentors on, in both orders.
"""

from __future__ import annotations

import asyncio
import gc

import litellm
import pytest
from litellm.litellm_core_utils.streaming_handler import CustomStreamWrapper
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.trace import SpanKind, StatusCode
from support.provider_server import provider
from support.telemetry import assert_all_ended, metric_points
from support.wire import (
    anthropic_message,
    anthropic_message_stream,
    openai_chat,
    openai_chat_stream,
    openai_embeddings,
    openai_error,
    openai_tool_call,
)
from test_content_schemas import check_attributes

from otel_genai import content
from otel_genai.instrumentation._llm import INTERRUPTED, OPERATION_DETAILS_EVENT
from otel_genai.instrumentation.litellm import LiteLLMInstrumentor
from otel_genai.instrumentation.litellm.calls import provider_name
from otel_genai.instrumentation.openai import OpenAIInstrumentor
from otel_genai.lifecycle import OUTCOME, STREAM_ITEMS

OURS = "otel_genai.instrumentation.litellm"
MESSAGES = [{"role": "user", "content": "Hi"}]
TEXT = "one two three four"


@pytest.fixture(scope="module")
def fake():
    with provider() as server:
        yield server


@pytest.fixture
def server(fake):
    fake.reset()
    yield fake
    fake.reset()


@pytest.fixture
def metrics():
    return InMemoryMetricReader()


@pytest.fixture
def instrumented(metrics):
    instrumentor = LiteLLMInstrumentor()
    instrumentor.instrument(meter_provider=MeterProvider(metric_readers=[metrics]))
    yield instrumentor
    instrumentor.uninstrument()


def openai_kw(server, **kw):
    return {"model": "openai/gpt-4o-mini", "messages": MESSAGES, "api_base": server.url + "/v1", "api_key": "k", **kw}


def anthropic_kw(server, **kw):
    return {"model": "anthropic/claude-test", "messages": MESSAGES, "api_base": server.url, "api_key": "k", **kw}


def only_span(spans, name="chat gpt-4o-mini"):
    gc.collect()
    finished = spans.get_finished_spans()
    assert [(s.name, s.instrumentation_scope.name) for s in finished] == [(name, OURS)]
    assert finished[0].kind is SpanKind.CLIENT
    assert_all_ended()
    return finished[0]


def tokens(reader):
    points = metric_points(reader).get("gen_ai.client.token.usage", [])
    return sorted((p.attributes["gen_ai.token.type"], p.sum, p.count) for p in points)


# --- non-stream ---------------------------------------------------------------------------------------------------


def test_completion_routed_to_openai(instrumented, server, spans, metrics):
    server.push(openai_chat(TEXT, model="gpt-4o-mini-2024-07-18", prompt_tokens=21, completion_tokens=6))
    response = litellm.completion(**openai_kw(server, temperature=0.2, max_tokens=50, seed=7, stop="END"))
    assert isinstance(response, litellm.ModelResponse)
    assert response.choices[0].message.content == TEXT
    span = only_span(spans)
    attrs = span.attributes
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.provider.name"] == "openai"
    assert attrs["gen_ai.request.model"] == "gpt-4o-mini"
    assert attrs["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
    assert attrs["gen_ai.response.id"] == response.id
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
    assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (21, 6)
    assert attrs["gen_ai.request.temperature"] == 0.2
    assert attrs["gen_ai.request.max_tokens"] == 50
    assert attrs["gen_ai.request.seed"] == 7
    assert attrs["gen_ai.request.stop_sequences"] == ("END",)
    assert attrs["server.address"] == "127.0.0.1"
    assert OUTCOME not in attrs  # a plain value
    assert "openai.response.service_tier" not in attrs
    assert server.requests[0].path == "/v1/chat/completions"
    assert tokens(metrics) == [("input", 21, 1), ("output", 6, 1)]
    (duration,) = metric_points(metrics)["gen_ai.client.operation.duration"]
    assert duration.attributes["gen_ai.provider.name"] == "openai"
    assert duration.attributes["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
    assert "gen_ai.client.operation.time_to_first_chunk" not in metric_points(metrics)


def test_completion_routed_to_anthropic(instrumented, server, spans, metrics):
    server.push(anthropic_message(TEXT, model="claude-test-20250929", input_tokens=9, output_tokens=4))
    response = litellm.completion(**anthropic_kw(server, max_tokens=30, top_k=5))
    assert response.choices[0].message.content == TEXT
    attrs = only_span(spans, "chat claude-test").attributes
    assert attrs["gen_ai.provider.name"] == "anthropic"
    assert attrs["gen_ai.request.model"] == "claude-test"
    assert attrs["gen_ai.response.model"] == "claude-test-20250929"
    assert attrs["gen_ai.request.top_k"] == 5
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
    assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (9, 4)
    assert server.requests[0].path == "/v1/messages"
    assert tokens(metrics) == [("input", 9, 1), ("output", 4, 1)]


def test_positional_model_and_messages(instrumented, server, spans):
    server.push(openai_chat(TEXT))
    litellm.completion("openai/gpt-4o-mini", MESSAGES, api_base=server.url + "/v1", api_key="k")
    assert only_span(spans).attributes["gen_ai.request.model"] == "gpt-4o-mini"


async def test_acompletion(instrumented, server, spans, metrics):
    server.push(openai_chat(TEXT, prompt_tokens=3, completion_tokens=2))
    response = await litellm.acompletion(**openai_kw(server))
    assert isinstance(response, litellm.ModelResponse)
    attrs = only_span(spans).attributes
    assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (3, 2)
    assert tokens(metrics) == [("input", 3, 1), ("output", 2, 1)]


@pytest.mark.parametrize("is_async", [False, True])
def test_http_error_ends_the_span_as_error(instrumented, server, spans, is_async):
    server.push(openai_error(404))
    with pytest.raises(litellm.NotFoundError) as raised:
        if is_async:
            asyncio.run(litellm.acompletion(**openai_kw(server)))
        else:
            litellm.completion(**openai_kw(server))
    span = only_span(spans)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == f"{type(raised.value).__module__}.{type(raised.value).__qualname__}"
    assert span.attributes[OUTCOME] == "error"


@pytest.mark.parametrize("is_async", [False, True])
def test_embedding(instrumented, server, spans, metrics, is_async):
    server.push(openai_embeddings(2, prompt_tokens=7))
    kw = {"model": "openai/text-embedding-3-small", "input": ["a", "b"], "api_base": server.url + "/v1"}
    if is_async:
        response = asyncio.run(litellm.aembedding(**kw, api_key="k", dimensions=8))
    else:
        response = litellm.embedding(**kw, api_key="k", dimensions=8)
    assert len(response.data) == 2
    attrs = only_span(spans, "embeddings text-embedding-3-small").attributes
    assert attrs["gen_ai.operation.name"] == "embeddings"
    assert attrs["gen_ai.provider.name"] == "openai"
    assert attrs["gen_ai.usage.input_tokens"] == 7
    assert attrs["gen_ai.embeddings.dimension.count"] == 8
    assert tokens(metrics) == [("input", 7, 1)]


@pytest.mark.parametrize("is_async", [False, True])
def test_text_completion(instrumented, server, spans, is_async):
    server.push(openai_chat(TEXT, prompt_tokens=4, completion_tokens=3))
    kw = {"model": "openai/gpt-4o-mini", "prompt": "Say it", "api_base": server.url + "/v1", "api_key": "k"}
    response = asyncio.run(litellm.atext_completion(**kw)) if is_async else litellm.text_completion(**kw)
    assert response.choices[0].text == TEXT
    attrs = only_span(spans, "text_completion gpt-4o-mini").attributes
    assert attrs["gen_ai.operation.name"] == "text_completion"
    assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (4, 3)
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)


# --- streams ------------------------------------------------------------------------------------------------------


def test_stream_full_read_sync(instrumented, server, spans, metrics):
    wire = openai_chat_stream(TEXT, chunks=4, prompt_tokens=8, completion_tokens=4)
    server.push(wire)
    stream = litellm.completion(**openai_kw(server, stream=True, stream_options={"include_usage": True}))
    assert isinstance(stream, CustomStreamWrapper)
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == TEXT
    attrs = only_span(spans).attributes
    assert attrs[OUTCOME] == "completed"
    assert attrs[STREAM_ITEMS] == len(chunks)
    assert attrs["gen_ai.request.stream"] is True
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)
    assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (8, 4)
    assert attrs["gen_ai.response.time_to_first_chunk"] > 0
    assert tokens(metrics) == [("input", 8, 1), ("output", 4, 1)]
    points = metric_points(metrics)
    assert len(points["gen_ai.client.operation.time_to_first_chunk"]) == 1
    assert points["gen_ai.client.operation.duration"][0].count == 1


async def test_stream_full_read_async(instrumented, server, spans, metrics):
    server.push(openai_chat_stream(TEXT, prompt_tokens=8, completion_tokens=4))
    stream = await litellm.acompletion(**openai_kw(server, stream=True, stream_options={"include_usage": True}))
    assert isinstance(stream, CustomStreamWrapper)
    chunks = [c async for c in stream]
    attrs = only_span(spans).attributes
    assert attrs[OUTCOME] == "completed"
    assert attrs[STREAM_ITEMS] == len(chunks) > 1
    assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (8, 4)
    assert tokens(metrics) == [("input", 8, 1), ("output", 4, 1)]


def test_stream_from_anthropic(instrumented, server, spans):
    server.push(anthropic_message_stream(TEXT, chunks=3))
    stream = litellm.completion(**anthropic_kw(server, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == TEXT
    attrs = only_span(spans, "chat claude-test").attributes
    assert attrs["gen_ai.provider.name"] == "anthropic"
    assert attrs[OUTCOME] == "completed"
    assert attrs["gen_ai.response.finish_reasons"] == ("stop",)


def test_text_completion_stream(instrumented, server, spans):
    server.push(openai_chat_stream(TEXT, chunks=3))
    kw = {"model": "openai/gpt-4o-mini", "prompt": "Say it", "api_base": server.url + "/v1", "api_key": "k"}
    stream = litellm.text_completion(**kw, stream=True)
    text = "".join(c.choices[0].text or "" for c in stream if c.choices)
    assert text == TEXT
    attrs = only_span(spans, "text_completion gpt-4o-mini").attributes
    assert attrs[OUTCOME] == "completed"
    assert attrs[STREAM_ITEMS] >= 3


SYNC_ENDINGS = ["break_close", "with_exit", "drop", "http_error"]
ASYNC_ENDINGS = ["break_aclose", "break_close", "async_with_exit", "drop", "http_error", "cancel"]
EXPECTED = {
    "break_close": "stopped_early",
    "break_aclose": "stopped_early",
    "with_exit": "stopped_early",
    "async_with_exit": "stopped_early",
    "drop": "abandoned",
    "http_error": "error",
    "cancel": "cancelled",
}


@pytest.mark.parametrize("ending", SYNC_ENDINGS)
def test_stream_endings_sync(instrumented, server, spans, ending):
    wire = openai_chat_stream(TEXT, chunks=4)
    server.push(wire.broken(3) if ending == "http_error" else wire)
    stream = litellm.completion(**openai_kw(server, stream=True))
    if ending == "break_close":
        for _ in stream:
            break
        stream.close()
    elif ending == "with_exit":
        with stream as entered:
            assert next(entered).choices
    elif ending == "drop":
        next(stream)
        del stream
    else:
        with pytest.raises(Exception) as raised:  # LiteLLM maps the dropped connection to its own error
            list(stream)
        assert type(raised.value).__module__.startswith(("litellm", "openai", "httpx"))
    span = only_span(spans)
    assert span.attributes[OUTCOME] == EXPECTED[ending]
    if ending == "http_error":
        assert span.status.status_code is StatusCode.ERROR
        assert span.attributes["error.type"]
    else:
        assert span.attributes[STREAM_ITEMS] == 1


@pytest.mark.parametrize("ending", ASYNC_ENDINGS)
async def test_stream_endings_async(instrumented, server, spans, ending):
    wire = openai_chat_stream(TEXT, chunks=4)
    if ending == "cancel":
        server.push(wire, hang_after=1)
    else:
        server.push(wire.broken(3) if ending == "http_error" else wire)
    stream = await litellm.acompletion(**openai_kw(server, stream=True))
    if ending in ("break_aclose", "break_close"):
        async for _ in stream:
            break
        if ending == "break_aclose":
            await stream.aclose()
        else:
            stream.close()
    elif ending == "async_with_exit":
        async with stream as entered:
            assert (await entered.__anext__()).choices
    elif ending == "drop":
        await stream.__anext__()
        del stream
    elif ending == "cancel":
        await stream.__anext__()
        task = asyncio.ensure_future(stream.__anext__())
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await stream.aclose()
    else:
        with pytest.raises(Exception):  # noqa: B017
            async for _ in stream:
                pass
    span = only_span(spans)
    assert span.attributes[OUTCOME] == EXPECTED[ending]
    if ending != "http_error":
        assert span.attributes[STREAM_ITEMS] == 1


# --- content --------------------------------------------------------------------------------------------------------


@pytest.fixture
def logs():
    return InMemoryLogRecordExporter()


@pytest.fixture
def capturing(monkeypatch, metrics, logs):
    monkeypatch.setenv(content.CAPTURE_ENV, "SPAN_AND_EVENT")
    content.reload()
    provider_ = LoggerProvider()
    provider_.add_log_record_processor(SimpleLogRecordProcessor(logs))
    instrumentor = LiteLLMInstrumentor()
    instrumentor.instrument(meter_provider=MeterProvider(metric_readers=[metrics]), logger_provider=provider_)
    yield instrumentor
    instrumentor.uninstrument()
    monkeypatch.delenv(content.CAPTURE_ENV)
    content.reload()


def check_call(spans, logs, outcome, expect):
    """The call's span and event (the pattern of tests/test_content_schemas.py): outcome and content as expected,
    every content attribute valid against the conventions' JSON schemas, the event carrying the same content."""
    span = only_span(spans, spans.get_finished_spans()[0].name)
    assert span.attributes.get(OUTCOME) == outcome
    found = check_attributes(span.attributes)
    assert set(found) == expect
    (record,) = [r.log_record for r in logs.get_finished_logs() if r.log_record.event_name == OPERATION_DETAILS_EVENT]
    assert check_attributes(record.attributes) == found
    for message in found.get("gen_ai.output.messages", ()):
        assert message["finish_reason"] == (
            INTERRUPTED if outcome not in (None, "completed") else message["finish_reason"]
        )
    return found


def test_content_off_by_default(instrumented, server, spans):
    server.push(openai_chat(TEXT))
    litellm.completion(**openai_kw(server))
    assert not [k for k in only_span(spans).attributes if k.startswith(("gen_ai.input", "gen_ai.output"))]


def test_content_of_a_completion_with_tools(capturing, server, spans, logs):
    call = openai_tool_call("get_weather", {"city": "Paris"}, id="call_1")
    server.push(openai_chat(None, tool_calls=[call]))
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    messages = [{"role": "system", "content": "Be brief."}, *MESSAGES]
    litellm.completion(**{**openai_kw(server, tools=tools), "messages": messages})
    found = check_call(
        spans, logs, None, {"gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.tool.definitions"}
    )
    assert found["gen_ai.output.messages"][0]["parts"] == [
        {"type": "tool_call", "id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}}
    ]
    assert found["gen_ai.output.messages"][0]["finish_reason"] == "tool_calls"


@pytest.mark.parametrize("stop_early", [False, True])
def test_content_of_a_stream(capturing, server, spans, logs, stop_early):
    server.push(openai_chat_stream(TEXT, chunks=4))
    stream = litellm.completion(**openai_kw(server, stream=True))
    read = []
    for chunk in stream:
        read.append(chunk.choices[0].delta.content or "" if chunk.choices else "")
        if stop_early and len(read) == 2:
            break
    stream.close()
    found = check_call(
        spans, logs, "stopped_early" if stop_early else "completed", {"gen_ai.input.messages", "gen_ai.output.messages"}
    )
    (message,) = found["gen_ai.output.messages"]
    assert message["parts"] == [{"type": "text", "content": "".join(read)}]


def test_content_of_a_text_completion(capturing, server, spans, logs):
    server.push(openai_chat(TEXT))
    kw = {"api_base": server.url + "/v1", "api_key": "k"}
    litellm.text_completion(model="openai/gpt-4o-mini", prompt="Say it", **kw)
    found = check_call(spans, logs, None, {"gen_ai.input.messages", "gen_ai.output.messages"})
    assert found["gen_ai.input.messages"] == [{"role": "user", "parts": [{"type": "text", "content": "Say it"}]}]
    assert found["gen_ai.output.messages"][0]["parts"] == [{"type": "text", "content": TEXT}]


def test_content_of_an_embedding(capturing, server, spans, logs):
    server.push(openai_embeddings(1))
    litellm.embedding(model="openai/text-embedding-3-small", input=["a"], api_base=server.url + "/v1", api_key="k")
    check_call(spans, logs, None, {"gen_ai.input.messages"})


# --- setup ----------------------------------------------------------------------------------------------------------


def test_uninstrument_restores_exactly_and_twice_is_harmless(server, spans):
    originals = {name: vars(litellm)[name] for name in ("completion", "acompletion", "embedding", "text_completion")}
    instrumentor = LiteLLMInstrumentor()
    instrumentor.instrument()
    instrumentor.instrument()  # harmless: one set of patches, one span per call
    try:
        assert litellm.completion is not originals["completion"]
        server.push(openai_chat(TEXT))
        litellm.completion(**openai_kw(server))
        only_span(spans)
    finally:
        instrumentor.uninstrument()
    assert {name: vars(litellm)[name] for name in originals} == originals
    spans.clear()
    server.push(openai_chat(TEXT))
    litellm.completion(**openai_kw(server))
    assert spans.get_finished_spans() == ()


def test_suppress_instrumentation(instrumented, server, spans):
    server.push(openai_chat(TEXT))
    with suppress_instrumentation():
        litellm.completion(**openai_kw(server))
    assert spans.get_finished_spans() == ()


def test_provider_names():
    assert provider_name("bedrock") == "aws.bedrock"
    assert provider_name("gemini") == "gcp.gemini"
    assert provider_name("vertex_ai") == "gcp.vertex_ai"
    assert provider_name("azure") == "azure.ai.openai"
    assert provider_name("ollama") == "ollama"  # no conventions value: LiteLLM's own name


# --- with the OpenAI instrumentor on as well ------------------------------------------------------------------------


# (span name, call). LiteLLM 1.110 sends Azure OpenAI chat through the openai SDK (without the engine's one-CLIENT-span
# rule these cases make two CLIENT spans and count tokens twice); OpenAI chat and embeddings go through its own HTTP
# client: one span either way, kept so a LiteLLM that moves them to the SDK stays covered.
CALLS_THROUGH_SDKS = {
    "embedding": (
        "embeddings text-embedding-3-small",
        lambda server: litellm.embedding(
            model="openai/text-embedding-3-small", input=["a"], api_base=server.url + "/v1", api_key="k"
        ),
    ),
    "azure_chat": (
        "chat my-deployment",
        lambda server: litellm.completion(
            model="azure/my-deployment", messages=MESSAGES, api_base=server.url, api_key="k", api_version="2024-10-21"
        ),
    ),
    "azure_chat_stream": (
        "chat my-deployment",
        lambda server: list(
            litellm.completion(
                model="azure/my-deployment",
                messages=MESSAGES,
                api_base=server.url,
                api_key="k",
                api_version="2024-10-21",
                stream=True,
                stream_options={"include_usage": True},
            )
        ),
    ),
    "openai_chat_own_http": ("chat gpt-4o-mini", lambda server: litellm.completion(**openai_kw(server))),
}


@pytest.mark.parametrize("order", ["litellm_first", "openai_first"])
@pytest.mark.parametrize("call", sorted(CALLS_THROUGH_SDKS))
def test_one_client_span_with_the_openai_instrumentor(server, spans, metrics, order, call):
    """LiteLLM calls Azure OpenAI through the openai SDK: LiteLLM's span is the CLIENT span, the SDK call inside is
    not traced, and the tokens are counted once, whichever instrumentor came first."""
    openai_metrics = InMemoryMetricReader()
    ours = LiteLLMInstrumentor()
    theirs = OpenAIInstrumentor()
    steps = [
        lambda: ours.instrument(meter_provider=MeterProvider(metric_readers=[metrics])),
        lambda: theirs.instrument(meter_provider=MeterProvider(metric_readers=[openai_metrics])),
    ]
    for step in steps if order == "litellm_first" else reversed(steps):
        step()
    name, make_call = CALLS_THROUGH_SDKS[call]
    try:
        if call == "embedding":
            server.push(openai_embeddings(1, prompt_tokens=5))
        elif call == "azure_chat_stream":
            server.push(openai_chat_stream(TEXT, prompt_tokens=5, completion_tokens=4))
        else:
            server.push(openai_chat(TEXT, prompt_tokens=5, completion_tokens=4))
        make_call(server)
        span = only_span(spans, name)
        assert span.attributes["gen_ai.usage.input_tokens"] == 5
        expected = [("input", 5, 1)] if call == "embedding" else [("input", 5, 1), ("output", 4, 1)]
        assert tokens(metrics) == expected
        assert tokens(openai_metrics) == []
        if call.startswith("azure"):
            assert span.attributes["gen_ai.provider.name"] == "azure.ai.openai"
            assert server.requests[0].path == "/openai/deployments/my-deployment/chat/completions"
        # the OpenAI instrumentor is really on: a direct openai call is traced by it
        spans.clear()
        import openai

        server.push(openai_chat(TEXT))
        openai.OpenAI(base_url=server.url + "/v1", api_key="k").chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES
        )
        (direct,) = spans.get_finished_spans()
        assert direct.instrumentation_scope.name == "otel_genai.instrumentation.openai"
    finally:
        theirs.uninstrument()
        ours.uninstrument()

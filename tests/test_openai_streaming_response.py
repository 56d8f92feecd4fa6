"""``with_streaming_response`` (what openai-agents >= 0.10.2 calls) traced to the end of the body.

Real SDK over ``httpx.MockTransport``: chat / responses / embeddings x sync / async x stream or not, and how the
body is consumed: ``parse()`` (a plain body: the span ends at parse with the response's attributes; a stream: the
engine's proxy ends it), the ``with`` exit without reading (stopped_early), a stream left mid-way by the ``with`` exit
(stopped_early), and an HTTP error (the span records it).
"""

from __future__ import annotations

import gc

import openai
import pytest
from support.openai_setup import instrumented, only_span, run
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
)

from otel_genai.instrumentation.openai import OpenAIInstrumentor
from otel_genai.lifecycle import OUTCOME, STREAM_ITEMS

MODEL = "gpt-4o-mini"
TEXT = "The quick brown fox jumps over the lazy dog."
MESSAGES = [{"role": "user", "content": "Say something."}]


@pytest.fixture
def otel():
    with instrumented() as telemetry:
        yield telemetry


def client_for(responses, is_async=False):
    return openai_client(make_transport(responses, lib="httpx2"), is_async=is_async)


def _wire(kind, stream):
    if kind == "chat":
        return openai_chat_stream(TEXT, chunks=5) if stream else openai_chat(TEXT)
    if kind == "responses":
        return openai_responses_stream(TEXT, chunks=5) if stream else openai_responses(TEXT)
    return openai_embeddings(2)


def _manager(kind, client, stream):
    if kind == "chat":
        extra = {"stream": True, "stream_options": {"include_usage": True}} if stream else {}
        return client.chat.completions.with_streaming_response.create(model=MODEL, messages=MESSAGES, **extra)
    if kind == "responses":
        extra = {"stream": True} if stream else {}
        return client.responses.with_streaming_response.create(model=MODEL, input="Say something.", **extra)
    return client.embeddings.with_streaming_response.create(model="text-embedding-3-small", input=["a", "b"])


def _expected(kind, body):
    """(response id, response model, input tokens) of the parsed body (the last chunk / event of a stream)."""
    if kind == "chat":
        return body.id, body.model, body.usage.prompt_tokens
    if kind == "responses":
        final = getattr(body, "response", body)
        return final.id, final.model, final.usage.input_tokens
    return None, body.model, body.usage.prompt_tokens


def _consume_sync(kind, client, stream, mode):
    with _manager(kind, client, stream) as response:
        assert isinstance(response, openai._response.APIResponse)
        if mode == "unread":
            return None
        body = response.parse()
        assert response.parse() is body  # the same object (the same proxy) every time
        if not stream:
            return body
        assert isinstance(body, openai.Stream)
        if mode == "break":
            next(body)
            return None
        items = list(body)
        return items


async def _consume_async(kind, client, stream, mode):
    async with _manager(kind, client, stream) as response:
        assert isinstance(response, openai._response.AsyncAPIResponse)
        if mode == "unread":
            return None
        body = await response.parse()
        assert await response.parse() is body
        if not stream:
            return body
        assert isinstance(body, openai.AsyncStream)
        if mode == "break":
            await body.__anext__()
            return None
        return [item async for item in body]


CASES = [
    ("chat", False),
    ("chat", True),
    ("responses", False),
    ("responses", True),
    ("embeddings", False),
]


@pytest.mark.parametrize("mode", ["parse", "unread", "break"])
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize(("kind", "stream"), CASES, ids=[f"{k}-{'stream' if s else 'plain'}" for k, s in CASES])
def test_streaming_response_traced_to_the_end_of_the_body(spans, otel, kind, stream, is_async, mode):
    if mode == "break" and not stream:
        pytest.skip("only a stream can be left mid-way")
    client = client_for(_wire(kind, stream), is_async)
    if is_async:
        result = run(_consume_async(kind, client, stream, mode))
    else:
        result = _consume_sync(kind, client, stream, mode)
    span = only_span(spans)
    attrs = span.attributes
    operation = {"chat": "chat", "responses": "chat", "embeddings": "embeddings"}[kind]
    assert attrs["gen_ai.operation.name"] == operation
    if mode == "parse":
        body = result[-1] if stream else result
        response_id, response_model, input_tokens = _expected(kind, body)
        assert attrs["gen_ai.response.model"] == response_model
        assert attrs["gen_ai.usage.input_tokens"] == input_tokens
        if response_id is not None:
            assert attrs["gen_ai.response.id"] == response_id
        if stream:
            assert attrs[OUTCOME] == "completed"
            assert attrs[STREAM_ITEMS] == len(result)
    else:
        assert attrs[OUTCOME] == "stopped_early"
        assert "gen_ai.usage.input_tokens" not in attrs
        if mode == "break":
            assert attrs[STREAM_ITEMS] == 1
    assert_all_ended()


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_streaming_response_http_error(spans, otel, is_async):
    client = client_for(openai_error(429), is_async)

    async def consume_async():
        async with client.chat.completions.with_streaming_response.create(model=MODEL, messages=MESSAGES):
            pass

    with pytest.raises(openai.RateLimitError):
        if is_async:
            run(consume_async())
        else:
            with client.chat.completions.with_streaming_response.create(model=MODEL, messages=MESSAGES):
                pass
    span = only_span(spans)
    assert span.attributes["error.type"].endswith("RateLimitError")
    assert_all_ended()


@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning")
def test_streaming_response_never_entered_is_abandoned(spans, otel):
    """The async manager calls create() at once: a manager never entered ends its span when collected."""
    client = client_for(openai_chat(TEXT), is_async=True)
    manager = client.chat.completions.with_streaming_response.create(model=MODEL, messages=MESSAGES)
    assert spans.get_finished_spans() == ()
    del manager
    gc.collect()
    assert only_span(spans).attributes[OUTCOME] == "abandoned"
    assert_all_ended()


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_streaming_response_cached_before_instrument(spans, is_async):
    """``with_streaming_response`` touched before instrument(): traced; after uninstrument exactly the SDK's own."""
    client = client_for([openai_responses(TEXT), openai_responses(TEXT)], is_async)
    streaming = client.responses.with_streaming_response
    cached = streaming.create
    streaming_cls = type(streaming)

    async def call_async():
        async with streaming.create(model=MODEL, input="hi") as response:
            return await response.parse()

    def call():
        if is_async:
            return run(call_async())
        with streaming.create(model=MODEL, input="hi") as response:
            return response.parse()

    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument()
    try:
        body = call()
        assert not hasattr(streaming, "parse") or "parse" in vars(streaming)  # no method the SDK lacks
    finally:
        instrumentor.uninstrument()
    span = only_span(spans)
    assert span.attributes["gen_ai.response.id"] == body.id
    assert "create" not in vars(streaming_cls)
    assert streaming.create is cached
    assert call().id
    assert len(spans.get_finished_spans()) == 1

"""BedrockInstrumentor against real boto3 / botocore clients, faked only at the HTTP edge: a real local server
(:mod:`support.bedrock`) answering with Bedrock's wire formats (Converse / InvokeModel JSON, and the
``application/vnd.amazon.eventstream`` framing, parsed by botocore's own decoder).

boto3 is synchronous: there is no async client and no asyncio cancellation to test here (aiobotocore, a different
library, is not instrumented).
"""

from __future__ import annotations

import contextlib
import gc
import json
import threading

import botocore.client
import pytest
import urllib3
from botocore.eventstream import EventStream
from botocore.exceptions import EventStreamError
from botocore.response import StreamingBody
from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.trace import SpanKind, StatusCode
from support import bedrock as wire
from support import eventstream
from support.telemetry import assert_all_ended, metric_points
from test_content_schemas import check_attributes

from otel_genai import Outcome
from otel_genai.instrumentation.bedrock import BedrockInstrumentor
from otel_genai.lifecycle import OUTCOME, STREAM_ITEMS

MODEL = "amazon.nova-lite-v1:0"
MESSAGES = [{"role": "user", "content": [{"text": "Hi"}]}]
SCOPE = "otel_genai.instrumentation.bedrock"
tracer = trace.get_tracer("tests.bedrock")


def _model_has(shape: str, member: str | None = None) -> bool:
    """Whether this botocore's bedrock-runtime model knows ``shape`` (and its ``member``): older ones parse less."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("bedrock-runtime")
    if shape not in model.shape_names:
        return False
    return member is None or member in model.shape_for(shape).members


CACHE = pytest.mark.skipif(not _model_has("TokenUsage", "cacheReadInputTokens"), reason="no prompt caching in model")


@pytest.fixture(scope="module")
def server():
    with wire.serve() as running:
        yield running


@pytest.fixture
def fake(server):
    server.replies.clear()
    server.requests.clear()
    return server


@pytest.fixture
def metrics():
    return InMemoryMetricReader()


@pytest.fixture
def instrumented(metrics):
    instrumentor = BedrockInstrumentor()
    instrumentor.instrument(meter_provider=MeterProvider(metric_readers=[metrics]))
    yield instrumentor
    instrumentor.uninstrument()


def only_span(spans, name=f"chat {MODEL}"):
    gc.collect()
    finished = spans.get_finished_spans()
    assert [(s.name, s.instrumentation_scope.name) for s in finished] == [(name, SCOPE)]
    assert finished[0].kind is SpanKind.CLIENT
    assert_all_ended()
    return finished[0]


def converse_stream(fake, **kwargs):
    fake.queue(wire.converse_stream(**kwargs))
    return wire.client(fake).converse_stream(modelId=MODEL, messages=MESSAGES)


# --- converse -----------------------------------------------------------------------------------------------------


@CACHE
def test_converse_attributes_usage_with_cache(spans, instrumented, fake):
    fake.queue(wire.converse(cache_read=3, cache_write=2))
    response = wire.client(fake).converse(
        modelId=MODEL,
        messages=MESSAGES,
        inferenceConfig={"maxTokens": 50, "temperature": 0.2, "topP": 0.9, "stopSequences": ["END"]},
        additionalModelRequestFields={"top_k": 5},
    )
    assert response["output"]["message"]["content"] == [{"text": "Hello!"}]
    assert set(response) == {"ResponseMetadata", "output", "stopReason", "usage", "metrics"}
    span = only_span(spans)
    port = int(fake.url.rsplit(":", 1)[1])
    assert dict(span.attributes) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "aws.bedrock",
        "gen_ai.request.model": MODEL,
        "gen_ai.request.max_tokens": 50,
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.top_p": 0.9,
        "gen_ai.request.top_k": 5,
        "gen_ai.request.stop_sequences": ("END",),
        "server.address": "127.0.0.1",
        "server.port": port,
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": 16,  # 11 uncached + 3 read + 2 written: the conventions count them all
        "gen_ai.usage.cache_read.input_tokens": 3,
        "gen_ai.usage.cache_creation.input_tokens": 2,
        "gen_ai.usage.output_tokens": 7,
    }
    assert span.status.status_code is StatusCode.UNSET


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [("max_tokens", "length"), ("tool_use", "tool_call"), ("guardrail_intervened", "content_filter"), ("x", "x")],
)
def test_converse_finish_reasons(spans, instrumented, fake, stop_reason, finish):
    fake.queue(wire.converse(stop_reason=stop_reason))
    wire.client(fake).converse(modelId=MODEL, messages=MESSAGES)
    assert only_span(spans).attributes["gen_ai.response.finish_reasons"] == (finish,)


def test_clients_created_before_and_after_instrument(spans, fake, metrics):
    before = wire.client(fake)
    original = vars(botocore.client.BaseClient)["_make_api_call"]
    instrumentor = BedrockInstrumentor()
    instrumentor.instrument()
    try:
        after = wire.client(fake)
        for client in (before, after):
            fake.queue(wire.converse())
            client.converse(modelId=MODEL, messages=MESSAGES)
        assert [s.name for s in spans.get_finished_spans()] == [f"chat {MODEL}"] * 2
    finally:
        instrumentor.uninstrument()
    assert vars(botocore.client.BaseClient)["_make_api_call"] is original  # restored exactly
    spans.clear()
    fake.queue(wire.converse())
    before.converse(modelId=MODEL, messages=MESSAGES)
    assert spans.get_finished_spans() == ()


def test_instrument_twice_is_harmless(spans, instrumented, fake):
    BedrockInstrumentor().instrument()  # the same singleton: a no-op
    fake.queue(wire.converse())
    wire.client(fake).converse(modelId=MODEL, messages=MESSAGES)
    only_span(spans)


def test_suppressed_calls_make_no_span(spans, instrumented, fake):
    with suppress_instrumentation():
        fake.queue(wire.converse())
        assert wire.client(fake).converse(modelId=MODEL, messages=MESSAGES)["stopReason"] == "end_turn"
        stream = converse_stream(fake)["stream"]
        assert type(stream) is EventStream  # not even proxied
        assert len(list(stream)) == 7
    assert spans.get_finished_spans() == ()


@pytest.mark.skipif(not _model_has("ApplyGuardrailRequest"), reason="no ApplyGuardrail in this botocore")
def test_other_operations_pass_through(spans, instrumented, fake):
    fake.queue(wire.json_reply({"usage": {}, "action": "NONE", "outputs": [], "assessments": []}))
    wire.client(fake).apply_guardrail(
        guardrailIdentifier="g", guardrailVersion="1", source="INPUT", content=[{"text": {"text": "hi"}}]
    )
    assert spans.get_finished_spans() == ()


@pytest.mark.parametrize(("status", "code"), [(400, "ValidationException"), (429, "ThrottlingException")])
@pytest.mark.parametrize("operation", ["converse", "converse_stream", "invoke_model"])
def test_http_error_marks_span_and_propagates(spans, instrumented, metrics, fake, status, code, operation):
    client = wire.client(fake)
    fake.queue(wire.error(status, code, "nope"))
    with pytest.raises(getattr(client.exceptions, code)) as caught:
        if operation == "invoke_model":
            client.invoke_model(modelId=MODEL, body=b"{}")
        else:
            getattr(client, operation)(modelId=MODEL, messages=MESSAGES)
    assert caught.value.response["Error"]["Code"] == code  # botocore's exception, unchanged
    span = only_span(spans)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == f"botocore.errorfactory.{code}"
    assert span.attributes[OUTCOME] == Outcome.ERROR
    (point,) = metric_points(metrics)["gen_ai.client.operation.duration"]
    assert point.attributes["error.type"] == f"botocore.errorfactory.{code}"


def test_parent_is_the_callers_span(spans, instrumented, fake):
    with tracer.start_as_current_span("caller") as caller:
        response = converse_stream(fake)
    reader = threading.Thread(target=lambda: list(response["stream"]))  # read elsewhere, after the caller ended
    reader.start()
    reader.join()
    chat = next(s for s in spans.get_finished_spans() if s.name.startswith("chat"))
    assert chat.parent.span_id == caller.get_span_context().span_id
    assert chat.attributes[OUTCOME] == Outcome.COMPLETED


# --- converse_stream ----------------------------------------------------------------------------------------------


@CACHE
def test_converse_stream_full_read(spans, instrumented, metrics, fake):
    response = converse_stream(fake, cache_read=4)
    assert set(response) == {"ResponseMetadata", "stream"}
    stream = response["stream"]
    assert isinstance(stream, EventStream)
    events = list(stream)
    assert [next(iter(e)) for e in events] == [
        "messageStart",
        "contentBlockDelta",
        "contentBlockDelta",
        "contentBlockDelta",
        "contentBlockStop",
        "messageStop",
        "metadata",
    ]
    assert "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e) == (
        "Hello there friend"
    )
    span = only_span(spans)
    attributes = span.attributes
    assert attributes[OUTCOME] == Outcome.COMPLETED
    assert attributes[STREAM_ITEMS] == 7
    assert attributes["gen_ai.request.stream"] is True
    assert attributes["gen_ai.usage.input_tokens"] == 15
    assert attributes["gen_ai.usage.cache_read.input_tokens"] == 4
    assert attributes["gen_ai.usage.output_tokens"] == 7
    assert attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert attributes["gen_ai.response.time_to_first_chunk"] > 0
    points = metric_points(metrics)
    (duration,) = points["gen_ai.client.operation.duration"]
    assert duration.count == 1 and duration.attributes["gen_ai.provider.name"] == "aws.bedrock"
    assert sorted(p.sum for p in points["gen_ai.client.token.usage"]) == [7, 15]
    (first,) = points["gen_ai.client.operation.time_to_first_chunk"]
    assert first.count == 1
    assert stream.close() is None  # closing after the end: the stream's own close, no second end


def test_converse_stream_break_then_close(spans, instrumented, fake):
    stream = converse_stream(fake)["stream"]
    for _ in stream:
        break
    assert spans.get_finished_spans() == ()  # a break alone ends nothing: the stream can be read on
    stream.close()
    span = only_span(spans)
    assert span.attributes[OUTCOME] == Outcome.STOPPED_EARLY
    assert span.attributes[STREAM_ITEMS] == 1


def test_converse_stream_break_then_read_on(spans, instrumented, fake):
    stream = converse_stream(fake)["stream"]
    for _ in stream:
        break
    rest = list(stream)  # as without us: a second iteration goes on where the first stopped
    assert len(rest) == 6
    span = only_span(spans)
    assert span.attributes[OUTCOME] == Outcome.COMPLETED
    assert span.attributes[STREAM_ITEMS] == 7


def test_converse_stream_closing_context_exit(spans, instrumented, fake):
    with contextlib.closing(converse_stream(fake)["stream"]) as stream:
        for event in stream:
            if "contentBlockDelta" in event:
                break
    assert only_span(spans).attributes[OUTCOME] == Outcome.STOPPED_EARLY


def test_converse_stream_dropped_is_abandoned(spans, instrumented, fake):
    response = converse_stream(fake)
    iterator = iter(response["stream"])
    next(iterator)
    del response, iterator
    span = only_span(spans)
    assert span.attributes[OUTCOME] == Outcome.ABANDONED


def test_converse_stream_error_event(spans, instrumented, metrics, fake):
    events = [*wire.converse_events()[:3], eventstream.exception("modelStreamErrorException", "model broke")]
    fake.queue(wire.stream_reply(events))
    stream = wire.client(fake).converse_stream(modelId=MODEL, messages=MESSAGES)["stream"]
    seen = []
    with pytest.raises(EventStreamError) as caught:
        for event in stream:
            seen.append(event)
    assert len(seen) == 3
    assert caught.value.response["Error"]["Code"] == "modelStreamErrorException"
    span = only_span(spans)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "botocore.exceptions.EventStreamError"
    assert span.attributes[OUTCOME] == Outcome.ERROR
    assert span.attributes[STREAM_ITEMS] == 3
    (point,) = metric_points(metrics)["gen_ai.client.operation.duration"]
    assert point.attributes["error.type"] == "botocore.exceptions.EventStreamError"


def test_converse_stream_connection_cut_mid_stream(spans, instrumented, fake):
    fake.queue(wire.converse_stream(fail_after=2))
    stream = wire.client(fake).converse_stream(modelId=MODEL, messages=MESSAGES)["stream"]
    with pytest.raises(urllib3.exceptions.ProtocolError):
        list(stream)
    span = only_span(spans)
    assert span.attributes[OUTCOME] == Outcome.ERROR
    assert span.attributes["error.type"] == "urllib3.exceptions.ProtocolError"


# --- invoke_model / invoke_model_with_response_stream ------------------------------------------------------------


FINISH = {"anthropic": "stop", "nova": "stop", "titan": "stop", "llama": "stop", "mistral": "stop", "cohere": "stop"}


@pytest.mark.parametrize("family", sorted(wire.MODELS))
def test_invoke_model_per_family(spans, instrumented, metrics, fake, family):
    model = wire.MODELS[family]
    fake.queue(wire.invoke(family, "Hi there", input_tokens=13, output_tokens=4))
    response = wire.client(fake).invoke_model(modelId=model, body=json.dumps(wire.invoke_request(family)))
    body = response["body"]
    assert isinstance(body, StreamingBody)
    assert json.loads(body.read()) == wire.invoke_body(family, "Hi there", 13, 4)  # the caller still reads it all
    assert set(response) == {"ResponseMetadata", "contentType", "body"}
    span = only_span(spans, f"chat {model}")
    attributes = span.attributes
    assert attributes["gen_ai.request.max_tokens"] == 64
    assert attributes["gen_ai.request.temperature"] == 0.5
    assert attributes["gen_ai.usage.input_tokens"] == 13
    assert attributes["gen_ai.usage.output_tokens"] == 4
    assert attributes["gen_ai.response.finish_reasons"] == (FINISH[family],)
    assert OUTCOME not in attributes
    if family == "anthropic":
        assert attributes["gen_ai.response.id"] == "msg_bdrk_01"
        assert attributes["gen_ai.response.model"] == "claude-3-5-haiku-20241022"
    assert sum(p.sum for p in metric_points(metrics)["gen_ai.client.token.usage"]) == 17


@pytest.mark.parametrize("family", sorted(wire.MODELS))
def test_invoke_model_stream_per_family(spans, instrumented, fake, family):
    model = wire.MODELS[family]
    fake.queue(wire.invoke_stream(family, "one two three", input_tokens=9, output_tokens=3))
    response = wire.client(fake).invoke_model_with_response_stream(
        modelId=model, body=json.dumps(wire.invoke_request(family))
    )
    assert set(response) == {"ResponseMetadata", "contentType", "body"}
    assert isinstance(response["body"], EventStream)
    chunks = [json.loads(e["chunk"]["bytes"]) for e in response["body"]]
    assert chunks == wire.invoke_chunks(family, "one two three", 9, 3)
    span = only_span(spans, f"chat {model}")
    attributes = span.attributes
    assert attributes[OUTCOME] == Outcome.COMPLETED
    assert attributes[STREAM_ITEMS] == len(chunks)
    assert attributes["gen_ai.usage.input_tokens"] == 9
    assert attributes["gen_ai.usage.output_tokens"] == 3
    assert attributes["gen_ai.response.finish_reasons"] == (FINISH[family],)


def test_invoke_model_stream_error_event(spans, instrumented, fake):
    messages = [eventstream.chunk(b) for b in wire.invoke_chunks("anthropic")[:2]]
    messages.append(eventstream.exception("throttlingException", "slow down"))
    fake.queue(wire.stream_reply(messages))
    body = wire.client(fake).invoke_model_with_response_stream(modelId=wire.MODELS["anthropic"], body=b"{}")["body"]
    with pytest.raises(EventStreamError):
        list(body)
    span = only_span(spans, f"chat {wire.MODELS['anthropic']}")
    assert span.attributes["error.type"] == "botocore.exceptions.EventStreamError"
    assert span.attributes[OUTCOME] == Outcome.ERROR


def test_invoke_model_body_cut_raises_from_the_call(spans, instrumented, fake):
    body = json.dumps(wire.invoke_body("llama")).encode()
    fake.queue(wire.Reply(200, {"Content-Type": "application/json"}, chunks=[body[:10], body[10:]], fail_after=1))
    with pytest.raises(Exception) as caught:  # botocore's streaming error, raised while we read the body
        wire.client(fake).invoke_model(modelId=wire.MODELS["llama"], body=b"{}")
    span = only_span(spans, f"chat {wire.MODELS['llama']}")
    assert span.attributes[OUTCOME] == Outcome.ERROR
    cls = type(caught.value)
    assert span.attributes["error.type"] == f"{cls.__module__}.{cls.__qualname__}"


@pytest.mark.parametrize(
    ("model", "request_body", "reply", "tokens"),
    [
        ("amazon.titan-embed-text-v2:0", {"inputText": "hi", "dimensions": 256}, {"inputTextTokenCount": 3}, 3),
        ("cohere.embed-english-v3", {"texts": ["a", "b"], "input_type": "search_document"}, {"id": "e1"}, 5),
    ],
)
def test_invoke_model_embeddings(spans, instrumented, fake, model, request_body, reply, tokens):
    fake.queue(wire.json_reply({**reply, "embeddings": [[0.1, 0.2]]}, {"X-Amzn-Bedrock-Input-Token-Count": "5"}))
    wire.client(fake).invoke_model(modelId=model, body=json.dumps(request_body))
    span = only_span(spans, f"embeddings {model}")
    assert span.attributes["gen_ai.operation.name"] == "embeddings"
    assert span.attributes["gen_ai.usage.input_tokens"] == tokens
    assert "gen_ai.usage.output_tokens" not in span.attributes
    if "dimensions" in request_body:
        assert span.attributes["gen_ai.embeddings.dimension.count"] == 256


def test_invoke_model_unknown_family_uses_bedrocks_counts(spans, instrumented, fake):
    model = "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc123"
    fake.queue(wire.json_reply({"whatever": 1}, wire.token_headers(21, 8)))
    response = wire.client(fake).invoke_model(modelId=model, body=b"not json")
    assert json.loads(response["body"].read()) == {"whatever": 1}
    span = only_span(spans, f"chat {model}")
    assert span.attributes["gen_ai.usage.input_tokens"] == 21
    assert span.attributes["gen_ai.usage.output_tokens"] == 8


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("anthropic.claude-3-haiku-20240307-v1:0", "anthropic"),
        ("eu.anthropic.claude-3-7-sonnet-20250219-v1:0", "anthropic"),
        ("arn:aws:bedrock:us-east-1::foundation-model/meta.llama3-70b-instruct-v1:0", "llama"),
        ("arn:aws:bedrock:us-east-1:1:inference-profile/us.amazon.nova-pro-v1:0", "nova"),
        ("amazon.titan-text-lite-v1", "titan"),
        ("mistral.mixtral-8x7b-instruct-v0:1", "mistral"),
        ("cohere.command-r-v1:0", "cohere"),
        ("ai21.jamba-instruct-v1:0", None),
    ],
)
def test_model_family_from_id(model, family):
    from otel_genai.instrumentation.bedrock.invoke import family as family_of

    assert family_of(model) == (family, False)


# --- content -------------------------------------------------------------------------------------------------------


TOOLS = {"tools": [{"toolSpec": {"name": "weather", "description": "Weather", "inputSchema": {"json": {}}}}]}
CONVERSATION = [
    {"role": "user", "content": [{"text": "Weather?"}, {"image": {"format": "png", "source": {"bytes": b"\x89PNG"}}}]},
    {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t1", "name": "weather", "input": {"city": "Oslo"}}}]},
    {"role": "user", "content": [{"toolResult": {"toolUseId": "t1", "content": [{"json": {"temp": 3}}]}}]},
]


@CACHE  # the cache point in the system prompt
def test_converse_content(spans, instrumented, fake, capture_content):
    fake.queue(wire.converse("Cold.", reasoning="think"))
    system = [{"text": "Be brief."}, {"cachePoint": {"type": "default"}}]
    wire.client(fake).converse(modelId=MODEL, messages=CONVERSATION, system=system, toolConfig=TOOLS)
    found = check_attributes(only_span(spans).attributes)
    assert found["gen_ai.system_instructions"] == [{"type": "text", "content": "Be brief."}]
    assert [m["role"] for m in found["gen_ai.input.messages"]] == ["user", "assistant", "user"]
    assert found["gen_ai.input.messages"][1]["parts"][0] == {
        "type": "tool_call",
        "id": "t1",
        "name": "weather",
        "arguments": {"city": "Oslo"},
    }
    assert found["gen_ai.input.messages"][2]["parts"][0]["response"] == [{"temp": 3}]
    assert found["gen_ai.tool.definitions"][0]["name"] == "weather"
    assert found["gen_ai.output.messages"] == [
        {
            "role": "assistant",
            "parts": [{"type": "reasoning", "content": "think"}, {"type": "text", "content": "Cold."}],
            "finish_reason": "stop",
        }
    ]


@pytest.mark.parametrize("end", ["exhaust", "close"])
def test_converse_stream_content(spans, instrumented, fake, capture_content, end):
    tool = {"toolUseId": "t9", "name": "weather", "input": {"city": "Oslo"}}
    fake.queue(wire.converse_stream(tool_use=tool, stop_reason="tool_use"))
    stream = wire.client(fake).converse_stream(modelId=MODEL, messages=MESSAGES, toolConfig=TOOLS)["stream"]
    if end == "exhaust":
        list(stream)
    else:
        iterator = iter(stream)
        for _ in range(3):
            next(iterator)
        stream.close()
    span = only_span(spans)
    (output,) = check_attributes(span.attributes)["gen_ai.output.messages"]
    if end == "exhaust":
        assert output == {
            "role": "assistant",
            "finish_reason": "tool_call",
            "parts": [
                {"type": "text", "content": "Hello there friend"},
                {"type": "tool_call", "id": "t9", "name": "weather", "arguments": {"city": "Oslo"}},
            ],
        }
    else:
        assert output["parts"] == [{"type": "text", "content": "Hello there"}]
        assert output["finish_reason"] == "error"  # interrupted: the conventions' value for no finish reason


@pytest.mark.parametrize("family", sorted(wire.MODELS))
@pytest.mark.parametrize("stream", [False, True])
def test_invoke_content_per_family(spans, instrumented, fake, capture_content, family, stream):
    model = wire.MODELS[family]
    client = wire.client(fake)
    body = json.dumps(wire.invoke_request(family, "Hi model"))
    if stream:
        fake.queue(wire.invoke_stream(family, "one two three"))
        list(client.invoke_model_with_response_stream(modelId=model, body=body)["body"])
    else:
        fake.queue(wire.invoke(family, "one two three"))
        client.invoke_model(modelId=model, body=body)
    found = check_attributes(only_span(spans, f"chat {model}").attributes)
    assert found["gen_ai.input.messages"] == [{"role": "user", "parts": [{"type": "text", "content": "Hi model"}]}]
    assert found["gen_ai.output.messages"] == [
        {"role": "assistant", "parts": [{"type": "text", "content": "one two three"}], "finish_reason": "stop"}
    ]
    if family in ("anthropic", "nova"):
        assert found["gen_ai.system_instructions"] == [{"type": "text", "content": "Be brief."}]


def test_content_off_records_none(spans, instrumented, fake):
    fake.queue(wire.converse())
    wire.client(fake).converse(modelId=MODEL, messages=MESSAGES, system=[{"text": "s"}])
    attributes = only_span(spans).attributes
    assert not [k for k in attributes if k.startswith(("gen_ai.input", "gen_ai.output", "gen_ai.system"))]

"""Every content attribute otel-genai records validates against the GenAI conventions' published JSON schemas.

The schemas are the conventions' own files (tests/schemas/, see its README): ``gen_ai.input.messages``,
``gen_ai.output.messages``, ``gen_ai.system_instructions``, ``gen_ai.tool.definitions``. Besides the schema itself,
a part whose ``type`` names one of the schema's part kinds (``text``, ``blob``, ``uri``, ``tool_call``, ...) must
match that kind's definition: the schemas also accept any ``{"type": ...}`` object as a generic part, which would
let a ``blob`` without its ``content`` through.

Real SDKs, faked only at the HTTP edge; every instrumentor that records these attributes (OpenAI chat, responses,
embeddings; Anthropic messages; the openai-agents bridge) and every outcome a call can end with (completed,
stopped_early, abandoned, cancelled, error), on the span and on the operation-details event.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from agents import OpenAIChatCompletionsModel, OpenAIResponsesModel, RunConfig, Runner, set_trace_processors
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from support.agents_edge import ScriptedEdge
from support.openai_setup import instrumented as openai_instrumented
from support.telemetry import assert_all_ended
from support.wire import (
    WireResponse,
    anthropic_client,
    anthropic_message,
    anthropic_message_stream,
    anthropic_tool_use,
    make_transport,
    openai_chat,
    openai_chat_stream,
    openai_client,
    openai_embeddings,
    openai_error,
    openai_responses,
    openai_responses_stream,
    openai_tool_call,
    responses_function_call,
)

from otel_genai import content
from otel_genai.instrumentation._llm import INTERRUPTED, OPERATION_DETAILS_EVENT
from otel_genai.instrumentation.anthropic import AnthropicInstrumentor
from otel_genai.instrumentation.openai_agents import OpenAIAgentsInstrumentor
from otel_genai.lifecycle import OUTCOME

SCHEMAS = Path(__file__).parent / "schemas"
ATTRIBUTES = {
    "gen_ai.input.messages": "gen-ai-input-messages.json",
    "gen_ai.output.messages": "gen-ai-output-messages.json",
    "gen_ai.system_instructions": "gen-ai-system-instructions.json",
    "gen_ai.tool.definitions": "gen-ai-tool-definitions.json",
}
OUTPUT = "gen_ai.output.messages"
MODEL = "test-model"
TINY_PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="


def _validators() -> dict[str, tuple[Any, dict[str, Any]]]:
    out = {}
    for attribute, name in ATTRIBUTES.items():
        schema = json.loads((SCHEMAS / name).read_text())
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        # the part kinds the schema defines by a constant ``type`` -> a validator of that kind alone
        kinds = {}
        for definition, body in schema["$defs"].items():
            const = body.get("properties", {}).get("type", {}).get("const")
            if const is not None:
                kinds[const] = cls({"$ref": f"#/$defs/{definition}", "$defs": schema["$defs"]})
        out[attribute] = (cls(schema), kinds)
    return out


VALIDATORS = _validators()


def check(attribute: str, text: Any) -> list[Any]:
    """``text`` (an attribute value) is JSON that validates against ``attribute``'s schema; returns the value."""
    assert isinstance(text, str), f"{attribute} must be a JSON string, got {type(text).__name__}"
    value = json.loads(text)
    validator, kinds = VALIDATORS[attribute]
    validator.validate(value)
    if attribute in ("gen_ai.input.messages", OUTPUT):
        parts = [part for msg in value for part in msg["parts"]]
    elif attribute == "gen_ai.system_instructions":
        parts = value
    else:
        parts = []
    for part in parts:
        kind = kinds.get(part["type"])
        if kind is not None:
            kind.validate(part)
    return value


def check_attributes(attributes: Any) -> dict[str, list[Any]]:
    """Validate every content attribute in ``attributes``; {attribute: parsed value} of those present."""
    return {key: check(key, attributes[key]) for key in ATTRIBUTES if key in attributes}


def only_span(spans: Any) -> Any:
    gc.collect()
    assert_all_ended()
    ours = [
        s for s in spans.get_finished_spans() if s.instrumentation_scope.name.startswith("otel_genai.instrumentation.")
    ]
    (span,) = ours
    return span


def check_call(spans: Any, logs: Any, outcome: str | None, expect: set[str]) -> dict[str, list[Any]]:
    """The call's span and event: outcome as expected, content attributes present as expected, all valid."""
    span = only_span(spans)
    assert span.attributes.get(OUTCOME) == outcome
    found = check_attributes(span.attributes)
    assert set(found) == expect
    records = [r.log_record for r in logs.get_finished_logs() if r.log_record.event_name == OPERATION_DETAILS_EVENT]
    (record,) = records
    assert check_attributes(record.attributes) == found  # the event carries the same content
    for msg in found.get(OUTPUT, ()):
        assert msg["finish_reason"]  # required by the v1.41 schema, also on interrupted outputs
        if outcome not in (None, "completed"):
            assert msg["finish_reason"] == INTERRUPTED
    return found


@pytest.fixture
def capture_both(monkeypatch):
    """Content on spans and on the event (so both are validated)."""
    monkeypatch.setenv(content.CAPTURE_ENV, "SPAN_AND_EVENT")
    content.reload()
    yield
    monkeypatch.delenv(content.CAPTURE_ENV)
    content.reload()


# --- how a stream ends -------------------------------------------------------------------------------------------

OUTCOMES = ["completed", "stopped_early", "abandoned", "cancelled", "error"]


def hanging_transport(wire: WireResponse, after: int, lib: str) -> Any:
    """A transport whose body stops after ``after`` chunks and then waits forever (until the task is cancelled)."""
    mod = importlib.import_module(lib)

    class Hanging(mod.AsyncByteStream):
        async def __aiter__(self):
            for chunk in wire.chunks[:after]:
                yield chunk
            await asyncio.Event().wait()

        async def aclose(self) -> None:
            pass

    def handler(request: Any) -> Any:
        return mod.Response(wire.status, headers=wire.headers, stream=Hanging(), request=request)

    return mod.MockTransport(handler)


def consume(outcome: str, open_sync: Any, open_async: Any, make_client: Any, wire: WireResponse, lib: str) -> None:
    """Open a stream with ``open_*(client)`` and end it the way ``outcome`` says, half-way through its events (so
    some output has arrived)."""
    half = len(wire.chunks) // 2
    if outcome == "cancelled":

        async def main() -> None:
            stream = await open_async(make_client(hanging_transport(wire, half, lib), True))
            first = asyncio.Event()

            async def consumer() -> None:
                async for _ in stream:
                    first.set()

            task = asyncio.create_task(consumer())
            await first.wait()
            await asyncio.sleep(0.01)  # the consumer now waits on the hanging read
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

        asyncio.run(main())
        return
    transport = make_transport(wire.broken(after=half) if outcome == "error" else wire, lib=lib)
    stream = open_sync(make_client(transport, False))
    if outcome == "completed":
        for _ in stream:
            pass
    elif outcome == "stopped_early":
        for i, _ in enumerate(stream):
            if i == half - 2:
                break
        stream.close()
    elif outcome == "abandoned":
        items = iter(stream)
        for _ in range(half - 1):
            next(items)
        del stream, items
        gc.collect()
    else:
        with pytest.raises(Exception) as raised:
            for _ in stream:
                pass
        assert "connection drop" in str(raised.value) or "Connection" in type(raised.value).__name__


# --- OpenAI ------------------------------------------------------------------------------------------------------


@pytest.fixture
def openai_otel(capture_both):
    with openai_instrumented() as telemetry:
        yield telemetry


def openai_make(transport: Any, is_async: bool) -> Any:
    return openai_client(transport, is_async=is_async)


CHAT_MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is in this image, and the weather?"},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
            {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
        ],
    },
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
]
CHAT_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather in a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        },
    },
    {"type": "custom", "custom": {"name": "grammar_tool"}},
]
CHAT_KW = {"model": MODEL, "messages": CHAT_MESSAGES, "tools": CHAT_TOOLS}
CHAT_IN = {"gen_ai.input.messages", "gen_ai.tool.definitions"}


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_openai_chat_stream(spans, openai_otel, outcome):
    wire = openai_chat_stream("Looks like a cat; it is sunny.", chunks=8, tool_calls=[openai_tool_call()])

    def open_sync(client):
        return client.chat.completions.create(stream=True, **CHAT_KW)

    async def open_async(client):
        return await client.chat.completions.create(stream=True, **CHAT_KW)

    consume(outcome, open_sync, open_async, openai_make, wire, "httpx2")
    found = check_call(spans, openai_otel.logs, outcome, {*CHAT_IN, OUTPUT})
    kinds = [p["type"] for m in found["gen_ai.input.messages"] for p in m["parts"]]
    assert {"text", "uri", "tool_call", "tool_call_response", "input_audio"} <= set(kinds)
    if outcome == "completed":
        assert {p["type"] for p in found[OUTPUT][0]["parts"]} == {"text", "tool_call"}


@pytest.mark.parametrize("failing", [False, True], ids=["completed", "http_error"])
def test_openai_chat_plain(spans, openai_otel, failing):
    wire = openai_error(500) if failing else openai_chat(None, tool_calls=[openai_tool_call()], n=2)
    client = openai_make(make_transport(wire, lib="httpx2"), False)
    if failing:
        with pytest.raises(Exception, match=r"500|Internal"):
            client.chat.completions.create(**CHAT_KW)
    else:
        client.chat.completions.create(**CHAT_KW)
    found = check_call(
        spans, openai_otel.logs, "error" if failing else None, CHAT_IN if failing else {*CHAT_IN, OUTPUT}
    )
    if not failing:
        assert len(found[OUTPUT]) == 2 and found[OUTPUT][0]["parts"][0]["type"] == "tool_call"


RESPONSES_KW = {
    "model": MODEL,
    "instructions": "Be brief.",
    "input": [
        {
            "role": "user",
            "content": [
                {"type": "input_text", "text": "What is this?"},
                {"type": "input_image", "image_url": "https://example.com/cat.png", "detail": "auto"},
                {"type": "input_file", "file_id": "file-1"},
            ],
        },
        {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": '{"city":"Paris"}'},
        {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
        {"type": "reasoning", "id": "rs_1", "summary": []},
    ],
    "tools": [
        {"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {}}},
        {"type": "web_search"},
    ],
}
RESPONSES_IN = {"gen_ai.input.messages", "gen_ai.system_instructions", "gen_ai.tool.definitions"}


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_openai_responses_stream(spans, openai_otel, outcome):
    wire = openai_responses_stream("A cat, and sunny weather.", chunks=8, function_calls=[responses_function_call()])

    def open_sync(client):
        return client.responses.create(stream=True, **RESPONSES_KW)

    async def open_async(client):
        return await client.responses.create(stream=True, **RESPONSES_KW)

    consume(outcome, open_sync, open_async, openai_make, wire, "httpx2")
    found = check_call(spans, openai_otel.logs, outcome, {*RESPONSES_IN, OUTPUT})
    if outcome == "completed":
        assert found[OUTPUT][0]["finish_reason"] == "tool_calls"


@pytest.mark.parametrize("final_event", ["response.incomplete", "response.failed"])
def test_openai_responses_unfinished_status(spans, openai_otel, final_event):
    wire = openai_responses_stream("partial", final_event=final_event)
    for _ in openai_make(make_transport(wire, lib="httpx2"), False).responses.create(stream=True, **RESPONSES_KW):
        pass
    check_call(spans, openai_otel.logs, "completed", {*RESPONSES_IN, OUTPUT})


def test_openai_responses_plain_string_input(spans, openai_otel):
    client = openai_make(make_transport(openai_responses("Hi"), lib="httpx2"), False)
    client.responses.create(model=MODEL, input="Hello")
    check_call(spans, openai_otel.logs, None, {"gen_ai.input.messages", OUTPUT})


def test_openai_embeddings_input(spans, openai_otel):
    client = openai_make(make_transport(openai_embeddings(2), lib="httpx2"), False)
    client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    check_call(spans, openai_otel.logs, None, {"gen_ai.input.messages"})


# --- Anthropic ---------------------------------------------------------------------------------------------------


@pytest.fixture
def anthropic_otel(capture_both):
    logs = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    instrumentor = AnthropicInstrumentor()
    instrumentor.instrument(logger_provider=provider)
    yield logs
    instrumentor.uninstrument()


def anthropic_make(transport: Any, is_async: bool) -> Any:
    return anthropic_client(transport, is_async=is_async)


ANTHROPIC_KW = {
    "model": MODEL,
    "max_tokens": 100,
    "system": [{"type": "text", "text": "Be brief."}],
    "messages": [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": TINY_PNG}},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
                {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "notes"}},
            ],
        },
        {"role": "assistant", "content": [anthropic_tool_use(id="toolu_1")]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "sunny"}]},
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": "also sunny"},
            ],
        },
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "hm", "signature": "sig"}]},
    ],
    "tools": [
        {"name": "get_weather", "description": "Weather.", "input_schema": {"type": "object", "properties": {}}},
        {"type": "web_search_20250305", "name": "web_search"},
    ],
}
ANTHROPIC_IN = {"gen_ai.input.messages", "gen_ai.system_instructions", "gen_ai.tool.definitions"}


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_anthropic_stream(spans, anthropic_otel, outcome):
    wire = anthropic_message_stream("A cat; sunny.", chunks=8, tool_uses=[anthropic_tool_use()])

    def open_sync(client):
        return client.messages.create(stream=True, **ANTHROPIC_KW)

    async def open_async(client):
        return await client.messages.create(stream=True, **ANTHROPIC_KW)

    consume(outcome, open_sync, open_async, anthropic_make, wire, "httpx2")
    found = check_call(spans, anthropic_otel, outcome, {*ANTHROPIC_IN, OUTPUT})
    blob = next(p for m in found["gen_ai.input.messages"] for p in m["parts"] if p["type"] == "blob")
    assert blob == {"type": "blob", "modality": "image", "mime_type": "image/png", "content": TINY_PNG}
    if outcome == "completed":
        assert found[OUTPUT][0]["finish_reason"] == "tool_call"


def test_anthropic_plain(spans, anthropic_otel):
    client = anthropic_make(
        make_transport(anthropic_message("Hi", tool_uses=[anthropic_tool_use()]), lib="httpx2"), False
    )
    client.messages.create(**ANTHROPIC_KW)
    check_call(spans, anthropic_otel, None, {*ANTHROPIC_IN, OUTPUT})


# --- properties: any stream shape, cut anywhere ------------------------------------------------------------------


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    text=st.one_of(st.none(), st.text(min_size=1, max_size=40)),
    n_tools=st.integers(0, 2),
    n=st.integers(1, 2),
    chunks=st.integers(1, 6),
    cut=st.one_of(st.none(), st.integers(0, 30)),
)
def test_property_openai_chat_stream_cut_anywhere(spans, openai_otel, text, n_tools, n, chunks, cut):
    """However many choices / tool calls a chat stream has and wherever the consumer stops, the content validates."""
    if text is None and n_tools == 0:
        text = "x"
    spans.clear()
    openai_otel.logs.clear()
    calls = [openai_tool_call(name=f"tool_{i}", arguments={"i": i}) for i in range(n_tools)]
    wire = openai_chat_stream(text, chunks=chunks, n=n, tool_calls=calls or None)
    stream = openai_make(make_transport(wire, lib="httpx2"), False).chat.completions.create(stream=True, **CHAT_KW)
    for i, _ in enumerate(stream):
        if cut is not None and i >= cut:
            break
    stream.close()
    span = only_span(spans)
    found = check_attributes(span.attributes)
    reasons = {m["finish_reason"] for m in found.get(OUTPUT, ())}
    assert reasons <= {INTERRUPTED, *span.attributes.get("gen_ai.response.finish_reasons", ())}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    text=st.one_of(st.none(), st.text(min_size=1, max_size=40)),
    n_tools=st.integers(0, 2),
    chunks=st.integers(1, 6),
    cut=st.one_of(st.none(), st.integers(0, 30)),
)
def test_property_anthropic_stream_cut_anywhere(spans, anthropic_otel, text, n_tools, chunks, cut):
    if text is None and n_tools == 0:
        text = "x"
    spans.clear()
    anthropic_otel.clear()
    uses = [anthropic_tool_use(name=f"tool_{i}", input={"i": i}) for i in range(n_tools)] or None
    wire = anthropic_message_stream(text, chunks=chunks, tool_uses=uses)
    stream = anthropic_make(make_transport(wire, lib="httpx2"), False).messages.create(stream=True, **ANTHROPIC_KW)
    for i, _ in enumerate(stream):
        if cut is not None and i >= cut:
            break
    stream.close()
    span = only_span(spans)
    found = check_attributes(span.attributes)
    reasons = {m["finish_reason"] for m in found.get(OUTPUT, ())}
    assert reasons <= {INTERRUPTED, *span.attributes.get("gen_ai.response.finish_reasons", ())}


# --- openai-agents bridge (its own model spans: the OpenAI instrumentor is off) ---------------------------------


@pytest.fixture
def agents_bridge(capture_content):
    set_trace_processors([])  # the SDK's default exporter would try the network
    instrumentor = OpenAIAgentsInstrumentor()
    instrumentor.instrument()
    yield
    instrumentor.uninstrument()


def _agent(edge: ScriptedEdge, model_cls: type, instructions: str = "triage") -> Any:
    from agents import Agent, function_tool
    from support.agents_edge import clients

    @function_tool
    def get_weather(city: str) -> str:
        """Get the weather for a city."""
        return f"sunny in {city}"

    model = model_cls(model="gpt-4o-mini", openai_client=clients(edge)[1])
    return Agent(name="Triage", instructions=instructions, tools=[get_weather], model=model)


@pytest.mark.parametrize("streamed", [False, True], ids=["run", "run_streamed"])
@pytest.mark.parametrize("model_cls", [OpenAIChatCompletionsModel, OpenAIResponsesModel], ids=["chat", "responses"])
def test_agents_bridge_model_spans(spans, agents_bridge, model_cls, streamed):
    agent = _agent(ScriptedEdge(), model_cls)
    config = RunConfig(trace_include_sensitive_data=True)

    async def run() -> None:
        if streamed:
            result = Runner.run_streamed(agent, "weather?", run_config=config)
            async for _ in result.stream_events():
                pass
        else:
            await Runner.run(agent, "weather?", run_config=config)

    asyncio.run(run())
    assert_all_ended()
    model_spans = [s for s in spans.get_finished_spans() if s.name == "chat gpt-4o-mini"]
    assert len(model_spans) == 2  # the tool call, then the final answer
    for span in model_spans:
        found = check_attributes(span.attributes)
        assert {"gen_ai.input.messages", OUTPUT} <= set(found)
        assert all(m["finish_reason"] for m in found[OUTPUT])
    first, last = (check_attributes(s.attributes)[OUTPUT] for s in model_spans)
    assert any(p["type"] == "tool_call" for m in first for p in m["parts"])
    assert any(p["type"] == "text" for m in last for p in m["parts"])


def test_agents_bridge_model_error(spans, agents_bridge):
    agent = _agent(ScriptedEdge(), OpenAIChatCompletionsModel, instructions="FAIL500")
    with pytest.raises(Exception, match=r"500|Internal"):
        asyncio.run(Runner.run(agent, "weather?", run_config=RunConfig(trace_include_sensitive_data=True)))
    assert_all_ended()
    for span in spans.get_finished_spans():
        check_attributes(span.attributes)

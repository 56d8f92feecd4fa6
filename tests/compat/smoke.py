"""Compatibility smoke suite: run INSIDE a compat stage venv (see ``tests/compat/run.py``), not by the main pytest.

Every instrumentor is driven through its real SDK, faked only at the HTTP edge with the wire formats of
``tests/support/wire.py``, and each test asserts the span AND its key attributes: at the ends of a version range
the usual failure is not an exception but an attribute that silently stops being set. A logging handler on the
``otel_genai`` logger fails any test during which otel-genai swallowed an exception (a debug record with exc_info).

otel-genai is imported inside the tests, not at collection, so that an import failure at a floor is a failing
(or known-failing) test rather than a collection error that hides every other result.

Markers name the library a test needs; ``run.py`` selects with ``-m`` the libraries each venv holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import importlib
import importlib.metadata
import json
import logging
import os
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for support.wire (standard library only)

from support import wire

STAGE = os.environ.get("OTEL_GENAI_COMPAT_STAGE", "")

# Known failures, by stage and issue item ("Works at both ends of every version range it declares"), measured with
# tests/compat/run.py --no-xfail. Strict: when a fix lands, the XPASS fails the stage and the mark must go.
# Fixed on main since this stage first ran, kept as the record: the otel 1.30/0.51b0 floor (`import otel_genai`
# failing on semconv constants), and the three below.
OPENAI_FLOOR = (
    "openai 1.66 floor: Responses usage `input_tokens_details` arrives as a dict: AttributeError 'dict' object has "
    "no attribute 'cached_tokens' (openai/responses.py response/chunk), no gen_ai.usage.cache_read.input_tokens"
)
ANTHROPIC_FLOOR = (
    "anthropic 0.40.0 floor: could not apply ('anthropic.resources.messages.messages', 'Messages.create'): "
    "ModuleNotFoundError ('anthropic.resources.messages' is a module there, not a package): no span at all"
)
AGENTS_FLOOR = (
    "openai-agents < 0.14 floor: no Responses usage: AttributeError 'ResponseSpanData' object has no attribute "
    "'usage' (openai_agents/processor.py), the chat span has no gen_ai.usage.*"
)
# (Found by the newest stage and fixed on main since: openai-agents run_streamed through
# `responses.with_streaming_response.create` on the async client, 'AsyncAPIResponse' object has no attribute 'id'.)
KNOWN: dict[str, dict[str, list[str]]] = {}  # AGENTS_FLOOR: fixed (the response's own usage before 0.14)


def known(group: str) -> pytest.MarkDecorator:
    """Strict xfail for the issue items :data:`KNOWN` lists for ``group`` at this stage (none outside a stage)."""
    reasons = KNOWN.get(STAGE, {}).get(group, [])
    return pytest.mark.xfail(bool(reasons), reason="; ".join(reasons) or "n/a", strict=True)


# -- instrumentation, once per process ------------------------------------------------------------------------


class SwallowedErrors(logging.Handler):
    """Collects otel_genai records carrying exc_info: an exception that instrumentation caught and logged."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.records.append(record)


SWALLOWED = SwallowedErrors()
_otel_logger = logging.getLogger("otel_genai")
_otel_logger.addHandler(SWALLOWED)
_otel_logger.setLevel(logging.DEBUG)

_STATE: dict[str, Any] = {}


def instrumented() -> Any:
    """The in-memory exporter of a provider that every otel-genai instrumentor whose library is here reports to."""
    if "exporter" not in _STATE:
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        _STATE["exporter"] = exporter
        _STATE["instrumented"] = {}  # library -> None (instrumented) or the exception instrument() raised
    library_modules = {
        "openai": ("openai", "otel_genai.instrumentation.openai", "OpenAIInstrumentor"),
        "anthropic": ("anthropic", "otel_genai.instrumentation.anthropic", "AnthropicInstrumentor"),
        "agents": ("openai-agents", "otel_genai.instrumentation.openai_agents", "OpenAIAgentsInstrumentor"),
        "agno": ("agno", "otel_genai.instrumentation.agno", "AgnoInstrumentor"),
        "bedrock": ("botocore", "otel_genai.instrumentation.bedrock", "BedrockInstrumentor"),
        "langchain": ("langchain-core", "otel_genai.instrumentation.langchain", "LangChainInstrumentor"),
        "litellm": ("litellm", "otel_genai.instrumentation.litellm", "LiteLLMInstrumentor"),
        "google_genai": ("google-genai", "otel_genai.instrumentation.google_genai", "GoogleGenAIInstrumentor"),
    }
    for name, (dist, module, cls) in library_modules.items():
        if not _installed(dist):
            continue
        if name not in _STATE["instrumented"]:
            _STATE["instrumented"][name] = None
            try:
                if name == "agents":  # before ours is added: the SDK's default processor exports to the network
                    importlib.import_module("agents").set_trace_processors([])
                getattr(importlib.import_module(module), cls)().instrument()
            except Exception as exc:
                _STATE["instrumented"][name] = exc
        if _STATE["instrumented"][name] is not None:  # every test of the library fails with the same cause
            raise _STATE["instrumented"][name]
    return _STATE["exporter"]


def _installed(dist: str) -> bool:
    try:
        importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


@pytest.fixture(autouse=True)
def no_swallowed_errors(recwarn):
    SWALLOWED.records.clear()
    if "exporter" in _STATE:
        _STATE["exporter"].clear()
    yield
    assert not SWALLOWED.records, [f"{r.getMessage()}: {r.exc_info[1]!r}" for r in SWALLOWED.records]
    gc.collect()
    # Python 3.13 warns about a coroutine step made and dropped unrun; the user would see ours on stderr
    unawaited = [str(w.message) for w in recwarn if "never awaited" in str(w.message)]
    assert not unawaited, unawaited


def finished(name: str, count: int = 1) -> list[Any]:
    """The finished spans called ``name``; exactly ``count`` of them."""
    spans = _STATE["exporter"].get_finished_spans()
    named = [s for s in spans if s.name == name]
    assert len(named) == count, f"want {count} {name!r}, got {[s.name for s in spans]}"
    return named


def assert_attributes(span: Any, expected: dict[str, Any]) -> None:
    got = dict(span.attributes or {})
    wrong = {k: (v, got.get(k, "<missing>")) for k, v in expected.items() if _norm(got.get(k)) != _norm(v)}
    assert not wrong, f"{span.name}: attribute (want, got): {wrong}"


def _norm(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def http_lib(sdk: str) -> str:
    """The HTTP library ``sdk``'s clients take: httpx2 for the SDKs that moved to it, httpx before."""
    requires = importlib.metadata.requires(sdk) or []
    return "httpx2" if any(r.replace(" ", "").startswith("httpx2") for r in requires) else "httpx"


def openai_client(responses: Any, is_async: bool = False) -> Any:
    return wire.openai_client(wire.make_transport(responses, lib=http_lib("openai")), is_async=is_async)


def anthropic_client(responses: Any, is_async: bool = False) -> Any:
    import anthropic

    lib = importlib.import_module(http_lib("anthropic"))
    transport = wire.make_transport(responses, lib=lib)
    http = lib.AsyncClient(transport=transport) if is_async else lib.Client(transport=transport)
    cls = anthropic.AsyncAnthropic if is_async else anthropic.Anthropic
    return cls(api_key="test", http_client=http, max_retries=0)


def run(is_async: bool, fn: Any) -> Any:
    return asyncio.run(fn()) if is_async else fn()


MODES = [(False, False), (False, True), (True, False), (True, True)]
MODE_IDS = ["sync", "sync-stream", "async", "async-stream"]
OPENAI_COMMON = {"gen_ai.provider.name": "openai", "server.address": "api.openai.com"}


# -- openai -------------------------------------------------------------------------------------------------------


@pytest.mark.openai
@pytest.mark.parametrize(("is_async", "stream"), MODES, ids=MODE_IDS)
def test_openai_chat(is_async, stream):
    instrumented()
    body = (
        wire.openai_chat_stream("Hello there", id="chatcmpl-smoke", include_usage=True)
        if stream
        else wire.openai_chat("Hello there", id="chatcmpl-smoke")
    )
    client = openai_client(body, is_async)
    kwargs: dict[str, Any] = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    if stream:
        kwargs.update(stream=True, stream_options={"include_usage": True})

    async def acall() -> str:
        result = await client.chat.completions.create(**kwargs)
        if not stream:
            return result.choices[0].message.content
        return "".join([c.choices[0].delta.content or "" async for c in result if c.choices])

    def call() -> str:
        result = client.chat.completions.create(**kwargs)
        if not stream:
            return result.choices[0].message.content
        return "".join(c.choices[0].delta.content or "" for c in result if c.choices)

    assert run(is_async, acall if is_async else call) == "Hello there"
    (span,) = finished("chat gpt-4o-mini")
    assert_attributes(
        span,
        {
            **OPENAI_COMMON,
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
            "gen_ai.response.id": "chatcmpl-smoke",
            "gen_ai.usage.input_tokens": 12,
            "gen_ai.usage.output_tokens": 5,
            "gen_ai.response.finish_reasons": ["stop"],
        },
    )


@pytest.mark.openai
@known("openai_responses")
@pytest.mark.parametrize(("is_async", "stream"), MODES, ids=MODE_IDS)
def test_openai_responses(is_async, stream):
    instrumented()
    builder = wire.openai_responses_stream if stream else wire.openai_responses
    client = openai_client(builder("Hello there", id="resp_smoke", cached_tokens=2), is_async)
    kwargs: dict[str, Any] = {"model": "gpt-4o-mini", "input": "hi", "stream": stream}

    async def acall() -> str:
        result = await client.responses.create(**kwargs)
        if not stream:
            return result.output_text
        return "".join([e.delta async for e in result if e.type == "response.output_text.delta"])

    def call() -> str:
        result = client.responses.create(**kwargs)
        if not stream:
            return result.output_text
        return "".join(e.delta for e in result if e.type == "response.output_text.delta")

    assert run(is_async, acall if is_async else call) == "Hello there"
    (span,) = finished("chat gpt-4o-mini")
    assert_attributes(
        span,
        {
            **OPENAI_COMMON,
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
            "gen_ai.response.id": "resp_smoke",
            "gen_ai.usage.input_tokens": 12,
            "gen_ai.usage.output_tokens": 5,
            "gen_ai.usage.cache_read.input_tokens": 2,
        },
    )


@pytest.mark.openai
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_openai_embeddings(is_async):
    instrumented()
    client = openai_client(wire.openai_embeddings(2, prompt_tokens=4), is_async)
    kwargs = {"model": "text-embedding-3-small", "input": ["a", "b"]}

    async def acall() -> Any:
        return await client.embeddings.create(**kwargs)

    result = run(is_async, acall if is_async else (lambda: client.embeddings.create(**kwargs)))
    assert len(result.data) == 2
    (span,) = finished("embeddings text-embedding-3-small")
    assert_attributes(
        span,
        {
            **OPENAI_COMMON,
            "gen_ai.operation.name": "embeddings",
            "gen_ai.request.model": "text-embedding-3-small",
            "gen_ai.response.model": "text-embedding-3-small",
            "gen_ai.usage.input_tokens": 4,
        },
    )


# -- anthropic ----------------------------------------------------------------------------------------------------

ANTHROPIC_MODES = [(is_async, how) for is_async in (False, True) for how in ("create", "stream=True", ".stream()")]


@pytest.mark.anthropic
@known("anthropic")
@pytest.mark.parametrize(("is_async", "how"), ANTHROPIC_MODES)
def test_anthropic_messages(is_async, how):
    instrumented()
    streamed = how != "create"
    builder = wire.anthropic_message_stream if streamed else wire.anthropic_message
    client = anthropic_client(builder("Hello there", id="msg_smoke"), is_async)
    kwargs: dict[str, Any] = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "hi"}],
    }

    def call() -> str:
        if how == "create":
            return client.messages.create(**kwargs).content[0].text
        if how == "stream=True":
            events = client.messages.create(stream=True, **kwargs)
            return "".join(e.delta.text for e in events if e.type == "content_block_delta")
        with client.messages.stream(**kwargs) as stream:
            return "".join(stream.text_stream)

    async def acall() -> str:
        if how == "create":
            return (await client.messages.create(**kwargs)).content[0].text
        if how == "stream=True":
            events = await client.messages.create(stream=True, **kwargs)
            return "".join([e.delta.text async for e in events if e.type == "content_block_delta"])
        async with client.messages.stream(**kwargs) as stream:
            return "".join([t async for t in stream.text_stream])

    assert run(is_async, acall if is_async else call) == "Hello there"
    (span,) = finished("chat claude-sonnet-4-5")
    assert_attributes(
        span,
        {
            "gen_ai.provider.name": "anthropic",
            "gen_ai.operation.name": "chat",
            "server.address": "api.anthropic.com",
            "gen_ai.request.model": "claude-sonnet-4-5",
            "gen_ai.request.max_tokens": 64,
            "gen_ai.response.model": "claude-sonnet-4-5-20250929",
            "gen_ai.response.id": "msg_smoke",
            "gen_ai.usage.input_tokens": 12,
            "gen_ai.usage.output_tokens": 5,
            "gen_ai.response.finish_reasons": ["stop"],
        },
    )


# -- agent frameworks: one tool call, then the final answer -------------------------------------------------------

FINAL = "It is sunny in Paris."


def tool_then_answer(request: wire.RecordedRequest) -> wire.WireResponse:
    """The model asks for get_weather until the history holds its output, then answers (chat or Responses)."""
    body = request.json() or {}
    stream = bool(body.get("stream"))
    if request.path.endswith("/chat/completions"):
        done = any(m.get("role") == "tool" for m in body.get("messages") or [])
        calls = None if done else [wire.openai_tool_call("get_weather", {"city": "Paris"})]
        if stream:
            return wire.openai_chat_stream(None if calls else FINAL, tool_calls=calls, include_usage=True)
        return wire.openai_chat(None if calls else FINAL, tool_calls=calls)
    items = body.get("input") if isinstance(body.get("input"), list) else []
    done = any(i.get("type") == "function_call_output" for i in items)
    calls = None if done else [wire.responses_function_call("get_weather", {"city": "Paris"})]
    build = wire.openai_responses_stream if stream else wire.openai_responses
    return build(None if calls else FINAL, function_calls=calls)


@pytest.mark.openai_agents
@pytest.mark.parametrize(
    "mode",
    [
        "run_sync",
        "run",
        "run_streamed",
    ],
)
def test_openai_agents_run(mode):
    exporter = instrumented()
    from agents import Agent, OpenAIResponsesModel, Runner, function_tool

    @function_tool
    def get_weather(city: str) -> str:
        """Get the weather for a city."""
        return f"sunny in {city}"

    client = openai_client(tool_then_answer, is_async=True)
    model = OpenAIResponsesModel(model="gpt-4o-mini", openai_client=client)
    agent = Agent(name="Weather", instructions="Use the tool.", tools=[get_weather], model=model)

    async def streamed() -> str:
        result = Runner.run_streamed(agent, "weather?")
        async for _ in result.stream_events():
            pass
        return result.final_output

    if mode == "run_sync":
        output = Runner.run_sync(agent, "weather?").final_output
    elif mode == "run":
        output = asyncio.run(Runner.run(agent, "weather?")).final_output
    else:
        output = asyncio.run(streamed())
    assert output.strip() == FINAL
    (invoke,) = finished("invoke_agent Weather")
    assert_attributes(invoke, {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "Weather"})
    (tool,) = finished("execute_tool get_weather")
    assert_attributes(tool, {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "get_weather"})
    chats = finished("chat gpt-4o-mini", 2)
    for chat in chats:
        assert_attributes(
            chat,
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.usage.input_tokens": 12,
                "gen_ai.usage.output_tokens": 5,
            },
        )
    trace_ids = {s.context.trace_id for s in exporter.get_finished_spans()}
    assert len(trace_ids) == 1, "one run, one trace"


@pytest.mark.openai_agents
@known("openai_agents_alone")
def test_openai_agents_alone_reports_responses_usage():
    """Without the openai instrumentor the model call's span comes from the SDK's own response span: its usage."""
    instrumented()
    from agents import Agent, OpenAIResponsesModel, Runner

    from otel_genai.instrumentation.openai import OpenAIInstrumentor

    OpenAIInstrumentor().uninstrument()
    try:
        client = openai_client(wire.openai_responses(FINAL), is_async=True)
        agent = Agent(name="Plain", model=OpenAIResponsesModel(model="gpt-4o-mini", openai_client=client))
        assert asyncio.run(Runner.run(agent, "weather?")).final_output.strip() == FINAL
    finally:
        OpenAIInstrumentor().instrument()
    (chat,) = finished("chat gpt-4o-mini")
    assert_attributes(
        chat,
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.input_tokens": 12,
            "gen_ai.usage.output_tokens": 5,
        },
    )


@pytest.mark.agno
@pytest.mark.parametrize("mode", ["run", "run_stream", "arun", "arun_stream"])
def test_agno_run(mode):
    instrumented()
    from agno.agent import Agent
    from agno.models.openai import OpenAIChat

    def get_weather(city: str) -> str:
        """Get the weather for a city."""
        return f"sunny in {city}"

    is_async = mode.startswith("arun")
    if "client" in {f.name for f in dataclasses.fields(OpenAIChat)}:
        clients = {
            "client": openai_client(tool_then_answer),
            "async_client": openai_client(tool_then_answer, is_async=True),
        }
    else:  # agno 2.0: one httpx client, sync or async, that agno hands to the OpenAI client it builds
        lib = importlib.import_module(http_lib("openai"))
        transport = wire.make_transport(tool_then_answer, lib=lib)
        clients = {
            "http_client": lib.AsyncClient(transport=transport) if is_async else lib.Client(transport=transport),
            "api_key": "test",
            "max_retries": 0,
        }
    model = OpenAIChat(id="gpt-4o-mini", **clients)
    agent = Agent(name="Weather", model=model, tools=[get_weather], instructions="Use the tool.")

    async def drain(agen: Any) -> list:
        return [event async for event in agen]

    if mode == "run":
        assert agent.run("weather?").content == FINAL
    elif mode == "arun":
        assert asyncio.run(agent.arun("weather?")).content == FINAL
    elif mode == "run_stream":
        assert len(list(agent.run("weather?", stream=True, stream_events=True))) > 2
    else:
        assert len(asyncio.run(drain(agent.arun("weather?", stream=True, stream_events=True)))) > 2
    (invoke,) = finished("invoke_agent Weather")
    assert_attributes(invoke, {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "Weather"})
    (tool,) = finished("execute_tool get_weather")
    assert_attributes(tool, {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "get_weather"})
    finished("chat gpt-4o-mini", 2)  # the OpenAI instrumentor under agno's model calls


# -- bedrock: a botocore client (boto3 is only its front end) against support/bedrock.py's fake ----------------------

BEDROCK_MODEL = "amazon.nova-lite-v1:0"


def bedrock_client(url: str) -> Any:
    import botocore.session
    from botocore.config import Config

    return botocore.session.get_session().create_client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}, read_timeout=10, connect_timeout=5),
    )


@pytest.mark.bedrock
@known("bedrock")
@pytest.mark.parametrize("operation", ["converse", "converse_stream", "invoke_model", "invoke_model_stream"])
def test_bedrock(operation):
    instrumented()
    from support import bedrock

    stream = operation.endswith("_stream")
    with bedrock.serve() as server:
        client = bedrock_client(server.url)
        if operation.startswith("converse"):
            model = BEDROCK_MODEL
            messages = [{"role": "user", "content": [{"text": "hi"}]}]
            config = {"maxTokens": 64, "temperature": 0.5}
            server.queue(bedrock.converse_stream("Hello there") if stream else bedrock.converse("Hello there"))
            if stream:
                response = client.converse_stream(modelId=model, messages=messages, inferenceConfig=config)
                events = list(response["stream"])
                text = "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e)
            else:
                response = client.converse(modelId=model, messages=messages, inferenceConfig=config)
                text = response["output"]["message"]["content"][0]["text"]
        else:
            model = bedrock.MODELS["anthropic"]
            body = json.dumps(bedrock.invoke_request("anthropic"))
            if stream:
                server.queue(bedrock.invoke_stream("anthropic", "Hello there"))
                events = list(client.invoke_model_with_response_stream(modelId=model, body=body)["body"])
                chunks = [json.loads(e["chunk"]["bytes"]) for e in events]
                text = "".join(c["delta"].get("text", "") for c in chunks if c["type"] == "content_block_delta")
            else:
                server.queue(bedrock.invoke("anthropic", "Hello there"))
                text = json.loads(client.invoke_model(modelId=model, body=body)["body"].read())["content"][0]["text"]
        port = int(server.url.rsplit(":", 1)[1])
    assert text == "Hello there"
    (span,) = finished(f"chat {model}")
    assert_attributes(
        span,
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "aws.bedrock",
            "gen_ai.request.model": model,
            "gen_ai.request.max_tokens": 64,
            "gen_ai.request.temperature": 0.5,
            "server.address": "127.0.0.1",
            "server.port": port,
            "gen_ai.response.finish_reasons": ["stop"],
            "gen_ai.usage.input_tokens": 11,
            "gen_ai.usage.output_tokens": 7,
        },
    )
    if stream:
        assert_attributes(span, {"otel_genai.outcome": "completed", "otel_genai.stream.items": len(events)})


# -- langchain: LangChain's fake chat model (no network) in a chain and in a LangGraph graph -----------------------


def fake_chat_model(text: str) -> Any:
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage

    usage = {"input_tokens": 12, "output_tokens": 5, "total_tokens": 17}
    metadata = {"finish_reason": "stop", "model_name": "fake-smoke"}
    message = AIMessage(content=text, id="run-smoke", usage_metadata=usage, response_metadata=metadata)
    return GenericFakeChatModel(messages=iter([message]))


@pytest.mark.langchain
@known("langchain")
@pytest.mark.parametrize(("is_async", "stream"), MODES, ids=MODE_IDS)
def test_langchain_chain(is_async, stream):
    instrumented()
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate

    chain = ChatPromptTemplate.from_messages([("human", "say {word}")]) | fake_chat_model("Hello there friend")
    chain = chain | StrOutputParser()
    inputs = {"word": "hello"}

    def call() -> str:
        return "".join(chain.stream(inputs)) if stream else chain.invoke(inputs)

    async def acall() -> str:
        return "".join([c async for c in chain.astream(inputs)]) if stream else await chain.ainvoke(inputs)

    assert run(is_async, acall if is_async else call) == "Hello there friend"
    (workflow,) = finished("invoke_workflow RunnableSequence")
    assert_attributes(workflow, {"gen_ai.operation.name": "invoke_workflow", "otel_genai.outcome": "completed"})
    (chat,) = finished("chat")
    assert chat.parent.span_id == workflow.context.span_id
    assert_attributes(chat, {"gen_ai.operation.name": "chat"})
    if stream:  # the fake model's chunks carry no metadata: the stream's own attributes
        assert chat.attributes["gen_ai.response.time_to_first_chunk"] >= 0
    else:
        assert_attributes(
            chat,
            {
                "gen_ai.response.model": "fake-smoke",
                "gen_ai.response.finish_reasons": ["stop"],
                "gen_ai.usage.input_tokens": 12,
                "gen_ai.usage.output_tokens": 5,
            },
        )


@pytest.mark.langchain
@known("langgraph")
@pytest.mark.parametrize("mode", ["invoke", "stream", "ainvoke", "astream"])
def test_langgraph_graph(mode):
    instrumented()
    from typing import TypedDict

    from langgraph.graph import END, START, StateGraph

    class State(TypedDict):
        question: str
        answer: str

    model = fake_chat_model("Paris")

    def ask(state: State) -> dict:
        return {"answer": model.invoke(state["question"]).content}

    builder = StateGraph(State)
    builder.add_node("ask", ask)
    builder.add_edge(START, "ask")
    builder.add_edge("ask", END)
    graph = builder.compile()
    inputs, config = {"question": "capital?", "answer": ""}, {"configurable": {"thread_id": "t-smoke"}}

    async def astream() -> list:
        return [c async for c in graph.astream(inputs, config)]

    if mode == "invoke":
        assert graph.invoke(inputs, config)["answer"] == "Paris"
    elif mode == "ainvoke":
        assert asyncio.run(graph.ainvoke(inputs, config))["answer"] == "Paris"
    else:
        chunks = list(graph.stream(inputs, config)) if mode == "stream" else asyncio.run(astream())
        assert chunks == [{"ask": {"answer": "Paris"}}]
    (root,) = finished("invoke_workflow LangGraph")
    assert_attributes(
        root,
        {
            "gen_ai.operation.name": "invoke_workflow",
            "gen_ai.conversation.id": "t-smoke",
            "otel_genai.outcome": "completed",
        },
    )
    (node,) = finished("ask")
    assert node.parent.span_id == root.context.span_id
    assert_attributes(node, {"otel_genai.langgraph.node": "ask", "otel_genai.langgraph.step": 1})
    (chat,) = finished("chat")
    # Async runs before Python 3.11: LangGraph cannot hand the node's config to the task that runs it (its
    # ASYNCIO_ACCEPTS_CONTEXT), so LangChain does not know the model call's parent run; ours is then the graph's span.
    parent = root if mode.startswith("a") and sys.version_info < (3, 11) else node
    assert chat.parent.span_id == parent.context.span_id
    assert_attributes(chat, {"gen_ai.usage.input_tokens": 12, "gen_ai.usage.output_tokens": 5})


# -- litellm: routed to OpenAI, whose API is the stdlib server below --------------------------------------------------


@pytest.mark.litellm
@known("litellm")
@pytest.mark.parametrize(("is_async", "stream"), MODES, ids=MODE_IDS)
def test_litellm_completion(is_async, stream):
    instrumented()
    import litellm

    def answer(path: str) -> wire.WireResponse:
        assert path == "/v1/chat/completions", path
        if stream:
            return wire.openai_chat_stream("Hello there", id="chatcmpl-smoke", include_usage=True)
        return wire.openai_chat("Hello there", id="chatcmpl-smoke")

    with wire_server(answer) as base_url:
        kwargs: dict[str, Any] = {
            "model": "openai/gpt-4o-mini",
            "messages": [{"role": "user", "content": "hi"}],
            "api_base": base_url + "v1",
            "api_key": "test",
            "temperature": 0.5,
        }
        if stream:
            kwargs.update(stream=True, stream_options={"include_usage": True})

        def call() -> str:
            result = litellm.completion(**kwargs)
            if not stream:
                return result.choices[0].message.content
            return "".join(c.choices[0].delta.content or "" for c in result if c.choices)

        async def acall() -> str:
            result = await litellm.acompletion(**kwargs)
            if not stream:
                return result.choices[0].message.content
            return "".join([c.choices[0].delta.content or "" async for c in result if c.choices])

        assert run(is_async, acall if is_async else call) == "Hello there"
    (span,) = finished("chat gpt-4o-mini")  # one CLIENT span: LiteLLM's, also with the OpenAI instrumentor on
    assert span.instrumentation_scope.name == "otel_genai.instrumentation.litellm"
    assert_attributes(
        span,
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.request.temperature": 0.5,
            "server.address": "127.0.0.1",
            "gen_ai.response.finish_reasons": ["stop"],
            "gen_ai.usage.input_tokens": 12,
            "gen_ai.usage.output_tokens": 5,
        },
    )
    if stream:  # LiteLLM's stream chunks name the model asked for, not the provider's
        assert_attributes(span, {"otel_genai.outcome": "completed", "gen_ai.request.stream": True})
    else:
        assert_attributes(
            span, {"gen_ai.response.id": "chatcmpl-smoke", "gen_ai.response.model": "gpt-4o-mini-2024-07-18"}
        )


# -- google-genai -------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def wire_server(answer: Any) -> Any:
    """A stdlib HTTP server on 127.0.0.1 answering each POST with ``answer(path)``, a ``support.wire.WireResponse``
    (for SDKs that take no transport, only a base URL). HTTP/1.0: the body ends when the connection closes."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            response = answer(self.path)
            self.send_response(response.status)
            for key, value in response.headers:
                if key.lower() != "content-length":
                    self.send_header(key, value)
            if response.header("content-type") != "text/event-stream":
                self.send_header("content-length", str(len(response.body)))
            self.end_headers()
            for chunk in response.chunks:
                self.wfile.write(chunk)
                self.wfile.flush()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def gemini_server() -> Any:
    """The Gemini API's wire format (the SDK's floor has no transport option, only ``HttpOptions(base_url=...)``)."""
    from support import gemini_wire

    def answer(path: str) -> wire.WireResponse:
        if ":streamGenerateContent" in path:
            return gemini_wire.generate_content_stream("Hello there", chunks=2)
        if ":batchEmbedContents" in path:
            return gemini_wire.batch_embed_contents(count=1)
        return gemini_wire.generate_content("Hello there")

    return wire_server(answer)


@pytest.mark.google_genai
@known("google_genai")
@pytest.mark.parametrize(("is_async", "stream"), MODES, ids=MODE_IDS)
def test_google_genai_generate_content(is_async, stream):
    instrumented()
    from google import genai
    from google.genai import types

    with gemini_server() as base_url:
        client = genai.Client(api_key="test", http_options=types.HttpOptions(base_url=base_url))
        kwargs: dict[str, Any] = {"model": "gemini-smoke", "contents": "hi", "config": {"temperature": 0.5}}

        def call() -> str:
            if stream:
                return "".join(c.text for c in client.models.generate_content_stream(**kwargs))
            return client.models.generate_content(**kwargs).text

        async def acall() -> str:
            if stream:
                return "".join([c.text async for c in await client.aio.models.generate_content_stream(**kwargs)])
            return (await client.aio.models.generate_content(**kwargs)).text

        assert run(is_async, acall if is_async else call) == "Hello there"
        client.models.embed_content(model="embed-smoke", contents=["a"])
    (span,) = finished("generate_content gemini-smoke")
    assert_attributes(
        span,
        {
            "gen_ai.operation.name": "generate_content",
            "gen_ai.provider.name": "gcp.gemini",
            "gen_ai.request.temperature": 0.5,
            "server.address": "127.0.0.1",
            "gen_ai.response.finish_reasons": ["stop"],
            "gen_ai.usage.input_tokens": 12,
            "gen_ai.usage.output_tokens": 5,
        },
    )
    if stream:
        assert_attributes(span, {"otel_genai.outcome": "completed", "otel_genai.stream.items": 2})
    finished("embeddings embed-smoke")


def test_engine_async_shapes_leave_no_step_unawaited():
    """Every async shape the engine returns, read fully, stopped early, never read and dropped: each span ends once,
    and no step of an async generator is left unawaited (the autouse fixture fails on Python 3.13's warning)."""
    exporter = instrumented()
    from support.streams import Countdown, DualCountdown

    import otel_genai

    @otel_genai.task
    async def numbers(n):
        for i in range(n):
            yield i

    countdown = otel_genai.task(name="countdown")(lambda n: Countdown(n))
    dual = otel_genai.task(name="dual")(lambda n: DualCountdown(n))

    async def main():
        assert [i async for i in numbers(3)] == [0, 1, 2]
        early = numbers(3)
        assert await early.__anext__() == 0
        await early.aclose()
        numbers(3)  # never read, dropped
        assert [i async for i in countdown(2)] == [1, 0]
        stopped = countdown(2)
        assert await stopped.__anext__() == 1
        await stopped.aclose()
        countdown(2)  # never read, dropped
        assert [i async for i in dual(2)] == [1, 0]
        assert list(dual(2)) == [1, 0]
        dual(2)  # never read, dropped

    asyncio.run(main())
    gc.collect()
    spans = exporter.get_finished_spans()
    assert sorted(s.name for s in spans) == sorted(["numbers"] * 3 + ["countdown"] * 3 + ["dual"] * 3)
    for name in ("numbers", "countdown"):
        outcomes = sorted(str((s.attributes or {}).get("otel_genai.outcome")) for s in spans if s.name == name)
        assert outcomes == ["abandoned", "completed", "stopped_early"], (name, outcomes)


def test_versions_under_test():
    """Prints what this venv holds (shown with -rA / in run.py's log), so a result names its versions."""
    names = ("opentelemetry-api", "opentelemetry-sdk", "opentelemetry-instrumentation", "wrapt")
    names += ("opentelemetry-semantic-conventions", "openai", "anthropic", "openai-agents", "agno", "google-genai")
    names += ("botocore", "langchain-core", "langgraph", "litellm")
    versions = {n: importlib.metadata.version(n) for n in names if _installed(n)}
    print("VERSIONS", json.dumps({"python": sys.version.split()[0], **versions}))
    assert versions["opentelemetry-api"]

"""LangChainInstrumentor with real langchain-core / langgraph / langchain (create_agent), chat models backed by the
real OpenAI / Anthropic SDKs over a fake HTTP edge (real wire formats), and LangChain's fake chat models where no
provider matters."""

from __future__ import annotations

import asyncio
import gc
import inspect
import json
import operator
from typing import Annotated, Any, TypedDict

import httpx
import pytest

pytest.importorskip("langchain_core")
pytest.importorskip("langgraph")
pytest.importorskip("langchain_openai")
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import tool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.trace import SpanKind, StatusCode
from support import wire
from support.telemetry import EXPORTER, STARTS, assert_all_ended, metric_points

from otel_genai import semconv as gen_ai
from otel_genai import task
from otel_genai.instrumentation.langchain import LangChainInstrumentor
from otel_genai.lifecycle import OUTCOME, Outcome

tracer = trace.get_tracer("tests")


@pytest.fixture(autouse=True, scope="module")
def instrumented():
    instrumentor = LangChainInstrumentor()
    instrumentor.instrument()
    yield instrumentor
    instrumentor.uninstrument()


@pytest.fixture
def handler(instrumented):
    return instrumented.handler


@pytest.fixture
def openai_on():
    from otel_genai.instrumentation.openai import OpenAIInstrumentor

    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument()
    yield instrumentor
    instrumentor.uninstrument()


def tree(spans=None) -> list[tuple[str, str | None]]:
    finished = list(spans if spans is not None else EXPORTER.get_finished_spans())
    by_id = {s.context.span_id: s for s in finished}
    return sorted(
        (s.name, by_id[s.parent.span_id].name if s.parent and s.parent.span_id in by_id else None) for s in finished
    )


def named(name: str):
    found = [s for s in EXPORTER.get_finished_spans() if s.name == name]
    assert len(found) == 1, (name, tree())
    return found[0]


def outcomes() -> dict[str, Any]:
    return {s.name: s.attributes.get(OUTCOME) for s in EXPORTER.get_finished_spans()}


def reset() -> None:
    """Forget what was exported so far (only after checking it all ended)."""
    assert_all_ended()
    EXPORTER.clear()
    STARTS.started.clear()


def ended_ok(handler) -> None:
    gc.collect()
    assert_all_ended()
    assert handler.in_flight() == 0


# -- graphs -----------------------------------------------------------------------------------------------------


class State(TypedDict):
    steps: Annotated[list[str], operator.add]
    n: int


@task
def helper(x: int) -> int:
    return x + 1


def make_graph(checkpointer=None, fail_in: str | None = None, gate: asyncio.Event | None = None):
    """A multi-node graph: a -> (conditional) b | c -> sub (a subgraph) -> END."""

    def a(state: State) -> dict:
        with tracer.start_as_current_span("inside a"):
            return {"steps": ["a"], "n": helper(state["n"])}

    def b(state: State) -> dict:
        if fail_in == "b":
            raise ValueError("node b failed")
        return {"steps": ["b"]}

    def c(state: State) -> dict:
        return {"steps": ["c"]}

    def inner(state: State) -> dict:
        return {"steps": ["inner"]}

    sub = StateGraph(State)
    sub.add_node("inner", inner)
    sub.add_edge(START, "inner")
    sub.add_edge("inner", END)

    graph = StateGraph(State)
    graph.add_node("a", a)
    graph.add_node("b", b)
    graph.add_node("c", c)
    graph.add_node("sub", sub.compile())
    graph.add_edge(START, "a")
    graph.add_conditional_edges("a", lambda s: "b" if s["n"] % 2 == 0 else "c", ["b", "c"])
    graph.add_edge("b", "sub")
    graph.add_edge("c", "sub")
    graph.add_edge("sub", END)
    return graph.compile(checkpointer=checkpointer)


GRAPH_TREE = [
    ("LangGraph", "sub"),  # the subgraph's own run, in its node
    ("RunnableCallable", "a"),  # the conditional edge's path function, run after the node
    ("a", "invoke_workflow LangGraph"),
    ("b", "invoke_workflow LangGraph"),
    ("inner", "LangGraph"),
    ("inside a", "a"),
    ("invoke_workflow LangGraph", "caller"),
    ("sub", "invoke_workflow LangGraph"),
    ("helper", "inside a"),
    ("caller", None),
]


def test_graph_invoke_tree_nodes_and_conversation_id(spans, handler):
    graph = make_graph()
    with tracer.start_as_current_span("caller"):
        out = graph.invoke({"steps": [], "n": 1}, {"configurable": {"thread_id": "t-1"}})
    assert out["steps"][:2] == ["a", "b"] and out["steps"][-1] == "inner"
    assert tree() == sorted(GRAPH_TREE)
    root = named("invoke_workflow LangGraph")
    assert root.attributes[gen_ai.GEN_AI_OPERATION_NAME] == "invoke_workflow"
    assert root.attributes[gen_ai.GEN_AI_CONVERSATION_ID] == "t-1"
    assert root.attributes[OUTCOME] == Outcome.COMPLETED
    b = named("b")
    assert b.kind == SpanKind.INTERNAL
    assert b.attributes[gen_ai.LANGGRAPH_NODE] == "b"
    assert b.attributes[gen_ai.LANGGRAPH_STEP] == 2
    assert list(b.attributes[gen_ai.LANGGRAPH_TRIGGERS]) == ["branch:to:b"]
    assert trace.get_current_span() is trace.INVALID_SPAN
    ended_ok(handler)


async def test_graph_ainvoke_tree(spans, handler):
    graph = make_graph()
    with tracer.start_as_current_span("caller"):
        out = await graph.ainvoke({"steps": [], "n": 1})
    assert out["steps"][:2] == ["a", "b"] and out["steps"][-1] == "inner"
    assert [t for t in tree() if t[0] != "chain"] == sorted(t for t in GRAPH_TREE if t[0] != "RunnableCallable")
    ended_ok(handler)


def test_exception_in_node_is_an_error_on_node_and_root(spans, handler):
    graph = make_graph(fail_in="b")
    with pytest.raises(ValueError, match="node b failed"):
        graph.invoke({"steps": [], "n": 1})
    assert named("b").status.status_code == StatusCode.ERROR
    root = named("invoke_workflow LangGraph")
    assert root.status.status_code == StatusCode.ERROR
    assert root.attributes[gen_ai.ERROR_TYPE] == "ValueError"
    ended_ok(handler)


# -- streams ----------------------------------------------------------------------------------------------------


def test_stream_keeps_kind_and_parent_at_call_time(spans, handler):
    graph = make_graph()
    with tracer.start_as_current_span("caller"):
        stream = graph.stream({"steps": [], "n": 1})
    assert inspect.isgenerator(stream)
    with tracer.start_as_current_span("consumer"):
        first = next(stream)
        assert "invoke_workflow LangGraph" not in outcomes()  # no buffering: the graph is still running
        rest = list(stream)
    assert first == {"a": {"steps": ["a"], "n": 2}}
    assert len(rest) == 2
    assert ("invoke_workflow LangGraph", "caller") in tree()
    assert outcomes()["invoke_workflow LangGraph"] == Outcome.COMPLETED
    ended_ok(handler)


async def test_astream_parent_at_call_time_and_kind(spans, handler):
    graph = make_graph()
    with tracer.start_as_current_span("endpoint"):
        stream = graph.astream({"steps": [], "n": 1})
    assert inspect.isasyncgen(stream)

    async def consume():  # another task, as Starlette does
        return [chunk async for chunk in stream]

    chunks = await asyncio.create_task(consume())
    assert len(chunks) == 3
    assert ("invoke_workflow LangGraph", "endpoint") in tree()
    assert ("inside a", "a") in tree()
    ended_ok(handler)


def test_stream_break_and_close_stops_every_span_once(spans, handler):
    graph = make_graph()
    stream = graph.stream({"steps": [], "n": 1})
    for _ in stream:
        break
    stream.close()
    got = outcomes()
    assert got["invoke_workflow LangGraph"] == Outcome.STOPPED_EARLY
    assert all(s.status.status_code != StatusCode.ERROR for s in EXPORTER.get_finished_spans())
    ended_ok(handler)


def test_stream_dropped_and_collected_is_abandoned(spans, handler):
    graph = make_graph()
    stream = graph.stream({"steps": [], "n": 1})
    next(stream)
    del stream
    gc.collect()
    assert outcomes()["invoke_workflow LangGraph"] == Outcome.ABANDONED
    ended_ok(handler)


async def test_astream_aclose_and_drop(spans, handler):
    graph = make_graph()
    stream = graph.astream({"steps": [], "n": 1})
    async for _ in stream:
        break
    await stream.aclose()
    assert outcomes()["invoke_workflow LangGraph"] == Outcome.STOPPED_EARLY
    reset()
    stream = graph.astream({"steps": [], "n": 1})
    await stream.__anext__()
    del stream
    gc.collect()
    for _ in range(200):  # the loop's finalizer closes the dropped generator, in a task of its own
        if "invoke_workflow LangGraph" in outcomes():
            break
        await asyncio.sleep(0.01)
    assert outcomes()["invoke_workflow LangGraph"] == Outcome.ABANDONED
    assert all(s.status.status_code != StatusCode.ERROR for s in EXPORTER.get_finished_spans())
    ended_ok(handler)


async def test_astream_cancelled(spans, handler):
    gate = asyncio.Event()

    async def slow(state: State) -> dict:
        gate.set()
        await asyncio.sleep(30)
        return {"steps": ["slow"]}

    graph = StateGraph(State)
    graph.add_node("slow", slow)
    graph.add_edge(START, "slow")
    graph.add_edge("slow", END)
    compiled = graph.compile()

    async def consume():
        return [c async for c in compiled.astream({"steps": [], "n": 0})]

    running = asyncio.create_task(consume())
    await gate.wait()
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    got = outcomes()
    assert got["invoke_workflow LangGraph"] == Outcome.CANCELLED
    assert got["slow"] == Outcome.CANCELLED
    assert all(s.status.status_code != StatusCode.ERROR for s in EXPORTER.get_finished_spans())
    ended_ok(handler)


async def test_astream_events_keeps_kind(spans, handler):
    graph = make_graph()
    with tracer.start_as_current_span("caller"):
        events = graph.astream_events({"steps": [], "n": 1}, version="v2")
    assert inspect.isasyncgen(events)
    kinds = [e["event"] async for e in events]
    assert "on_chain_start" in kinds
    assert ("invoke_workflow LangGraph", "caller") in tree()
    ended_ok(handler)


# -- chains and chat models ---------------------------------------------------------------------------------------


def fake_model(*texts: str) -> GenericFakeChatModel:
    return GenericFakeChatModel(messages=iter([AIMessage(content=t) for t in texts]))


def test_chain_invoke_and_user_callbacks_keep_working(spans, handler):
    seen = []

    class Mine(BaseCallbackHandler):
        def on_chain_start(self, serialized, inputs, **kwargs):
            seen.append(kwargs.get("name"))

    prompt = ChatPromptTemplate.from_messages([("human", "say {word}")])
    chain = prompt | fake_model("hello there") | StrOutputParser()
    with tracer.start_as_current_span("caller"):
        assert chain.invoke({"word": "hi"}, {"callbacks": [Mine()]}) == "hello there"
    assert "RunnableSequence" in seen
    assert tree() == sorted(
        [
            ("caller", None),
            ("invoke_workflow RunnableSequence", "caller"),
            ("ChatPromptTemplate", "invoke_workflow RunnableSequence"),
            ("chat", "invoke_workflow RunnableSequence"),
            ("StrOutputParser", "invoke_workflow RunnableSequence"),
        ]
    )
    chat = named("chat")
    assert chat.kind == SpanKind.CLIENT
    assert chat.attributes[gen_ai.GEN_AI_OPERATION_NAME] == "chat"
    ended_ok(handler)


def test_chat_model_stream_time_to_first_chunk(spans, handler):
    model = fake_model("one two three")
    with tracer.start_as_current_span("caller"):
        stream = model.stream("hi")
    assert inspect.isgenerator(stream)
    assert "".join(c.content for c in stream) == "one two three"
    chat = named("chat")
    assert chat.attributes[gen_ai.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] >= 0
    assert ("chat", "caller") in tree()
    ended_ok(handler)


def openai_chat_model(responses, *, is_async=False):
    from langchain_openai import ChatOpenAI

    transport = wire.make_transport(responses)
    return ChatOpenAI(
        model="gpt-4o-mini",
        api_key="test",
        max_retries=0,
        http_client=httpx.Client(transport=transport),
        http_async_client=httpx.AsyncClient(transport=transport),
        temperature=0.2,
    )


def test_chat_openai_without_provider_instrumentor(spans, handler):
    model = openai_chat_model([wire.openai_chat("Paris.", id="chatcmpl-1", prompt_tokens=9, completion_tokens=2)])
    assert model.invoke([HumanMessage("capital?")]).content == "Paris."
    chat = named("chat gpt-4o-mini")
    assert chat.kind == SpanKind.CLIENT
    attrs = chat.attributes
    assert attrs[gen_ai.GEN_AI_PROVIDER_NAME] == "openai"
    assert attrs[gen_ai.GEN_AI_REQUEST_TEMPERATURE] == 0.2
    assert attrs[gen_ai.GEN_AI_RESPONSE_ID] == "chatcmpl-1"
    assert attrs[gen_ai.GEN_AI_RESPONSE_MODEL] == "gpt-4o-mini-2024-07-18"
    assert attrs[gen_ai.GEN_AI_USAGE_INPUT_TOKENS] == 9
    assert attrs[gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS] == 2
    assert list(attrs[gen_ai.GEN_AI_RESPONSE_FINISH_REASONS]) == ["stop"]
    ended_ok(handler)


async def test_one_client_span_per_http_call_with_openai_instrumentor(spans, handler, openai_on):
    model = openai_chat_model([wire.openai_chat_stream("Paris is the capital.")])

    async def ask(state: State) -> dict:
        text = "".join([c.content async for c in model.astream("capital?")])
        return {"steps": [text]}

    graph = StateGraph(State)
    graph.add_node("ask", ask)
    graph.add_edge(START, "ask")
    graph.add_edge("ask", END)
    out = await graph.compile().ainvoke({"steps": [], "n": 0})
    assert out["steps"] == ["Paris is the capital."]
    clients = [s for s in EXPORTER.get_finished_spans() if s.kind == SpanKind.CLIENT]
    assert len(clients) == 1, tree()
    assert clients[0].instrumentation_scope.name == "otel_genai.instrumentation.openai"
    assert (clients[0].name, "ask") in tree()
    ended_ok(handler)


@pytest.fixture
def anthropic_server():  # one per test: langchain-anthropic caches its httpx clients per base URL (and event loop)
    from support.provider_server import provider

    with provider() as server:
        yield server


def anthropic_chat_model(server, responses):
    from langchain_anthropic import ChatAnthropic

    server.reset()
    server.push(*responses)
    return ChatAnthropic(model="claude-test", anthropic_api_url=server.url, api_key="test", max_retries=0)


@pytest.fixture
def metered(instrumented):
    """LangChain's and the provider instrumentors' metrics into one local reader (re-instruments LangChain)."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    from otel_genai.instrumentation.anthropic import AnthropicInstrumentor
    from otel_genai.instrumentation.openai import OpenAIInstrumentor

    reader = InMemoryMetricReader()
    meters = MeterProvider(metric_readers=[reader])
    instrumented.uninstrument()
    instrumented.instrument(meter_provider=meters)
    providers = {"openai": OpenAIInstrumentor(), "anthropic": AnthropicInstrumentor()}
    yield reader, meters, providers
    for instrumentor in providers.values():
        instrumentor.uninstrument()
    instrumented.uninstrument()
    instrumented.instrument()


def provider_model(name: str, anthropic_server, stream: bool):
    if name == "openai":
        if stream:
            return openai_chat_model([wire.openai_chat_stream("Paris.", prompt_tokens=9, completion_tokens=2)])
        return openai_chat_model([wire.openai_chat("Paris.", prompt_tokens=9, completion_tokens=2)])
    if stream:
        return anthropic_chat_model(anthropic_server, [wire.anthropic_message_stream("Paris.", input_tokens=9)])
    return anthropic_chat_model(anthropic_server, [wire.anthropic_message("Paris.", input_tokens=9, output_tokens=2)])


@pytest.mark.parametrize("in_graph", [False, True], ids=["direct", "in-node"])
@pytest.mark.parametrize("mode", ["invoke", "astream"])
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize("provider_on", [False, True], ids=["langchain-only", "with-provider-instrumentor"])
async def test_one_client_span_and_tokens_counted_once(
    spans, metered, anthropic_server, monkeypatch, provider, provider_on, mode, in_graph
):
    """ChatOpenAI / ChatAnthropic: exactly one CLIENT span per HTTP call (the provider instrumentor's when it is on,
    at the chat run's place in the tree, else LangChain's), carrying the usage; tokens counted once in the metric.
    ChatAnthropic with LangChain's instrumentor alone: anthropic's own tracing off (see the next test)."""
    reader, meters, providers = metered
    if provider_on:
        providers[provider].instrument(meter_provider=meters)
    elif provider == "anthropic":
        monkeypatch.setenv("ANTHROPIC_OPEN_TELEMETRY", "false")
    model = provider_model(provider, anthropic_server, mode == "astream")
    expected_tokens = {"input": 9, "output": 2 if provider == "openai" or mode == "invoke" else 5}

    async def ask(state: State) -> dict:
        if mode == "invoke":
            return {"steps": [(await model.ainvoke("capital?")).content]}
        return {"steps": ["".join([c.content async for c in model.astream("capital?")])]}

    with tracer.start_as_current_span("caller"):
        if in_graph:
            graph = StateGraph(State)
            graph.add_node("ask", ask)
            graph.add_edge(START, "ask")
            graph.add_edge("ask", END)
            answer = (await graph.compile().ainvoke({"steps": [], "n": 0}))["steps"]
        else:
            answer = (await ask({"steps": [], "n": 0}))["steps"]
    assert answer == ["Paris."]
    clients = [s for s in EXPORTER.get_finished_spans() if s.kind == SpanKind.CLIENT]
    assert len(clients) == 1, tree()
    (client,) = clients
    ours = "otel_genai.instrumentation." + (provider if provider_on else "langchain")
    assert client.instrumentation_scope.name == ours
    assert (client.name, "ask" if in_graph else "caller") in tree()
    assert client.attributes[gen_ai.GEN_AI_USAGE_INPUT_TOKENS] == expected_tokens["input"]
    assert client.attributes[gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS] == expected_tokens["output"]
    points = metric_points(reader)["gen_ai.client.token.usage"]
    by_type = {p.attributes[gen_ai.GEN_AI_TOKEN_TYPE]: p for p in points}
    assert sorted(by_type) == ["input", "output"] and len(points) == 2
    assert {t: (p.count, p.sum) for t, p in by_type.items()} == {t: (1, n) for t, n in expected_tokens.items()}
    gc.collect()
    assert_all_ended()


def test_chat_anthropic_with_anthropics_own_tracing_warns_once(spans, handler, anthropic_server, caplog):
    """anthropic >= 2.13 traces its own calls (default): with LangChain's instrumentor alone, one WARNING says that
    each ChatAnthropic call then has two CLIENT spans, and how to get one."""
    model = anthropic_chat_model(anthropic_server, [wire.anthropic_message("a"), wire.anthropic_message("b")])
    with caplog.at_level("WARNING", logger="otel_genai"):
        model.invoke("1")
        model.invoke("2")
    warnings = [r for r in caplog.records if "ANTHROPIC_OPEN_TELEMETRY=false" in r.getMessage()]
    assert len(warnings) == 1 and "AnthropicInstrumentor" in warnings[0].getMessage()
    scopes = sorted(s.instrumentation_scope.name for s in EXPORTER.get_finished_spans())
    assert scopes == ["com.anthropic.sdk.python"] * 2 + ["otel_genai.instrumentation.langchain"] * 2
    ended_ok(handler)


# -- agents and tools ---------------------------------------------------------------------------------------------


@tool
def get_weather(city: str) -> str:
    """Get the weather for a city."""
    return f"sunny in {city}"


@tool
def broken(city: str) -> str:
    """Always raises."""
    raise RuntimeError("tool exploded")


def test_create_agent_tool_calling(spans, handler):
    create_agent = pytest.importorskip("langchain.agents").create_agent

    model = openai_chat_model(
        [
            wire.openai_chat(None, tool_calls=[wire.openai_tool_call("get_weather", {"city": "Paris"}, id="call_1")]),
            wire.openai_chat("It is sunny in Paris."),
        ]
    )
    agent = create_agent(model, [get_weather], name="weather")
    with tracer.start_as_current_span("caller"):
        out = agent.invoke({"messages": [HumanMessage("weather in Paris?")]})
    assert out["messages"][-1].content == "It is sunny in Paris."
    got = tree()
    assert ("invoke_agent weather", "caller") in got
    tool_span = named("execute_tool get_weather")
    assert tool_span.attributes[gen_ai.GEN_AI_TOOL_CALL_ID] == "call_1"
    assert (tool_span.name, "tools") in got
    assert [n for n, p in got if n == "chat gpt-4o-mini"] == ["chat gpt-4o-mini"] * 2
    ended_ok(handler)


def test_tool_that_raises_is_an_error(spans, handler):
    create_agent = pytest.importorskip("langchain.agents").create_agent

    model = openai_chat_model(
        [
            wire.openai_chat(None, tool_calls=[wire.openai_tool_call("broken", {"city": "Paris"}, id="call_2")]),
            wire.openai_chat("Sorry."),
        ]
    )
    agent = create_agent(model, [broken], name="weather")
    try:
        agent.invoke({"messages": [HumanMessage("weather?")]})
    except RuntimeError:
        pass
    span = named("execute_tool broken")
    assert span.status.status_code == StatusCode.ERROR
    assert span.attributes[gen_ai.ERROR_TYPE] == "RuntimeError"
    ended_ok(handler)


# -- checkpointers -----------------------------------------------------------------------------------------------


async def test_checkpointer_spans_and_alist_stays_an_async_generator(spans, handler):
    saver = InMemorySaver()
    assert inspect.isasyncgenfunction(InMemorySaver.alist)
    assert inspect.isgeneratorfunction(InMemorySaver.list)
    assert inspect.iscoroutinefunction(InMemorySaver.aget_tuple)
    graph = make_graph(checkpointer=saver)
    config = {"configurable": {"thread_id": "t-2"}}
    await graph.ainvoke({"steps": [], "n": 1}, config)
    names = [s.name for s in EXPORTER.get_finished_spans()]
    assert "checkpoint aget_tuple" in names and "checkpoint aput" in names
    assert {p for n, p in tree() if n.startswith("checkpoint a")} == {"invoke_workflow LangGraph", "sub"}
    reset()
    history = saver.alist(config)
    assert inspect.isasyncgen(history)
    async for _ in history:
        break
    await history.aclose()
    span = named("checkpoint alist")
    assert span.attributes[OUTCOME] == Outcome.STOPPED_EARLY
    assert span.attributes[gen_ai.GEN_AI_CONVERSATION_ID] == "t-2"
    assert len(list(saver.list(config))) >= 3
    ended_ok(handler)


def test_user_checkpointer_defined_after_instrument(spans, handler):
    class Mine(InMemorySaver):
        def get_tuple(self, config):
            return super().get_tuple(config)

    graph = make_graph(checkpointer=Mine())
    graph.invoke({"steps": [], "n": 1}, {"configurable": {"thread_id": "t-3"}})
    span = [s for s in EXPORTER.get_finished_spans() if s.name == "checkpoint get_tuple"]
    assert len(span) == 2  # the graph's and the subgraph's: one span each, not one per super() call
    assert {s.attributes[gen_ai.CHECKPOINT_SAVER] for s in span} == {"Mine"}
    assert {p for n, p in tree() if n == "checkpoint get_tuple"} == {"invoke_workflow LangGraph", "sub"}
    ended_ok(handler)


# -- set-up -------------------------------------------------------------------------------------------------------


def test_suppressed(spans, handler):
    with suppress_instrumentation():
        make_graph().invoke({"steps": [], "n": 1})
    assert [s for s in EXPORTER.get_finished_spans() if s.instrumentation_scope.name.startswith("otel_genai")] == []
    ended_ok(handler)


def test_instrument_twice_is_harmless(spans, instrumented, handler):
    instrumented.instrument()
    make_graph().invoke({"steps": [], "n": 1})
    assert len([s for s in EXPORTER.get_finished_spans() if s.name == "invoke_workflow LangGraph"]) == 1


def test_bounded_run_map_evicts_as_abandoned(spans, handler):
    old = handler.max_runs
    handler.max_runs = 3
    try:
        make_graph().invoke({"steps": [], "n": 1})
    finally:
        handler.max_runs = old
    assert Outcome.ABANDONED in outcomes().values()
    ended_ok(handler)


def test_uninstrument_restores_exactly(spans):
    from langchain_core.callbacks.base import BaseCallbackManager
    from langchain_core.runnables import config as config_module
    from langgraph.pregel.main import Pregel

    instrumentor = LangChainInstrumentor()
    before = (vars(BaseCallbackManager)["__init__"], config_module._set_config_context, vars(Pregel)["astream"])
    alist = vars(InMemorySaver)["alist"]
    instrumentor.uninstrument()
    try:
        after = (vars(BaseCallbackManager)["__init__"], config_module._set_config_context, vars(Pregel)["astream"])
        assert all(hasattr(f, "__wrapped__") for f in before)
        assert not any(hasattr(f, "__wrapped__") for f in after)
        assert not hasattr(vars(InMemorySaver)["alist"], "__wrapped__") and hasattr(alist, "__wrapped__")
        assert "__init_subclass__" not in vars(BaseCheckpointSaver)
        make_graph().invoke({"steps": [], "n": 1})
        scopes = {s.instrumentation_scope.name for s in EXPORTER.get_finished_spans()}
        assert "otel_genai.instrumentation.langchain" not in scopes
    finally:
        instrumentor.instrument()
    make_graph().invoke({"steps": [], "n": 1})
    assert "invoke_workflow LangGraph" in outcomes()


def test_content_capture(spans, handler, capture_content):
    model = openai_chat_model([wire.openai_chat("Paris.")])
    model.invoke([("system", "be brief"), ("human", "capital?")])
    chat = named("chat gpt-4o-mini")
    messages = json.loads(chat.attributes[gen_ai.GEN_AI_INPUT_MESSAGES])
    assert messages == [{"role": "user", "parts": [{"type": "text", "content": "capital?"}]}]
    assert json.loads(chat.attributes[gen_ai.GEN_AI_SYSTEM_INSTRUCTIONS]) == [{"type": "text", "content": "be brief"}]
    out = json.loads(chat.attributes[gen_ai.GEN_AI_OUTPUT_MESSAGES])
    assert out[0]["parts"][0]["content"] == "Paris." and out[0]["finish_reason"] == "stop"
    reset()
    RunnableLambda(lambda x: x * 2).invoke(21)
    span = EXPORTER.get_finished_spans()[0]
    assert span.attributes[gen_ai.INPUT] == "21" and span.attributes[gen_ai.OUTPUT] == "42"


def test_no_content_by_default(spans, handler):
    model = openai_chat_model([wire.openai_chat("Paris.")])
    model.invoke("capital?")
    assert gen_ai.GEN_AI_INPUT_MESSAGES not in named("chat gpt-4o-mini").attributes

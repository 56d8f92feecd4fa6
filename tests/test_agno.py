"""AgnoInstrumentor with real Agno agents and teams, their OpenAIChat models over a fake HTTP edge."""

from __future__ import annotations

import asyncio
import inspect
import json
import os

os.environ["AGNO_TELEMETRY"] = "false"  # before agno is imported: no posts to os-api.agno.com

import pytest
from agno.agent import Agent
from agno.models.openai import OpenAIChat
from agno.team import Team
from agno.tools.function import FunctionCall
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode
from support.agents_edge import (
    FINAL_TEXT,
    CurrentSpanAtRequest,
    ScriptedEdge,
    ancestors,
    by_id,
    clients,
    edges,
    openai_instrumentor,
)
from support.telemetry import assert_all_ended

from otel_genai.instrumentation.agno import AgnoInstrumentor
from otel_genai.lifecycle import OUTCOME, Outcome

tracer = trace.get_tracer("tests")


@pytest.fixture(autouse=True, scope="module")
def instrumented():
    instrumentor = AgnoInstrumentor()
    instrumentor.instrument()
    yield instrumentor
    instrumentor.uninstrument()


def get_weather(city: str) -> str:
    """Get the weather for a city."""
    return f"sunny in {city}"


async def aget_weather(city: str) -> str:
    """Get the weather for a city."""
    return f"sunny in {city}"


def broken_tool(city: str) -> str:
    """Always raises."""
    raise RuntimeError(f"tool exploded for {city}")


def model(edge: ScriptedEdge) -> OpenAIChat:
    sync_client, async_client = clients(edge)
    return OpenAIChat(id="gpt-4o-mini", client=sync_client, async_client=async_client)


def weather_agent(edge: ScriptedEdge, tools=(get_weather,), **kwargs) -> Agent:
    return Agent(name="Weather", model=model(edge), tools=list(tools), instructions="Use the tool.", **kwargs)


AGENT_TREE = [("invoke_agent Weather", "request"), ("execute_tool get_weather", "invoke_agent Weather")]


async def _drain(agen) -> list:
    return [event async for event in agen]


def _call(agent: Agent, mode: str):
    if mode == "run":
        return agent.run("weather?")
    if mode == "run_stream":
        return list(agent.run("weather?", stream=True, stream_events=True))
    if mode == "agent_stream_flag":
        return list(agent.run("weather?"))  # Agent(stream=True): the call site never says stream
    if mode == "arun":
        return asyncio.run(agent.arun("weather?"))
    return asyncio.run(_drain(agent.arun("weather?", stream=True, stream_events=True)))


@pytest.mark.parametrize("mode", ["run", "run_stream", "agent_stream_flag", "arun", "arun_stream"])
def test_agent_and_tool_spans(spans, mode):
    edge = ScriptedEdge()
    agent = weather_agent(edge, stream=True if mode == "agent_stream_flag" else None)
    with tracer.start_as_current_span("request"):
        result = _call(agent, mode)
    if mode in ("run", "arun"):
        assert result.content == FINAL_TEXT
    else:
        assert len(result) > 2
    finished = spans.get_finished_spans()
    assert edges(finished) == [("request", None), *AGENT_TREE]
    invoke = next(s for s in finished if s.name == "invoke_agent Weather")
    assert invoke.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert invoke.attributes["gen_ai.agent.name"] == "Weather"
    assert invoke.attributes.get(OUTCOME) == (None if mode in ("run", "arun") else Outcome.COMPLETED)
    assert len(edge.requests) == 2
    assert_all_ended()


def test_async_tool_runs_under_its_span(spans):
    asyncio.run(weather_agent(ScriptedEdge(), tools=(aget_weather,)).arun("weather?"))
    assert edges(spans.get_finished_spans()) == [
        ("invoke_agent Weather", None),
        ("execute_tool aget_weather", "invoke_agent Weather"),
    ]
    assert_all_ended()


def test_arun_stream_is_an_async_generator_that_streams(spans):
    agent = weather_agent(ScriptedEdge())

    async def main():
        agen = agent.arun("weather?", stream=True, stream_events=True)
        assert inspect.isasyncgen(agen) and not inspect.iscoroutine(agen)
        first = await agen.__anext__()
        # the first event is in the consumer's hands while the agent is still running
        assert [s.name for s in spans.get_finished_spans()] == []
        rest = [event async for event in agen]
        return first, rest

    first, rest = asyncio.run(main())
    assert first.event == "RunStarted" and rest[-1].event == "RunCompleted"
    invoke = [s for s in spans.get_finished_spans() if s.name == "invoke_agent Weather"]
    assert len(invoke) == 1  # ended once
    assert invoke[0].attributes[OUTCOME] == Outcome.COMPLETED
    assert_all_ended()


def test_run_stream_first_event_before_the_agent_ends(spans):
    gen = weather_agent(ScriptedEdge()).run("weather?", stream=True, stream_events=True)
    assert inspect.isgenerator(gen)
    assert next(gen).event == "RunStarted"
    assert spans.get_finished_spans() == ()
    gen.close()
    (invoke,) = spans.get_finished_spans()
    assert invoke.attributes[OUTCOME] == Outcome.STOPPED_EARLY
    assert_all_ended()


def test_break_out_of_async_stream(spans):
    async def main():
        agen = weather_agent(ScriptedEdge()).arun("weather?", stream=True, stream_events=True)
        n = 0
        async for _ in agen:
            n += 1
            if n == 2:
                break
        await agen.aclose()

    asyncio.run(main())
    invoke = next(s for s in spans.get_finished_spans() if s.name == "invoke_agent Weather")
    assert invoke.attributes[OUTCOME] == Outcome.STOPPED_EARLY
    assert_all_ended()


@pytest.mark.parametrize("mode", ["run", "run_stream", "arun", "arun_stream"])
def test_http_500_is_an_error(spans, mode):
    agent = Agent(name="Failing", model=model(ScriptedEdge()), instructions="FAIL500")
    _call(agent, mode)
    (invoke,) = [s for s in spans.get_finished_spans() if s.name == "invoke_agent Failing"]
    assert invoke.status.status_code is StatusCode.ERROR
    assert invoke.attributes["error.type"] == "agno.RunError"
    assert_all_ended()


def test_failing_tool_is_an_error_and_the_run_goes_on(spans):
    out = weather_agent(ScriptedEdge(), tools=(broken_tool,)).run("go")
    assert out.content == FINAL_TEXT
    finished = {s.name: s for s in spans.get_finished_spans()}
    tool = finished["execute_tool broken_tool"]
    assert tool.status.status_code is StatusCode.ERROR
    assert "tool exploded for Paris" in tool.status.description
    assert finished["invoke_agent Weather"].status.status_code is StatusCode.UNSET
    assert_all_ended()


def test_tool_content_only_with_capture(spans, capture_content):
    weather_agent(ScriptedEdge()).run("weather?")
    finished = {s.name: s for s in spans.get_finished_spans()}
    tool = finished["execute_tool get_weather"]
    assert json.loads(tool.attributes["gen_ai.tool.call.arguments"]) == {"city": "Paris"}
    assert tool.attributes["gen_ai.tool.call.result"] == '"sunny in Paris"'
    assert finished["invoke_agent Weather"].attributes["otel_genai.output"] == json.dumps(FINAL_TEXT)


def test_no_content_by_default(spans):
    weather_agent(ScriptedEdge()).run("weather?")
    for s in spans.get_finished_spans():
        assert not any(k in s.attributes for k in ("gen_ai.tool.call.arguments", "otel_genai.input"))


TEAM_TREE = [
    ("invoke_agent Travel Team", None),
    ("execute_tool delegate_task_to_member", "invoke_agent Travel Team"),
    ("invoke_agent Weather Agent", "execute_tool delegate_task_to_member"),
    ("execute_tool get_weather", "invoke_agent Weather Agent"),
]


def team(edge: ScriptedEdge) -> Team:
    member = Agent(name="Weather Agent", id="weather-agent", role="weather", model=model(edge), tools=[get_weather])
    return Team(name="Travel Team", members=[member], model=model(edge), instructions="Coordinate.")


@pytest.mark.parametrize("mode", ["run", "run_stream", "arun", "arun_stream"])
def test_team_delegation_nests_member_under_delegate_tool(spans, mode):
    edge = ScriptedEdge()
    _call(team(edge), mode)
    finished = spans.get_finished_spans()
    assert edges(finished) == TEAM_TREE
    delegate = next(s for s in finished if s.name == "execute_tool delegate_task_to_member")
    member = next(s for s in finished if s.name == "invoke_agent Weather Agent")
    assert delegate.end_time >= member.end_time  # the tool span covers the member's whole run
    assert member.attributes["gen_ai.agent.id"] == "weather-agent"
    assert_all_ended()


@pytest.mark.parametrize("mode", ["run", "arun_stream", "team"])
def test_model_calls_run_under_invoke_agent(spans, mode):
    edge = CurrentSpanAtRequest()
    if mode == "team":
        team(edge).run("weather?")
    else:
        _call(weather_agent(edge), mode)
    index = by_id(spans.get_finished_spans())
    owners = [index[s.get_span_context().span_id].name for s in edge.current]
    if mode == "team":
        assert owners == ["invoke_agent Travel Team", *["invoke_agent Weather Agent"] * 2, "invoke_agent Travel Team"]
    else:
        assert owners == ["invoke_agent Weather"] * 2


def test_uninstrument_restores(spans, instrumented):
    instrumented.uninstrument()
    try:
        assert not hasattr(Agent.run, "__wrapped__") and not hasattr(FunctionCall.execute, "__wrapped__")
        weather_agent(ScriptedEdge()).run("weather?")
        assert spans.get_finished_spans() == ()
    finally:
        instrumented.instrument()


OPENAI = openai_instrumentor()


@pytest.mark.skipif(OPENAI is None, reason="otel_genai.instrumentation.openai is not importable yet")
@pytest.mark.parametrize("mode", ["run", "run_stream", "arun", "arun_stream"])
def test_with_openai_instrumentor_one_client_span_per_http_call(spans, mode):
    openai_instrumentor = OPENAI()
    openai_instrumentor.instrument()
    try:
        edge = ScriptedEdge()
        _call(weather_agent(edge), mode)
    finally:
        openai_instrumentor.uninstrument()
    finished = spans.get_finished_spans()
    index = by_id(finished)
    client_spans = [s for s in finished if s.kind is SpanKind.CLIENT]
    assert len(client_spans) == len(edge.requests) == 2
    assert all(ancestors(s, index) == ["invoke_agent Weather"] for s in client_spans)
    assert_all_ended()

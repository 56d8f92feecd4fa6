"""OpenAIAgentsInstrumentor with the real openai-agents SDK; models backed by the OpenAI SDK over a fake HTTP edge."""

from __future__ import annotations

import asyncio
import gc
import json

import pytest
from agents import (
    Agent,
    GuardrailFunctionOutput,
    InputGuardrailTripwireTriggered,
    OpenAIChatCompletionsModel,
    OpenAIResponsesModel,
    RunConfig,
    Runner,
    TracingProcessor,
    add_trace_processor,
    function_tool,
    input_guardrail,
    set_trace_processors,
)
from agents import trace as agents_trace
from agents.tracing import get_trace_provider
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
from support.telemetry import EXPORTER, STARTS, assert_all_ended

from otel_genai.instrumentation.openai_agents import OpenAIAgentsInstrumentor
from otel_genai.instrumentation.openai_agents.models import MODEL_CLASSES
from otel_genai.instrumentation.openai_agents.spans import sdk_time_ns as _ns
from otel_genai.lifecycle import OUTCOME, Outcome

tracer = trace.get_tracer("tests")
set_trace_processors([])  # drop the SDK's default exporter: nothing may leave the test process


@pytest.fixture(autouse=True, scope="module")
def instrumented():
    instrumentor = OpenAIAgentsInstrumentor()
    instrumentor.instrument()
    yield instrumentor
    instrumentor.uninstrument()


@function_tool
def get_weather(city: str) -> str:
    """Get the weather for a city."""
    return f"sunny in {city}"


@function_tool
def broken_tool(city: str) -> str:
    """Always raises."""
    raise RuntimeError(f"tool exploded for {city}")


def triage(edge: ScriptedEdge, model_cls: type = OpenAIChatCompletionsModel, instructions: str = "triage") -> Agent:
    model = model_cls(model="gpt-4o-mini", openai_client=clients(edge)[1])
    specialist = Agent(name="Specialist", instructions="specialist", model=model)
    return Agent(name="Triage", instructions=instructions, tools=[get_weather], handoffs=[specialist], model=model)


EXPECTED_TREE = [
    ("invoke_workflow Agent workflow", "request"),
    ("task Agent workflow", "invoke_workflow Agent workflow"),
    ("invoke_agent Triage", "task Agent workflow"),
    ("turn 1", "invoke_agent Triage"),
    ("chat gpt-4o-mini", "turn 1"),
    ("execute_tool get_weather", "turn 1"),
    ("turn 2", "invoke_agent Triage"),
    ("chat gpt-4o-mini", "turn 2"),
    ("handoff Triage -> Specialist", "turn 2"),
    ("invoke_agent Specialist", "task Agent workflow"),
    ("turn 3", "invoke_agent Specialist"),
    ("chat gpt-4o-mini", "turn 3"),
]


async def _run_streamed(agent: Agent, **kwargs) -> str:
    result = Runner.run_streamed(agent, "weather?", **kwargs)
    async for _ in result.stream_events():
        pass
    return result.final_output


def _run(mode: str, agent: Agent, **kwargs) -> str:
    if mode == "sync":
        return Runner.run_sync(agent, "weather?", **kwargs).final_output
    if mode == "async":
        return asyncio.run(Runner.run(agent, "weather?", **kwargs)).final_output
    return asyncio.run(_run_streamed(agent, **kwargs))


@pytest.mark.parametrize("model_cls", [OpenAIChatCompletionsModel, OpenAIResponsesModel])
@pytest.mark.parametrize("mode", ["sync", "async", "streamed"])
def test_tool_and_handoff_tree(spans, instrumented, mode, model_cls):
    edge = ScriptedEdge()
    with tracer.start_as_current_span("request"):
        assert _run(mode, triage(edge, model_cls)).strip() == FINAL_TEXT
    finished = spans.get_finished_spans()
    assert edges(finished)[1:] == EXPECTED_TREE
    assert len({s.context.trace_id for s in finished}) == 1
    clients_ = [s for s in finished if s.kind is SpanKind.CLIENT]
    assert len(clients_) == len(edge.requests) == 3
    chat = clients_[0]
    assert chat.attributes["gen_ai.operation.name"] == "chat"
    assert chat.attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert chat.attributes["gen_ai.usage.input_tokens"] == 12
    workflow = next(s for s in finished if s.name.startswith("invoke_workflow"))
    assert workflow.attributes["gen_ai.operation.name"] == "invoke_workflow"
    assert workflow.attributes["gen_ai.workflow.name"] == "Agent workflow"
    assert all(s.status.status_code is StatusCode.UNSET for s in finished)
    assert_all_ended()
    assert instrumented.processor.in_flight() == (0, 0)


def test_model_call_runs_with_its_agent_span_current(spans):
    """The mechanism behind 'the OpenAI CLIENT span sits under the right agent': during each HTTP call the current
    OTel span is the turn span of the agent making the call (made current by the wrapped model method)."""
    edge = CurrentSpanAtRequest()
    asyncio.run(_run_streamed(triage(edge)))
    index = by_id(spans.get_finished_spans())
    current = [index[s.get_span_context().span_id] for s in edge.current]
    assert [s.name for s in current] == ["turn 1", "turn 2", "turn 3"]
    assert [ancestors(s, index)[0] for s in current] == ["invoke_agent Triage"] * 2 + ["invoke_agent Specialist"]


def test_sdk_times_are_used(spans):
    seen = {}

    class Times(TracingProcessor):
        def on_trace_start(self, t): ...
        def on_trace_end(self, t): ...
        def on_span_start(self, s): ...

        def on_span_end(self, s):
            seen[s.span_data.type] = (s.started_at, s.ended_at)

        def shutdown(self): ...
        def force_flush(self): ...

    recorder = Times()
    add_trace_processor(recorder)
    try:
        asyncio.run(Runner.run(triage(ScriptedEdge()), "weather?"))
    finally:
        set_trace_processors([p for p in get_trace_provider()._multi_processor._processors if p is not recorder])
    tool = next(s for s in spans.get_finished_spans() if s.name == "execute_tool get_weather")
    assert (tool.start_time, tool.end_time) == tuple(_ns(t) for t in seen["function"])
    assert _ns("2026-01-02T03:04:05.123456+00:00") == 1767323045123456000


def test_http_500_marks_generation_and_agent(spans):
    edge = ScriptedEdge()
    agent = triage(edge, instructions="FAIL500")
    with pytest.raises(Exception, match="500"):
        asyncio.run(Runner.run(agent, "go"))
    finished = {s.name: s for s in spans.get_finished_spans()}
    assert finished["chat gpt-4o-mini"].status.status_code is StatusCode.ERROR
    assert finished["invoke_agent Triage"].status.status_code is StatusCode.ERROR
    assert finished["invoke_agent Triage"].attributes["error.type"] == "Error in agent run"
    assert finished["invoke_workflow Agent workflow"].status.status_code is StatusCode.UNSET
    assert_all_ended()


def test_raising_tool_is_an_error_span_and_the_run_goes_on(spans):
    edge = ScriptedEdge()
    model = OpenAIChatCompletionsModel(model="gpt-4o-mini", openai_client=clients(edge)[1])
    agent = Agent(name="Broken", instructions="x", tools=[broken_tool], model=model)
    assert asyncio.run(Runner.run(agent, "go")).final_output == FINAL_TEXT
    tool = next(s for s in spans.get_finished_spans() if s.name == "execute_tool broken_tool")
    assert tool.status.status_code is StatusCode.ERROR
    assert tool.status.description == "Error running tool (non-fatal)"
    assert_all_ended()


def test_guardrail_tripwire_is_an_error(spans):
    @input_guardrail
    def no_weather(ctx, agent, user_input):
        return GuardrailFunctionOutput(output_info="blocked", tripwire_triggered=True)

    model = OpenAIChatCompletionsModel(model="gpt-4o-mini", openai_client=clients(ScriptedEdge())[1])
    agent = Agent(name="Guarded", instructions="x", model=model, input_guardrails=[no_weather])
    with pytest.raises(InputGuardrailTripwireTriggered):
        asyncio.run(Runner.run(agent, "weather?"))
    guard = next(s for s in spans.get_finished_spans() if s.name == "guardrail no_weather")
    assert guard.status.status_code is StatusCode.ERROR
    assert guard.attributes["otel_genai.guardrail.triggered"] is True
    assert guard.attributes["error.type"] == "GuardrailTripwireTriggered"
    assert_all_ended()


@pytest.mark.parametrize(("sensitive", "expect"), [(True, True), (False, False)])
def test_content_needs_capture_and_sensitive_data(spans, capture_content, sensitive, expect):
    config = RunConfig(trace_include_sensitive_data=sensitive)
    asyncio.run(Runner.run(triage(ScriptedEdge()), "weather?", run_config=config))
    finished = {s.name: s for s in spans.get_finished_spans()}
    tool = finished["execute_tool get_weather"]
    chat = finished["chat gpt-4o-mini"]
    assert ("gen_ai.tool.call.arguments" in tool.attributes) is expect
    assert ("gen_ai.input.messages" in chat.attributes) is expect
    if expect:
        assert json.loads(tool.attributes["gen_ai.tool.call.arguments"]) == {"city": "Paris"}
        assert tool.attributes["gen_ai.tool.call.result"] == "sunny in Paris"
        assert "weather?" in chat.attributes["gen_ai.input.messages"]


def test_no_content_without_capture(spans):
    asyncio.run(Runner.run(triage(ScriptedEdge()), "weather?"))
    for s in spans.get_finished_spans():
        assert not any(k.startswith(("gen_ai.tool.call.a", "gen_ai.tool.call.r", "gen_ai.input")) for k in s.attributes)


def test_workflow_attributes_and_shared_trace(spans):
    config = RunConfig(workflow_name="plan", group_id="conv-7", trace_metadata={"user": "u1"})
    asyncio.run(Runner.run(triage(ScriptedEdge()), "weather?", run_config=config))
    workflow = next(s for s in spans.get_finished_spans() if s.name == "invoke_workflow plan")
    assert workflow.attributes["gen_ai.conversation.id"] == "conv-7"
    assert workflow.attributes["otel_genai.metadata.user"] == "u1"
    assert workflow.parent is None
    spans.clear()
    STARTS.started.clear()

    async def two_runs():  # a user-opened SDK trace is reused by both runs: one workflow span
        with agents_trace("outer", group_id="g"):
            await Runner.run(triage(ScriptedEdge()), "one")
            await Runner.run(triage(ScriptedEdge()), "two")

    asyncio.run(two_runs())
    finished = spans.get_finished_spans()
    assert [s.name for s in finished if s.name.startswith("invoke_workflow")] == ["invoke_workflow outer"]
    assert sum(s.name.startswith("task") for s in finished) == 2
    assert len({s.context.trace_id for s in finished}) == 1
    assert_all_ended()


@pytest.mark.parametrize("how", ["break_then_cancel", "cancel_and_drain", "cancel_consumer_task"])
def test_cancelled_mid_stream_ends_every_span(spans, instrumented, how):
    edge = ScriptedEdge(delay=0.01)

    async def main():
        result = Runner.run_streamed(triage(edge), "weather?")
        if how == "cancel_consumer_task":

            async def consume():
                async for _ in result.stream_events():
                    pass

            task = asyncio.create_task(consume())
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        else:
            n = 0
            async for _ in result.stream_events():
                n += 1
                if n == 2:
                    result.cancel()
                    if how == "break_then_cancel":
                        break
        for _ in range(100):  # the SDK ends its spans one loop turn after cancel()
            if instrumented.processor.in_flight() == (0, 0):
                break
            await asyncio.sleep(0.01)
        return result

    result = asyncio.run(main())
    assert not result.is_complete or result.final_output is None
    assert instrumented.processor.in_flight() == (0, 0)
    finished = spans.get_finished_spans()
    assert "invoke_agent Triage" in [s.name for s in finished]
    assert len(edge.requests) < 3  # really cancelled mid-run
    assert_all_ended()


def test_concurrent_runs_keep_their_own_trees(spans, instrumented):
    async def main():
        async def one(i):
            with tracer.start_as_current_span(f"request {i}"):
                await _run_streamed(triage(ScriptedEdge(delay=0.001)))

        await asyncio.gather(*(one(i) for i in range(20)))

    asyncio.run(main())
    finished = spans.get_finished_spans()
    traces = {s.context.trace_id for s in finished}
    assert len(traces) == 20
    for trace_id in traces:
        tree = edges([s for s in finished if s.context.trace_id == trace_id])
        assert tree[1] == ("invoke_workflow Agent workflow", tree[0][0])  # joined to its own request span
        assert tree[2:] == EXPECTED_TREE[1:]
    assert instrumented.processor.in_flight() == (0, 0)
    assert_all_ended()


def test_caps_evict_and_end_spans(spans, instrumented):
    instrumented.uninstrument()
    instrumented.instrument(max_spans=2)
    try:
        asyncio.run(Runner.run(triage(ScriptedEdge()), "weather?"))
        assert instrumented.processor.in_flight() == (0, 0)
        outcomes = [s.attributes.get(OUTCOME) for s in spans.get_finished_spans()]
        assert Outcome.ABANDONED in outcomes  # evicted spans were ended, not leaked
        assert_all_ended()
    finally:
        instrumented.uninstrument()
        instrumented.instrument()


def test_uninstrument_removes_only_our_processor(spans, instrumented):
    class Theirs(TracingProcessor):
        def on_trace_start(self, t): ...
        def on_trace_end(self, t): ...
        def on_span_start(self, s): ...
        def on_span_end(self, s): ...
        def shutdown(self): ...
        def force_flush(self): ...

    theirs = Theirs()
    add_trace_processor(theirs)
    ours = instrumented.processor

    def processors():
        return get_trace_provider()._multi_processor._processors

    assert ours in processors() and theirs in processors()
    instrumented.uninstrument()
    try:
        assert ours not in processors() and theirs in processors()
        for module, cls in MODEL_CLASSES:
            target = getattr(__import__(module, fromlist=[cls]), cls)
            assert not hasattr(target.get_response, "__wrapped__")
        asyncio.run(Runner.run(triage(ScriptedEdge()), "weather?"))
        assert spans.get_finished_spans() == ()
    finally:
        instrumented.instrument()
        set_trace_processors([p for p in processors() if p is not theirs])
    assert theirs not in processors() and instrumented.processor in processors()


def test_no_processor_state_survives_runs(instrumented):
    for _ in range(3):
        asyncio.run(Runner.run(triage(ScriptedEdge()), "weather?"))
    gc.collect()
    assert instrumented.processor.in_flight() == (0, 0)
    EXPORTER.clear()


OPENAI = openai_instrumentor()


@pytest.mark.skipif(OPENAI is None, reason="otel_genai.instrumentation.openai is not importable yet")
@pytest.mark.parametrize("model_cls", [OpenAIChatCompletionsModel, OpenAIResponsesModel])
@pytest.mark.parametrize("mode", ["async", "streamed"])
def test_with_openai_instrumentor_one_client_span_per_http_call(spans, model_cls, mode):
    openai_instrumentor = OPENAI()
    openai_instrumentor.instrument()
    try:
        edge = ScriptedEdge()
        with tracer.start_as_current_span("request"):
            _run(mode, triage(edge, model_cls))
    finally:
        openai_instrumentor.uninstrument()
    finished = spans.get_finished_spans()
    index = by_id(finished)
    client_spans = sorted((s for s in finished if s.kind is SpanKind.CLIENT), key=lambda s: s.start_time)
    assert len(client_spans) == len(edge.requests) == 3
    owners = [next(a for a in ancestors(s, index) if a.startswith("invoke_agent")) for s in client_spans]
    assert owners == ["invoke_agent Triage", "invoke_agent Triage", "invoke_agent Specialist"]
    assert all(ancestors(s, index)[-1] == "request" for s in client_spans)
    # each span is traced to the end of its body (openai-agents >= 0.10.2 streams Responses through
    # with_streaming_response): usage, response model and id as answered on the wire
    for span, answered in zip(client_spans, edge.sent, strict=True):
        response_id, model, input_tokens, output_tokens = _wire_facts(answered)
        assert span.attributes["gen_ai.response.id"] == response_id
        assert span.attributes["gen_ai.response.model"] == model
        assert span.attributes["gen_ai.usage.input_tokens"] == input_tokens
        assert span.attributes["gen_ai.usage.output_tokens"] == output_tokens
        if mode == "streamed":
            assert span.attributes[OUTCOME] == Outcome.COMPLETED
    assert_all_ended()


def _wire_facts(answered) -> tuple[str, str, int, int]:
    """(id, model, input tokens, output tokens) of a chat / Responses answer, plain or streamed."""
    if answered.header("content-type").startswith("text/event-stream"):
        data = [json.loads(d) for _, d in answered.events() if d != "[DONE]"]
        if "response" in data[-1]:  # Responses: the final event carries the whole response
            body = data[-1]["response"]
        else:  # chat: id and model on every chunk, usage on the last
            body = {**data[0], "usage": data[-1]["usage"]}
    else:
        body = answered.json()
    usage = body["usage"]
    if "input_tokens" in usage:
        return body["id"], body["model"], usage["input_tokens"], usage["output_tokens"]
    return body["id"], body["model"], usage["prompt_tokens"], usage["completion_tokens"]

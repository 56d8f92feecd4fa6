"""openai-agents set-up a user meets on day one: tracing switched off in the SDK, and keeping traces away from OpenAI
while keeping the OpenTelemetry spans."""

from __future__ import annotations

import asyncio
import logging

import pytest
from agents import Agent, Runner, set_trace_processors, set_tracing_disabled
from agents.models.openai_chatcompletions import OpenAIChatCompletionsModel
from agents.tracing import get_trace_provider
from agents.tracing.processors import default_processor
from support.agents_edge import ScriptedEdge, clients

from otel_genai.instrumentation.openai_agents import OpenAIAgentsInstrumentor
from otel_genai.instrumentation.openai_agents.instrumentor import EXPORT_TO_OPENAI_ENV


def _processors() -> tuple:
    return get_trace_provider()._multi_processor._processors  # read only, to check what is registered


def _run_once() -> str:
    model = OpenAIChatCompletionsModel(model="gpt-4o-mini", openai_client=clients(ScriptedEdge())[1])
    agent = Agent(name="Solo", instructions="answer", model=model)
    return asyncio.run(Runner.run(agent, "hi")).final_output


@pytest.fixture
def sdk_default():
    """The SDK's default processor registered, as in a user's app; dropped again afterwards (nothing leaves)."""
    set_trace_processors([default_processor()])
    yield default_processor()
    set_tracing_disabled(False)
    set_trace_processors([])


def test_set_tracing_disabled_is_named_once(sdk_default, caplog, spans):
    instrumentor = OpenAIAgentsInstrumentor()
    instrumentor._warned_disabled = False
    with caplog.at_level(logging.WARNING, logger="otel_genai"):
        instrumentor.instrument(export_to_openai=False)
        try:
            set_tracing_disabled(True)
            set_tracing_disabled(True)
            _run_once()
        finally:
            instrumentor.uninstrument()
    warnings = [r.getMessage() for r in caplog.records if "tracing is disabled" in r.getMessage()]
    assert len(warnings) == 1
    assert "export_to_openai=False" in warnings[0] and EXPORT_TO_OPENAI_ENV in warnings[0]
    assert not [s for s in spans.get_finished_spans() if s.name.startswith("invoke_")]  # the SDK made no traces


def test_disabled_before_instrument_is_named_too(sdk_default, caplog):
    set_tracing_disabled(True)
    instrumentor = OpenAIAgentsInstrumentor()
    instrumentor._warned_disabled = False
    with caplog.at_level(logging.WARNING, logger="otel_genai"):
        instrumentor.instrument(export_to_openai=False)
        instrumentor.uninstrument()
    assert sum("tracing is disabled" in r.getMessage() for r in caplog.records) == 1


@pytest.mark.parametrize("how", ["kwarg", "env"])
def test_without_the_openai_exporter_our_spans_remain(sdk_default, spans, monkeypatch, how):
    instrumentor = OpenAIAgentsInstrumentor()
    if how == "env":
        monkeypatch.setenv(EXPORT_TO_OPENAI_ENV, "false")
        instrumentor.instrument()
    else:
        instrumentor.instrument(export_to_openai=False)
    try:
        assert sdk_default not in _processors()
        assert instrumentor.processor in _processors()
        assert _run_once()
    finally:
        instrumentor.uninstrument()
    assert _processors() == (sdk_default,)  # exactly as before
    names = [s.name for s in spans.get_finished_spans()]
    assert "invoke_workflow Agent workflow" in names and "invoke_agent Solo" in names


def test_by_default_the_sdk_exporter_stays(sdk_default):
    instrumentor = OpenAIAgentsInstrumentor()
    instrumentor.instrument()
    try:
        assert _processors() == (sdk_default, instrumentor.processor)
    finally:
        instrumentor.uninstrument()
    assert _processors() == (sdk_default,)

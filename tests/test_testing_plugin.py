"""The shipped pytest plugin (otel_genai.testing): local providers, the context guard, the all-ended helper."""

from __future__ import annotations

import subprocess
import sys

import httpx
import openai
import pytest
from opentelemetry import trace
from support import wire

from otel_genai import OpenAIInstrumentor
from otel_genai.testing import SpanRecorder


def test_spans_go_to_the_local_provider_not_the_global_one(otel_genai_spans, spans):
    assert trace.get_tracer_provider() is not otel_genai_spans.provider
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=otel_genai_spans.provider)
    try:
        response = wire.openai_chat_stream("a b c")
        transport = httpx.MockTransport(
            lambda request: httpx.Response(200, headers=response.headers, content=response.body)
        )
        client = openai.OpenAI(api_key="k", http_client=httpx.Client(transport=transport), max_retries=0)
        messages = [{"role": "user", "content": "hi"}]
        stream = client.chat.completions.create(model="gpt-4o", messages=messages, stream=True)
        next(iter(stream))
        stream.close()
    finally:
        instrumentor.uninstrument()
    otel_genai_spans.assert_all_ended(with_outcome=("chat gpt-4o",))
    assert otel_genai_spans.outcomes() == {"chat gpt-4o": "stopped_early"}
    assert spans.get_finished_spans() == ()  # nothing reached the global provider


def test_assert_all_ended_names_the_open_span():
    recorder = SpanRecorder.with_provider()
    tracer = recorder.provider.get_tracer("t")
    tracer.start_span("left open")
    tracer.start_span("closed").end()
    with pytest.raises(AssertionError, match="left open"):
        recorder.assert_all_ended()


def test_the_guard_catches_a_token_detached_in_another_context():
    # provoked in a child process: in this one, our own suite's guard would (rightly) fail the test
    code = """
import contextvars
from opentelemetry import context
from otel_genai.testing import ContextProblems
problems = ContextProblems()
problems.install()
token = context.attach(context.set_value("k", 1))
contextvars.copy_context().run(context.detach, token)
context.detach(token)
try:
    problems.check()
except AssertionError as error:
    print("caught:", error)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "caught: OpenTelemetry logged problems: ['Failed to detach context']" in done.stdout


def test_metrics_fixture_is_local(otel_genai_metrics):
    from opentelemetry import metrics

    assert metrics.get_meter_provider() is not otel_genai_metrics
    otel_genai_metrics.get_meter("t").create_counter("c").add(2)
    data = otel_genai_metrics.reader.get_metrics_data()
    metrics_ = [m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics]
    points = [p.value for m in metrics_ for p in m.data.data_points]
    assert points == [2]


def test_decorators_can_route_to_a_provider_of_their_own(otel_genai_spans, spans):
    from otel_genai import task, workflow

    @workflow(tracer_provider=otel_genai_spans.provider)
    def flow(n):
        for i in range(n):
            yield step(i)

    @task(name="step", tracer_provider=otel_genai_spans.provider)
    def step(i):
        return i * 2

    assert list(flow(3)) == [0, 2, 4]
    otel_genai_spans.assert_all_ended(with_outcome=("invoke_workflow flow",))
    names = sorted(s.name for s in otel_genai_spans.finished())
    assert names == ["invoke_workflow flow", "step", "step", "step"]
    parents = {s.parent.span_id for s in otel_genai_spans.finished() if s.name == "step"}
    assert parents == {s.context.span_id for s in otel_genai_spans.finished() if s.name.startswith("invoke_")}
    assert spans.get_finished_spans() == ()  # none reached the global provider

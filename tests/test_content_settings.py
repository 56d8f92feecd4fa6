"""Content capture settings (environment), capture that never raises into the user's call, and ``using_attributes``
caps; with the real SDK exporter and, where a client is involved, the real SDKs over ``MockTransport``."""

from __future__ import annotations

import json
import logging

import pytest
from opentelemetry import trace
from support.openai_setup import instrumented as openai_instrumented
from support.telemetry import EXPORTER
from support.wire import Recorder, anthropic_client, anthropic_message, make_transport, openai_chat, openai_client

from otel_genai import content, task, tool, using_attributes, workflow
from otel_genai.context_attributes import METADATA_PREFIX, TAGS
from otel_genai.decorators import INPUT, OUTPUT
from otel_genai.instrumentation._llm import OPERATION_DETAILS_EVENT
from otel_genai.instrumentation.anthropic import AnthropicInstrumentor

tracer = trace.get_tracer("tests.content_settings")
ENVS = (content.CAPTURE_ENV, content.EMIT_EVENT_ENV, content.MAX_LENGTH_ENV, content.LEGACY_MAX_LENGTH_ENV)


@pytest.fixture
def env(monkeypatch):
    """Set content variables (others unset) and read them; the 'warn once' memory starts empty."""

    def apply(**values: str) -> content._Settings:
        for name in ENVS:
            monkeypatch.delenv(name, raising=False)
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        content.reload()
        return content.settings()

    content._warned.clear()
    yield apply
    for name in ENVS:
        monkeypatch.delenv(name, raising=False)
    content._warned.clear()
    content.reload()


def warnings_of(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "otel_genai" and r.levelno == logging.WARNING]


# --- OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT ------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "mode"),
    [
        ("NO_CONTENT", "NO_CONTENT"),
        ("span_only", "SPAN_ONLY"),
        ("Event_Only", "EVENT_ONLY"),
        (" SPAN_AND_EVENT ", "SPAN_AND_EVENT"),
        ("true", "SPAN_ONLY"),
        ("TRUE", "SPAN_ONLY"),
        ("false", "NO_CONTENT"),
        ("", "NO_CONTENT"),
    ],
)
def test_capture_values(env, caplog, value, mode):
    assert env(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=value).mode is content.CaptureMode(mode)
    assert warnings_of(caplog) == []


@pytest.mark.parametrize("value", ["1", "yes", "SPAN_ONLYY", "on"])
def test_capture_invalid_value_warns_once_and_stays_off(env, caplog, value):
    for _ in range(3):  # every instrumentor's instrument() reads the environment again
        settings = env(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=value)
        assert settings.mode is content.CaptureMode.NO_CONTENT and settings.capture is None
    (warning,) = warnings_of(caplog)
    assert repr(value) in warning and "stays off" in warning
    for accepted in ("NO_CONTENT", "SPAN_ONLY", "EVENT_ONLY", "SPAN_AND_EVENT", "true", "false"):
        assert accepted in warning


# --- OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("capture", "emit", "expected"),
    [
        ("EVENT_ONLY", None, True),
        ("SPAN_AND_EVENT", None, True),
        ("SPAN_ONLY", None, False),
        ("NO_CONTENT", None, False),
        ("NO_CONTENT", "true", True),
        ("SPAN_ONLY", "True", True),
        ("EVENT_ONLY", "false", False),
        ("SPAN_AND_EVENT", "FALSE", False),
    ],
)
def test_emit_event_values(env, caplog, capture, emit, expected):
    values = {content.CAPTURE_ENV: capture}
    if emit is not None:
        values[content.EMIT_EVENT_ENV] = emit
    assert env(**values).emit_event is expected
    assert warnings_of(caplog) == []


def test_emit_event_invalid_warns_and_follows_the_mode(env, caplog):
    assert env(**{content.CAPTURE_ENV: "EVENT_ONLY", content.EMIT_EVENT_ENV: "1"}).emit_event is True
    assert env(**{content.CAPTURE_ENV: "SPAN_ONLY", content.EMIT_EVENT_ENV: "1"}).emit_event is False
    (warning,) = warnings_of(caplog)
    assert content.EMIT_EVENT_ENV in warning


@pytest.mark.parametrize(
    ("capture", "emit", "on_span", "event", "event_content"),
    [
        ("NO_CONTENT", "true", False, True, False),  # the event, without content
        ("SPAN_ONLY", "true", True, True, False),
        ("EVENT_ONLY", "false", False, False, False),  # no event, and no content anywhere
        ("SPAN_AND_EVENT", None, True, True, True),
    ],
)
def test_emit_event_with_the_openai_sdk(spans, env, capture, emit, on_span, event, event_content):
    values = {content.CAPTURE_ENV: capture}
    if emit is not None:
        values[content.EMIT_EVENT_ENV] = emit
    env(**values)
    with openai_instrumented() as otel:
        client = openai_client(make_transport(openai_chat("Hi"), lib="httpx2"))
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "Hello"}])
    (span,) = spans.get_finished_spans()
    assert ("gen_ai.output.messages" in span.attributes) is on_span
    records = [r.log_record for r in otel.logs.get_finished_logs()]
    assert [r.event_name for r in records] == ([OPERATION_DETAILS_EVENT] if event else [])
    if event:
        (record,) = records
        assert record.attributes["gen_ai.response.id"] == span.attributes["gen_ai.response.id"]
        assert ("gen_ai.output.messages" in record.attributes) is event_content


# --- max length ----------------------------------------------------------------------------------------------------


def test_max_length_new_name_old_name_and_precedence(env, caplog):
    assert env().max_length == content.DEFAULT_MAX_LENGTH
    assert env(OTEL_GENAI_CONTENT_MAX_LENGTH="100").max_length == 100
    assert env(OTEL_INSTRUMENTATION_GENAI_CONTENT_MAX_LENGTH="50").max_length == 50  # the old name still works
    both = {"OTEL_GENAI_CONTENT_MAX_LENGTH": "100", "OTEL_INSTRUMENTATION_GENAI_CONTENT_MAX_LENGTH": "50"}
    assert env(**both).max_length == 100  # the new one wins
    assert warnings_of(caplog) == []


@pytest.mark.parametrize("value", ["abc", "-5", "1.5"])
@pytest.mark.parametrize("name", ["OTEL_GENAI_CONTENT_MAX_LENGTH", "OTEL_INSTRUMENTATION_GENAI_CONTENT_MAX_LENGTH"])
def test_max_length_invalid_warns_and_uses_the_default(env, caplog, name, value):
    assert env(**{name: value}).max_length == content.DEFAULT_MAX_LENGTH
    (warning,) = warnings_of(caplog)
    assert name in warning and repr(value) in warning


def test_capped_json_stays_valid_json(env):
    env(OTEL_GENAI_CONTENT_MAX_LENGTH="10")
    value = [{"role": "user", "parts": [{"type": "text", "content": "x" * 200}, {"type": "text", "content": "y" * 5}]}]
    value[0]["parts"].append({"type": "text", "content": "z" * 100})
    capped = json.loads(content.to_json(value))
    # the structure alone ("user", "text", ...: short strings, never cut) is over 10 characters: the text goes
    assert capped[0]["parts"][0]["content"] == content.TRUNCATED
    assert capped[0]["parts"][1] == {"type": "text", "content": "yyyyy"}  # short: kept
    assert capped[0]["parts"][2] == {"type": "text", "content": content.TRUNCATED}
    env(OTEL_GENAI_CONTENT_MAX_LENGTH="200")
    text = content.to_json(value)
    assert len(text) <= 200 and json.loads(text)[0]["parts"][0]["content"].startswith("x")
    assert content.to_json("short") == '"short"'


# --- capture never raises ------------------------------------------------------------------------------------------


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no str")

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


HUGE = 10**5000  # beyond the int-to-str digit limit: str(), repr() and json.dumps() all raise ValueError


@pytest.mark.parametrize(
    ("value", "name"), [(HUGE, "int"), (Unprintable(), "Unprintable")], ids=["huge", "unprintable"]
)
def test_to_json_never_raises(env, value, name):
    env()
    assert json.loads(content.to_json(value)) == f"<unserializable {name}>"
    assert json.loads(content.to_json({"a": [value, 1]})) == {"a": [f"<unserializable {name}>", 1]}
    assert content.safe_str(value).startswith(("<unserializable", "Unprintable"))


@pytest.mark.parametrize(
    ("value", "name"), [(HUGE, "int"), (Unprintable(), "Unprintable")], ids=["huge", "unprintable"]
)
@pytest.mark.parametrize("decorator", [tool, workflow, task])
def test_decorated_call_with_unserializable_argument_and_result(spans, capture_content, decorator, value, name):
    @decorator
    def echo(x):
        return x

    assert echo(value) is value  # the call behaves exactly as undecorated
    (span,) = spans.get_finished_spans()
    attributes = span.attributes
    arguments = attributes.get("gen_ai.tool.call.arguments", attributes.get(INPUT))
    assert json.loads(arguments) == {"x": f"<unserializable {name}>"}
    result = attributes.get("gen_ai.tool.call.result", attributes.get(OUTPUT))
    assert json.loads(result) == f"<unserializable {name}>"


def test_anthropic_request_content_the_api_would_reject_still_reaches_the_api(spans, capture_content):
    """Uninstrumented, the SDK sends ``content: 123`` and the API answers; instrumented, the same happens."""
    recorder = Recorder()
    instrumentor = AnthropicInstrumentor()
    instrumentor.instrument()
    try:
        client = anthropic_client(make_transport(anthropic_message("Hi"), lib="httpx2", recorder=recorder))
        message = client.messages.create(model="m", max_tokens=10, messages=[{"role": "user", "content": 123}])
    finally:
        instrumentor.uninstrument()
    assert message.content[0].text == "Hi"
    assert json.loads(recorder.requests[0].content)["messages"] == [{"role": "user", "content": 123}]
    ours = [
        s for s in spans.get_finished_spans() if s.instrumentation_scope.name.startswith("otel_genai.instrumentation.")
    ]
    (span,) = ours
    assert json.loads(span.attributes["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "<unserializable int>"}]}
    ]


def test_using_attributes_with_unprintable_metadata(spans):
    with using_attributes(metadata={"k": Unprintable(), Unprintable(): "v"}, session_id=Unprintable()):
        with tracer.start_as_current_span("inside"):
            pass

    @task
    def step():
        return 1

    with using_attributes(metadata={"k": Unprintable()}, tags=[Unprintable()]):
        assert step() == 1
    span = next(s for s in spans.get_finished_spans() if s.name == "step")
    assert json.loads(span.attributes[METADATA_PREFIX + "k"]) == "<unserializable Unprintable>"
    assert span.attributes[TAGS] == ("<unserializable Unprintable>",)


# --- using_attributes caps -----------------------------------------------------------------------------------------

VALID_TYPES = (str, bool, int, float)


def _attributes_in_scope(**kwargs):
    @task
    def step():
        return None

    with using_attributes(**kwargs):
        step()
    return dict(EXPORTER.get_finished_spans()[-1].attributes)


def test_using_attributes_caps_values_and_tags(spans, env):
    env(OTEL_GENAI_CONTENT_MAX_LENGTH="100")
    big = "x" * 10_000_000
    attributes = _attributes_in_scope(
        session_id=big, user_id="u", metadata={"big": big, "nested": {"big": big}}, tags=[big, "small"]
    )
    limit = 100 + len(content.TRUNCATED) + 20  # JSON quoting / keys of a nested value
    assert attributes[METADATA_PREFIX + "big"] == "x" * 100 + content.TRUNCATED
    assert len(attributes[METADATA_PREFIX + "nested"]) < limit
    nested = json.loads(attributes[METADATA_PREFIX + "nested"])  # capped inside, so still JSON
    assert list(nested) == ["big"] and nested["big"].endswith(content.TRUNCATED) and nested["big"][0] == "x"
    assert attributes["session.id"] == "x" * 100 + content.TRUNCATED
    assert attributes[TAGS] == ("x" * 100 + content.TRUNCATED, "small")


def test_using_attributes_string_tag_none_values_and_types(spans, env):
    env()
    attributes = _attributes_in_scope(
        metadata={"none": None, "n": 3, "f": 1.5, "b": True, "huge": 2**70, "list": [1, "a"], "obj": object},
        tags="abc",
    )
    assert attributes[TAGS] == ("abc",)
    assert METADATA_PREFIX + "none" not in attributes
    assert (attributes[METADATA_PREFIX + "n"], attributes[METADATA_PREFIX + "f"]) == (3, 1.5)
    assert attributes[METADATA_PREFIX + "b"] is True
    assert json.loads(attributes[METADATA_PREFIX + "huge"]) == str(2**70)  # beyond OTel's int64: text
    assert json.loads(attributes[METADATA_PREFIX + "list"]) == [1, "a"]
    for key, value in attributes.items():
        if key.startswith(METADATA_PREFIX):
            assert isinstance(value, VALID_TYPES), key
    tagged = _attributes_in_scope(tags=["x", None, "y"])
    assert tagged[TAGS] == ("x", "y")

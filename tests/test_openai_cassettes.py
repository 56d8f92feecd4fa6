"""Replay every recorded real OpenAI interaction (tests/cassettes/openai) through the instrumented SDK.

Expected values (model, id, usage, finish reasons, request parameters, errors) come from the cassette bodies.
"""

from __future__ import annotations

import json

import openai
import pytest
from opentelemetry.trace import SpanKind, StatusCode
from support.cassettes import cassette_names, load_cassette
from support.openai_setup import CONTENT_KEYS, INPUT, OUTPUT, instrumented, loads, metric_points, run, token_sums
from support.telemetry import assert_all_ended
from support.wire import openai_client

from otel_genai.lifecycle import OUTCOME

NAMES = cassette_names("openai")


@pytest.fixture
def otel():
    with instrumented() as telemetry:
        yield telemetry


def test_cassettes_are_there():
    assert len(NAMES) >= 50


def _expected(interaction) -> dict:
    """What the recorded response implies for the span."""
    if interaction.status >= 400:
        return {"error": interaction.status}
    if interaction.is_stream:
        events = interaction.response_events()
        usage = [e["usage"] for e in events if e.get("usage")]
        return {
            "id": events[0]["id"],
            "model": events[0]["model"],
            "finish": [c["finish_reason"] for e in events for c in e["choices"] if c.get("finish_reason")],
            "usage": (usage[-1]["prompt_tokens"], usage[-1]["completion_tokens"]) if usage else None,
            "choices": len({c["index"] for e in events for c in e["choices"]}),
        }
    body = interaction.response_json()
    if body.get("object") == "list":  # embeddings
        return {"id": None, "model": body["model"], "finish": [], "usage": (body["usage"]["prompt_tokens"], None)}
    return {
        "id": body["id"],
        "model": body["model"],
        "finish": [c["finish_reason"] for c in body["choices"]],
        "usage": (body["usage"]["prompt_tokens"], body["usage"]["completion_tokens"]),
        "choices": len(body["choices"]),
        "texts": [c["message"].get("content") for c in body["choices"]],
        "tools": [[t["function"]["name"] for t in c["message"].get("tool_calls") or ()] for c in body["choices"]],
    }


def _request_attributes(kwargs: dict) -> dict:
    expected = {"gen_ai.request.model": kwargs["model"]}
    for key, attribute in (
        ("temperature", "gen_ai.request.temperature"),
        ("max_tokens", "gen_ai.request.max_tokens"),
        ("seed", "gen_ai.request.seed"),
        ("service_tier", "openai.request.service_tier"),
        ("dimensions", "gen_ai.embeddings.dimension.count"),
    ):
        if key in kwargs:
            expected[attribute] = kwargs[key]
    if "stop" in kwargs:
        stop = kwargs["stop"]
        expected["gen_ai.request.stop_sequences"] = (stop,) if isinstance(stop, str) else tuple(stop)
    if kwargs.get("n", 1) != 1:
        expected["gen_ai.request.choice.count"] = kwargs["n"]
    if "encoding_format" in kwargs:
        expected["gen_ai.request.encoding_formats"] = (kwargs["encoding_format"],)
    if kwargs.get("response_format", {}).get("type") in ("json_object", "json_schema"):
        expected["gen_ai.output.type"] = "json"
    return expected


def _call_sync(client, path: str, kwargs: dict, raw: bool):
    resource = client.embeddings if path.endswith("/embeddings") else client.chat.completions
    result = (resource.with_raw_response.create if raw else resource.create)(**kwargs)
    if raw:
        result = result.parse()
    if kwargs.get("stream"):
        assert isinstance(result, openai.Stream)
        items = list(result)
        assert items
    return result


async def _call_async(client, path: str, kwargs: dict, raw: bool):
    resource = client.embeddings if path.endswith("/embeddings") else client.chat.completions
    result = await (resource.with_raw_response.create if raw else resource.create)(**kwargs)
    if raw:
        result = result.parse()
    if kwargs.get("stream"):
        assert isinstance(result, openai.AsyncStream)
        items = [item async for item in result]
        assert items
    return result


@pytest.mark.parametrize("capture", [False, True], ids=["content_off", "content_on"])
@pytest.mark.parametrize("name", NAMES)
def test_replay_cassette(spans, otel, request, name, capture):
    if capture:
        request.getfixturevalue("capture_content")
    cassette = load_cassette(name)
    is_async = name.startswith("test_async")
    raw = "raw_response" in name
    client = openai_client(cassette.transport(lib="httpx2"), is_async=is_async)
    outcomes = []
    for interaction in cassette.interactions:
        kwargs = interaction.request_json()
        path = interaction.uri.split("?")[0]
        try:
            if is_async:
                run(_call_async(client, path, kwargs, raw))
            else:
                _call_sync(client, path, kwargs, raw)
            outcomes.append(None)
        except openai.APIStatusError as exc:  # the SDK's own exception, unchanged
            assert exc.status_code == interaction.status
            assert exc.body == interaction.response_json()["error"]
            outcomes.append(exc)
    finished = spans.get_finished_spans()
    assert len(finished) == len(cassette.interactions)
    assert_all_ended()
    reader_tokens = {"input": 0, "output": 0}
    for span, interaction, exc in zip(finished, cassette.interactions, outcomes, strict=True):
        kwargs = interaction.request_json()
        expected = _expected(interaction)
        operation = "embeddings" if interaction.uri.split("?")[0].endswith("/embeddings") else "chat"
        assert span.name == f"{operation} {kwargs['model']}"
        assert span.kind is SpanKind.CLIENT
        attrs = span.attributes
        assert attrs["gen_ai.operation.name"] == operation
        assert attrs["gen_ai.provider.name"] == "openai"
        assert attrs["server.address"] == "api.openai.com"
        assert attrs["server.port"] == 443
        for key, value in _request_attributes(kwargs).items():
            assert attrs[key] == value, key
        if "n" in kwargs and kwargs["n"] == 1:
            assert "gen_ai.request.choice.count" not in attrs
        if "error" in expected:
            assert exc is not None
            assert span.status.status_code is StatusCode.ERROR
            assert attrs["error.type"].endswith(type(exc).__name__)
            assert attrs[OUTCOME] == "error"
            continue
        assert span.status.status_code is StatusCode.UNSET
        assert attrs["gen_ai.response.model"] == expected["model"]
        assert attrs.get("gen_ai.response.id") == expected["id"]
        assert list(attrs.get("gen_ai.response.finish_reasons", ())) == expected["finish"]
        input_tokens, output_tokens = expected["usage"] or (None, None)
        assert attrs.get("gen_ai.usage.input_tokens") == input_tokens
        assert attrs.get("gen_ai.usage.output_tokens") == output_tokens
        reader_tokens["input"] += input_tokens or 0
        reader_tokens["output"] += output_tokens or 0
        if interaction.is_stream:
            assert attrs["gen_ai.request.stream"] is True
            assert attrs[OUTCOME] == "completed"
            assert attrs["otel_genai.stream.items"] == len(interaction.response_events())
            assert attrs["gen_ai.response.time_to_first_chunk"] > 0
        if not capture:
            assert not any(key in attrs for key in CONTENT_KEYS)
            continue
        sent = kwargs.get("messages")
        if sent is not None:
            assert [m["role"] for m in loads(span, INPUT)] == [m["role"] for m in sent]
            output = loads(span, OUTPUT)
            assert len(output) == expected["choices"]
            assert [m.get("finish_reason") for m in output] == expected["finish"]
            if "texts" in expected:
                texts = [next((p["content"] for p in m["parts"] if p["type"] == "text"), None) for m in output]
                assert texts == expected["texts"]
                names = [[p["name"] for p in m["parts"] if p["type"] == "tool_call"] for m in output]
                assert names == expected["tools"]
            if kwargs.get("tools"):
                defined = [t["name"] for t in loads(span, "gen_ai.tool.definitions")]
                assert defined == [t["function"]["name"] for t in kwargs["tools"]]
        else:  # embeddings: the input texts only
            sent_input = kwargs["input"]
            texts = [p["content"] for p in loads(span, INPUT)[0]["parts"]]
            assert texts == ([sent_input] if isinstance(sent_input, str) else sent_input)
            assert OUTPUT not in attrs
    points = metric_points(otel.reader)
    durations = points["gen_ai.client.operation.duration"]
    assert sum(p.count for p in durations) == len(cassette.interactions)
    sums = token_sums(otel.reader)
    assert sums.get("input", 0) == reader_tokens["input"]
    assert sums.get("output", 0) == reader_tokens["output"]


def test_stream_text_matches_cassette(spans, otel, capture_content):
    """Content on: the streamed text the span records is exactly the concatenated deltas of the recording."""
    cassette = load_cassette("test_chat_completion_streaming")
    events = cassette.response_events()
    want = "".join(c["delta"].get("content") or "" for e in events for c in e["choices"])
    client = openai_client(cassette.transport(lib="httpx2"))
    for _ in client.chat.completions.create(**cassette.request_json()):
        pass
    (message,) = json.loads(spans.get_finished_spans()[0].attributes[OUTPUT])
    assert message["parts"] == [{"type": "text", "content": want}]
    assert want

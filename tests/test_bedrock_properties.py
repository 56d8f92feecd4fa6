"""Property test: any way of consuming an instrumented Bedrock event stream ends its one span exactly once, with the
outcome the consumption implies, keeps the stream's own behaviour (the events the caller sees are the events
botocore parses), and never changes the caller's OpenTelemetry context.

A program is: the stream shape (``converse_stream``, or ``invoke_model_with_response_stream`` of the Anthropic or
Llama family), how many events to read and how (``next`` on one iterator, or a new ``for`` loop left by ``break``
for each read, as an ``EventStream`` allows), whether each read runs in another thread, then how it ends:
read on to the end, ``close()``, a ``contextlib.closing`` exit, or dropped and garbage-collected.
"""

from __future__ import annotations

import contextlib
import gc
import json
import threading

import pytest
from botocore.eventstream import EventStream
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry import context as otel_context
from support import bedrock as wire
from support.telemetry import EXPORTER, STARTS, assert_all_ended

from otel_genai import Outcome
from otel_genai.instrumentation.bedrock import BedrockInstrumentor
from otel_genai.lifecycle import OUTCOME, STREAM_ITEMS

SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
MESSAGES = [{"role": "user", "content": [{"text": "Hi"}]}]
SHAPES = {  # shape -> (reply, number of events)
    "converse": (lambda: wire.converse_stream(), len(wire.converse_events())),
    "anthropic": (lambda: wire.invoke_stream("anthropic"), len(wire.invoke_chunks("anthropic"))),
    "llama": (lambda: wire.invoke_stream("llama"), len(wire.invoke_chunks("llama"))),
}
EXPECTED = {
    "exhaust": Outcome.COMPLETED,
    "close": Outcome.STOPPED_EARLY,
    "closing": Outcome.STOPPED_EARLY,
    "drop_gc": Outcome.ABANDONED,
}
programs = st.fixed_dictionaries(
    {
        "shape": st.sampled_from(sorted(SHAPES)),
        "reads": st.integers(0, 7),
        "loop": st.booleans(),
        "elsewhere": st.lists(st.booleans(), min_size=8, max_size=8),
        "end": st.sampled_from(sorted(EXPECTED)),
    }
)


@pytest.fixture(scope="module")
def server():
    instrumentor = BedrockInstrumentor()
    instrumentor.instrument()
    with wire.serve() as running:
        yield running
    instrumentor.uninstrument()


def in_thread(fn):
    out: list = []
    thread = threading.Thread(target=lambda: out.append(fn()))
    thread.start()
    thread.join()
    return out[0]


def expected_events(shape: str) -> list:
    if shape == "converse":
        return _parsed(wire.converse_events())
    return [{"chunk": {"bytes": json.dumps(body).encode()}} for body in wire.invoke_chunks(shape)]


def _parsed(messages: list[bytes]) -> list:
    """What botocore makes of the converse events: {event type: payload}."""
    out = []
    for message in messages:
        headers_length = int.from_bytes(message[4:8], "big")
        headers = message[12 : 12 + headers_length]
        payload = message[12 + headers_length : -4]
        name_length = headers[0]
        value_length = int.from_bytes(headers[2 + name_length : 4 + name_length], "big")
        event_type = headers[4 + name_length : 4 + name_length + value_length].decode()
        out.append({event_type: json.loads(payload)})
    return out


def run(program: dict, server: wire.BedrockServer) -> list:
    reply, total = SHAPES[program["shape"]]
    server.queue(reply())
    client = wire.client(server)
    if program["shape"] == "converse":
        response = client.converse_stream(modelId="amazon.nova-lite-v1:0", messages=MESSAGES)
        key = "stream"
    else:
        response = client.invoke_model_with_response_stream(modelId=wire.MODELS[program["shape"]], body=b"{}")
        key = "body"
    stream = response[key]
    assert isinstance(stream, EventStream)
    caller = otel_context.get_current()
    seen: list = []
    iterator = iter(stream)
    reads = min(program["reads"], total)

    def read_one() -> None:
        if program["loop"]:
            for event in stream:
                seen.append(event)
                break
        else:
            seen.append(next(iterator))

    for i in range(reads):
        if program["elsewhere"][i]:
            in_thread(read_one)
        else:
            read_one()
        assert otel_context.get_current() is caller
    end = program["end"]
    if end == "exhaust":
        seen.extend(iterator if not program["loop"] else stream)
    elif end == "close":
        stream.close()
    elif end == "closing":
        with contextlib.closing(stream):
            pass
    else:
        del response, stream, iterator
    gc.collect()
    assert otel_context.get_current() is caller
    return seen


@given(program=programs)
@SETTINGS
def test_any_consumption_ends_the_one_span_once(server, program):
    EXPORTER.clear()
    STARTS.started.clear()
    seen = run(program, server)
    gc.collect()
    assert_all_ended()
    (span,) = EXPORTER.get_finished_spans()
    reply_events = expected_events(program["shape"])
    if program["shape"] != "converse":  # compare the chunk bodies as JSON (key order and spacing are the encoder's)
        seen = [json.loads(e["chunk"]["bytes"]) for e in seen]
        reply_events = [json.loads(e["chunk"]["bytes"]) for e in reply_events]
    assert seen == reply_events[: len(seen)]  # the caller sees botocore's events, in order, none lost
    _, total = SHAPES[program["shape"]]
    end = program["end"]
    # a `break` or a next() never sees the end of the stream: only reading on to the end completes it
    outcome = EXPECTED[end]
    assert span.attributes[OUTCOME] == outcome
    if end == "exhaust":
        assert len(seen) == total
    assert span.attributes.get(STREAM_ITEMS, 0) == len(seen)

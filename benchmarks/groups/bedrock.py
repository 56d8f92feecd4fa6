"""Scenario group ``bedrock``: a real boto3 ``bedrock-runtime`` client, ``converse`` and ``converse_stream``.

The fake edge is botocore's documented event system: a ``before-send.bedrock-runtime.*`` handler registered on the
client returns a ``botocore.awsrequest.AWSResponse`` built from pre-encoded wire bytes, after the request has been
fully built and signed (what botocore does when it would otherwise hand the request to urllib3). The response body
is a small object with urllib3's ``stream()`` / ``read()`` / ``close()``: a Converse JSON body, or for
``converse_stream`` the ``application/vnd.amazon.eventstream`` frames of the events, one frame per ``stream()`` item
(as urllib3 yields a chunked response that Bedrock sends one event per chunk), which botocore's ``EventStream``
decodes (prelude and message CRC32 checked) and parses as it would from the network.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterable, Iterator
from functools import cache
from typing import Any

OURS = "otel_genai.instrumentation.bedrock:BedrockInstrumentor"

NOTE = (
    "Real boto3 bedrock-runtime client (botocore, dummy credentials, us-east-1, retries off); the fake edge is a "
    "before-send handler on the client returning an AWSResponse with pre-encoded wire bytes once the request is "
    "built and signed: a Converse JSON body, or the application/vnd.amazon.eventstream frames of ConverseStream "
    "(messageStart, N contentBlockDelta, contentBlockStop, messageStop, metadata with usage), one frame per read, "
    "decoded by botocore's EventStream. A chunk is one contentBlockDelta event; µs/chunk and memory as for openai. "
    "Content switches: OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=NO_CONTENT|SPAN_ONLY (otel-genai), "
    "TRACELOOP_TRACE_CONTENT=false|true (OpenLLMetry), OPENINFERENCE_HIDE_INPUTS/OUTPUTS=true|false "
    "(OpenInference), OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=false|true (official botocore: the only "
    "values its Bedrock extension reads; it puts content on log events, never on the span, and with no logger "
    "provider configured those events are built and dropped by the no-op API). Verified by hand: with 'on', "
    "otel-genai, OpenLLMetry and OpenInference put prompt and completion on the span, and the official "
    "instrumentation on its log events; with 'off', none does. Every configuration records one span per call. "
    "OpenLLMetry runs with its metrics on (its default; run.py turns them off for every worker): with them off, "
    "0.62.4 raises AttributeError on every converse_stream's metadata event (a counter it never created). "
    "No meter or logger provider is configured, so metrics/events go to the no-op API. "
    "OpenInference's per-chunk cost is its stream proxy calling inspect.stack() for every event (reads source "
    "files; the same per chunk for 100 to 2000 chunks). Memory: every peer keeps the streamed text even with "
    "content off (OpenLLMetry a list of the delta strings; OpenInference and the official one a string grown by "
    "concatenation, which the window counts whole: ~50 bytes/chunk for 5 bytes of text per chunk). "
    "Targets for otel-genai: <= 100 µs/call, <= 1 µs/chunk, no growth with content off."
)

LABELS = {
    "chat": "converse (non-streaming), µs/call",
    "stream_chunk": "converse_stream, µs/chunk",
    "memory": "converse_stream memory growth, bytes/chunk",
}

_OURS_VENV, _BOTO = "bedrock-ours", ["boto3", "botocore"]
_OFFICIAL_CONTENT = {
    "off": {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "false"},
    "on": {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true"},
}
CONFIGS: list[dict[str, Any]] = [
    {"name": "no instrumentation", "venv": _OURS_VENV, "kind": "none", "packages": _BOTO, "baseline": True},
]
# OpenLLMetry 0.62.4 with TRACELOOP_METRICS_ENABLED=false (run.py's default for every worker) raises AttributeError
# from the metadata event of every converse_stream (guardrail_converse adds to a counter it never created): its
# metrics stay on, its default, and go to the no-op meter API like everyone else's.
_OPENLLMETRY_ENV = {"TRACELOOP_METRICS_ENABLED": "true"}
for _name, _venv, _kind, _packages, _content_env, _extra_env in [
    ("otel-genai", _OURS_VENV, "ours", ["otel-genai"], None, None),
    (
        "openllmetry",
        "bedrock-openllmetry",
        "openllmetry",
        ["opentelemetry-instrumentation-bedrock"],
        None,
        _OPENLLMETRY_ENV,
    ),
    ("openinference", "bedrock-openinference", "openinference", ["openinference-instrumentation-bedrock"], None, None),
    (
        "otel botocore (official)",
        "bedrock-official",
        "official",
        ["opentelemetry-instrumentation-botocore"],
        _OFFICIAL_CONTENT,
        None,
    ),
]:
    for _content in ("off", "on"):
        _config = {"name": _name, "venv": _venv, "kind": _kind, "packages": _packages, "content": _content}
        if _content_env is not None:
            _config["content_env"] = _content_env
        if _extra_env is not None:
            _config["extra_env"] = _extra_env
        CONFIGS.append(_config)

MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"
MESSAGES = [{"role": "user", "content": [{"text": "Summarise the plot of Hamlet in three sentences."}]}]
INFERENCE = {"maxTokens": 1024}
ANSWER = (
    "Prince Hamlet seeks revenge after his father's ghost reveals that Claudius murdered him. "
    "His feigned madness and hesitation lead to the deaths of Polonius, Ophelia and others. "
    "In the final duel Hamlet kills Claudius but dies, leaving Fortinbras to take the throne."
)
REQUEST_ID = "4f9d3a52-0000-4000-8000-00000000b3c4"
JSON_HEADERS = {"Content-Type": "application/json", "x-amzn-RequestId": REQUEST_ID}
STREAM_HEADERS = {
    "Content-Type": "application/vnd.amazon.eventstream",
    "Transfer-Encoding": "chunked",
    "x-amzn-RequestId": REQUEST_ID,
}


def _usage(output_tokens: int) -> dict[str, int]:
    return {"inputTokens": 21, "outputTokens": output_tokens, "totalTokens": 21 + output_tokens}


def converse_body() -> bytes:
    """A Converse response body exactly as Bedrock returns it."""
    body = {
        "metrics": {"latencyMs": 412},
        "output": {"message": {"content": [{"text": ANSWER}], "role": "assistant"}},
        "stopReason": "end_turn",
        "usage": _usage(61),
    }
    return json.dumps(body, separators=(",", ":")).encode()


# -- application/vnd.amazon.eventstream (prelude, string headers, JSON payload, CRC32s) --------------------------


def _header(name: str, value: str) -> bytes:
    name_bytes, value_bytes = name.encode(), value.encode()
    return struct.pack(">B", len(name_bytes)) + name_bytes + struct.pack(">BH", 7, len(value_bytes)) + value_bytes


def frame(event_type: str, payload: dict[str, Any]) -> bytes:
    """One eventstream message carrying the modelled event ``event_type`` as JSON."""
    headers = b"".join(
        _header(name, value)
        for name, value in (
            (":event-type", event_type),
            (":content-type", "application/json"),
            (":message-type", "event"),
        )
    )
    data = json.dumps(payload, separators=(",", ":")).encode()
    prelude = struct.pack(">II", 12 + len(headers) + len(data) + 4, len(headers))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + headers + data
    return message + struct.pack(">I", zlib.crc32(message))


def stream_frames(chunks: int) -> list[bytes]:
    """ConverseStream: messageStart, ``chunks`` text deltas, contentBlockStop, messageStop, metadata (usage)."""
    delta = frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": " word"}})
    return [
        frame("messageStart", {"role": "assistant"}),
        *[delta] * chunks,
        frame("contentBlockStop", {"contentBlockIndex": 0}),
        frame("messageStop", {"stopReason": "end_turn"}),
        frame("metadata", {"usage": _usage(chunks), "metrics": {"latencyMs": 412}}),
    ]


class RawBody:
    """What botocore reads a response from (``AWSResponse.raw``): urllib3's ``stream()`` / ``read()`` / ``close()``."""

    __slots__ = ("parts",)

    def __init__(self, parts: Iterable[bytes]) -> None:
        self.parts = parts

    def stream(self, amt: int | None = None, decode_content: bool | None = None) -> Iterator[bytes]:
        return iter(self.parts)

    def read(self, amt: int | None = None, decode_content: bool | None = None) -> bytes:
        return b"".join(self.parts)

    def close(self) -> None:
        pass


@cache
def bench_class() -> type:
    """The bench, a ``harness.ClientBench`` (defined on first use: run.py imports this module with the standard
    library only, and harness imports opentelemetry)."""
    from harness import ClientBench

    class BedrockBench(ClientBench):
        """``converse``: a Converse JSON body; ``converse_stream``: ConverseStream eventstream frames."""

        LEAD = 1  # messageStart

        def __init__(self) -> None:
            self.frames: dict[int, list[bytes]] = {}
            super().__init__()

        def connect(self) -> Any:
            import boto3
            from botocore.awsrequest import AWSResponse
            from botocore.config import Config

            client = boto3.client(
                "bedrock-runtime",
                region_name="us-east-1",
                aws_access_key_id="AKIABENCH0000000000",
                aws_secret_access_key="bench-secret",
                config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
            )
            single = (self.single_body(),)

            def before_send(request: Any, event_name: str = "", **kwargs: Any) -> Any:
                if event_name.endswith(".ConverseStream"):
                    return AWSResponse(request.url, 200, STREAM_HEADERS, RawBody(self.stream_parts(self.chunks)))
                return AWSResponse(request.url, 200, JSON_HEADERS, RawBody(single))

            client.meta.events.register("before-send.bedrock-runtime.*", before_send)
            return client

        def stream_parts(self, chunks: int) -> list[bytes]:
            if chunks not in self.frames:
                self.frames[chunks] = stream_frames(chunks)
            return self.frames[chunks]

        def single_body(self) -> bytes:
            return converse_body()

        def stream_body(self, chunks: int) -> bytes:
            return b"".join(self.stream_parts(chunks))

        def create(self, stream: bool) -> Any:
            if stream:
                return self.client.converse_stream(modelId=MODEL, messages=MESSAGES, inferenceConfig=INFERENCE)
            return self.client.converse(modelId=MODEL, messages=MESSAGES, inferenceConfig=INFERENCE)

        def answered(self, response: Any) -> bool:
            return response["output"]["message"]["content"][0]["text"] == ANSWER

        def items(self, streamed: Any) -> Iterable[Any]:
            return streamed["stream"]

    return BedrockBench


def setup(kind: str) -> Any:
    from harness import load, sdk_provider

    tp = sdk_provider()
    if kind == "none":
        pass
    elif kind == "ours":
        load(OURS)().instrument(tracer_provider=tp)
    elif kind == "openllmetry":
        from opentelemetry.instrumentation.bedrock import BedrockInstrumentor

        BedrockInstrumentor().instrument(tracer_provider=tp)
    elif kind == "openinference":
        from openinference.instrumentation.bedrock import BedrockInstrumentor

        BedrockInstrumentor().instrument(tracer_provider=tp)
    elif kind == "official":
        from opentelemetry.instrumentation.botocore import BotocoreInstrumentor

        BotocoreInstrumentor().instrument(tracer_provider=tp)
    else:
        raise ValueError(f"unknown bedrock instrumentation {kind!r}")
    return bench_class()()  # after instrument(): OpenLLMetry and OpenInference wrap clients as they are created

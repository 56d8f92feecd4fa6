"""Stream a Bedrock answer with ``converse_stream``, traced by otel-genai, and print the span tree.

Runs offline: a real boto3 ``bedrock-runtime`` client talks to an in-process fake of the Bedrock runtime on
127.0.0.1 (a real HTTP server sending the ``application/vnd.amazon.eventstream`` framing botocore decodes), with
dummy credentials. Set BEDROCK_LIVE=1 (and your AWS credentials/region) to call the real service instead (model
from BEDROCK_MODEL, default amazon.nova-lite-v1:0). Shows that the stream is still a botocore ``EventStream`` and
that its ``chat {modelId}`` CLIENT span ends when the stream is read to the end, with the usage of the ``metadata``
event.

    python examples/bedrock_stream.py
    OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=SPAN_ONLY python examples/bedrock_stream.py
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
from botocore.eventstream import EventStream
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_genai import workflow
from otel_genai.console import SpanTreeConsoleExporter
from otel_genai.instrumentation.bedrock import BedrockInstrumentor

MODEL = os.environ.get("BEDROCK_MODEL", "amazon.nova-lite-v1:0")


def frame(event_type: str, payload: dict) -> bytes:
    """One eventstream message: prelude (lengths + CRC32), string headers, JSON payload, message CRC32."""
    headers = b""
    for name, value in ((":event-type", event_type), (":content-type", "application/json"), (":message-type", "event")):
        headers += bytes([len(name)]) + name.encode() + b"\x07" + struct.pack(">H", len(value)) + value.encode()
    body = json.dumps(payload).encode()
    prelude = struct.pack(">II", 16 + len(headers) + len(body), len(headers))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + headers + body
    return message + struct.pack(">I", zlib.crc32(message))


class FakeBedrock(BaseHTTPRequestHandler):
    """Answers ``POST /model/{id}/converse-stream`` like Bedrock: the events in chunked transfer encoding."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        words = ["Streams", " end", " their", " spans", " once", "."]
        events = [
            frame("messageStart", {"role": "assistant"}),
            *[frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": w}}) for w in words],
            frame("contentBlockStop", {"contentBlockIndex": 0}),
            frame("messageStop", {"stopReason": "end_turn"}),
            frame("metadata", {"usage": {"inputTokens": 14, "outputTokens": 7, "totalTokens": 21}, "metrics": {}}),
        ]
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.amazon.eventstream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for data in events:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")


@contextlib.contextmanager
def bedrock_client() -> Iterator[object]:
    if os.environ.get("BEDROCK_LIVE"):
        yield boto3.client("bedrock-runtime")
        return
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeBedrock)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield boto3.client(
            "bedrock-runtime",
            region_name="us-east-1",
            endpoint_url=f"http://127.0.0.1:{server.server_address[1]}",
            aws_access_key_id="offline",
            aws_secret_access_key="offline",
        )
    finally:
        server.shutdown()
        server.server_close()


@workflow(name="explain")
def explain(client: object) -> str:
    response = client.converse_stream(  # type: ignore[attr-defined]
        modelId=MODEL,
        system=[{"text": "Answer in one short sentence."}],
        messages=[{"role": "user", "content": [{"text": "What does otel-genai guarantee about streamed spans?"}]}],
        inferenceConfig={"maxTokens": 64, "temperature": 0.2},
    )
    stream = response["stream"]
    assert isinstance(stream, EventStream)  # still botocore's type
    stop_reason = ""
    for event in stream:
        if "contentBlockDelta" in event:
            print(event["contentBlockDelta"]["delta"].get("text", ""), end="", flush=True)
        elif "messageStop" in event:
            stop_reason = event["messageStop"]["stopReason"]
    print()
    return stop_reason


def main() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))  # kept to look at the CLIENT span below
    provider.add_span_processor(SimpleSpanProcessor(SpanTreeConsoleExporter()))  # prints the tree when it ends
    trace.set_tracer_provider(provider)
    BedrockInstrumentor().instrument()

    with bedrock_client() as client:
        explain(client)

    chat = next(s for s in exporter.get_finished_spans() if s.kind is trace.SpanKind.CLIENT)
    usage = chat.attributes.get("gen_ai.usage.input_tokens"), chat.attributes.get("gen_ai.usage.output_tokens")
    print(f"usage: {usage[0]} in, {usage[1]} out")
    for key in ("gen_ai.system_instructions", "gen_ai.input.messages", "gen_ai.output.messages"):
        if key in chat.attributes:  # only with OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT on
            print(f"{key}: {chat.attributes[key]}")
    BedrockInstrumentor().uninstrument()


if __name__ == "__main__":
    main()

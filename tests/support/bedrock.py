"""A fake Bedrock runtime on 127.0.0.1, speaking the real wire formats, for real ``boto3`` clients.

:class:`BedrockServer` is a real HTTP/1.1 server (``http.server``, a thread per connection, ephemeral port) that
answers each request with the next queued :class:`Reply`, and records the requests. The reply builders produce what
Bedrock sends: Converse / InvokeModel JSON bodies, and the ``application/vnd.amazon.eventstream`` framing
(:mod:`support.eventstream`) for ``converse_stream`` and ``invoke_model_with_response_stream``, sent with chunked
transfer encoding. A reply can cut the connection mid-stream (``fail_after``) to provoke a transport error.

:func:`client` makes a ``bedrock-runtime`` client pointed at the server with dummy credentials and retries off.
"""

from __future__ import annotations

import collections
import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from support import eventstream

EVENTSTREAM = "application/vnd.amazon.eventstream"
REQUEST_ID = "4f9d3a52-0000-4000-8000-000000000001"


@dataclass
class Reply:
    """One HTTP response: a whole ``body``, or ``chunks`` sent one by one (chunked), cut after ``fail_after``."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    chunks: list[bytes] | None = None
    fail_after: int | None = None


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class BedrockServer:
    """The fake endpoint: ``replies`` is the queue of answers (an empty queue answers 500), ``requests`` the log."""

    def __init__(self) -> None:
        self.replies: collections.deque[Reply] = collections.deque()
        self.requests: list[Request] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                server.requests.append(Request("POST", self.path, dict(self.headers), body))
                try:
                    reply = server.replies.popleft()
                except IndexError:
                    reply = error(500, "InternalServerException", "no reply queued")
                try:
                    self._send(reply)
                except OSError:  # the client went away (closed its stream early): nothing more to send
                    self.close_connection = True

            def _send(self, reply: Reply) -> None:
                self.send_response(reply.status)
                headers = {"x-amzn-RequestId": REQUEST_ID, **reply.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                if reply.chunks is None:
                    body = reply.body or b""
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for i, data in enumerate(reply.chunks):
                    if reply.fail_after is not None and i >= reply.fail_after:
                        self.wfile.flush()
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)  # cut mid-stream, no terminating chunk
                        return
                    self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="bedrock-fake", daemon=True)

    def start(self) -> BedrockServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(10)

    def queue(self, *replies: Reply) -> BedrockServer:
        self.replies.extend(replies)
        return self


@contextlib.contextmanager
def serve() -> Iterator[BedrockServer]:
    server = BedrockServer().start()
    try:
        yield server
    finally:
        server.stop()


def client(server: BedrockServer, **kwargs: Any) -> Any:
    """A real ``bedrock-runtime`` client for ``server``: dummy credentials, no retries (an error is one request)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=server.url,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}, read_timeout=10, connect_timeout=5),
        **kwargs,
    )


# -- replies ------------------------------------------------------------------------------------------------------


def json_reply(body: dict[str, Any], headers: dict[str, str] | None = None) -> Reply:
    return Reply(200, {"Content-Type": "application/json", **(headers or {})}, json.dumps(body).encode())


def error(status: int, code: str, message: str) -> Reply:
    """An AWS JSON error: botocore raises the modelled exception named by ``x-amzn-ErrorType``."""
    headers = {"Content-Type": "application/json", "x-amzn-ErrorType": f"{code}:http://internal.amazon.com/coral/"}
    return Reply(status, headers, json.dumps({"message": message}).encode())


def stream_reply(messages: list[bytes], fail_after: int | None = None, **headers: str) -> Reply:
    return Reply(200, {"Content-Type": EVENTSTREAM, **headers}, chunks=messages, fail_after=fail_after)


def usage(input_tokens: int = 11, output_tokens: int = 7, cache_read: int = 0, cache_write: int = 0) -> dict:
    out = {"inputTokens": input_tokens, "outputTokens": output_tokens}
    out["totalTokens"] = input_tokens + output_tokens + cache_read + cache_write
    if cache_read:
        out["cacheReadInputTokens"] = cache_read
    if cache_write:
        out["cacheWriteInputTokens"] = cache_write
    return out


def converse(
    text: str = "Hello!",
    stop_reason: str = "end_turn",
    tool_use: dict[str, Any] | None = None,
    reasoning: str | None = None,
    **usage_kwargs: int,
) -> Reply:
    """A ``Converse`` response body."""
    content: list[dict[str, Any]] = []
    if reasoning:
        content.append({"reasoningContent": {"reasoningText": {"text": reasoning, "signature": "sig"}}})
    if text:
        content.append({"text": text})
    if tool_use:
        content.append({"toolUse": tool_use})
    body = {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop_reason,
        "usage": usage(**usage_kwargs),
        "metrics": {"latencyMs": 42},
    }
    return json_reply(body)


def converse_events(
    text: str = "Hello there friend",
    chunks: int = 3,
    stop_reason: str = "end_turn",
    tool_use: dict[str, Any] | None = None,
    metadata: bool = True,
    **usage_kwargs: int,
) -> list[bytes]:
    """The ``ConverseStream`` events: messageStart, a text block in ``chunks`` deltas, (a tool block), messageStop,
    metadata (usage)."""
    events = [eventstream.event("messageStart", {"role": "assistant"})]
    words = text.split(" ")
    size = max(1, -(-len(words) // chunks))
    pieces = [" ".join(words[i : i + size]) for i in range(0, len(words), size)]
    for i, piece in enumerate(pieces):
        delta = piece if i == 0 else " " + piece
        events.append(eventstream.event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": delta}}))
    events.append(eventstream.event("contentBlockStop", {"contentBlockIndex": 0}))
    if tool_use:
        start = {"toolUse": {"toolUseId": tool_use["toolUseId"], "name": tool_use["name"]}}
        events.append(eventstream.event("contentBlockStart", {"contentBlockIndex": 1, "start": start}))
        arguments = json.dumps(tool_use["input"])
        half = len(arguments) // 2
        for part in (arguments[:half], arguments[half:]):
            delta = {"toolUse": {"input": part}}
            events.append(eventstream.event("contentBlockDelta", {"contentBlockIndex": 1, "delta": delta}))
        events.append(eventstream.event("contentBlockStop", {"contentBlockIndex": 1}))
    events.append(eventstream.event("messageStop", {"stopReason": stop_reason}))
    if metadata:
        events.append(eventstream.event("metadata", {"usage": usage(**usage_kwargs), "metrics": {"latencyMs": 42}}))
    return events


def converse_stream(*args: Any, fail_after: int | None = None, **kwargs: Any) -> Reply:
    return stream_reply(converse_events(*args, **kwargs), fail_after)


# -- InvokeModel bodies per model family ----------------------------------------------------------------------------

INVOCATION_METRICS = "amazon-bedrock-invocationMetrics"


def invocation_metrics(input_tokens: int, output_tokens: int) -> dict[str, int]:
    return {
        "inputTokenCount": input_tokens,
        "outputTokenCount": output_tokens,
        "invocationLatency": 120,
        "firstByteLatency": 40,
    }


def token_headers(input_tokens: int, output_tokens: int) -> dict[str, str]:
    return {
        "X-Amzn-Bedrock-Input-Token-Count": str(input_tokens),
        "X-Amzn-Bedrock-Output-Token-Count": str(output_tokens),
        "X-Amzn-Bedrock-Invocation-Latency": "120",
    }


def invoke_body(family: str, text: str = "Hello!", input_tokens: int = 11, output_tokens: int = 7) -> dict:
    """The ``InvokeModel`` response body of ``family`` (anthropic, nova, titan, llama, mistral, cohere)."""
    if family == "anthropic":
        return {
            "id": "msg_bdrk_01",
            "type": "message",
            "role": "assistant",
            "model": "claude-3-5-haiku-20241022",
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
        }
    if family == "nova":
        return {
            "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": input_tokens, "outputTokens": output_tokens},
        }
    if family == "titan":
        return {
            "inputTextTokenCount": input_tokens,
            "results": [{"tokenCount": output_tokens, "outputText": text, "completionReason": "FINISH"}],
        }
    if family == "llama":
        return {
            "generation": text,
            "prompt_token_count": input_tokens,
            "generation_token_count": output_tokens,
            "stop_reason": "stop",
        }
    if family == "mistral":
        return {"outputs": [{"text": text, "stop_reason": "stop"}]}
    if family == "cohere":
        return {"id": "gen-1", "generations": [{"id": "g-1", "text": text, "finish_reason": "COMPLETE"}]}
    raise ValueError(family)


def invoke(family: str, text: str = "Hello!", input_tokens: int = 11, output_tokens: int = 7) -> Reply:
    """An ``InvokeModel`` reply, with Bedrock's token-count headers (as the service sends for every model)."""
    body = invoke_body(family, text, input_tokens, output_tokens)
    return json_reply(body, token_headers(input_tokens, output_tokens))


def invoke_chunks(family: str, text: str = "Hello there friend", input_tokens: int = 11, output_tokens: int = 7):
    """The chunk bodies (model family JSON) of ``invoke_model_with_response_stream``; the last carries Bedrock's
    invocation metrics, as the service adds them."""
    words = text.split(" ")
    pieces = [w if i == 0 else " " + w for i, w in enumerate(words)]
    metrics = invocation_metrics(input_tokens, output_tokens)
    bodies: list[dict[str, Any]]
    if family == "anthropic":
        start = {
            "id": "msg_bdrk_01",
            "type": "message",
            "role": "assistant",
            "model": "claude-3-5-haiku-20241022",
            "content": [],
            "stop_reason": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": 1},
        }
        bodies = [
            {"type": "message_start", "message": start},
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            *({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}} for p in pieces),
            {"type": "content_block_stop", "index": 0},
            {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": output_tokens}},
            {"type": "message_stop", INVOCATION_METRICS: metrics},
        ]
    elif family == "nova":
        bodies = [
            {"messageStart": {"role": "assistant"}},
            *({"contentBlockDelta": {"delta": {"text": p}, "contentBlockIndex": 0}} for p in pieces),
            {"contentBlockStop": {"contentBlockIndex": 0}},
            {"messageStop": {"stopReason": "end_turn"}},
            {
                "metadata": {"usage": {"inputTokens": input_tokens, "outputTokens": output_tokens}},
                INVOCATION_METRICS: metrics,
            },
        ]
    elif family == "titan":
        bodies = [
            {"outputText": p, "index": 0, "totalOutputTextTokenCount": None, "completionReason": None} for p in pieces
        ]
        bodies[0]["inputTextTokenCount"] = input_tokens
        bodies[-1].update(totalOutputTextTokenCount=output_tokens, completionReason="FINISH")
        bodies[-1][INVOCATION_METRICS] = metrics
    elif family == "llama":
        bodies = [{"generation": p, "generation_token_count": i + 1, "stop_reason": None} for i, p in enumerate(pieces)]
        bodies[0]["prompt_token_count"] = input_tokens
        bodies[-1].update(stop_reason="stop", generation_token_count=output_tokens)
        bodies[-1][INVOCATION_METRICS] = metrics
    elif family == "mistral":
        bodies = [{"outputs": [{"text": p, "stop_reason": None}]} for p in pieces]
        bodies[-1]["outputs"][0]["stop_reason"] = "stop"
        bodies[-1][INVOCATION_METRICS] = metrics
    elif family == "cohere":
        bodies = [{"text": p, "is_finished": False} for p in pieces]
        bodies.append({"is_finished": True, "finish_reason": "COMPLETE", INVOCATION_METRICS: metrics})
    else:
        raise ValueError(family)
    return bodies


def invoke_stream(family: str, *args: Any, fail_after: int | None = None, **kwargs: Any) -> Reply:
    messages = [eventstream.chunk(body) for body in invoke_chunks(family, *args, **kwargs)]
    return stream_reply(messages, fail_after, **{"X-Amzn-Bedrock-Content-Type": "application/json"})


MODELS = {  # a model id of each family, as users pass them (with an inference-profile region prefix for some)
    "anthropic": "us.anthropic.claude-3-5-haiku-20241022-v1:0",
    "nova": "amazon.nova-lite-v1:0",
    "titan": "amazon.titan-text-express-v1",
    "llama": "meta.llama3-8b-instruct-v1:0",
    "mistral": "mistral.mistral-7b-instruct-v0:2",
    "cohere": "cohere.command-text-v14",
}


def invoke_request(family: str, prompt: str = "Hi", max_tokens: int = 64) -> dict[str, Any]:
    """The request body of ``family`` (what an app sends to ``invoke_model``)."""
    if family == "anthropic":
        return {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": max_tokens,
            "temperature": 0.5,
            "system": "Be brief.",
            "messages": [{"role": "user", "content": prompt}],
        }
    if family == "nova":
        return {
            "schemaVersion": "messages-v1",
            "system": [{"text": "Be brief."}],
            "messages": [{"role": "user", "content": [{"text": prompt}]}],
            "inferenceConfig": {"maxTokens": max_tokens, "temperature": 0.5, "topP": 0.9},
        }
    if family == "titan":
        return {"inputText": prompt, "textGenerationConfig": {"maxTokenCount": max_tokens, "temperature": 0.5}}
    if family == "llama":
        return {"prompt": prompt, "max_gen_len": max_tokens, "temperature": 0.5, "top_p": 0.9}
    if family == "mistral":
        return {"prompt": prompt, "max_tokens": max_tokens, "temperature": 0.5, "top_k": 50}
    if family == "cohere":
        return {"prompt": prompt, "max_tokens": max_tokens, "temperature": 0.5, "p": 0.9, "k": 40}
    raise ValueError(family)

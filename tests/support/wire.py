"""Wire-format fakes for the OpenAI and Anthropic HTTP APIs.

Builders return a :class:`WireResponse` (status, headers, body chunks) that is
independent of the HTTP library. :func:`make_transport` turns builders into a
``MockTransport`` of either ``httpx`` or ``httpx2`` that works for both the sync
and the async client of that library, delivers streaming bodies chunk by chunk
and records every request.

Which HTTP library each SDK accepts (verified with openai 3.57 / anthropic 2.13):

* openai accepts ``httpx.Client``/``AsyncClient`` *and* ``httpx2.Client``/``AsyncClient``
  (its own default is httpx2);
* anthropic accepts only ``httpx2`` objects (an ``httpx`` client raises ``TypeError``).

Typical use::

    rec = Recorder()
    transport = make_transport([openai_chat_stream(text="Hi there")], recorder=rec)
    client = openai_client(transport)
    ...
    assert rec.requests[0].json()["stream"] is True
"""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Literal

Lib = Literal["httpx", "httpx2"]

OPENAI_BASE_URL = "https://api.openai.com/v1"
ANTHROPIC_BASE_URL = "https://api.anthropic.com"

__all__ = [
    "ChunkStream",
    "RecordedRequest",
    "Recorder",
    "WireResponse",
    "anthropic_client",
    "anthropic_error",
    "anthropic_message",
    "anthropic_message_stream",
    "anthropic_tool_use",
    "anthropic_usage",
    "make_transport",
    "openai_chat",
    "openai_chat_stream",
    "openai_client",
    "openai_embeddings",
    "openai_error",
    "openai_responses",
    "openai_responses_stream",
    "openai_responses_usage",
    "openai_tool_call",
    "openai_usage",
    "parse_sse",
    "responses_function_call",
    "sequence",
    "sse_event",
]


# ---------------------------------------------------------------------------
# Core types
# ---------------------------------------------------------------------------


@dataclass
class WireResponse:
    """A library-neutral HTTP response: status, headers and body chunks.

    ``fail_after``: if set, the body stream raises ``ReadError`` (of the client's
    HTTP library) after delivering that many chunks, simulating a dropped connection.
    """

    status: int
    headers: list[tuple[str, str]]
    chunks: list[bytes]
    fail_after: int | None = None

    @property
    def body(self) -> bytes:
        """The whole body (all chunks, ignoring ``fail_after``)."""
        return b"".join(self.chunks)

    def json(self) -> Any:
        """The body parsed as JSON (non-stream responses)."""
        return json.loads(self.body)

    def events(self) -> list[tuple[str | None, str]]:
        """The body parsed as SSE: list of ``(event, data)``."""
        return parse_sse(self.body)

    def broken(self, after: int) -> WireResponse:
        """A copy whose body stream raises ``ReadError`` after ``after`` chunks."""
        return WireResponse(self.status, list(self.headers), list(self.chunks), fail_after=after)

    def rechunked(self, size: int) -> WireResponse:
        """A copy whose body is re-split into ``size``-byte chunks (events split across reads)."""
        body = self.body
        chunks = [body[i : i + size] for i in range(0, len(body), size)]
        return WireResponse(self.status, list(self.headers), chunks, fail_after=self.fail_after)

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


def parse_sse(body: bytes | str) -> list[tuple[str | None, str]]:
    """Parse an SSE body into ``(event, data)`` pairs (comments ignored, multi-line data joined)."""
    text = body.decode() if isinstance(body, bytes) else body
    out: list[tuple[str | None, str]] = []
    event: str | None = None
    data: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if line == "":
            if event is not None or data:
                out.append((event, "\n".join(data)))
            event, data = None, []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
    if event is not None or data:
        out.append((event, "\n".join(data)))
    return out


@dataclass
class RecordedRequest:
    """A request seen by the transport."""

    method: str
    url: str
    headers: dict[str, str]
    content: bytes

    @property
    def path(self) -> str:
        from urllib.parse import urlsplit

        return urlsplit(self.url).path

    def json(self) -> Any:
        return json.loads(self.content) if self.content else None


@dataclass
class Recorder:
    """Collects requests and the body streams handed out, for assertions."""

    requests: list[RecordedRequest] = field(default_factory=list)
    streams: list[ChunkStream] = field(default_factory=list)

    @property
    def last(self) -> RecordedRequest:
        return self.requests[-1]


# ---------------------------------------------------------------------------
# Streams and transport
# ---------------------------------------------------------------------------


def _lib(lib: Lib | ModuleType) -> ModuleType:
    return importlib.import_module(lib) if isinstance(lib, str) else lib


class ChunkStream:
    """Byte stream yielding ``chunks`` one at a time (sync and async).

    ``delivered`` counts chunks handed out, ``closed`` tells whether the client closed it.
    Raises ``error_cls`` after ``fail_after`` chunks when set. Instances are made via
    :func:`_stream_class` so they subclass the right library's Sync/AsyncByteStream.
    """

    def __init__(self, chunks: Sequence[bytes], fail_after: int | None, error_cls: type[Exception]) -> None:
        self.chunks = list(chunks)
        self.fail_after = fail_after
        self.error_cls = error_cls
        self.delivered = 0
        self.closed = False

    def _check(self, i: int) -> None:
        if self.fail_after is not None and i >= self.fail_after:
            raise self.error_cls("simulated connection drop")  # type: ignore[call-arg]

    def __iter__(self) -> Iterator[bytes]:
        for i, chunk in enumerate(self.chunks):
            self._check(i)
            self.delivered += 1
            yield chunk
        self._check(len(self.chunks))

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for i, chunk in enumerate(self.chunks):
            self._check(i)
            self.delivered += 1
            yield chunk
        self._check(len(self.chunks))

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


_STREAM_CLASSES: dict[str, type] = {}


def _stream_class(mod: ModuleType) -> type:
    cls = _STREAM_CLASSES.get(mod.__name__)
    if cls is None:
        cls = type(f"ChunkStream_{mod.__name__}", (ChunkStream, mod.SyncByteStream, mod.AsyncByteStream), {})
        _STREAM_CLASSES[mod.__name__] = cls
    return cls


Handler = Callable[[RecordedRequest], WireResponse]
Responses = WireResponse | Sequence[WireResponse] | Handler


def sequence(responses: Iterable[WireResponse]) -> Handler:
    """A handler that returns ``responses`` in order (fails the test when exhausted)."""
    queue = list(responses)

    def handler(_req: RecordedRequest) -> WireResponse:
        if not queue:
            raise AssertionError("wire transport: more requests than prepared responses")
        return queue.pop(0)

    return handler


def make_transport(
    responses: Responses,
    *,
    lib: Lib | ModuleType = "httpx",
    recorder: Recorder | None = None,
) -> Any:
    """Return a ``MockTransport`` of ``lib`` ("httpx" or "httpx2") serving ``responses``.

    ``responses`` is one WireResponse, a list served in order, or a handler
    ``(RecordedRequest) -> WireResponse``. The same transport works for the sync
    and the async client of that library. Bodies are streamed chunk by chunk.
    """
    mod = _lib(lib)
    if isinstance(responses, WireResponse):
        handler: Handler = sequence([responses])
    elif callable(responses):
        handler = responses
    else:
        handler = sequence(responses)
    stream_cls = _stream_class(mod)

    def mock_handler(request: Any) -> Any:
        rec = RecordedRequest(
            method=request.method,
            url=str(request.url),
            headers={k.lower(): v for k, v in request.headers.items()},
            content=request.content,
        )
        if recorder is not None:
            recorder.requests.append(rec)
        wire = handler(rec)
        stream = stream_cls(wire.chunks, wire.fail_after, mod.ReadError)
        if recorder is not None:
            recorder.streams.append(stream)
        return mod.Response(wire.status, headers=wire.headers, stream=stream, request=request)

    return mod.MockTransport(mock_handler)


def openai_client(transport: Any, *, is_async: bool = False, azure: bool = False, **kwargs: Any) -> Any:
    """An OpenAI / AsyncOpenAI (or AzureOpenAI) client using ``transport`` (retries off)."""
    import openai

    mod = importlib.import_module(type(transport).__module__.split(".")[0])
    http_client = mod.AsyncClient(transport=transport) if is_async else mod.Client(transport=transport)
    kwargs.setdefault("max_retries", 0)
    if azure:
        cls = openai.AsyncAzureOpenAI if is_async else openai.AzureOpenAI
        kwargs.setdefault("azure_endpoint", "https://example-resource.openai.azure.com")
        kwargs.setdefault("api_version", "2024-10-21")
    else:
        cls = openai.AsyncOpenAI if is_async else openai.OpenAI
    return cls(api_key="test", http_client=http_client, **kwargs)


def anthropic_client(transport: Any, *, is_async: bool = False, **kwargs: Any) -> Any:
    """An Anthropic / AsyncAnthropic client using ``transport`` (must be an httpx2 transport; retries off)."""
    import anthropic
    import httpx2

    http_client = httpx2.AsyncClient(transport=transport) if is_async else httpx2.Client(transport=transport)
    kwargs.setdefault("max_retries", 0)
    cls = anthropic.AsyncAnthropic if is_async else anthropic.Anthropic
    return cls(api_key="test", http_client=http_client, **kwargs)


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

_counter = 0


def _next_id(prefix: str) -> str:
    global _counter
    _counter += 1
    return f"{prefix}{_counter:024d}"


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def sse_event(data: Mapping[str, Any] | str, event: str | None = None) -> bytes:
    """Frame one SSE event: optional ``event:`` line, one ``data:`` line, blank line."""
    payload = data if isinstance(data, str) else _dumps(data)
    head = f"event: {event}\n" if event is not None else ""
    return f"{head}data: {payload}\n\n".encode()


def _split_text(text: str, n: int) -> list[str]:
    """Split ``text`` into ``n`` non-empty pieces (word-ish boundaries)."""
    if n <= 1 or len(text) <= 1:
        return [text]
    n = min(n, len(text))
    size, rest = divmod(len(text), n)
    out, i = [], 0
    for k in range(n):
        step = size + (1 if k < rest else 0)
        out.append(text[i : i + step])
        i += step
    return out


def _openai_headers(stream: bool, request_id: str | None, extra: Mapping[str, str] | None) -> list[tuple[str, str]]:
    h = [
        ("content-type", "text/event-stream; charset=utf-8" if stream else "application/json"),
        ("x-request-id", request_id or _next_id("req_")),
        ("openai-organization", "test-org"),
        ("openai-processing-ms", "123"),
        ("openai-version", "2020-10-01"),
        ("x-ratelimit-limit-requests", "10000"),
        ("x-ratelimit-remaining-requests", "9999"),
    ]
    h += list((extra or {}).items())
    return h


def _anthropic_headers(stream: bool, request_id: str | None, extra: Mapping[str, str] | None) -> list[tuple[str, str]]:
    h = [("content-type", "text/event-stream; charset=utf-8" if stream else "application/json")]
    if stream:
        h.append(("cache-control", "no-cache"))
    h += [
        ("request-id", request_id or _next_id("req_")),
        ("anthropic-organization-id", "00000000-0000-0000-0000-000000000000"),
    ]
    h += list((extra or {}).items())
    return h


# ---------------------------------------------------------------------------
# OpenAI chat completions
# ---------------------------------------------------------------------------


def openai_usage(prompt: int = 12, completion: int = 5, cached: int = 0, reasoning: int = 0) -> dict[str, Any]:
    """Chat-completions ``usage`` object as the API sends it."""
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": reasoning,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def openai_tool_call(
    name: str = "get_weather", arguments: str | Mapping[str, Any] = '{"location":"Paris"}', id: str | None = None
) -> dict[str, Any]:
    """A chat-completions tool call (as in ``message.tool_calls``)."""
    args = arguments if isinstance(arguments, str) else _dumps(arguments)
    return {"id": id or _next_id("call_"), "type": "function", "function": {"name": name, "arguments": args}}


def openai_chat(
    text: str | None = "This is a test.",
    *,
    model: str = "gpt-4o-mini-2024-07-18",
    id: str | None = None,
    n: int = 1,
    finish_reason: str | None = None,
    tool_calls: Sequence[Mapping[str, Any]] | None = None,
    usage: Mapping[str, Any] | None = None,
    prompt_tokens: int = 12,
    completion_tokens: int = 5,
    cached_tokens: int = 0,
    service_tier: str | None = "default",
    system_fingerprint: str | None = "fp_0ba0d124f1",
    request_id: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> WireResponse:
    """Non-stream ``POST /chat/completions`` JSON response (``n`` identical choices)."""
    fr = finish_reason or ("tool_calls" if tool_calls else "stop")
    message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None, "annotations": []}
    if tool_calls:
        message["tool_calls"] = [dict(tc) for tc in tool_calls]
    body = {
        "id": id or _next_id("chatcmpl-"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": i, "message": dict(message), "logprobs": None, "finish_reason": fr} for i in range(n)],
        "usage": dict(usage) if usage is not None else openai_usage(prompt_tokens, completion_tokens, cached_tokens),
        "service_tier": service_tier,
        "system_fingerprint": system_fingerprint,
    }
    return WireResponse(200, _openai_headers(False, request_id, headers), [_dumps(body).encode()])


def openai_chat_stream(
    text: str | None = "This is a test.",
    *,
    model: str = "gpt-4o-mini-2024-07-18",
    id: str | None = None,
    n: int = 1,
    chunks: int = 4,
    finish_reason: str | None = None,
    tool_calls: Sequence[Mapping[str, Any]] | None = None,
    include_usage: bool = True,
    usage: Mapping[str, Any] | None = None,
    prompt_tokens: int = 12,
    completion_tokens: int = 5,
    cached_tokens: int = 0,
    service_tier: str | None = "default",
    system_fingerprint: str | None = "fp_0ba0d124f1",
    request_id: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> WireResponse:
    """Streamed ``POST /chat/completions`` (``stream=True``) as SSE ``data:`` lines.

    Sequence per real API: a role chunk (``content: ""``, or ``null`` for tool-only)
    per choice, content deltas split into ``chunks`` pieces, tool-call deltas (first
    with index/id/type/name and ``arguments: ""``, then argument pieces), choices
    interleaved, then a ``delta: {}`` finish chunk per choice, then (``include_usage``) a ``choices: []``
    chunk with usage, then ``data: [DONE]``. Without include_usage no chunk carries usage
    (real API sends ``"usage": null`` only when include_usage is on; omitted otherwise).
    """
    cid = id or _next_id("chatcmpl-")
    created = int(time.time())
    fr = finish_reason or ("tool_calls" if tool_calls else "stop")

    def chunk(choices: list[dict[str, Any]], **extra: Any) -> bytes:
        c: dict[str, Any] = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "service_tier": service_tier,
            "system_fingerprint": system_fingerprint,
            "choices": choices,
        }
        if include_usage:
            c["usage"] = None
        c.update(extra)
        return sse_event(c)

    def choice(i: int, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"index": i, "delta": delta, "logprobs": None, "finish_reason": finish}

    per_choice: list[list[bytes]] = []
    for i in range(n):
        seq: list[bytes] = []
        first: dict[str, Any] = {"role": "assistant", "content": "" if text is not None else None, "refusal": None}
        seq.append(chunk([choice(i, first)]))
        if text:
            for piece in _split_text(text, chunks):
                seq.append(chunk([choice(i, {"content": piece})]))
        for t_index, tc in enumerate(tool_calls or []):
            fn = tc["function"]
            head = {
                "index": t_index,
                "id": tc["id"],
                "type": "function",
                "function": {"name": fn["name"], "arguments": ""},
            }
            seq.append(chunk([choice(i, {"tool_calls": [head]})]))
            for piece in _split_text(fn["arguments"], 3) if fn["arguments"] else []:
                seq.append(chunk([choice(i, {"tool_calls": [{"index": t_index, "function": {"arguments": piece}}]})]))
        per_choice.append(seq)
    # Like the real API, deltas of different choices are interleaved (round-robin here).
    out: list[bytes] = []
    for k in range(max(len(q) for q in per_choice)):
        out += [q[k] for q in per_choice if k < len(q)]
    for i in range(n):
        out.append(chunk([choice(i, {}, fr)]))
    if include_usage:
        u = dict(usage) if usage is not None else openai_usage(prompt_tokens, completion_tokens, cached_tokens)
        out.append(chunk([], usage=u))
    out.append(b"data: [DONE]\n\n")
    return WireResponse(200, _openai_headers(True, request_id, headers), out)


# ---------------------------------------------------------------------------
# OpenAI Responses API
# ---------------------------------------------------------------------------


def openai_responses_usage(
    input: int = 12, output: int = 5, cached: int = 0, reasoning: int = 0, cache_write: int = 0
) -> dict[str, Any]:
    """Responses-API ``usage`` object (openai 3.57 types require ``cache_write_tokens``)."""
    return {
        "input_tokens": input,
        "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": cache_write},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": input + output,
    }


def _response_obj(
    rid: str,
    model: str,
    status: str,
    output: list[dict[str, Any]],
    usage: dict[str, Any] | None,
    created: int,
    **extra: Any,
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": rid,
        "object": "response",
        "created_at": created,
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "max_output_tokens": None,
        "max_tool_calls": None,
        "model": model,
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "prompt_cache_key": None,
        "reasoning": {"effort": None, "summary": None},
        "safety_identifier": None,
        "service_tier": "default" if status == "completed" else "auto",
        "store": True,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": "auto",
        "tools": [],
        "top_logprobs": 0,
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": usage,
        "user": None,
        "metadata": {},
    }
    if status == "completed":
        obj["completed_at"] = created + 1
    obj.update(extra)
    return obj


def _message_item(mid: str, text: str, status: str = "completed") -> dict[str, Any]:
    return {
        "id": mid,
        "type": "message",
        "status": status,
        "content": [{"type": "output_text", "annotations": [], "logprobs": [], "text": text}]
        if status == "completed"
        else [],
        "role": "assistant",
    }


def _function_item(fid: str, call: Mapping[str, Any], status: str = "completed") -> dict[str, Any]:
    return {
        "id": fid,
        "type": "function_call",
        "status": status,
        "arguments": call["arguments"] if status == "completed" else "",
        "call_id": call["call_id"],
        "name": call["name"],
    }


def responses_function_call(
    name: str = "get_weather", arguments: str | Mapping[str, Any] = '{"location":"Paris"}', call_id: str | None = None
) -> dict[str, Any]:
    """Spec for a Responses-API function call output item (for ``function_calls=``)."""
    args = arguments if isinstance(arguments, str) else _dumps(arguments)
    return {"name": name, "arguments": args, "call_id": call_id or _next_id("call_")}


def openai_responses(
    text: str | None = "This is a test.",
    *,
    model: str = "gpt-4o-mini-2024-07-18",
    id: str | None = None,
    function_calls: Sequence[Mapping[str, Any]] | None = None,
    usage: Mapping[str, Any] | None = None,
    input_tokens: int = 12,
    output_tokens: int = 5,
    cached_tokens: int = 0,
    request_id: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> WireResponse:
    """Non-stream ``POST /responses`` JSON response (message item and/or function_call items)."""
    output: list[dict[str, Any]] = []
    if text is not None:
        output.append(_message_item(_next_id("msg_"), text))
    for fc in function_calls or []:
        output.append(_function_item(_next_id("fc_"), fc))
    u = dict(usage) if usage is not None else openai_responses_usage(input_tokens, output_tokens, cached_tokens)
    body = _response_obj(id or _next_id("resp_"), model, "completed", output, u, int(time.time()))
    return WireResponse(200, _openai_headers(False, request_id, headers), [_dumps(body).encode()])


def openai_responses_stream(
    text: str | None = "This is a test.",
    *,
    model: str = "gpt-4o-mini-2024-07-18",
    id: str | None = None,
    chunks: int = 4,
    function_calls: Sequence[Mapping[str, Any]] | None = None,
    usage: Mapping[str, Any] | None = None,
    input_tokens: int = 12,
    output_tokens: int = 5,
    cached_tokens: int = 0,
    final_event: Literal["response.completed", "response.incomplete", "response.failed"] = "response.completed",
    request_id: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> WireResponse:
    """Streamed ``POST /responses`` (``stream=True``): ``event:``+``data:`` SSE frames.

    Sequence: response.created, response.in_progress, then per message item
    output_item.added, content_part.added, output_text.delta x ``chunks``,
    output_text.done, content_part.done, output_item.done; per function call
    output_item.added, function_call_arguments.delta x N, function_call_arguments.done,
    output_item.done; finally ``final_event`` carrying the full response and usage.
    Every event has ``sequence_number``; there is no ``[DONE]``.
    """
    rid = id or _next_id("resp_")
    created = int(time.time())
    seq = 0
    out: list[bytes] = []

    def emit(etype: str, **fields: Any) -> None:
        nonlocal seq
        out.append(sse_event({"type": etype, "sequence_number": seq, **fields}, event=etype))
        seq += 1

    emit("response.created", response=_response_obj(rid, model, "in_progress", [], None, created))
    emit("response.in_progress", response=_response_obj(rid, model, "in_progress", [], None, created))
    final_output: list[dict[str, Any]] = []
    idx = 0
    if text is not None:
        mid = _next_id("msg_")
        emit("response.output_item.added", output_index=idx, item=_message_item(mid, text, "in_progress"))
        part0 = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
        emit("response.content_part.added", item_id=mid, output_index=idx, content_index=0, part=part0)
        for piece in _split_text(text, chunks) if text else []:
            emit(
                "response.output_text.delta",
                item_id=mid,
                output_index=idx,
                content_index=0,
                delta=piece,
                logprobs=[],
                obfuscation="x",
            )
        emit("response.output_text.done", item_id=mid, output_index=idx, content_index=0, text=text, logprobs=[])
        emit(
            "response.content_part.done",
            item_id=mid,
            output_index=idx,
            content_index=0,
            part={"type": "output_text", "annotations": [], "logprobs": [], "text": text},
        )
        item = _message_item(mid, text)
        emit("response.output_item.done", output_index=idx, item=item)
        final_output.append(item)
        idx += 1
    for fc in function_calls or []:
        fid = _next_id("fc_")
        emit("response.output_item.added", output_index=idx, item=_function_item(fid, fc, "in_progress"))
        for piece in _split_text(fc["arguments"], 3):
            emit("response.function_call_arguments.delta", item_id=fid, output_index=idx, delta=piece, obfuscation="x")
        emit("response.function_call_arguments.done", item_id=fid, output_index=idx, arguments=fc["arguments"])
        item = _function_item(fid, fc)
        emit("response.output_item.done", output_index=idx, item=item)
        final_output.append(item)
        idx += 1
    u = dict(usage) if usage is not None else openai_responses_usage(input_tokens, output_tokens, cached_tokens)
    status = final_event.split(".", 1)[1]
    extra: dict[str, Any] = {}
    if status == "incomplete":
        extra["incomplete_details"] = {"reason": "max_output_tokens"}
    if status == "failed":
        extra["error"] = {"code": "server_error", "message": "The model failed to generate a response."}
    final = _response_obj(rid, model, status, final_output, u, created, **extra)
    emit(final_event, response=final)
    return WireResponse(200, _openai_headers(True, request_id, headers), out)


# ---------------------------------------------------------------------------
# OpenAI embeddings
# ---------------------------------------------------------------------------


def openai_embeddings(
    n_inputs: int = 1,
    *,
    model: str = "text-embedding-3-small",
    dimensions: int = 8,
    prompt_tokens: int = 4,
    base64: bool = False,
    request_id: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> WireResponse:
    """``POST /embeddings`` JSON response with ``n_inputs`` vectors.

    Note: openai-python sends ``encoding_format="base64"`` when the caller does not
    pass one and decodes it; float lists are accepted too. ``base64=True`` returns
    little-endian float32 base64 strings like the real API.
    """
    import base64 as b64
    import struct

    data = []
    for i in range(n_inputs):
        vec = [round(0.01 * (i + 1) * (k + 1), 6) for k in range(dimensions)]
        emb: Any = b64.b64encode(struct.pack(f"<{dimensions}f", *vec)).decode() if base64 else vec
        data.append({"object": "embedding", "index": i, "embedding": emb})
    body = {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    }
    return WireResponse(200, _openai_headers(False, request_id, headers), [_dumps(body).encode()])


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------

_OPENAI_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided: test."),
    404: (
        "invalid_request_error",
        "model_not_found",
        "The model `does-not-exist` does not exist or you do not have access to it.",
    ),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests."),
    500: ("server_error", None, "The server had an error while processing your request. Sorry about that!"),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}


def openai_error(
    status: int = 404,
    *,
    message: str | None = None,
    type: str | None = None,
    code: str | None = None,
    request_id: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> WireResponse:
    """OpenAI error JSON: ``{"error": {"message", "type", "param", "code"}}``."""
    d_type, d_code, d_msg = _OPENAI_ERRORS.get(status, ("server_error", None, "Error"))
    body = {"error": {"message": message or d_msg, "type": type or d_type, "param": None, "code": code or d_code}}
    h = [
        ("content-type", "application/json; charset=utf-8"),
        ("x-request-id", request_id or _next_id("req_")),
    ]
    if status == 429:
        h.append(("retry-after", "1"))
    h += list((headers or {}).items())
    return WireResponse(status, h, [json.dumps(body, indent=2).encode()])


_ANTHROPIC_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "Invalid request."),
    401: ("authentication_error", "invalid x-api-key"),
    403: ("permission_error", "Your API key does not have permission to use the specified resource."),
    404: ("not_found_error", "model: does-not-exist"),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit."),
    500: ("api_error", "Internal server error"),
    529: ("overloaded_error", "Overloaded"),
}


def anthropic_error(
    status: int = 404,
    *,
    message: str | None = None,
    type: str | None = None,
    request_id: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> WireResponse:
    """Anthropic error JSON: ``{"type":"error","error":{"type","message"},"request_id"}``."""
    d_type, d_msg = _ANTHROPIC_ERRORS.get(status, ("api_error", "Error"))
    rid = request_id or _next_id("req_")
    body = {"type": "error", "error": {"type": type or d_type, "message": message or d_msg}, "request_id": rid}
    h = [
        ("content-type", "application/json"),
        ("request-id", rid),
        ("x-should-retry", "true" if status in (429, 500, 529) else "false"),
    ]
    if status == 429:
        h.append(("retry-after", "1"))
    h += list((headers or {}).items())
    return WireResponse(status, h, [_dumps(body).encode()])


# ---------------------------------------------------------------------------
# Anthropic Messages
# ---------------------------------------------------------------------------


def anthropic_usage(input: int = 12, output: int = 5, cache_read: int = 0, cache_creation: int = 0) -> dict[str, Any]:
    """Messages ``usage`` object (input_tokens excludes cached tokens)."""
    return {
        "input_tokens": input,
        "cache_creation_input_tokens": cache_creation,
        "cache_read_input_tokens": cache_read,
        "cache_creation": {"ephemeral_5m_input_tokens": cache_creation, "ephemeral_1h_input_tokens": 0},
        "output_tokens": output,
        "service_tier": "standard",
    }


def anthropic_tool_use(
    name: str = "get_weather", input: Mapping[str, Any] | None = None, id: str | None = None
) -> dict[str, Any]:
    """A ``tool_use`` content block."""
    return {
        "type": "tool_use",
        "id": id or _next_id("toolu_"),
        "name": name,
        "input": dict(input or {"location": "Paris"}),
    }


def anthropic_message(
    text: str | None = "This is a test.",
    *,
    model: str = "claude-sonnet-4-5-20250929",
    id: str | None = None,
    tool_uses: Sequence[Mapping[str, Any]] | None = None,
    stop_reason: str | None = None,
    usage: Mapping[str, Any] | None = None,
    input_tokens: int = 12,
    output_tokens: int = 5,
    cache_read_input_tokens: int = 0,
    cache_creation_input_tokens: int = 0,
    request_id: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> WireResponse:
    """Non-stream ``POST /v1/messages`` JSON response (text block and/or tool_use blocks)."""
    content: list[dict[str, Any]] = []
    if text is not None:
        content.append({"type": "text", "text": text})
    content += [dict(t) for t in tool_uses or []]
    body = {
        "id": id or _next_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason or ("tool_use" if tool_uses else "end_turn"),
        "stop_sequence": None,
        "usage": dict(usage)
        if usage is not None
        else anthropic_usage(input_tokens, output_tokens, cache_read_input_tokens, cache_creation_input_tokens),
    }
    return WireResponse(200, _anthropic_headers(False, request_id, headers), [_dumps(body).encode()])


def anthropic_message_stream(
    text: str | None = "This is a test.",
    *,
    model: str = "claude-sonnet-4-5-20250929",
    id: str | None = None,
    chunks: int = 4,
    tool_uses: Sequence[Mapping[str, Any]] | None = None,
    stop_reason: str | None = None,
    input_tokens: int = 12,
    output_tokens: int = 5,
    cache_read_input_tokens: int = 0,
    cache_creation_input_tokens: int = 0,
    ping: bool = True,
    error: Mapping[str, str] | None = None,
    request_id: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> WireResponse:
    """Streamed ``POST /v1/messages`` (``stream=True``): ``event:``+``data:`` SSE frames.

    Sequence: message_start (usage with input/cache tokens, output_tokens=1), ping,
    per block content_block_start / content_block_delta (text_delta or input_json_delta
    with partial_json, first delta ``""`` for tools) / content_block_stop, message_delta
    (stop_reason + cumulative usage), message_stop. ``error={"type":..,"message":..}``
    replaces everything after the first content delta with an ``event: error`` frame.
    """
    mid = id or _next_id("msg_")
    out: list[bytes] = []

    def emit(etype: str, **fields: Any) -> None:
        out.append(sse_event({"type": etype, **fields}, event=etype))

    start_usage = anthropic_usage(input_tokens, 1, cache_read_input_tokens, cache_creation_input_tokens)
    emit(
        "message_start",
        message={
            "id": mid,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": start_usage,
        },
    )
    if ping:
        emit("ping")
    index = 0
    if text is not None:
        emit("content_block_start", index=index, content_block={"type": "text", "text": ""})
        for k, piece in enumerate(_split_text(text, chunks) if text else []):
            emit("content_block_delta", index=index, delta={"type": "text_delta", "text": piece})
            if error is not None and k == 0:
                out.append(sse_event({"type": "error", "error": dict(error)}, event="error"))
                return WireResponse(200, _anthropic_headers(True, request_id, headers), out)
        emit("content_block_stop", index=index)
        index += 1
    for tu in tool_uses or []:
        emit(
            "content_block_start",
            index=index,
            content_block={"type": "tool_use", "id": tu["id"], "name": tu["name"], "input": {}},
        )
        emit("content_block_delta", index=index, delta={"type": "input_json_delta", "partial_json": ""})
        for piece in _split_text(_dumps(tu["input"]), 3):
            emit("content_block_delta", index=index, delta={"type": "input_json_delta", "partial_json": piece})
        emit("content_block_stop", index=index)
        index += 1
    emit(
        "message_delta",
        delta={"stop_reason": stop_reason or ("tool_use" if tool_uses else "end_turn"), "stop_sequence": None},
        usage={
            "input_tokens": input_tokens,
            "cache_creation_input_tokens": cache_creation_input_tokens,
            "cache_read_input_tokens": cache_read_input_tokens,
            "output_tokens": output_tokens,
        },
    )
    emit("message_stop")
    return WireResponse(200, _anthropic_headers(True, request_id, headers), out)

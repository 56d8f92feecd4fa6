"""Wire-format fakes for the google-genai SDK: the Gemini Developer API and Vertex AI.

The shapes are the APIs' own (camelCase JSON): ``:generateContent`` returns a ``GenerateContentResponse``,
``:streamGenerateContent?alt=sse`` an SSE stream of them (``data: {...}`` events separated by CRLF CRLF, usage on the
last chunk), ``:batchEmbedContents`` (Gemini) ``{"embeddings": [{"values": [...]}]}``, ``:predict`` (Vertex AI's
text-embedding models) ``{"predictions": [{"embeddings": {"values", "statistics"}}], "metadata"}``, and errors
``{"error": {"code", "message", "status"}}``.

:func:`genai_client` hands an ``httpx`` transport to the SDK through its public ``HttpOptions`` (``httpx_client`` /
``httpx_async_client``), with retries off.
"""

from __future__ import annotations

import json
from typing import Any

from support.wire import WireResponse, make_transport

GEMINI_URL = "https://generativelanguage.googleapis.com/"
VERTEX_URL = "https://aiplatform.googleapis.com/"
MODEL_VERSION = "gemini-test-001"
_STATUS = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}
_counter = 0


def _response_id() -> str:
    global _counter
    _counter += 1
    return f"resp-{_counter:08d}"


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def usage(prompt: int = 12, candidates: int = 5, thoughts: int | None = None, cached: int | None = None) -> dict:
    out: dict[str, Any] = {"promptTokenCount": prompt, "candidatesTokenCount": candidates}
    total = prompt + candidates
    if thoughts is not None:
        out["thoughtsTokenCount"] = thoughts
        total += thoughts
    if cached is not None:
        out["cachedContentTokenCount"] = cached
    out["totalTokenCount"] = total
    return out


def function_call(name: str = "get_weather", args: dict | None = None, id: str | None = None) -> dict:
    call: dict[str, Any] = {"name": name, "args": args if args is not None else {"city": "Paris"}}
    if id is not None:
        call["id"] = id
    return {"functionCall": call}


def _json(status: int, body: Any) -> WireResponse:
    return WireResponse(status, [("content-type", "application/json; charset=UTF-8")], [_dumps(body)])


def generate_content(
    text: str | None = "Hello there",
    *,
    finish: str | None = "STOP",
    parts: list[dict] | None = None,
    candidates: int = 1,
    usage_metadata: dict | None = None,
    response_id: str | None = None,
    model_version: str = MODEL_VERSION,
) -> WireResponse:
    """A ``:generateContent`` response: ``candidates`` candidates with ``parts`` (default: one text part)."""
    body_parts = parts if parts is not None else [{"text": text}]
    cands = []
    for i in range(candidates):
        cand: dict[str, Any] = {"content": {"role": "model", "parts": body_parts}, "index": i}
        if finish is not None:
            cand["finishReason"] = finish
        cands.append(cand)
    body = {
        "candidates": cands,
        "usageMetadata": usage_metadata if usage_metadata is not None else usage(),
        "modelVersion": model_version,
        "responseId": response_id or _response_id(),
    }
    return _json(200, body)


def stream_chunks(
    text: str = "one two three",
    *,
    chunks: int = 3,
    finish: str = "STOP",
    thought: str | None = None,
    tail: list[dict] | None = None,
    usage_metadata: dict | None = None,
    response_id: str | None = None,
    model_version: str = MODEL_VERSION,
) -> list[dict]:
    """The ``GenerateContentResponse`` chunks of a stream: an optional thought part, ``text`` in ``chunks`` pieces,
    then ``tail`` parts (e.g. a function call); the finish reason and usage on the last chunk."""
    rid = response_id or _response_id()
    words = text.split(" ")
    size = max(1, -(-len(words) // chunks))
    pieces = [" ".join(words[i : i + size]) for i in range(0, len(words), size)]
    pieces = [p + (" " if i < len(pieces) - 1 else "") for i, p in enumerate(pieces)]
    parts_list: list[list[dict]] = []
    if thought is not None:
        parts_list.append([{"text": thought, "thought": True}])
    parts_list += [[{"text": p}] for p in pieces]
    if tail:
        parts_list.append(tail)
    out = []
    for i, parts in enumerate(parts_list):
        cand: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
        chunk: dict[str, Any] = {"candidates": [cand], "modelVersion": model_version, "responseId": rid}
        if i == len(parts_list) - 1:
            cand["finishReason"] = finish
            chunk["usageMetadata"] = usage_metadata if usage_metadata is not None else usage()
        else:
            chunk["usageMetadata"] = {"promptTokenCount": 12, "totalTokenCount": 12}
        out.append(chunk)
    return out


def generate_content_stream(text: str = "one two three", **kwargs: Any) -> WireResponse:
    """A ``:streamGenerateContent?alt=sse`` response: one SSE event (one body chunk) per response chunk."""
    events = [b"data: " + _dumps(chunk) + b"\r\n\r\n" for chunk in stream_chunks(text, **kwargs)]
    return WireResponse(200, [("content-type", "text/event-stream")], events)


def batch_embed_contents(count: int = 2, dimensions: int = 4) -> WireResponse:
    """A Gemini ``:batchEmbedContents`` response."""
    return _json(200, {"embeddings": [{"values": [0.25] * dimensions} for _ in range(count)]})


def vertex_predict_embeddings(token_counts: list[int], dimensions: int = 4) -> WireResponse:
    """A Vertex AI ``:predict`` response of a text-embedding model (token counts per text)."""
    predictions = [
        {"embeddings": {"values": [0.5] * dimensions, "statistics": {"truncated": False, "token_count": n}}}
        for n in token_counts
    ]
    return _json(200, {"predictions": predictions, "metadata": {"billableCharacterCount": 7}})


def error(status: int = 429, message: str = "quota exceeded") -> WireResponse:
    return _json(status, {"error": {"code": status, "message": message, "status": _STATUS.get(status, "UNKNOWN")}})


def genai_client(responses: Any, *, vertex: bool = False, recorder: Any = None) -> Any:
    """A ``genai.Client`` (Gemini, or Vertex AI express mode) whose HTTP goes to a MockTransport of ``responses``."""
    import httpx
    from google import genai
    from google.genai import types

    transport = make_transport(responses, lib="httpx", recorder=recorder)
    options = types.HttpOptions(
        httpx_client=httpx.Client(transport=transport),
        httpx_async_client=httpx.AsyncClient(transport=transport),
        retry_options=types.HttpRetryOptions(attempts=1),
    )
    return genai.Client(api_key="test", vertexai=vertex or None, http_options=options)

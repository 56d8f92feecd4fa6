"""Scenario group ``google_genai``: the real ``google-genai`` SDK (``genai.Client``, Gemini Developer API) over an
in-process ``httpx.MockTransport`` handed to it through ``types.HttpOptions(httpx_client=...)``.

The edge serves pre-encoded Gemini wire bytes: a ``:generateContent`` ``GenerateContentResponse`` JSON body, and
``:streamGenerateContent?alt=sse`` SSE streams of ``data: {GenerateContentResponse}`` events (CRLF CRLF separated,
as the API sends them), one text part per chunk, every chunk with ``modelVersion``, ``responseId`` and the prompt's
``usageMetadata``, the last one with ``finishReason`` and the full usage.
"""

from __future__ import annotations

import json
from typing import Any

NOTE = (
    "The real `google-genai` client (`genai.Client(api_key=..., http_options=HttpOptions(httpx_client=...))`, Gemini "
    "Developer API; an httpx client, as the tests use, although 3.x defaults to httpx2) over an in-process "
    "`httpx.MockTransport` serving pre-encoded Gemini wire bytes: a `:generateContent` JSON body, and "
    "`:streamGenerateContent?alt=sse` streams of `data: {GenerateContentResponse}` events (one text part each, the "
    "prompt's usageMetadata on every one, finishReason and the full usage on the last). A chunk is one "
    "`GenerateContentResponse` yielded by `models.generate_content_stream`; the SDK validates each with pydantic "
    "(~200 µs/chunk) and keeps every chunk's `Content` for automatic function calling, hence the baseline's memory "
    "growth. Content capture: `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=NO_CONTENT|SPAN_ONLY` (ours, "
    "official), `TRACELOOP_TRACE_CONTENT=false|true` (OpenLLMetry), `OPENINFERENCE_HIDE_INPUTS/OUTPUTS=true|false` "
    "(OpenInference). The official `opentelemetry-instrumentation-google-genai` 1.3b0 declares `google-genai<3`: it "
    "is instrumented with `skip_dep_check=True` (it works with 3.6.1); it also sets "
    "`OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT=true` itself, and its events go to the no-op logger provider. Verified by "
    "hand: every configuration records one span per call; with content on, every peer puts the prompt and the "
    "completion on its span, streams included (`gen_ai.input/output.messages` for ours, OpenLLMetry and official; "
    "`input.value`/`output.value`/`llm.*_messages` for OpenInference); with content off, none does. Targets for "
    "otel-genai: at most 100 µs per call, at most 1 µs per chunk, no per-chunk memory growth with content off."
)

LABELS = {
    "chat": "models.generate_content (non-streaming), µs/call",
    "stream_chunk": "models.generate_content_stream, µs/chunk",
    "memory": "memory growth, bytes/chunk",
}

_OURS = ["otel-genai", "google-genai"]
CONFIGS: list[dict[str, Any]] = [
    {
        "name": "no instrumentation",
        "venv": "google_genai-ours",
        "kind": "none",
        "packages": ["google-genai"],
        "baseline": True,
    },
    *(
        {"name": "otel-genai", "venv": "google_genai-ours", "kind": "ours", "packages": _OURS, "content": content}
        for content in ("off", "on")
    ),
    *(
        {
            "name": "openllmetry",
            "venv": "google_genai-openllmetry",
            "kind": "openllmetry",
            "packages": ["opentelemetry-instrumentation-google-generativeai"],
            "content": content,
        }
        for content in ("off", "on")
    ),
    *(
        {
            "name": "otel google-genai",
            "venv": "google_genai-official",
            "kind": "official",
            "packages": ["opentelemetry-instrumentation-google-genai", "opentelemetry-util-genai"],
            "content": content,
        }
        for content in ("off", "on")
    ),
    *(
        {
            "name": "openinference",
            "venv": "google_genai-openinference",
            "kind": "openinference",
            "packages": ["openinference-instrumentation-google-genai"],
            "content": content,
        }
        for content in ("off", "on")
    ),
]

MODEL = "gemini-2.5-flash"
PROMPT = "Summarise the plot of Hamlet in three sentences."
ANSWER = (
    "Prince Hamlet seeks revenge after his father's ghost reveals that Claudius murdered him. "
    "His feigned madness and hesitation lead to the deaths of Polonius, Ophelia and others. "
    "In the final duel Hamlet kills Claudius but dies, leaving Fortinbras to take the throne."
)
_RESPONSE_ID = "BENCH0000000000000000000"
_PROMPT_USAGE = {"promptTokenCount": 11, "totalTokenCount": 11}


def _usage(candidates: int) -> dict[str, Any]:
    return {
        "promptTokenCount": 11,
        "candidatesTokenCount": candidates,
        "totalTokenCount": 11 + candidates,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 11}],
    }


def _response(text: str, finish: str | None, usage: dict[str, Any]) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": [{"text": text}], "role": "model"}}
    if finish is not None:
        candidate["finishReason"] = finish
    candidate["index"] = 0
    return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": MODEL, "responseId": _RESPONSE_ID}


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def generate_content_body() -> bytes:
    """A ``:generateContent`` response body as the Gemini API returns it."""
    return _dumps(_response(ANSWER, "STOP", _usage(61)))


def stream_body(chunks: int) -> bytes:
    """``:streamGenerateContent?alt=sse``: ``chunks`` ``GenerateContentResponse`` events with one text part each;
    the prompt's usage on every chunk, the finish reason and the full usage on the last one."""
    token = b"data: " + _dumps(_response(" word", None, _PROMPT_USAGE)) + b"\r\n\r\n"
    last = b"data: " + _dumps(_response(" word", "STOP", _usage(chunks))) + b"\r\n\r\n"
    return token * (chunks - 1) + last


def bench_class() -> type:
    """The bench class; built on first use because run.py imports this module with the standard library only (the
    harness imports opentelemetry)."""
    from harness import HttpxBench

    return type("GoogleGenAIBench", (_GoogleGenAIMethods, HttpxBench), {})


class _GoogleGenAIMethods:
    """``models.generate_content`` / ``models.generate_content_stream`` of a ``genai.Client`` (mixed into
    ``harness.HttpxBench`` by :func:`bench_class`)."""

    LEAD = 0  # the first streamed GenerateContentResponse already carries content

    def make_client(self, http_client: Any) -> Any:
        from google import genai
        from google.genai import types

        options = types.HttpOptions(httpx_client=http_client, retry_options=types.HttpRetryOptions(attempts=1))
        return genai.Client(api_key="bench-key", http_options=options)

    def is_stream(self, request: Any) -> bool:
        """The Gemini API says streaming in the URL (``models/M:streamGenerateContent?alt=sse``), not the body."""
        return request.url.path.endswith(":streamGenerateContent")

    def single_body(self) -> bytes:
        return generate_content_body()

    def stream_body(self, chunks: int) -> bytes:
        return stream_body(chunks)

    def create(self, stream: bool) -> Any:
        if stream:
            return self.client.models.generate_content_stream(model=MODEL, contents=PROMPT)
        return self.client.models.generate_content(model=MODEL, contents=PROMPT)

    def answered(self, response: Any) -> bool:
        return response.text == ANSWER


def setup(kind: str) -> Any:
    from harness import sdk_provider

    tp = sdk_provider()
    if kind == "none":
        pass
    elif kind == "ours":
        from otel_genai.instrumentation.google_genai import GoogleGenAIInstrumentor

        GoogleGenAIInstrumentor().instrument(tracer_provider=tp)
    elif kind == "openllmetry":
        from opentelemetry.instrumentation.google_generativeai import GoogleGenerativeAiInstrumentor

        GoogleGenerativeAiInstrumentor().instrument(tracer_provider=tp)
    elif kind == "official":
        from opentelemetry.instrumentation.google_genai import GoogleGenAiSdkInstrumentor

        # 1.3b0 declares google-genai<3; without skip_dep_check it refuses (logs a conflict) and records nothing
        GoogleGenAiSdkInstrumentor().instrument(tracer_provider=tp, skip_dep_check=True)
    elif kind == "openinference":
        from openinference.instrumentation.google_genai import GoogleGenAIInstrumentor as OIGoogleGenAIInstrumentor

        OIGoogleGenAIInstrumentor().instrument(tracer_provider=tp)
    else:
        raise ValueError(f"unknown google_genai instrumentation {kind!r}")
    return bench_class()()

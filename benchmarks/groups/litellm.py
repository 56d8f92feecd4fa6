"""Scenario group ``litellm``: ``litellm.completion`` routed to the real ``openai`` SDK (``model="openai/..."``) over an
in-process ``httpx.MockTransport``, handed to LiteLLM as a pre-built ``openai.OpenAI`` client through ``client=``.

The edge serves pre-encoded OpenAI wire bytes: a ``chat.completion`` JSON body, and SSE streams of
``chat.completion.chunk`` frames (role chunk, N content chunks, finish chunk, usage chunk, ``data: [DONE]``). A chunk
is one ``ModelResponseStream`` yielded by LiteLLM's ``CustomStreamWrapper``.

LiteLLM runs its success handlers (and so its own OpenTelemetry callback) on a logging thread pool. Every
configuration here runs that pool with one thread (``LOGGING_EXECUTOR_MAX_THREADS=1``, read at import) and each timed
sample waits for the pool to be idle before it stops the clock: the work a call hands to the background is counted
(and the spans it exports are there to count), whichever configuration does it.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

# Every configuration: no fetch of the model cost map (or anything else) at import, one logging thread.
LITELLM_ENV = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_OFFLINE_MODE": "true",
    "LITELLM_LOG": "ERROR",
    "LOGGING_EXECUTOR_MAX_THREADS": "1",
}
MEMORY_DIVISOR = 10  # the memory scenario streams chunks // 10 (10,000 in a full run, window 5,000)
# LiteLLM's own OpenTelemetry callback reads the same switch as ours, once, when the callback is built.
LITELLM_OTEL_CONTENT = {
    "off": {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "NO_CONTENT"},
    "on": {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "SPAN_ONLY"},
}

NOTE = (
    '`litellm.completion(model="openai/gpt-4o-mini", messages=..., client=...)`: LiteLLM routes to the real `openai` '
    "client given through `client=` (verified: every request reaches its transport, and no socket is opened), an "
    "`openai.OpenAI` over an in-process `httpx.MockTransport` serving pre-encoded OpenAI wire bytes (a chat.completion "
    "body; SSE streams of role chunk, N content chunks, finish chunk, usage chunk, `[DONE]`; the content alternates "
    "between two tokens, as LiteLLM fails a stream that repeats one chunk 100 times). A chunk is one "
    "`ModelResponseStream` yielded by LiteLLM's `CustomStreamWrapper`. LiteLLM is set up alike in every venv: local "
    "cost map and offline mode (no fetch), `suppress_debug_info`, `disable_streaming_logging` (otherwise it hands "
    "every chunk to its logging pool, which runs `asyncio.run` per chunk whatever the tracing), and its logging pool "
    "held to one thread (`LOGGING_EXECUTOR_MAX_THREADS=1`); every timed sample waits for that pool to be idle before "
    "the clock stops, so work handed to the background (LiteLLM's own callbacks) is counted. LiteLLM itself costs "
    "milliseconds per call and hundreds of µs per chunk here (it formats every chunk for a debug message, logging "
    "off or not), so the added µs are small differences of large, noisy numbers. Memory: one stream of 10,000 chunks "
    "(a tenth of the other groups': LiteLLM keeps every chunk, about 4 KB each, and runs several times slower under "
    "tracemalloc), window 5,000. Content capture: `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=NO_CONTENT|"
    "SPAN_ONLY` (ours, and LiteLLM's own callback, which reads it when built), `TRACELOOP_TRACE_CONTENT=false|true` "
    "(OpenLLMetry), `OPENINFERENCE_HIDE_INPUTS/OUTPUTS=true|false` (OpenInference). LiteLLM's own callback is "
    "`litellm.callbacks = [OpenTelemetry(tracer_provider=tp)]` from `litellm.integrations.opentelemetry` (the string "
    '`"otel"` builds its own provider and exporter); it records its span on the logging thread after the call. '
    "No official OpenTelemetry LiteLLM instrumentation is published. Verified by hand (InMemorySpanExporter, stream "
    "and not): every configuration records one span per call (OpenInference's is INTERNAL, the others CLIENT); with "
    "content on, each puts the prompt and the completion on it (`gen_ai.input/output.messages`, OpenInference's "
    "`input.value`/`llm.*_messages`); with content off, none does. Targets for otel-genai: at most 100 µs per call, "
    "at most 1 µs per chunk, no per-chunk memory growth with content off."
)

LABELS = {
    "chat": "completion (non-streaming), µs/call",
    "stream_chunk": "completion(stream=True), µs/chunk",
    "memory": "memory growth, bytes/chunk",
}

_OURS_VENV = "litellm-ours"
_PEERS_VENV = "litellm-peers"
CONFIGS: list[dict[str, Any]] = [
    {
        "name": "no instrumentation",
        "venv": _OURS_VENV,
        "kind": "none",
        "packages": ["litellm", "openai"],
        "baseline": True,
        "extra_env": LITELLM_ENV,
    },
    *(
        {
            "name": "otel-genai",
            "venv": _OURS_VENV,
            "kind": "ours",
            "packages": ["otel-genai", "litellm"],
            "content": content,
            "extra_env": LITELLM_ENV,
        }
        for content in ("off", "on")
    ),
    *(
        {
            "name": "litellm's own otel callback",
            "venv": _PEERS_VENV,
            "kind": "litellm-otel",
            "packages": ["litellm", "opentelemetry-sdk"],
            "content": content,
            "extra_env": LITELLM_ENV,
            "content_env": LITELLM_OTEL_CONTENT,
        }
        for content in ("off", "on")
    ),
    *(
        {
            "name": "openllmetry",
            "venv": _PEERS_VENV,
            "kind": "openllmetry",
            "packages": ["opentelemetry-instrumentation-litellm"],
            "content": content,
            "extra_env": LITELLM_ENV,
        }
        for content in ("off", "on")
    ),
    *(
        {
            "name": "openinference",
            "venv": _PEERS_VENV,
            "kind": "openinference",
            "packages": ["openinference-instrumentation-litellm"],
            "content": content,
            "extra_env": LITELLM_ENV,
        }
        for content in ("off", "on")
    ),
]

MODEL = "openai/gpt-4o-mini"
RESPONSE_MODEL = "gpt-4o-mini-2024-07-18"
MESSAGES = [
    {"role": "system", "content": "You are a concise assistant."},
    {"role": "user", "content": "Summarise the plot of Hamlet in three sentences."},
]
ANSWER = (
    "Prince Hamlet seeks revenge after his father's ghost reveals that Claudius murdered him. "
    "His feigned madness and hesitation lead to the deaths of Polonius, Ophelia and others. "
    "In the final duel Hamlet kills Claudius but dies, leaving Fortinbras to take the throne."
)
USAGE = {
    "prompt_tokens": 27,
    "completion_tokens": 61,
    "total_tokens": 88,
    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
    "completion_tokens_details": {
        "reasoning_tokens": 0,
        "audio_tokens": 0,
        "accepted_prediction_tokens": 0,
        "rejected_prediction_tokens": 0,
    },
}
_COMMON = {"id": "chatcmpl-BENCH0000000000000000000000", "created": 1735689600, "model": RESPONSE_MODEL}
_EXTRA = {"service_tier": "default", "system_fingerprint": "fp_0123456789"}


def chat_body() -> bytes:
    """A chat.completion body exactly as the OpenAI API returns it."""
    choice = {
        "index": 0,
        "message": {"role": "assistant", "content": ANSWER, "refusal": None, "annotations": []},
        "logprobs": None,
        "finish_reason": "stop",
    }
    return json.dumps({**_COMMON, "object": "chat.completion", "choices": [choice], "usage": USAGE, **_EXTRA}).encode()


def _sse(obj: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
    return {**_COMMON, "object": "chat.completion.chunk", **_EXTRA, "choices": [choice], "usage": None}


def stream_body(chunks: int) -> bytes:
    """SSE stream: role chunk, ``chunks`` content chunks, finish chunk, usage chunk, ``[DONE]``.

    The content alternates between two tokens: LiteLLM fails a stream that repeats one chunk 100 times in a row.
    """
    head = _sse(_chunk({"role": "assistant", "content": "", "refusal": None}))
    tokens = (_sse(_chunk({"content": " word"})), _sse(_chunk({"content": " verse"})))
    body = (tokens[0] + tokens[1]) * (chunks // 2) + tokens[0] * (chunks % 2)
    tail = _sse(_chunk({}, "stop"))
    usage = {**_COMMON, "object": "chat.completion.chunk", **_EXTRA, "choices": [], "usage": USAGE}
    return head + body + tail + _sse(usage) + b"data: [DONE]\n\n"


def bench_class() -> type:
    """The bench class, defined on first use: run.py imports this module with a bare interpreter, and the harness
    needs the OpenTelemetry SDK."""
    from harness import HttpxBench

    class LiteLLMBench(HttpxBench):
        """``litellm.completion`` (stream or not) through a pre-built OpenAI client; samples end with LiteLLM's logging
        pool idle."""

        LEAD = 1  # the role chunk (content "") comes before the first content chunk

        def connect(self) -> Any:
            import litellm
            from litellm.litellm_core_utils.thread_pool_executor import executor

            self.litellm = litellm
            self.executor = executor
            return super().connect()

        def make_client(self, http_client: Any) -> Any:
            import openai

            base_url = "http://127.0.0.1:9/v1"  # never contacted: the MockTransport answers
            return openai.OpenAI(api_key="sk-bench", base_url=base_url, max_retries=0, http_client=http_client)

        def single_body(self) -> bytes:
            return chat_body()

        def stream_body(self, chunks: int) -> bytes:
            return stream_body(chunks)

        def create(self, stream: bool) -> Any:
            if stream:
                return self.litellm.completion(
                    model=MODEL,
                    messages=MESSAGES,
                    client=self.client,
                    stream=True,
                    stream_options={"include_usage": True},
                )
            return self.litellm.completion(model=MODEL, messages=MESSAGES, client=self.client)

        def answered(self, response: Any) -> bool:
            return response.choices[0].message.content == ANSWER

        def drain(self) -> None:
            """Wait until LiteLLM's (one-thread, FIFO) logging pool has run everything submitted so far."""
            self.executor.submit(int).result()

        # the harness's scenarios, with the logging pool drained inside the timed region
        def chat(self, n: int) -> tuple[int, int, int]:
            create, answered, ok = self.create, self.answered, 0
            t0 = time.perf_counter_ns()
            for _ in range(n):
                ok += answered(create(False))
            self.drain()
            return time.perf_counter_ns() - t0, n, ok

        def stream(self, n: int, chunks: int) -> tuple[int, int, int]:
            self.chunks, create, items = chunks, self.create, 0
            self.body(chunks)
            t0 = time.perf_counter_ns()
            for _ in range(n):
                for _chunk in create(True):
                    items += 1
            self.drain()
            return time.perf_counter_ns() - t0, n, items

        def memory(self, chunks: int) -> dict[str, Any]:
            """One stream of a tenth of the chunks asked for: LiteLLM takes about a millisecond per chunk here, keeps
            every chunk (about 4 KB each) until the stream ends, and several under tracemalloc."""
            res = super().memory(max(2, chunks // MEMORY_DIVISOR))
            self.drain()
            return res

    return LiteLLMBench


def setup(kind: str) -> Any:
    """Instrument for ``kind`` with the harness's tracer provider; LiteLLM configured alike for every kind."""
    for name, value in LITELLM_ENV.items():  # before litellm is imported (run.py sets them too, via extra_env)
        os.environ.setdefault(name, value)
    from harness import sdk_provider

    tp = sdk_provider()
    import litellm

    litellm.suppress_debug_info = True
    litellm.disable_streaming_logging = True
    if kind == "none":
        pass
    elif kind == "ours":
        from otel_genai.instrumentation.litellm import LiteLLMInstrumentor

        LiteLLMInstrumentor().instrument(tracer_provider=tp)
    elif kind == "litellm-otel":
        from litellm.integrations.opentelemetry import OpenTelemetry

        litellm.callbacks = [OpenTelemetry(tracer_provider=tp)]
    elif kind == "openllmetry":
        from opentelemetry.instrumentation.litellm import LiteLLMInstrumentor

        LiteLLMInstrumentor().instrument(tracer_provider=tp)
    elif kind == "openinference":
        from openinference.instrumentation.litellm import LiteLLMInstrumentor

        LiteLLMInstrumentor().instrument(tracer_provider=tp)
    else:
        raise ValueError(f"unknown litellm instrumentation {kind!r}")
    return bench_class()()

"""Benchmark worker: one long-lived process per configuration, inside that configuration's venv.

Usage: ``python worker.py CONFIG`` (started by run.py, never by hand).

Protocol (JSON lines): the worker writes one ``hello`` line (ok, versions, notes
or error), then answers each command line read from stdin with one line:

- ``{"cmd": "run", "scenario": S, "n": N}`` -> ``{"ns", "calls", "items", "spans"}``
- ``{"cmd": "quit"}`` -> exits without waiting for peers' exit hooks.

Every configuration records spans through a real OpenTelemetry SDK
``TracerProvider`` (always-on sampler) with a ``SimpleSpanProcessor`` feeding
``CountingExporter``, which counts and drops spans: the cost measured is the
instrumentation plus span creation/ending, with nothing accumulated in memory.
Peers that insist on their own provider or processors (Traceloop, Logfire,
Langfuse) get the same exporter plugged into their pipeline.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import json
import os
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness import EXPORTER, STREAM_CHUNKS, ClientBench, CountingExporter, HttpxBench, load, sdk_provider, versions
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

# The not-yet-final import paths of otel-genai: the single place to change them.
OURS_TASK = "otel_genai:task"
OURS_OPENAI_INSTRUMENTOR = "otel_genai.instrumentation.openai:OpenAIInstrumentor"
OURS_ANTHROPIC_INSTRUMENTOR = "otel_genai.instrumentation.anthropic:AnthropicInstrumentor"

ITEMS = 1000  # items per generator call


# --------------------------------------------------------------------------- decorators


def gen(n: int):
    """Sync generator yielding n ints (a Python-level loop, like real code: not ``yield from``)."""
    for i in range(n):  # noqa: UP028
        yield i


async def agen(n: int):
    """Async generator yielding n ints."""
    for i in range(n):
        yield i


def f(x: int) -> int:
    """The plain function of the per-call scenario."""
    return x + 1


@dataclass
class Decorated:
    """The three callables a decorator configuration benchmarks, plus what the setup noticed."""

    gen: Callable[..., Any]
    agen: Callable[..., Any]
    call: Callable[[int], int]
    deco: Callable[[Callable[..., Any]], Callable[..., Any]] | None = None
    notes: list[str] = field(default_factory=list)


def decorate_all(deco: Callable[[Callable[..., Any]], Callable[..., Any]]) -> Decorated:
    """Apply a decorator to fresh copies of the three functions, recording any warning it emits."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        d = Decorated(gen=deco(_copy(gen)), agen=deco(_copy(agen)), call=deco(_copy(f)), deco=deco)
    d.notes += sorted({f"warns: {str(w.message).split('. ')[0]}" for w in caught})
    return d


def _copy(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A distinct function object, so decorators that mutate or cache per function do not interfere."""
    import types

    new = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__)
    new.__qualname__ = fn.__qualname__
    return new


def setup_undecorated() -> Decorated:
    sdk_provider()
    return Decorated(gen=gen, agen=agen, call=f)


def setup_bare_span() -> Decorated:
    """Per-call reference: what a hand-written ``with tracer.start_as_current_span`` costs."""
    tracer = sdk_provider().get_tracer("bench")

    def call(x: int) -> int:
        with tracer.start_as_current_span("f"):
            return f(x)

    return Decorated(gen=gen, agen=agen, call=call)


def setup_ours() -> Decorated:
    sdk_provider()
    task = load(OURS_TASK)
    d = decorate_all(task)
    named = task(name="x")(_copy(f))  # the parametrised form must work too
    if named(1) != 2:
        raise RuntimeError("@task(name=...) changed the return value")
    return d


def setup_traceloop() -> Decorated:
    from traceloop.sdk import Traceloop
    from traceloop.sdk.decorators import task

    Traceloop.init(
        app_name="bench",
        api_endpoint="http://127.0.0.1:9",  # never contacted: a custom exporter is given
        exporter=EXPORTER,
        disable_batch=True,  # SimpleSpanProcessor, like every other configuration
        telemetry_enabled=False,
        instruments=set(),  # decorators only: no auto-instrumentation of installed libraries
    )
    return decorate_all(task(name="f"))


def setup_openinference() -> Decorated:
    from openinference.instrumentation import TracerProvider as OITracerProvider

    tracer = sdk_provider(OITracerProvider).get_tracer("bench")
    return decorate_all(tracer.chain)


def setup_logfire() -> Decorated:
    import logfire

    logfire.configure(
        send_to_logfire=False,
        console=False,
        metrics=False,
        inspect_arguments=False,
        additional_span_processors=[SimpleSpanProcessor(EXPORTER)],
    )
    return decorate_all(logfire.instrument())


def setup_langfuse() -> Decorated:
    from langfuse import Langfuse, observe

    tp = sdk_provider()
    Langfuse(
        public_key="pk-lf-bench",
        secret_key="sk-lf-bench",
        base_url="http://127.0.0.1:9",  # nothing listens; its exporter below never sends
        tracer_provider=tp,
        span_exporter=CountingExporter(),  # Langfuse's own BatchSpanProcessor exports here, offline
    )
    d = decorate_all(observe())
    d.notes.append("Langfuse adds its own BatchSpanProcessor (exporting offline) next to ours")
    return d


def context_check(d: Decorated) -> str:
    """Does the generator body run in the decorator's span while the consumer keeps its own context?

    Attaching the span on the first ``next()`` and detaching it only at the end leaks
    it into the consumer between items ("leaks"); the right behaviour switches context
    on every step ("switches").
    """
    if d.deco is None:
        return "-"
    inside: list[Any] = []

    def probe(n: int):
        for i in range(n):
            inside.append(trace.get_current_span())
            yield i

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        probed = d.deco(probe)
    outside = trace.get_current_span()
    leaked = False
    for _ in probed(3):
        leaked |= trace.get_current_span() is not outside
    if not inside or any(s is outside or not s.get_span_context().is_valid for s in inside):
        return "body outside span"
    return "leaks into consumer" if leaked else "switches"


def consume_gen(d: Decorated, n: int) -> tuple[int, int, int]:
    g, total = d.gen, 0
    t0 = time.perf_counter_ns()
    for _ in range(n):
        for _item in g(ITEMS):
            total += 1
    return time.perf_counter_ns() - t0, n, total


async def _consume_agen(ag: Callable[..., Any], n: int) -> tuple[int, int, int]:
    total = 0
    t0 = time.perf_counter_ns()  # timed inside the running loop: no loop startup
    for _ in range(n):
        async for _item in ag(ITEMS):
            total += 1
    return time.perf_counter_ns() - t0, n, total


def call_plain(d: Decorated, n: int) -> tuple[int, int, int]:
    fn, x = d.call, 0
    t0 = time.perf_counter_ns()
    for _ in range(n):
        x = fn(x)
    return time.perf_counter_ns() - t0, n, n if x == n else 0


# --------------------------------------------------------------------------- openai

MODEL = "gpt-4o-mini-2024-07-18"
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
_COMMON = {"id": "chatcmpl-BENCH0000000000000000000000", "created": 1735689600, "model": MODEL}
_EXTRA = {"service_tier": "default", "system_fingerprint": "fp_0123456789"}


def chat_body() -> bytes:
    """A chat.completion body exactly as the API returns it."""
    return json.dumps(
        {
            **_COMMON,
            "object": "chat.completion",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": ANSWER, "refusal": None, "annotations": []},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": USAGE,
            **_EXTRA,
        }
    ).encode()


def _sse(obj: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


def _chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
    return {**_COMMON, "object": "chat.completion.chunk", **_EXTRA, "choices": [choice], "usage": None, **extra}


def stream_body(chunks: int) -> bytes:
    """SSE stream: role chunk, ``chunks`` content chunks, finish chunk, usage chunk, ``[DONE]``."""
    head = _sse(_chunk({"role": "assistant", "content": "", "refusal": None}))
    token = _sse(_chunk({"content": " word"}))
    tail = _sse(_chunk({}, "stop"))
    usage = {**_COMMON, "object": "chat.completion.chunk", **_EXTRA, "choices": [], "usage": USAGE}
    return head + token * chunks + tail + _sse(usage) + b"data: [DONE]\n\n"


class OpenAIBench(HttpxBench):
    """``chat.completions.create``: a chat.completion body, or a stream of chat.completion.chunk SSE frames."""

    def make_client(self, http_client: Any) -> Any:
        import openai

        base_url = "http://127.0.0.1:9/v1"
        return openai.OpenAI(api_key="sk-bench", base_url=base_url, max_retries=0, http_client=http_client)

    def single_body(self) -> bytes:
        return chat_body()

    def stream_body(self, chunks: int) -> bytes:
        return stream_body(chunks)

    def create(self, stream: bool) -> Any:
        if stream:
            return self.client.chat.completions.create(
                model=MODEL, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
            )
        return self.client.chat.completions.create(model=MODEL, messages=MESSAGES)

    def answered(self, response: Any) -> bool:
        return response.choices[0].message.content == ANSWER


def setup_openai(kind: str) -> OpenAIBench:
    tp = sdk_provider()
    if kind == "none":
        pass
    elif kind == "ours":
        load(OURS_OPENAI_INSTRUMENTOR)().instrument(tracer_provider=tp)
    elif kind == "openllmetry":
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor

        OpenAIInstrumentor().instrument(tracer_provider=tp)
    elif kind == "genai-openai":
        from opentelemetry.instrumentation.genai.openai import OpenAIInstrumentor

        OpenAIInstrumentor().instrument(tracer_provider=tp)
    elif kind == "openai-v2":
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

        OpenAIInstrumentor().instrument(tracer_provider=tp)
    elif kind == "openinference":
        from openinference.instrumentation.openai import OpenAIInstrumentor

        OpenAIInstrumentor().instrument(tracer_provider=tp)
    else:
        raise ValueError(f"unknown openai instrumentation {kind!r}")
    return OpenAIBench()


# --------------------------------------------------------------------------- anthropic

ANTHROPIC_MODEL = "claude-sonnet-4-5-20250929"
ANTHROPIC_MESSAGES = [{"role": "user", "content": "Summarise the plot of Hamlet in three sentences."}]
_MSG_ID = "msg_01BENCH00000000000000000"


def _anthropic_usage(output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": 21,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }


def _message(content: list[dict[str, Any]], stop_reason: str | None, output_tokens: int) -> dict[str, Any]:
    return {
        "id": _MSG_ID,
        "type": "message",
        "role": "assistant",
        "model": ANTHROPIC_MODEL,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": _anthropic_usage(output_tokens),
    }


def anthropic_body() -> bytes:
    """A Messages API response body exactly as the API returns it."""
    return json.dumps(_message([{"type": "text", "text": ANSWER}], "end_turn", 61)).encode()


def _event(obj: dict[str, Any]) -> bytes:
    return b"event: " + obj["type"].encode() + b"\ndata: " + json.dumps(obj).encode() + b"\n\n"


def anthropic_stream_body(chunks: int) -> bytes:
    """SSE stream: message_start, content_block_start, ``chunks`` text deltas, content_block_stop, message_delta,
    message_stop (``event:`` + ``data:`` frames, as the API sends them)."""
    head = _event({"type": "message_start", "message": _message([], None, 1)})
    head += _event({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
    delta = _event({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": " word"}})
    tail = _event({"type": "content_block_stop", "index": 0})
    tail += _event(
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": chunks},
        }
    )
    tail += _event({"type": "message_stop"})
    return head + delta * chunks + tail


class AnthropicBench(HttpxBench):
    """``messages.create``: a Message body, or a stream of Messages API SSE events."""

    LEAD = 2  # message_start, content_block_start
    HTTP = "httpx2"  # anthropic 2.x takes only httpx2 clients

    def make_client(self, http_client: Any) -> Any:
        import anthropic

        return anthropic.Anthropic(
            api_key="sk-ant-bench", base_url="http://127.0.0.1:9", max_retries=0, http_client=http_client
        )

    def single_body(self) -> bytes:
        return anthropic_body()

    def stream_body(self, chunks: int) -> bytes:
        return anthropic_stream_body(chunks)

    def create(self, stream: bool) -> Any:
        return self.client.messages.create(
            model=ANTHROPIC_MODEL, max_tokens=1024, messages=ANTHROPIC_MESSAGES, stream=stream
        )

    def answered(self, response: Any) -> bool:
        return response.content[0].text == ANSWER


def setup_anthropic(kind: str) -> AnthropicBench:
    """``none`` and ``anthropic`` differ only in ``ANTHROPIC_OPEN_TELEMETRY`` (set by run.py)."""
    tp = sdk_provider()
    if kind in ("none", "anthropic"):
        pass
    elif kind == "ours":
        load(OURS_ANTHROPIC_INSTRUMENTOR)().instrument(tracer_provider=tp)
    elif kind == "openllmetry":
        from opentelemetry.instrumentation.anthropic import AnthropicInstrumentor

        AnthropicInstrumentor().instrument(tracer_provider=tp)
    elif kind == "openinference":
        from openinference.instrumentation.anthropic import AnthropicInstrumentor

        AnthropicInstrumentor().instrument(tracer_provider=tp)
    else:
        raise ValueError(f"unknown anthropic instrumentation {kind!r}")
    return AnthropicBench()


# --------------------------------------------------------------------------- protocol

DECORATOR_SETUPS: dict[str, Callable[[], Decorated]] = {
    "undecorated": setup_undecorated,
    "bare-span": setup_bare_span,
    "ours": setup_ours,
    "traceloop": setup_traceloop,
    "openinference": setup_openinference,
    "logfire": setup_logfire,
    "langfuse": setup_langfuse,
}


# Before each timed sample, one untimed iteration of this scenario: the worker has just woken up after every other
# worker ran, and its first call would otherwise pay for re-warming caches (more so the bigger its code path).
WARM_UP = {
    "gen_sync": "gen_sync",
    "gen_async": "gen_async",
    "call": "call",
    "chat": "chat",
    "stream_long": "stream_short",  # a 1-chunk stream warms the same path at a fraction of the cost
    "stream_short": "stream_short",
}


def client_bench(group: str, kind: str) -> ClientBench:
    """Set up one configuration of a client group: openai and anthropic here, the others in ``groups/<group>.py``."""
    if group == "openai":
        return setup_openai(kind)
    if group == "anthropic":
        return setup_anthropic(kind)
    return importlib.import_module(f"groups.{group}").setup(kind)


def make_runner(group: str, kind: str) -> tuple[Callable[[str, int], dict[str, Any]], dict[str, Any]]:
    """Set up one configuration; return its command handler and the hello extras."""
    info: dict[str, Any] = {"notes": []}
    if group == "decorators":
        d = DECORATOR_SETUPS[kind]()
        info["notes"] += d.notes
        loop = asyncio.new_event_loop()
        info["context"] = context_check(d)

        def run(scenario: str, n: int) -> dict[str, Any]:
            if scenario == "gen_sync":
                ns, calls, items = consume_gen(d, n)
            elif scenario == "gen_async":
                ns, calls, items = loop.run_until_complete(_consume_agen(d.agen, n))
            elif scenario == "call":
                ns, calls, items = call_plain(d, n)
            else:
                raise ValueError(scenario)
            return {"ns": ns, "calls": calls, "items": items}

        return run, info
    bench = client_bench(group, kind)

    def run_client(scenario: str, n: int) -> dict[str, Any]:
        if scenario == "chat":
            ns, calls, items = bench.chat(n)
        elif scenario == "stream_long":
            ns, calls, items = bench.stream(n, STREAM_CHUNKS)
        elif scenario == "stream_short":
            ns, calls, items = bench.stream(n, 1)
        elif scenario == "memory":
            return bench.memory(n)
        else:
            raise ValueError(scenario)
        return {"ns": ns, "calls": calls, "items": items}

    return run_client, info


def count(group: str, kind: str, scenario: str, k: int) -> None:
    """``worker.py --count GROUP KIND SCENARIO K`` (instructions.py runs this under callgrind): after a warm-up, one
    non-streaming call K times (``chat``), or one stream of K chunks (``chunk``)."""
    bench = client_bench(group, kind)
    for _ in range(3):
        bench.chat(5)
        bench.stream(2, 50)
    if scenario == "chat":
        bench.chat(k)
    else:
        bench.stream(1, k)
    os._exit(0)


def main() -> None:
    if sys.argv[1] == "--count":
        count(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    group, kind, *packages = sys.argv[1:]
    # Libraries that print (Traceloop does) must not corrupt the protocol: keep a private
    # handle on the real stdout and point fd 1 at stderr.
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def send(obj: dict[str, Any]) -> None:
        proto.write(json.dumps(obj) + "\n")

    try:
        run, info = make_runner(group, kind)
    except BaseException as exc:  # any setup failure means "n/a", with the reason
        send({"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300], "versions": versions(packages)})
        os._exit(0)
    send({"ok": True, "versions": versions(packages), **info})
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["cmd"] == "quit":
            break
        try:
            if cmd["scenario"] in WARM_UP:  # one untimed call first: the sample is measured warm (see README)
                run(WARM_UP[cmd["scenario"]], 1)
            gc.collect()
            before = EXPORTER.count
            res = run(cmd["scenario"], cmd["n"])
            res.setdefault("spans", EXPORTER.count - before)
            send({"ok": True, **res})
        except Exception as exc:
            send({"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]})
    proto.flush()
    os._exit(0)  # skip peers' atexit flush hooks (network exporters we never configured)


if __name__ == "__main__":
    main()

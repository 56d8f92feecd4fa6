"""What every benchmark worker shares: the span pipeline, the client scenarios, small helpers.

Imported by ``worker.py`` and by the group modules in ``groups/`` (one per instrumented library), so that every
configuration of every group counts spans through the same exporter and measures the same three scenarios.
"""

from __future__ import annotations

import gc
import importlib
import time
import tracemalloc
from collections.abc import Iterable, Sequence
from importlib import metadata
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

STREAM_CHUNKS = 1000  # content chunks in the "long" stream


class CountingExporter(SpanExporter):
    """Counts exported spans and drops them, so the sanity column is exact and memory stays flat."""

    def __init__(self) -> None:
        self.count = 0

    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        self.count += len(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


EXPORTER = CountingExporter()


def sdk_provider(cls: type[TracerProvider] = TracerProvider) -> TracerProvider:
    """A provider feeding EXPORTER synchronously, registered globally for decorators using the API."""
    tp = cls()
    tp.add_span_processor(SimpleSpanProcessor(EXPORTER))
    trace.set_tracer_provider(tp)
    return tp


def load(path: str) -> Any:
    """Import ``module:attr``."""
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


def versions(names: Sequence[str]) -> dict[str, str]:
    """Installed versions of the distributions a configuration is about."""
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "?"
    return out


class ClientBench:
    """One traced API of a real client over a fake edge serving pre-encoded wire bytes.

    Subclasses give the transport (``connect``) and the API (``single_body``, ``stream_body``, ``create``,
    ``answered``, ``items``); the scenarios are the same for every library: ``chat`` (n non-streaming calls),
    ``stream`` (n streams of ``chunks`` content chunks, read to the end) and ``memory`` (heap kept per chunk).
    """

    LEAD = 1  # stream items before the first content chunk

    def __init__(self) -> None:
        self.bodies: dict[int, bytes] = {}
        self.chunks = 1
        self.client = self.connect()

    # the transport and the API
    def connect(self) -> Any:
        """The client, over a fake edge answering ``single_body()`` or ``body(self.chunks)``."""
        raise NotImplementedError

    def single_body(self) -> bytes:
        raise NotImplementedError

    def stream_body(self, chunks: int) -> bytes:
        raise NotImplementedError

    def create(self, stream: bool) -> Any:
        raise NotImplementedError

    def answered(self, response: Any) -> bool:
        raise NotImplementedError

    def items(self, streamed: Any) -> Iterable[Any]:
        """What a consumer iterates in a streamed result (the result itself, for most SDKs)."""
        return streamed

    # the scenarios
    def body(self, chunks: int) -> bytes:
        if chunks not in self.bodies:
            self.bodies[chunks] = self.stream_body(chunks)
        return self.bodies[chunks]

    def chat(self, n: int) -> tuple[int, int, int]:
        create, answered, ok = self.create, self.answered, 0
        t0 = time.perf_counter_ns()
        for _ in range(n):
            ok += answered(create(False))
        return time.perf_counter_ns() - t0, n, ok

    def stream(self, n: int, chunks: int) -> tuple[int, int, int]:
        self.chunks, create, items_of, items = chunks, self.create, self.items, 0
        self.body(chunks)
        t0 = time.perf_counter_ns()
        for _ in range(n):
            for _chunk in items_of(create(True)):
                items += 1
        return time.perf_counter_ns() - t0, n, items

    def memory(self, chunks: int) -> dict[str, Any]:
        """Python heap retained per chunk over the last ``window`` chunks of one long stream.

        tracemalloc makes every allocation ~5x slower, so it is started only for the
        window at the end of the stream (steady state): whatever is allocated there and
        still alive at the last content chunk (span still open) is growth.
        """
        window = min(10_000, chunks // 2)
        self.chunks = chunks
        self.body(chunks)
        before = EXPORTER.count
        gc.collect()
        end = 0
        last = chunks + self.LEAD - 1  # index of the last content chunk
        for i, _chunk in enumerate(self.items(self.create(True))):
            if i == last - window:
                tracemalloc.start()
            elif i == last:
                end = tracemalloc.get_traced_memory()[0]
                tracemalloc.stop()
        return {"bytes_per_chunk": end / window, "spans": EXPORTER.count - before, "calls": 1, "window": window}


class HttpxBench(ClientBench):
    """A :class:`ClientBench` whose SDK takes an httpx client: an in-process ``MockTransport`` answers."""

    HTTP = "httpx"  # the HTTP package the SDK's http_client must come from
    STREAM_CONTENT_TYPE = "text/event-stream"

    def connect(self) -> Any:
        httpx = importlib.import_module(self.HTTP)
        single = self.single_body()
        json_headers = {"content-type": "application/json"}
        stream_headers = {"content-type": self.STREAM_CONTENT_TYPE}

        def handler(request: Any) -> Any:
            if self.is_stream(request):
                return httpx.Response(200, headers=stream_headers, content=self.body(self.chunks))
            return httpx.Response(200, headers=json_headers, content=single)

        return self.make_client(httpx.Client(transport=httpx.MockTransport(handler)))

    def is_stream(self, request: Any) -> bool:
        """Whether the request asks for a stream (the wire says so in the body for OpenAI and Anthropic)."""
        return b'"stream":true' in request.content.replace(b" ", b"")

    def make_client(self, http_client: Any) -> Any:
        raise NotImplementedError

"""A console exporter that prints each trace as one indented tree, with only the attributes worth reading.

The SDK's own ``ConsoleSpanExporter`` prints every span as a JSON document as soon as its batch is exported, so a
trace of an agent run is scattered over pages, children before parents, resource repeated on each span. This
exporter buffers a trace's spans until its local root ends, then prints the trace once::

    trace 43aeb00d6337eb00a1bb3222fe99b412  service=otel-genai-demo
    invoke_workflow demo              81.0 ms
    └─ invoke_agent weather           78.9 ms  items=6 outcome=completed
       ├─ execute_tool get_weather    0.04 ms
       └─ chat gpt-4o-mini CLIENT     68.4 ms  tokens_in=21 tokens_out=6 first_chunk=59.1ms items=9 outcome=completed

Use it in code (``provider.add_span_processor(BatchSpanProcessor(SpanTreeConsoleExporter()))``) or with zero code:
``opentelemetry-instrument --traces_exporter otel_genai_console python app.py``. Needs ``opentelemetry-sdk``.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind, StatusCode

__all__ = ["SpanTreeConsoleExporter"]

logger = logging.getLogger("otel_genai")

_RED, _YELLOW, _DIM, _BOLD, _RESET = "\x1b[31m", "\x1b[33m", "\x1b[2m", "\x1b[1m", "\x1b[0m"
_UNICODE_GLYPHS = ("├─ ", "└─ ", "│  ", "   ")
_ASCII_GLYPHS = ("|- ", "`- ", "|  ", "   ")
_NAME_COLUMN_CAP = 64  # durations line up unless a name (with its indentation) is longer than this
_VALUE_CAP = 160
# C0 controls, DEL and C1 controls would break the one-line-per-span layout or inject terminal escapes.
_CONTROL = {c: f"\\x{c:02x}" for c in [*range(0x20), *range(0x7F, 0xA0)]} | {0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"}
_CONTROL |= {0x2028: "\\u2028", 0x2029: "\\u2029"}  # line and paragraph separators


def _clean(value: Any, cap: int = _VALUE_CAP) -> str:
    """Any attribute value as one short printable line (sequences joined by commas)."""
    if isinstance(value, (list, tuple)):
        text = ",".join(str(v) for v in value)
    else:
        text = str(value)
    text = text.translate(_CONTROL)
    return text if len(text) <= cap else text[: cap - 1] + "…"


def _duration(seconds: float) -> str:
    """Milliseconds below a second (so the column reads at a glance), seconds above."""
    if math.isnan(seconds) or math.isinf(seconds):
        return "?"
    if abs(seconds) >= 1:
        return f"{seconds:.2f} s"
    ms = seconds * 1000
    return f"{ms:.2f} ms" if abs(ms) < 1 else f"{ms:.1f} ms"


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _parent_id(span: ReadableSpan) -> int | None:
    """The parent's span id if the parent lives in this process, else None (root, or remote parent)."""
    parent = span.parent
    if parent is None or parent.is_remote:
        return None
    return parent.span_id


def _start(span: ReadableSpan) -> int:
    start = span.start_time
    return start if isinstance(start, int) else 0


def _elapsed(span: ReadableSpan) -> float:
    """Seconds from start to end, NaN when either is missing."""
    start, end = span.start_time, span.end_time
    if not isinstance(start, int) or not isinstance(end, int):
        return math.nan
    return (end - start) / 1e9


class SpanTreeConsoleExporter(SpanExporter):
    """Prints one tree per trace once its local root has ended; thread-safe, bounded, never raises from export.

    ``out`` is the text stream (``sys.stdout``, looked up at each print, by default). ``color`` forces ANSI colour
    on or off; by default it is on only when the stream is a TTY and ``NO_COLOR`` is unset, or ``FORCE_COLOR`` is
    set. At most ``max_buffered_spans`` spans of at most ``max_buffered_traces`` unfinished traces are kept: beyond
    that the oldest trace is printed as it is and marked incomplete, so a long-running app never grows without
    bound. Traces whose root never ends are printed by ``force_flush()`` and ``shutdown()``.
    """

    def __init__(
        self,
        out: TextIO | None = None,
        color: bool | None = None,
        max_buffered_spans: int = 10_000,
        max_buffered_traces: int = 1_000,
    ) -> None:
        self._out = out
        self._color = color
        self._max_spans = max(1, max_buffered_spans)
        self._max_traces = max(1, max_buffered_traces)
        self._lock = threading.Lock()
        self._pending: OrderedDict[int, dict[int, ReadableSpan]] = OrderedDict()  # oldest trace first
        self._buffered = 0
        # (trace id, span id) -> name of spans already printed, so a span ending after its parent was printed is
        # shown at once under that parent's name instead of waiting forever for a root that has gone by.
        self._printed: OrderedDict[tuple[int, int], str] = OrderedDict()
        self._shutdown = False

    # -- SpanExporter ---------------------------------------------------------------------------------------------

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Buffer the spans; print every tree whose local root is now among them."""
        try:
            with self._lock:
                if self._shutdown:
                    return SpanExportResult.FAILURE
                touched: dict[int, None] = {}
                for span in spans:
                    context = span.context
                    if context is None:
                        continue
                    bucket = self._pending.get(context.trace_id)
                    if bucket is None:
                        bucket = self._pending[context.trace_id] = {}
                    if context.span_id not in bucket:
                        self._buffered += 1
                    bucket[context.span_id] = span
                    touched[context.trace_id] = None
                for trace_id in touched:
                    self._print_finished(trace_id)
                while self._pending and (self._buffered > self._max_spans or len(self._pending) > self._max_traces):
                    trace_id, bucket = self._pending.popitem(last=False)
                    self._buffered -= len(bucket)
                    self._print(
                        trace_id, list(bucket.values()), "incomplete: buffer full, printed before its root ended"
                    )
            return SpanExportResult.SUCCESS
        except Exception:
            logger.debug("otel_genai console exporter failed to export spans", exc_info=True)
            return SpanExportResult.FAILURE

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Print every buffered trace now, complete or not (what is still to come is printed as late spans)."""
        try:
            with self._lock:
                self._print_all_pending()
            return True
        except Exception:
            logger.debug("otel_genai console exporter failed to flush", exc_info=True)
            return False

    def shutdown(self) -> None:
        """Print the traces whose root never ended, then refuse further exports."""
        try:
            with self._lock:
                self._print_all_pending()
                self._shutdown = True
        except Exception:
            logger.debug("otel_genai console exporter failed to shut down", exc_info=True)

    # -- buffering ------------------------------------------------------------------------------------------------

    def _print_all_pending(self) -> None:
        while self._pending:
            trace_id, bucket = self._pending.popitem(last=False)
            self._buffered -= len(bucket)
            self._print(trace_id, list(bucket.values()), "incomplete: its root span had not ended")

    def _print_finished(self, trace_id: int) -> None:
        """Print (and forget) each subtree of this trace whose top span is a local root or a late child."""
        bucket = self._pending[trace_id]
        children: dict[int, list[int]] = {}
        tops: list[ReadableSpan] = []
        for span_id, span in bucket.items():
            parent = _parent_id(span)
            if parent is not None and parent in bucket and parent != span_id:
                children.setdefault(parent, []).append(span_id)
            elif parent is None or (trace_id, parent) in self._printed:
                tops.append(span)
        for top in sorted(tops, key=_start):
            subtree: list[ReadableSpan] = []
            todo = [top.context.span_id]
            while todo:
                span_id = todo.pop()
                taken = bucket.pop(span_id, None)
                if taken is not None:  # None: already taken (a cycle of parent ids in odd input)
                    subtree.append(taken)
                    todo.extend(children.get(span_id, ()))
            self._buffered -= len(subtree)
            parent = _parent_id(top)
            note = None
            if parent is not None:
                note = f'late: ended after "{self._printed.get((trace_id, parent), "?")}" was printed'
            self._print(trace_id, subtree, note)
        if not bucket:
            del self._pending[trace_id]

    # -- printing -------------------------------------------------------------------------------------------------

    def _print(self, trace_id: int, spans: list[ReadableSpan], note: str | None) -> None:
        for span in spans:
            self._printed[(trace_id, span.context.span_id)] = _clean(span.name, 80)
        while len(self._printed) > self._max_spans:
            self._printed.popitem(last=False)
        out = self._out if self._out is not None else sys.stdout
        if out is None:  # pythonw, or stdout closed at interpreter exit
            return
        color = self._use_color(out)
        glyphs = _UNICODE_GLYPHS if _can_encode(out, "├└│─…") else _ASCII_GLYPHS
        text = _render(trace_id, spans, note, color, glyphs)
        encoding = getattr(out, "encoding", None)
        if isinstance(encoding, str):
            try:
                text = text.encode(encoding, "replace").decode(encoding)
            except LookupError:
                pass
        out.write(text)
        out.flush()

    def _use_color(self, out: TextIO) -> bool:
        if self._color is not None:
            return self._color
        if os.environ.get("NO_COLOR"):
            return False
        if os.environ.get("FORCE_COLOR", "0") not in ("", "0"):
            return True
        try:
            return bool(out.isatty())
        except Exception:
            return False


def _can_encode(out: TextIO, sample: str) -> bool:
    encoding = getattr(out, "encoding", None)
    if not isinstance(encoding, str):
        return True  # StringIO and friends hold str
    try:
        sample.encode(encoding)
    except (LookupError, UnicodeError):
        return False
    return True


def _render(
    trace_id: int, spans: Iterable[ReadableSpan], note: str | None, color: bool, glyphs: tuple[str, ...]
) -> str:
    """The header line and one line per span, parents before children, siblings in start order."""

    def paint(code: str, text: str) -> str:
        return f"{code}{text}{_RESET}" if color and text else text

    spans = list(spans)
    ids = {s.context.span_id for s in spans}
    children: dict[int | None, list[ReadableSpan]] = {}
    for span in sorted(spans, key=_start):
        parent = _parent_id(span)
        key = parent if parent in ids and parent != span.context.span_id else None
        children.setdefault(key, []).append(span)

    rows: list[tuple[str, ReadableSpan]] = []  # (tree prefix, span); iterative so deep traces cannot recurse
    stack: list[tuple[str, str, ReadableSpan]] = [("", "", s) for s in reversed(children.get(None, []))]
    seen: set[int] = set()
    while stack:
        prefix, indent, span = stack.pop()
        if span.context.span_id in seen:
            continue
        seen.add(span.context.span_id)
        rows.append((prefix, span))
        kids = children.get(span.context.span_id, [])
        for i in range(len(kids) - 1, -1, -1):
            last = i == len(kids) - 1
            stack.append(
                (indent + (glyphs[1] if last else glyphs[0]), indent + (glyphs[3] if last else glyphs[2]), kids[i])
            )

    lefts = [(prefix, _clean(span.name, 100), _kind(span)) for prefix, span in rows]
    width = min(_NAME_COLUMN_CAP, max((len(p) + len(n) + (len(k) + 1 if k else 0) for p, n, k in lefts), default=0))

    header = [f"trace {trace_id:032x}"]
    service = _service(spans)
    if service:
        header.append(f"service={service}")
    lines = [paint(_BOLD, "  ".join(header)) + (("  " + paint(_YELLOW, note)) if note else "")]
    for (prefix, name, kind), (_, span) in zip(lefts, rows, strict=True):
        left = name + (" " + kind if kind else "")
        pad = " " * max(0, width - len(prefix) - len(left))
        try:
            attrs, error = _key_attributes(span, name)
            duration = _duration(_elapsed(span))
        except Exception:  # odd values from a foreign span: show the span, skip its details
            logger.debug("otel_genai console exporter could not format span %r", name, exc_info=True)
            attrs, error, duration = "(attributes not printable)", False, "?"
        if error:
            body = paint(_RED, f"{left}{pad}  {duration:>9}  {attrs}".rstrip())
        else:
            outcome = (span.attributes or {}).get("otel_genai.outcome")
            styled_attrs = paint(_YELLOW, attrs) if outcome not in (None, "completed") else attrs
            kind_part = (" " + paint(_DIM, kind)) if kind else ""
            body = f"{name}{kind_part}{pad}  {duration:>9}  {styled_attrs}".rstrip()
        lines.append(paint(_DIM, prefix) + body)
    return "\n".join(lines) + "\n\n"


def _kind(span: ReadableSpan) -> str:
    kind = span.kind
    if not isinstance(kind, SpanKind) or kind is SpanKind.INTERNAL:
        return ""
    return kind.name


def _service(spans: list[ReadableSpan]) -> str:
    for span in spans:
        resource = span.resource
        name = resource.attributes.get("service.name") if resource is not None else None
        if name is not None:
            text = _clean(name, 60)
            return "" if text.startswith("unknown_service") else text
    return ""


def _key_attributes(span: ReadableSpan, name: str) -> tuple[str, bool]:
    """The few attributes worth a glance, as ``key=value`` text, and whether the span failed."""
    attrs = span.attributes or {}
    parts: list[str] = []
    model = attrs.get("gen_ai.response.model") or attrs.get("gen_ai.request.model")
    if model is not None:
        text = _clean(model, 60)
        if text and text not in name:  # the span name usually says it already: "chat gpt-4o-mini"
            parts.append(f"model={text}")
    for key, label in (("gen_ai.usage.input_tokens", "tokens_in"), ("gen_ai.usage.output_tokens", "tokens_out")):
        if attrs.get(key) is not None:
            parts.append(f"{label}={_clean(attrs[key], 20)}")
    first_chunk = attrs.get("gen_ai.response.time_to_first_chunk")
    if first_chunk is not None:
        seconds = _as_number(first_chunk)
        shown = _duration(seconds).replace(" ", "") if seconds is not None else _clean(first_chunk, 20)
        parts.append(f"first_chunk={shown}")
    if attrs.get("otel_genai.stream.items") is not None:
        parts.append(f"items={_clean(attrs['otel_genai.stream.items'], 20)}")
    if attrs.get("otel_genai.outcome") is not None:
        parts.append(f"outcome={_clean(attrs['otel_genai.outcome'], 30)}")
    status = span.status
    failed = status is not None and status.status_code is StatusCode.ERROR
    error_type = attrs.get("error.type")
    if failed or error_type is not None:
        kind = _clean(error_type, 80) if error_type is not None else ""
        description = _clean(status.description, _VALUE_CAP) if status is not None and status.description else ""
        if description and kind and not description.startswith(kind):
            detail = f"{kind}: {description}"
        else:
            detail = description or kind or "ERROR"
        parts.append(f"error={detail}")
        failed = True
    return " ".join(parts), failed

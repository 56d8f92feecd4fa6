"""The trace processor that mirrors the SDK's traces and spans as OTel spans.

**Parents come from the SDK's ids**, never from the ambient context of a callback: the processor callbacks run in
whichever task or thread starts or ends an SDK span (the first model call of a run and every tool run in child
tasks; a ``run_streamed`` run in its background task). Spans are kept in maps keyed by SDK span / trace id, and no
callback attaches or detaches an OTel context, so none can be detached in a foreign one. The one ambient read is in
``on_trace_start``: the workflow span's parent is the OTel span current when the SDK trace started. For
``Runner.run`` that is the caller's context; for ``Runner.run_streamed`` the trace starts inside the SDK's
background task, which ``asyncio.create_task`` created with a copy of the caller's context at ``run_streamed()``
time, so it is again the caller's span (e.g. the FastAPI request span).

``generation`` / ``response`` spans become ``chat {model}`` CLIENT spans only when otel-genai's OpenAI instrumentor
is *not* active; when it is, it already makes exactly one CLIENT span per HTTP call, so the SDK's model span is
skipped (its id is aliased to its parent's span, so nothing below it loses its parent).

**Bounded and thread-safe.** One lock guards the maps. At most ``max_spans`` spans and ``max_traces`` traces are in
flight; beyond that the oldest are evicted and *ended* (outcome ``abandoned``). A trace's leftover spans are ended
when the trace ends (a cancelled run ends its spans and then its trace), and ``shutdown()`` ends everything.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.trace import Span

from otel_genai import semconv as gen_ai
from otel_genai.context_attributes import context_attributes
from otel_genai.instrumentation.openai_agents.spans import finish_shape, sdk_time_ns, start_shape
from otel_genai.lifecycle import Outcome

__all__ = ["MODEL_KEY", "OTelTracingProcessor"]

logger = logging.getLogger(__name__)

MODEL_KEY = otel_context.create_key("otel_genai.openai_agents.model")

_openai_instrumentor: Any = None


def openai_instrumented() -> bool:
    """Whether otel-genai's OpenAI instrumentor is active (it then makes the model CLIENT spans)."""
    global _openai_instrumentor
    if _openai_instrumentor is None:
        try:
            from otel_genai.instrumentation.openai import OpenAIInstrumentor
        except Exception:
            return False
        _openai_instrumentor = OpenAIInstrumentor
    try:
        return bool(_openai_instrumentor().is_instrumented_by_opentelemetry)  # a singleton per class
    except Exception:
        return False


class _Entry:
    """An SDK trace or span in flight: its OTel span, and whether this processor owns (must end) it."""

    __slots__ = ("children", "extra", "owned", "span", "trace_id")

    def __init__(self, span: Span, trace_id: str, owned: bool, extra: dict[str, Any] | None) -> None:
        self.span = span
        self.trace_id = trace_id
        self.owned = owned
        self.extra = extra  # using_attributes from the run's start context, put on every span of the trace
        self.children: set[str] = set()  # traces only: ids of spans in flight


def _end_abandoned(entries: list[_Entry]) -> None:
    for entry in entries:
        if entry.owned:
            try:
                entry.span.set_attribute(gen_ai.OUTCOME, Outcome.ABANDONED)
                entry.span.end()
            except Exception:
                logger.debug("otel-genai: ending an abandoned span failed", exc_info=True)


class OTelTracingProcessor:
    """An ``agents.tracing.TracingProcessor`` that mirrors SDK traces and spans as OTel spans (see module doc).

    Built by :class:`OpenAIAgentsInstrumentor`; the SDK's ABC is registered as its base lazily, so importing this
    module does not import the SDK.
    """

    def __init__(self, tracer: trace.Tracer, max_spans: int = 10_000, max_traces: int = 1_000) -> None:
        self._tracer = tracer
        self.max_spans = max_spans
        self.max_traces = max_traces
        self._lock = threading.Lock()
        self._traces: OrderedDict[str, _Entry] = OrderedDict()
        self._spans: OrderedDict[str, _Entry] = OrderedDict()
        self._closed = False

    # --- lookups ------------------------------------------------------------------------------------------------

    def otel_span(self, sdk_span_id: str) -> Span | None:
        """The OTel span standing for an SDK span in flight (its nearest mapped ancestor's for a skipped one)."""
        with self._lock:
            entry = self._spans.get(sdk_span_id)
        return None if entry is None else entry.span

    def in_flight(self) -> tuple[int, int]:
        """(traces, spans) currently held."""
        with self._lock:
            return len(self._traces), len(self._spans)

    # --- TracingProcessor ---------------------------------------------------------------------------------------

    def on_trace_start(self, sdk_trace: Any) -> None:
        if self._closed or not is_instrumentation_enabled():
            return
        try:
            parent = otel_context.get_current()
            extra = context_attributes(parent)
            extra = dict(extra) if extra else None
            name = sdk_trace.name
            span_name, shape = gen_ai.workflow_span(name)
            attrs: dict[str, Any] = {**(extra or {}), **shape}
            group_id = getattr(sdk_trace, "group_id", None)
            if group_id:
                attrs[gen_ai.GEN_AI_CONVERSATION_ID] = str(group_id)
            for key, value in (getattr(sdk_trace, "metadata", None) or {}).items():
                if isinstance(value, (str, bool, int, float)):
                    attrs[gen_ai.METADATA_PREFIX + str(key)] = value
            span = self._tracer.start_span(span_name, context=parent, attributes=attrs)
        except Exception:
            logger.debug("otel-genai: on_trace_start failed", exc_info=True)
            return
        with self._lock:
            self._traces[sdk_trace.trace_id] = _Entry(span, sdk_trace.trace_id, True, extra)
            evicted = self._evict_locked()
        _end_abandoned(evicted)

    def on_trace_end(self, sdk_trace: Any) -> None:
        with self._lock:
            entry = self._traces.pop(sdk_trace.trace_id, None)
            leftovers = [] if entry is None else [e for i in entry.children if (e := self._spans.pop(i, None))]
        _end_abandoned(leftovers)
        if entry is not None:
            try:
                entry.span.end()
            except Exception:
                logger.debug("otel-genai: on_trace_end failed", exc_info=True)

    def on_span_start(self, sdk_span: Any) -> None:
        if self._closed:
            return
        try:
            trace_id, parent_id = sdk_span.trace_id, sdk_span.parent_id
            with self._lock:
                owner = self._traces.get(trace_id)
                parent = self._spans.get(parent_id) if parent_id else None
            if owner is None:  # a trace we did not see start (instrumented mid-run, evicted, or suppressed)
                return
            parent_span = (parent or owner).span
            data = sdk_span.span_data
            kind = getattr(data, "type", None)
            if kind in ("generation", "response") and openai_instrumented():
                entry = _Entry(parent_span, trace_id, False, None)  # skipped: an alias of its parent
            else:
                model = otel_context.get_value(MODEL_KEY)
                name, span_kind, attrs = start_shape(data, model)  # type: ignore[arg-type]
                if owner.extra:
                    attrs = {**owner.extra, **attrs}
                span = self._tracer.start_span(
                    name,
                    context=trace.set_span_in_context(parent_span),
                    kind=span_kind,
                    attributes=attrs,
                    start_time=sdk_time_ns(sdk_span.started_at),
                )
                entry = _Entry(span, trace_id, True, None)
        except Exception:
            logger.debug("otel-genai: on_span_start failed", exc_info=True)
            return
        with self._lock:
            if trace_id not in self._traces:  # the trace ended meanwhile
                evicted = [entry]
            else:
                self._spans[sdk_span.span_id] = entry
                self._traces[trace_id].children.add(sdk_span.span_id)
                evicted = self._evict_locked()
        _end_abandoned(evicted)

    def on_span_end(self, sdk_span: Any) -> None:
        with self._lock:
            entry = self._spans.pop(sdk_span.span_id, None)
            owner = self._traces.get(entry.trace_id) if entry is not None else None
            if owner is not None:
                owner.children.discard(sdk_span.span_id)
        if entry is None or not entry.owned:
            return
        span = entry.span
        try:
            finish_shape(span, sdk_span)
        except Exception:
            logger.debug("otel-genai: recording span data failed", exc_info=True)
        try:
            span.end(end_time=sdk_time_ns(sdk_span.ended_at))
        except Exception:
            logger.debug("otel-genai: on_span_end failed", exc_info=True)

    def shutdown(self) -> None:
        """End everything still in flight (outcome ``abandoned``) and ignore later callbacks."""
        with self._lock:
            self._closed = True
            leftovers = list(self._spans.values())[::-1] + list(self._traces.values())
            self._spans.clear()
            self._traces.clear()
        _end_abandoned(leftovers)

    def force_flush(self) -> None:
        pass

    # --- bounds -------------------------------------------------------------------------------------------------

    def _evict_locked(self) -> list[_Entry]:
        """Drop the oldest spans / traces beyond the caps; the caller ends what is returned, outside the lock."""
        evicted: list[_Entry] = []
        while len(self._spans) > self.max_spans:
            span_id, entry = self._spans.popitem(last=False)
            owner = self._traces.get(entry.trace_id)
            if owner is not None:
                owner.children.discard(span_id)
            evicted.append(entry)
        while len(self._traces) > self.max_traces:
            _, owner = self._traces.popitem(last=False)
            evicted.extend(e for i in owner.children if (e := self._spans.pop(i, None)))
            evicted.append(owner)
        return evicted

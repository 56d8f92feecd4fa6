"""OpenAI Agents SDK (``openai-agents``) -> OpenTelemetry GenAI spans.

Design
------
**An additive bridge.** ``instrument()`` registers one :class:`OTelTracingProcessor` with the SDK's
``add_trace_processor`` (never ``set_trace_processors``, which would drop the user's and the SDK's own exporters).
``uninstrument()`` removes it again. The SDK has no public removal API, so the provider's processor tuple is rebuilt
under the provider's own lock; if the SDK's internals ever change shape, the processor is shut down instead, which
makes it inert.

**Mapping.** An SDK trace becomes ``invoke_workflow {name}`` (``group_id`` -> ``gen_ai.conversation.id``, metadata
-> ``otel_genai.metadata.*``); ``agent`` -> ``invoke_agent {name}``; ``function`` -> ``execute_tool {name}``;
``handoff`` -> ``handoff {from} -> {to}``; ``guardrail`` -> ``guardrail {name}`` (a triggered tripwire is an error);
``task`` / ``turn`` / ``custom`` / anything else -> INTERNAL spans; a span's SDK ``error`` -> status ERROR.
``generation`` / ``response`` spans become ``chat {model}`` CLIENT spans only when otel-genai's OpenAI
instrumentor is *not* active; when it is, it already makes exactly one CLIENT span per HTTP call, so the SDK's model
span is skipped (its id is aliased to its parent's span, so nothing below it loses its parent).

**Parents come from the SDK's ids**, never from the ambient context of a callback: the processor callbacks run in
whichever task or thread starts or ends an SDK span (the first model call of a run and every tool run in child
tasks; a ``run_streamed`` run in its background task). Spans are kept in maps keyed by SDK span / trace id, and no
callback attaches or detaches an OTel context, so none can be detached in a foreign one. The one ambient read is in
``on_trace_start``: the workflow span's parent is the OTel span current when the SDK trace started. For
``Runner.run`` that is the caller's context; for ``Runner.run_streamed`` the trace starts inside the SDK's
background task, which ``asyncio.create_task`` created with a copy of the caller's context at ``run_streamed()``
time, so it is again the caller's span (e.g. the FastAPI request span).

**Model calls under the right agent.** For the OpenAI instrumentor's CLIENT span to nest under the agent that made
the call, the OTel context must hold that agent's span while the OpenAI SDK runs. The model classes'
``get_response`` / ``stream_response`` are wrapped with the engine (:func:`otel_genai.lifecycle.call_in_span`):
at call time the SDK's current span (``agents.tracing.get_current_span()``: the turn or agent span) is looked up in
the map, and its OTel span is made current while the coroutine is awaited or, for the streamed async generator,
during each step (in the engine's private context, so no token is held across a ``yield``). The engine's span for
this call is non-recording: the wrapper adds no span of its own.

**Times** are the SDK's (``started_at`` / ``ended_at``, ISO-8601 -> ns), so spans line up with the SDK's own view.

**Bounded and thread-safe.** One lock guards the maps. At most ``max_spans`` spans and ``max_traces`` traces are in
flight; beyond that the oldest are evicted and *ended* (outcome ``abandoned``). A trace's leftover spans are ended
when the trace ends (a cancelled run ends its spans and then its trace), and ``shutdown()`` ends everything.

**Content** (tool arguments and results, model input and output) is recorded only when otel-genai content capture
is on *and* the SDK's ``trace_include_sensitive_data`` allowed it: with that setting off the SDK leaves these
fields ``None``, and ``None`` is never recorded.
"""

from __future__ import annotations

import datetime
import importlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Collection
from typing import Any

import wrapt
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor
from opentelemetry.instrumentation.utils import is_instrumentation_enabled, unwrap
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.trace import INVALID_SPAN, Span, SpanKind, Status, StatusCode

from otel_genai import content
from otel_genai.context_attributes import METADATA_PREFIX, context_attributes
from otel_genai.decorators import SPAN_TYPE
from otel_genai.lifecycle import ERROR_TYPE, OUTCOME, Outcome, SpanRun, call_in_span
from otel_genai.version import __version__

logger = logging.getLogger(__name__)

_MODEL_KEY = otel_context.create_key("otel_genai.openai_agents.model")
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_MICROSECOND = datetime.timedelta(microseconds=1)

# (module, class) whose get_response / stream_response run the model call
MODEL_CLASSES = (
    ("agents.models.openai_chatcompletions", "OpenAIChatCompletionsModel"),
    ("agents.models.openai_responses", "OpenAIResponsesModel"),
)
MODEL_METHODS = ("get_response", "stream_response")


def _ns(iso: str | None) -> int | None:
    """An SDK timestamp (ISO-8601 with offset) as ns since the epoch, exactly (no float rounding)."""
    if not iso:
        return None
    try:
        when = datetime.datetime.fromisoformat(iso)
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.timezone.utc)
        return (when - _EPOCH) // _MICROSECOND * 1000
    except (TypeError, ValueError):
        return None


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


def _set(span: Span, key: str, value: Any) -> None:
    if value is not None:
        span.set_attribute(key, value)


def _set_content(span: Span, key: str, value: Any) -> None:
    if value is not None and content.capture_mode().on_span:
        span.set_attribute(key, content.truncate(value) if isinstance(value, str) else content.to_json(value))


def _set_messages(span: Span, key: str, value: Any, convert: Any) -> None:
    """A model span's input/output in the conventions' message shape (the SDK keeps the OpenAI API's own shapes)."""
    if value is None or not content.capture_mode().on_span:
        return
    try:
        messages = convert(value)
    except Exception:
        logger.debug("otel-genai: converting %s to the conventions' shape failed", key, exc_info=True)
        return
    if messages:
        span.set_attribute(key, content.to_json(messages))


def _generation_output(output: Any) -> list[dict[str, Any]]:
    """A generation span's output: chat messages (``get_response``) or a Responses-API dump (``stream_response``)."""
    from openai.types.chat import ChatCompletionMessage
    from openai.types.responses import Response

    from otel_genai.instrumentation.openai import chat, responses

    out = []
    for item in output:
        if isinstance(item, dict) and item.get("object") == "response":
            response = Response.model_validate(item)
            out.extend(responses.output_messages(response, responses.finish_reason(response)))
        else:
            msg = ChatCompletionMessage.model_validate(item)
            out.append(chat._output_message(msg, None))
    for msg in out:  # the SDK keeps no finish reason here; the span ended normally: OpenAI's values for that
        if msg.get("finish_reason") is None:
            calls = any(part.get("type") == "tool_call" for part in msg["parts"])
            msg["finish_reason"] = "tool_calls" if calls else "stop"
    return out


def _chat_input(value: Any) -> list[dict[str, Any]]:
    from otel_genai.instrumentation.openai import chat

    return chat.input_messages(value)


def _responses_input(value: Any) -> list[dict[str, Any]]:
    from otel_genai.instrumentation.openai import responses

    return responses._input(value)


def _responses_output(response: Any) -> list[dict[str, Any]]:
    from otel_genai.instrumentation.openai import responses

    return responses.output_messages(response, responses.finish_reason(response))


def _usage(span: Span, usage: Any) -> None:
    if isinstance(usage, dict):
        _set(span, gen_ai.GEN_AI_USAGE_INPUT_TOKENS, usage.get("input_tokens", usage.get("prompt_tokens")))
        _set(span, gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS, usage.get("output_tokens", usage.get("completion_tokens")))
    elif usage is not None:
        _set(span, gen_ai.GEN_AI_USAGE_INPUT_TOKENS, getattr(usage, "input_tokens", None))
        _set(span, gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS, getattr(usage, "output_tokens", None))


def _start_shape(data: Any, model: str | None) -> tuple[str, SpanKind, dict[str, Any]]:
    """Name, kind and attributes of the OTel span for an SDK span, from what is known at its start."""
    kind = getattr(data, "type", "custom")
    attrs: dict[str, Any] = {SPAN_TYPE: kind}
    if kind == "agent":
        attrs[gen_ai.GEN_AI_OPERATION_NAME] = "invoke_agent"
        attrs[gen_ai.GEN_AI_AGENT_NAME] = data.name
        return f"invoke_agent {data.name}", SpanKind.INTERNAL, attrs
    if kind == "function":
        attrs[gen_ai.GEN_AI_OPERATION_NAME] = "execute_tool"
        attrs[gen_ai.GEN_AI_TOOL_NAME] = data.name
        attrs[gen_ai.GEN_AI_TOOL_TYPE] = "function"
        return f"execute_tool {data.name}", SpanKind.INTERNAL, attrs
    if kind in ("generation", "response"):
        model = getattr(data, "model", None) or model
        attrs[gen_ai.GEN_AI_OPERATION_NAME] = "chat"
        attrs[gen_ai.GEN_AI_PROVIDER_NAME] = "openai"
        if model:
            attrs[gen_ai.GEN_AI_REQUEST_MODEL] = str(model)
        return (f"chat {model}" if model else "chat"), SpanKind.CLIENT, attrs
    if kind == "handoff":
        return f"handoff {data.from_agent}", SpanKind.INTERNAL, attrs
    if kind == "guardrail":
        return f"guardrail {data.name}", SpanKind.INTERNAL, attrs
    if kind == "turn":
        _set_dict(attrs, "otel_genai.agent.name", getattr(data, "agent_name", None))
        return f"turn {getattr(data, 'turn', '')}".rstrip(), SpanKind.INTERNAL, attrs
    if kind == "mcp_tools":
        return f"mcp_list_tools {getattr(data, 'server', '')}".rstrip(), SpanKind.INTERNAL, attrs
    name = getattr(data, "name", None)
    if kind == "custom" and name:
        return str(name), SpanKind.INTERNAL, attrs
    return (f"{kind} {name}" if name else kind), SpanKind.INTERNAL, attrs


def _set_dict(attrs: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        attrs[key] = value


def _finish_shape(span: Span, sdk_span: Any) -> None:
    """What is known only at the end: results, usage, handoff target, tripwire, error."""
    data = sdk_span.span_data
    kind = getattr(data, "type", None)
    if kind == "function":
        _set_content(span, gen_ai.GEN_AI_TOOL_CALL_ARGUMENTS, data.input)
        _set_content(span, gen_ai.GEN_AI_TOOL_CALL_RESULT, data.output)
    elif kind == "generation":
        _set(span, gen_ai.GEN_AI_RESPONSE_MODEL, data.model)
        _usage(span, data.usage)
        _set_messages(span, gen_ai.GEN_AI_INPUT_MESSAGES, data.input, _chat_input)
        _set_messages(span, gen_ai.GEN_AI_OUTPUT_MESSAGES, data.output, _generation_output)
    elif kind == "response":
        response = data.response
        if response is not None:
            _set(span, gen_ai.GEN_AI_RESPONSE_MODEL, response.model)
            _set(span, gen_ai.GEN_AI_RESPONSE_ID, response.id)
            _set_messages(span, gen_ai.GEN_AI_OUTPUT_MESSAGES, response, _responses_output)
        _usage(span, data.usage if data.usage is not None else getattr(response, "usage", None))
        _set_messages(span, gen_ai.GEN_AI_INPUT_MESSAGES, data.input, _responses_input)
    elif kind == "handoff":
        _set(span, "otel_genai.handoff.from_agent", data.from_agent)
        _set(span, "otel_genai.handoff.to_agent", data.to_agent)
        if data.to_agent:
            span.update_name(f"handoff {data.from_agent} -> {data.to_agent}")
    elif kind == "guardrail":
        span.set_attribute("otel_genai.guardrail.triggered", bool(data.triggered))
        if data.triggered:
            span.set_attribute(ERROR_TYPE, "GuardrailTripwireTriggered")
            span.set_status(Status(StatusCode.ERROR, f"guardrail {data.name} tripwire triggered"))
    error = sdk_span.error
    if error:
        message = error.get("message") if isinstance(error, dict) else str(error)
        span.set_attribute(ERROR_TYPE, message or "error")
        span.set_status(Status(StatusCode.ERROR, message or "error"))


def _end_abandoned(entries: list[_Entry]) -> None:
    for entry in entries:
        if entry.owned:
            try:
                entry.span.set_attribute(OUTCOME, Outcome.ABANDONED)
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
            attrs: dict[str, Any] = {
                **(extra or {}),
                SPAN_TYPE: "workflow",
                gen_ai.GEN_AI_OPERATION_NAME: "invoke_workflow",
                gen_ai.GEN_AI_WORKFLOW_NAME: name,
            }
            group_id = getattr(sdk_trace, "group_id", None)
            if group_id:
                attrs[gen_ai.GEN_AI_CONVERSATION_ID] = str(group_id)
            for key, value in (getattr(sdk_trace, "metadata", None) or {}).items():
                if isinstance(value, (str, bool, int, float)):
                    attrs[METADATA_PREFIX + str(key)] = value
            span = self._tracer.start_span(f"invoke_workflow {name}", context=parent, attributes=attrs)
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
                model = otel_context.get_value(_MODEL_KEY)
                name, span_kind, attrs = _start_shape(data, model)  # type: ignore[arg-type]
                if owner.extra:
                    attrs = {**owner.extra, **attrs}
                span = self._tracer.start_span(
                    name,
                    context=trace.set_span_in_context(parent_span),
                    kind=span_kind,
                    attributes=attrs,
                    start_time=_ns(sdk_span.started_at),
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
            _finish_shape(span, sdk_span)
        except Exception:
            logger.debug("otel-genai: recording span data failed", exc_info=True)
        try:
            span.end(end_time=_ns(sdk_span.ended_at))
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


def _model_call_wrapper(processor: OTelTracingProcessor) -> Any:
    """Run a model's get_response / stream_response with the OTel span of the SDK's current span current."""
    from agents.tracing import get_current_span

    def wrapper(wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        try:
            sdk_span = get_current_span()
            span = processor.otel_span(sdk_span.span_id) if sdk_span is not None else None
        except Exception:
            span = None
        if span is None or not is_instrumentation_enabled():
            return wrapped(*args, **kwargs)
        ctx = trace.set_span_in_context(span, otel_context.get_current())
        model = getattr(instance, "model", None)
        if model is not None:
            ctx = otel_context.set_value(_MODEL_KEY, str(model), ctx)
        # a non-recording span: the engine keeps `ctx` current for the call (each step of a stream), adds no span
        return call_in_span(SpanRun(INVALID_SPAN, ctx), wrapped, args, kwargs)

    return wrapper


def _remove_processor(processor: Any) -> bool:
    """Take ``processor`` out of the SDK's provider (no public API: rebuild the tuple under the provider's lock)."""
    try:
        from agents.tracing import get_trace_provider

        multi = get_trace_provider()._multi_processor  # type: ignore[attr-defined]
        lock = multi._lock
        with lock:
            current = multi._processors
            if not isinstance(current, tuple):
                return False
            multi._processors = tuple(p for p in current if p is not processor)
        return True
    except Exception:
        logger.debug("otel-genai: could not remove the agents trace processor", exc_info=True)
        return False


def _model_methods() -> list[tuple[type, str]]:
    """The (class, method name) pairs to wrap: those of :data:`MODEL_CLASSES` this SDK version defines."""
    found = []
    for module, cls in MODEL_CLASSES:
        try:
            target = getattr(importlib.import_module(module), cls)
        except (ImportError, AttributeError):
            continue
        found += [(target, method) for method in MODEL_METHODS if method in vars(target)]
    return found


class OpenAIAgentsInstrumentor(BaseInstrumentor):
    """Mirror the OpenAI Agents SDK's traces as OpenTelemetry GenAI spans (an additive trace processor)."""

    _processor: OTelTracingProcessor | None = None

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("openai-agents >= 0.2.0",)

    @property
    def processor(self) -> OTelTracingProcessor | None:
        return self._processor

    def _instrument(self, **kwargs: Any) -> None:
        from agents.tracing import TracingProcessor, add_trace_processor

        content.reload()
        tracer = trace.get_tracer(__name__, __version__, tracer_provider=kwargs.get("tracer_provider"))
        TracingProcessor.register(OTelTracingProcessor)
        processor = OTelTracingProcessor(tracer, **{k: kwargs[k] for k in ("max_spans", "max_traces") if k in kwargs})
        self._processor = processor
        add_trace_processor(processor)  # type: ignore[arg-type]
        wrapper = _model_call_wrapper(processor)
        for target, method in _model_methods():
            wrapt.wrap_function_wrapper(target, method, wrapper)

    def _uninstrument(self, **kwargs: Any) -> None:
        processor, self._processor = self._processor, None
        if processor is not None:
            _remove_processor(processor)
            processor.shutdown()
        for target, method in _model_methods():
            unwrap(target, method)

"""Shared GenAI-conventions helpers for LLM *client* calls (OpenAI, Anthropic, ...).

API (everything an LLM instrumentor needs besides its own patching and payload parsing):

* :class:`Telemetry` ``(tracer_provider=None, meter_provider=None, logger_provider=None, **ignored)``: built once in
  ``_instrument(**kwargs)``; holds ``tracer``, the three histograms (``duration``, ``token_usage``,
  ``time_to_first_chunk``, with the conventions' explicit bucket boundaries) and the ``logger`` for content events.
* :func:`server_attributes` ``(base_url) -> {server.address, server.port}`` (default port from the scheme).
* :func:`request_attributes` ``(kwargs, mapping) -> dict``: ``{kwarg name: attribute}``; skips absent / None /
  ``NOT_GIVEN``-like values; a string stop sequence becomes a one-element list.
* :func:`span_name` ``(operation, model)`` -> ``"{operation} {model}"``.
* Content parts in the conventions' JSON shapes: :func:`text_part`, :func:`tool_call_part`,
  :func:`tool_call_response_part`, :func:`message`, :func:`tool_definition`; :func:`parse_arguments` (JSON text
  -> object, the text itself when it is not JSON).
* :class:`LLMCallObserver` (an engine :class:`~otel_genai.lifecycle.Observer`): create it right before
  ``start_run`` (its clock starts in ``__init__``). Subclasses override :meth:`LLMCallObserver.chunk` (per streamed
  item; keep it cheap) and/or :meth:`LLMCallObserver.value` (the final non-stream value) and fill the public fields:
  ``response_model``, ``response_id``, ``finish_reasons`` (list), ``input_tokens`` (including cached tokens, as
  the conventions ask), ``output_tokens``, ``cache_read_tokens``, ``cache_creation_tokens``, ``extra`` (dict of
  further span attributes), ``error_type`` (a failure the API reported in-band without the SDK raising, e.g. a
  ``response.failed`` event: sets ``error.type`` and ERROR status on the span and ``error.type`` on the metrics),
  and, only while ``self.capture`` is truthy, ``output_messages`` (list of
  :func:`message`). Set ``input_messages`` / ``system_instructions`` / ``tool_definitions`` at request time (only
  when capturing). ``on_item`` stamps the first-chunk time; ``on_end`` sets the response attributes, records the
  metrics (duration to end of stream, token usage by ``gen_ai.token.type``, time to first chunk for streams only:
  never one record per chunk) and the content (span attributes when the capture mode says ``on_span``; the
  ``gen_ai.client.inference.operation.details`` event when :func:`otel_genai.content.emit_event` says so, with the
  content when the mode says ``on_event``). An output message left without a finish reason (an interrupted
  stream) gets :data:`INTERRUPTED`.
* :func:`call_attached` / :func:`await_attached` ``(run, ...)`` (the engine's, re-exported): run SDK code with the
  call's span current (an exception ends the span) and get its result unwrapped.
* :func:`capture_mode` (re-export of :func:`otel_genai.content.capture_mode`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from time import perf_counter
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import _logs, metrics, trace
from opentelemetry.trace import Span, StatusCode

from otel_genai import content, lifecycle
from otel_genai import semconv as gen_ai
from otel_genai.content import capture_mode
from otel_genai.lifecycle import ERROR_TYPE, Observer, await_attached, call_attached
from otel_genai.version import __version__

__all__ = [
    "DURATION_BUCKETS",
    "INTERRUPTED",
    "OPERATION_DETAILS_EVENT",
    "TOKEN_BUCKETS",
    "LLMCallObserver",
    "StreamedText",
    "Telemetry",
    "await_attached",
    "call_attached",
    "capture_mode",
    "message",
    "parse_arguments",
    "request_attributes",
    "server_attributes",
    "span_name",
    "text_part",
    "tool_call_part",
    "tool_call_response_part",
    "tool_definition",
]

SCOPE = "otel_genai"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
OPERATION_DETAILS_EVENT = "gen_ai.client.inference.operation.details"

# explicit bucket boundaries from the GenAI metrics conventions
DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
TOKEN_BUCKETS = (
    1,
    4,
    16,
    64,
    256,
    1024,
    4096,
    16384,
    65536,
    262144,
    1048576,
    4194304,
    16777216,
    67108864,
)

_DEFAULT_PORTS = {"https": 443, "http": 80}


class Telemetry:
    """Tracer, histograms and event logger of one ``instrument()`` call, under instrumentation scope ``scope``."""

    __slots__ = ("duration", "logger", "time_to_first_chunk", "token_usage", "tracer")

    def __init__(
        self,
        scope: str = SCOPE,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
        logger_provider: _logs.LoggerProvider | None = None,
        **_ignored: Any,
    ) -> None:
        self.tracer = trace.get_tracer(scope, __version__, tracer_provider)
        meter = metrics.get_meter(scope, __version__, meter_provider)
        self.duration = meter.create_histogram(
            gen_ai.GEN_AI_CLIENT_OPERATION_DURATION,
            unit="s",
            description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self.token_usage = meter.create_histogram(
            gen_ai.GEN_AI_CLIENT_TOKEN_USAGE,
            unit="{token}",
            description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=TOKEN_BUCKETS,
        )
        self.time_to_first_chunk = meter.create_histogram(
            gen_ai.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK,
            unit="s",
            description="Time to receive the first chunk of a streamed response.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self.logger = _logs.get_logger(scope, __version__, logger_provider)


def server_attributes(base_url: Any) -> dict[str, Any]:
    """``server.address`` / ``server.port`` of a client's ``base_url`` (str or URL object); {} when unknown."""
    try:
        parts = urlsplit(str(base_url))
        host = parts.hostname
        if not host:
            return {}
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
        return {SERVER_ADDRESS: host, SERVER_PORT: port} if port else {SERVER_ADDRESS: host}
    except Exception:
        return {}


def _given(value: Any) -> bool:
    """False for None and the SDKs' ``NOT_GIVEN`` / ``Omit`` sentinels (falsy objects of class NotGiven/Omit)."""
    if value is None:
        return False
    return type(value).__name__ not in ("NotGiven", "Omit")


def request_attributes(kwargs: Mapping[str, Any], mapping: Mapping[str, str]) -> dict[str, Any]:
    """Span attributes for the request parameters in ``kwargs`` named by ``mapping`` ({kwarg: attribute})."""
    out: dict[str, Any] = {}
    for name, value in kwargs.items():  # a call passes a few of the parameters a mapping knows
        attribute = mapping.get(name)
        if attribute is None or not _given(value):
            continue
        if attribute == gen_ai.GEN_AI_REQUEST_STOP_SEQUENCES and isinstance(value, str):
            value = [value]
        elif isinstance(value, (list, tuple)):
            value = [v for v in value if isinstance(v, (str, bool, int, float))]
        elif not isinstance(value, (str, bool, int, float)):
            continue
        out[attribute] = value
    return out


def field(obj: Any, name: str) -> Any:
    """A field of a request parameter (a mapping) or of an SDK model (an attribute); None when absent."""
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def span_name(operation: str, model: Any) -> str:
    return f"{operation} {model}" if model else operation


# -- content parts (the conventions' JSON shapes) ---------------------------------------------------------------


def text_part(text: str) -> dict[str, Any]:
    return {"type": "text", "content": text}


def parse_arguments(arguments: Any) -> Any:
    if isinstance(arguments, str):
        try:
            return json.loads(arguments)
        except ValueError:
            return arguments
    return arguments


def tool_call_part(id: Any, name: Any, arguments: Any) -> dict[str, Any]:
    return {"type": "tool_call", "id": id, "name": name, "arguments": parse_arguments(arguments)}


def tool_call_response_part(id: Any, response: Any) -> dict[str, Any]:
    return {"type": "tool_call_response", "id": id, "response": response}


INTERRUPTED = "error"
"""``finish_reason`` of an output message whose generation did not reach its end: the stream was stopped early,
cancelled, abandoned, or failed, so the API never sent a finish reason. The conventions' output-message schema
(up to semantic-conventions v1.41) requires ``finish_reason`` on every output message, and consumers such as Arize
Phoenix reject a message without one. ``error`` is the one value of the conventions' ``FinishReason`` enum (``stop``,
``length``, ``content_filter``, ``tool_call``, ``error``) that does not claim the model ended on its own, and it is
what the official OpenAI instrumentation (``opentelemetry-instrumentation-openai-v2``) records for a stream that
ends without one. Why it stopped is on the span: ``otel_genai.outcome`` (stopped_early / cancelled / abandoned /
error)."""


def message(role: str, parts: list[dict[str, Any]], finish_reason: str | None = None) -> dict[str, Any]:
    """A conventions message; pass ``finish_reason`` for output messages (see :data:`INTERRUPTED` when unknown)."""
    out: dict[str, Any] = {"role": role, "parts": parts}
    if finish_reason is not None:
        out["finish_reason"] = finish_reason
    return out


def tool_definition(name: Any, description: Any = None, parameters: Any = None, type: str = "function") -> dict:
    out: dict[str, Any] = {"type": type, "name": name}
    if description:
        out["description"] = description
    if parameters is not None:
        out["parameters"] = parameters
    return out


class StreamedText:
    """Text that arrives in pieces (kept only while content is captured).

    Every 64 pieces are joined into one string, so a long stream holds about the size of its text instead of one
    string object (about 50 bytes of overhead) per piece; ``str()`` gives the whole text.
    """

    __slots__ = ("_blocks", "_pieces")

    def __init__(self) -> None:
        self._blocks: list[str] = []
        self._pieces: list[str] = []

    def add(self, piece: str) -> None:
        pieces = self._pieces
        pieces.append(piece)
        if len(pieces) == 64:
            self._blocks.append("".join(pieces))
            pieces.clear()

    def __bool__(self) -> bool:
        return bool(self._pieces or self._blocks)

    def __str__(self) -> str:
        return "".join(self._blocks) + "".join(self._pieces)


# -- the observer ---------------------------------------------------------------------------------------------


class LLMCallObserver(Observer):
    """Records one LLM client call's response attributes, metrics and (opt-in) content when its span ends.

    ``metric_attributes``: the request-side attributes every metric point carries (``gen_ai.operation.name``,
    ``gen_ai.provider.name``, ``gen_ai.request.model``, ``server.address``, ``server.port``).
    """

    # What a call has seen so far. Class-level defaults: an instance stores only what its call sets.
    response_model: str | None = None
    response_id: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_creation_tokens: int | None = None
    extra: dict[str, Any] | None = None
    error_type: str | None = None
    first_chunk: float | None = None
    input_messages: list | None = None
    system_instructions: list | None = None
    tool_definitions: list | None = None
    output_messages: list | None = None

    def __init__(self, telemetry: Telemetry, metric_attributes: dict[str, Any], stream: bool = False) -> None:
        self.start = perf_counter()
        self.telemetry = telemetry
        self.metric_attributes = metric_attributes
        self.stream = stream
        self.capture = content.capturing()
        self.emit_event = content.emit_event()
        self.finish_reasons: list[str] = []

    # hooks for subclasses
    def chunk(self, item: Any) -> None:
        """One streamed item (after the first-chunk time is stamped). Runs per chunk: keep it cheap."""

    def value(self, value: Any) -> None:
        """The final non-stream value of the call."""

    # engine hooks
    def on_item(self, item: Any) -> None:
        if self.first_chunk is None:
            self.first_chunk = perf_counter()
        self.chunk(item)

    def on_value(self, span: Span, value: Any) -> None:
        self.value(value)

    def on_end(self, span: Span, error: BaseException | None) -> None:
        end = perf_counter()
        attributes: dict[str, Any] = {}
        if self.response_model is not None:
            attributes[gen_ai.GEN_AI_RESPONSE_MODEL] = self.response_model
        if self.response_id is not None:
            attributes[gen_ai.GEN_AI_RESPONSE_ID] = self.response_id
        if self.finish_reasons:
            attributes[gen_ai.GEN_AI_RESPONSE_FINISH_REASONS] = list(self.finish_reasons)
        if self.input_tokens is not None:
            attributes[gen_ai.GEN_AI_USAGE_INPUT_TOKENS] = self.input_tokens
        if self.output_tokens is not None:
            attributes[gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS] = self.output_tokens
        if self.cache_read_tokens is not None:
            attributes[gen_ai.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = self.cache_read_tokens
        if self.cache_creation_tokens is not None:
            attributes[gen_ai.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] = self.cache_creation_tokens
        if self.stream and self.first_chunk is not None:
            attributes[gen_ai.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = self.first_chunk - self.start
        if self.extra:
            attributes.update(self.extra)
        error_type = lifecycle.error_type(error) if error is not None else self.error_type
        if error is None and error_type is not None:
            attributes[ERROR_TYPE] = error_type
            span.set_status(StatusCode.ERROR, error_type)
        if attributes:
            span.set_attributes(attributes)
        if self.capture is not None or self.emit_event:
            self._record_content(span, attributes)
        self._record_metrics(end, error_type)

    def _record_metrics(self, end: float, error_type: str | None) -> None:
        telemetry = self.telemetry
        attrs = self.metric_attributes
        if self.response_model is not None or error_type is not None:
            attrs = dict(attrs)
            if self.response_model is not None:
                attrs[gen_ai.GEN_AI_RESPONSE_MODEL] = self.response_model
            if error_type is not None:
                attrs[ERROR_TYPE] = error_type
        telemetry.duration.record(end - self.start, attrs)
        if self.stream and self.first_chunk is not None:
            telemetry.time_to_first_chunk.record(self.first_chunk - self.start, attrs)
        if self.input_tokens is not None:
            telemetry.token_usage.record(self.input_tokens, {**attrs, gen_ai.GEN_AI_TOKEN_TYPE: "input"})
        if self.output_tokens is not None:
            telemetry.token_usage.record(self.output_tokens, {**attrs, gen_ai.GEN_AI_TOKEN_TYPE: "output"})

    def content_attributes(self) -> dict[str, str]:
        """The captured content as JSON-valued attributes (size-capped).

        An output message without a finish reason (the generation was interrupted) gets :data:`INTERRUPTED`."""
        out: dict[str, str] = {}
        for msg in self.output_messages or ():
            if isinstance(msg, dict) and msg.get("finish_reason") is None:
                msg["finish_reason"] = INTERRUPTED
        if self.input_messages:
            out[gen_ai.GEN_AI_INPUT_MESSAGES] = content.to_json(self.input_messages)
        if self.output_messages:
            out[gen_ai.GEN_AI_OUTPUT_MESSAGES] = content.to_json(self.output_messages)
        if self.system_instructions:
            out[gen_ai.GEN_AI_SYSTEM_INSTRUCTIONS] = content.to_json(self.system_instructions)
        if self.tool_definitions:
            out[gen_ai.GEN_AI_TOOL_DEFINITIONS] = content.to_json(self.tool_definitions)
        return out

    def _record_content(self, span: Span, response_attributes: dict[str, Any]) -> None:
        """Content on the span (capture mode ``on_span``) and the operation-details event (``emit_event``; it carries
        content only when the capture mode says ``on_event``, as in ``opentelemetry-util-genai``)."""
        mode = self.capture
        attrs = self.content_attributes() if mode is not None else {}
        if mode is not None and mode.on_span and attrs:
            span.set_attributes(attrs)
        if self.emit_event:
            event_attrs = {**self.metric_attributes, **response_attributes}
            if mode is not None and mode.on_event:
                event_attrs.update(attrs)
            self.telemetry.logger.emit(
                _logs.LogRecord(
                    event_name=OPERATION_DETAILS_EVENT,
                    context=trace.set_span_in_context(span),
                    attributes=event_attrs,
                )
            )

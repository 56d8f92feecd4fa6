"""Anthropic Messages payloads -> the conventions' attributes and content shapes.

Usage: anthropic reports ``input_tokens`` *without* the cached tokens (``cache_read_input_tokens`` and
``cache_creation_input_tokens`` come on top). The GenAI conventions say ``gen_ai.usage.input_tokens`` SHOULD include
all input tokens, cached ones too, so we report the sum there (as anthropic's own spans do), and the two cache
counts as ``gen_ai.usage.cache_read.input_tokens`` / ``gen_ai.usage.cache_creation.input_tokens``.

Finish reasons are mapped to the conventions' values (``end_turn``/``stop_sequence`` -> ``stop``, ``max_tokens`` ->
``length``, ``tool_use`` -> ``tool_call``, ``refusal`` -> ``content_filter``; others pass as they are); the raw
value stays on ``anthropic.message.stop_reason`` (the name anthropic's own spans use).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from time import perf_counter
from typing import Any

from opentelemetry.trace import Span

from otel_genai import content
from otel_genai.instrumentation._llm import (
    LLMCallObserver,
    StreamedText,
    field,
    message,
    parse_arguments,
    text_part,
    tool_call_part,
    tool_call_response_part,
    tool_definition,
)
from otel_genai.instrumentation._stainless import unparsed

logger = logging.getLogger(__name__)

STOP_REASON = "anthropic.message.stop_reason"
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_call",
    "refusal": "content_filter",
}
_USAGE_FIELDS = (
    ("cache_read_input_tokens", "cache_read_tokens"),
    ("cache_creation_input_tokens", "cache_creation_tokens"),
    ("output_tokens", "output_tokens"),
)


def part(block: Any) -> dict[str, Any]:
    """One content block (request param or response model) as a conventions message part."""
    if isinstance(block, str):
        return text_part(block)
    kind = field(block, "type")
    if kind == "text":
        return text_part(field(block, "text") or "")
    if kind in ("tool_use", "server_tool_use"):
        return tool_call_part(field(block, "id"), field(block, "name"), field(block, "input"))
    if kind == "tool_result":
        result = field(block, "content")
        if not isinstance(result, str) and result is not None:
            result = [part(b) for b in result]
        return tool_call_response_part(field(block, "tool_use_id"), result)
    if kind == "thinking":
        return {"type": "reasoning", "content": field(block, "thinking") or ""}
    if kind == "image":
        source = field(block, "source")
        if field(source, "type") == "base64":  # the conventions' BlobPart carries the (base64) data, size-capped
            return {
                "type": "blob",
                "modality": "image",
                "mime_type": field(source, "media_type"),
                "content": field(source, "data") or "",
            }
        if field(source, "type") == "url":
            return {"type": "uri", "modality": "image", "uri": field(source, "url")}
    return {"type": kind if isinstance(kind, str) else "unknown"}


def parts(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if isinstance(value, str):
        return [text_part(value)]
    if not isinstance(value, (list, tuple)):  # not a content the API knows (the API will say so): a placeholder
        return [text_part(content.placeholder(value))]
    return [part(b) for b in value]


def finish_reason(stop_reason: str) -> str:
    return FINISH_REASONS.get(stop_reason, stop_reason)


class MessagesObserver(LLMCallObserver):
    """One ``messages.create`` / ``messages.stream`` call: reads raw stream events or the final ``Message``.

    Per event it only looks at the event type, except for ``message_start`` / ``message_delta`` (ids, model,
    usage, stop reason); content deltas are accumulated only while content capture is on.
    """

    __slots__ = ("_blocks", "_stop_reason", "_uncached")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._uncached: int | None = None
        self._stop_reason: str | None = None
        self._blocks: dict[int, list[Any]] | None = {} if self.capture is not None and self.stream else None

    # request (only called when capturing)
    def request(self, kwargs: Mapping[str, Any]) -> None:
        """Capture the request's content; whatever the caller passed, this never raises into their call."""
        try:
            self._request(kwargs)
        except Exception:
            logger.debug("otel-genai: capturing anthropic request content failed", exc_info=True)

    def _request(self, kwargs: Mapping[str, Any]) -> None:
        system = kwargs.get("system")
        if isinstance(system, (str, list, tuple)) and system:
            self.system_instructions = parts(system)
        messages = kwargs.get("messages")
        if isinstance(messages, (list, tuple)):
            self.input_messages = [message(field(m, "role") or "user", parts(field(m, "content"))) for m in messages]
        tools = kwargs.get("tools")
        if isinstance(tools, (list, tuple)) and tools:
            self.tool_definitions = [
                tool_definition(field(t, "name"), field(t, "description"), field(t, "input_schema"))
                if field(t, "input_schema") is not None
                else tool_definition(field(t, "name") or field(t, "type"), type=field(t, "type") or "function")
                for t in tools
            ]

    # response
    def _usage(self, usage: Any) -> None:
        if usage is None:
            return
        value = usage.input_tokens
        if value is not None:
            self._uncached = value
        for name, attribute in _USAGE_FIELDS:
            value = getattr(usage, name, None)
            if value is not None:
                setattr(self, attribute, value)
        if self._uncached is not None:
            self.input_tokens = self._uncached + (self.cache_read_tokens or 0) + (self.cache_creation_tokens or 0)

    def _stopped(self, stop_reason: str | None) -> None:
        if stop_reason:
            self._stop_reason = stop_reason
            self.finish_reasons = [finish_reason(stop_reason)]
            self.extra = {STOP_REASON: stop_reason}

    def on_item(self, event: Any) -> None:
        """Per streamed event (replaces the base hook to save a call per chunk): content deltas return at once."""
        if event.type == "content_block_delta":
            if self._blocks is not None:
                self._delta(event)
            if self.first_chunk is None:
                self.first_chunk = perf_counter()
            return
        if self.first_chunk is None:
            self.first_chunk = perf_counter()
        self.chunk(event)

    def chunk(self, event: Any) -> None:
        kind = event.type
        if kind == "message_start":
            msg = event.message
            self.response_id = msg.id
            self.response_model = msg.model
            self._usage(msg.usage)
        elif kind == "message_delta":
            self._stopped(event.delta.stop_reason)
            self._usage(event.usage)
        elif kind == "content_block_start" and self._blocks is not None:
            block = event.content_block
            name = getattr(block, "name", None)
            self._blocks[event.index] = [block.type, getattr(block, "id", None), name, StreamedText()]

    def _delta(self, event: Any) -> None:
        delta = event.delta
        text = getattr(delta, "text", None) or getattr(delta, "partial_json", None) or getattr(delta, "thinking", None)
        if text:
            block = self._blocks.get(event.index) if self._blocks is not None else None
            if block is not None:
                block[3].add(text)

    def value(self, value: Any) -> None:
        value = unparsed(value)
        if field(value, "type") != "message":
            return
        self.response_id = value.id
        self.response_model = value.model
        self._usage(value.usage)
        self._stopped(value.stop_reason)
        if self.capture is not None:
            self.output_messages = [self._output(parts(value.content))]

    def _output(self, content: list[dict[str, Any]]) -> dict[str, Any]:
        return message("assistant", content, finish_reason(self._stop_reason) if self._stop_reason else None)

    def _streamed_parts(self) -> list[dict[str, Any]]:
        out = []
        for kind, id, name, streamed in (self._blocks or {}).values():
            text = str(streamed)
            if kind in ("tool_use", "server_tool_use"):
                out.append(tool_call_part(id, name, parse_arguments(text) if text else {}))
            elif kind == "thinking":
                out.append({"type": "reasoning", "content": text})
            elif kind == "text":
                out.append(text_part(text))
            else:
                out.append({"type": kind})
        return out

    def on_end(self, span: Span, error: BaseException | None) -> None:
        if self._blocks:
            self.output_messages = [self._output(self._streamed_parts())]
        super().on_end(span, error)

"""``converse`` / ``converse_stream``: request attributes, the response or stream events, content.

Usage: Bedrock reports ``inputTokens`` without the prompt-cache tokens (``cacheReadInputTokens`` and
``cacheWriteInputTokens`` come on top, and ``totalTokens`` adds all of them). The conventions' ``gen_ai.usage.
input_tokens`` counts every input token, so it is the sum, as for anthropic; the cache counts go to the
``cache_read`` / ``cache_creation`` attributes. Stop reasons map to the conventions' finish reasons (``end_turn`` /
``stop_sequence`` -> ``stop``, ``max_tokens`` -> ``length``, ``tool_use`` -> ``tool_call``,
``guardrail_intervened`` / ``content_filtered`` -> ``content_filter``; others pass as they are).
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping
from time import perf_counter
from typing import Any

from opentelemetry.trace import Span

from otel_genai import content
from otel_genai import semconv as gen_ai
from otel_genai.instrumentation._llm import (
    LLMCallObserver,
    StreamedText,
    message,
    parse_arguments,
    request_attributes,
    text_part,
    tool_call_part,
    tool_call_response_part,
    tool_definition,
)

logger = logging.getLogger(__name__)

FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_call",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
}
_INFERENCE = {
    "maxTokens": gen_ai.GEN_AI_REQUEST_MAX_TOKENS,
    "temperature": gen_ai.GEN_AI_REQUEST_TEMPERATURE,
    "topP": gen_ai.GEN_AI_REQUEST_TOP_P,
    "stopSequences": gen_ai.GEN_AI_REQUEST_STOP_SEQUENCES,
}
_ADDITIONAL = {"top_k": gen_ai.GEN_AI_REQUEST_TOP_K, "topK": gen_ai.GEN_AI_REQUEST_TOP_K}


def finish_reason(stop_reason: str) -> str:
    return FINISH_REASONS.get(stop_reason, stop_reason)


def request(params: Mapping[str, Any]) -> dict[str, Any]:
    """The request parameters the conventions name, from ``inferenceConfig`` and ``additionalModelRequestFields``."""
    attributes: dict[str, Any] = {}
    additional = params.get("additionalModelRequestFields")
    if isinstance(additional, Mapping):
        attributes.update(request_attributes(additional, _ADDITIONAL))
    config = params.get("inferenceConfig")
    if isinstance(config, Mapping):
        attributes.update(request_attributes(config, _INFERENCE))
    return attributes


# -- content ------------------------------------------------------------------------------------------------------


def _blob(modality: str, value: Any) -> dict[str, Any]:
    fmt = value.get("format")
    source = value.get("source") or {}
    mime_type = f"{modality}/{fmt}" if isinstance(fmt, str) else None
    data = source.get("bytes")
    if isinstance(data, (bytes, bytearray)):
        encoded = base64.b64encode(data).decode()
        return {"type": "blob", "modality": modality, "mime_type": mime_type, "content": encoded}
    location = source.get("s3Location")
    if isinstance(location, Mapping) and location.get("uri"):
        return {"type": "uri", "modality": modality, "mime_type": mime_type, "uri": location["uri"]}
    return {"type": modality}


def part(block: Any) -> dict[str, Any] | None:
    """One Converse content block as a conventions message part (None for a cache point: not content)."""
    if not isinstance(block, Mapping):
        return text_part(content.placeholder(block))
    if "text" in block:
        return text_part(block["text"] if isinstance(block["text"], str) else content.placeholder(block["text"]))
    if "toolUse" in block:
        use = block["toolUse"]
        return tool_call_part(use.get("toolUseId"), use.get("name"), use.get("input"))
    if "toolResult" in block:
        result = block["toolResult"]
        out = []
        for item in result.get("content") or ():
            if isinstance(item, Mapping) and "json" in item:
                out.append(item["json"])
            else:
                converted = part(item)
                if converted is not None:
                    out.append(converted)
        return tool_call_response_part(result.get("toolUseId"), out)
    if "reasoningContent" in block:
        reasoning = block["reasoningContent"]
        text = (reasoning.get("reasoningText") or {}).get("text") if isinstance(reasoning, Mapping) else None
        return {"type": "reasoning", "content": text or ""}
    if "image" in block:
        return _blob("image", block["image"])
    if "video" in block:
        return _blob("video", block["video"])
    if "guardContent" in block:
        text = ((block["guardContent"] or {}).get("text") or {}).get("text")
        return text_part(text or "")
    if "cachePoint" in block:
        return None
    kind = next(iter(block), "unknown")
    return {"type": kind if isinstance(kind, str) else "unknown"}


def parts(blocks: Any) -> list[dict[str, Any]]:
    if isinstance(blocks, str):
        return [text_part(blocks)]
    if not isinstance(blocks, (list, tuple)):
        return [] if blocks is None else [text_part(content.placeholder(blocks))]
    return [p for p in map(part, blocks) if p is not None]


def input_messages(messages: Any) -> list[dict[str, Any]]:
    out = []
    for msg in messages if isinstance(messages, (list, tuple)) else ():
        if isinstance(msg, Mapping):
            out.append(message(msg.get("role") or "user", parts(msg.get("content"))))
    return out


def tool_definitions(tool_config: Any) -> list[dict[str, Any]]:
    out = []
    tools = tool_config.get("tools") if isinstance(tool_config, Mapping) else None
    for tool in tools or ():
        spec = tool.get("toolSpec") if isinstance(tool, Mapping) else None
        if isinstance(spec, Mapping):
            schema = spec.get("inputSchema")
            parameters = schema.get("json") if isinstance(schema, Mapping) else None
            out.append(tool_definition(spec.get("name"), spec.get("description"), parameters))
        elif isinstance(tool, Mapping) and tool:  # a system tool or a cache point
            kind = next(iter(tool))
            if kind != "cachePoint":
                out.append({"type": kind, "name": (tool[kind] or {}).get("name") or kind})
    return out


# -- the observer ----------------------------------------------------------------------------------------------------


class ConverseObserver(LLMCallObserver):
    """Reads a Converse response or the ConverseStream events; accumulates streamed content only while capturing."""

    __slots__ = ("_blocks", "_stop_reason")

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._stop_reason: str | None = None
        # content block index -> [kind, tool id, tool name, text]
        self._blocks: dict[int, list[Any]] | None = {} if self.capture is not None and self.stream else None

    def request(self, params: Mapping[str, Any]) -> None:
        """Capture the request's content (only called when capturing); never raises into the caller's call."""
        try:
            self.input_messages = input_messages(params.get("messages"))
            system = parts(params.get("system"))
            if system:
                self.system_instructions = system
            tools = tool_definitions(params.get("toolConfig"))
            if tools:
                self.tool_definitions = tools
        except Exception:
            logger.debug("otel-genai: capturing a Bedrock Converse request failed", exc_info=True)

    def _usage(self, usage: Any) -> None:
        if not isinstance(usage, Mapping):
            return
        read = usage.get("cacheReadInputTokens")
        write = usage.get("cacheWriteInputTokens")
        if read is not None:
            self.cache_read_tokens = read
        if write is not None:
            self.cache_creation_tokens = write
        uncached = usage.get("inputTokens")
        if uncached is not None:
            self.input_tokens = uncached + (read or 0) + (write or 0)
        output = usage.get("outputTokens")
        if output is not None:
            self.output_tokens = output

    def _stopped(self, stop_reason: Any) -> None:
        if isinstance(stop_reason, str) and stop_reason:
            self._stop_reason = stop_reason
            self.finish_reasons = [finish_reason(stop_reason)]

    def _finish(self) -> str | None:
        return finish_reason(self._stop_reason) if self._stop_reason else None

    def value(self, value: Any) -> None:
        if not isinstance(value, Mapping):
            return
        self._stopped(value.get("stopReason"))
        self._usage(value.get("usage"))
        if self.capture is not None:
            msg = (value.get("output") or {}).get("message")
            if isinstance(msg, Mapping):
                role = msg.get("role") or "assistant"
                self.output_messages = [message(role, parts(msg.get("content")), self._finish())]

    def on_item(self, event: Any) -> None:
        """Per stream event (replaces the base hook to save a call per event): deltas return at once."""
        if self.first_chunk is None:
            self.first_chunk = perf_counter()
        delta = event.get("contentBlockDelta")
        if delta is not None:
            if self._blocks is not None:
                self._delta(delta)
            return
        if "messageStop" in event:
            self._stopped(event["messageStop"].get("stopReason"))
        elif "metadata" in event:
            self._usage(event["metadata"].get("usage"))
        elif "contentBlockStart" in event and self._blocks is not None:
            start = event["contentBlockStart"]
            use = (start.get("start") or {}).get("toolUse")
            if isinstance(use, Mapping):
                self._blocks[start.get("contentBlockIndex", 0)] = [
                    "tool_use",
                    use.get("toolUseId"),
                    use.get("name"),
                    StreamedText(),
                ]

    def _delta(self, event: Mapping[str, Any]) -> None:
        delta = event.get("delta") or {}
        index = event.get("contentBlockIndex", 0)
        block = self._blocks.get(index)  # type: ignore[union-attr]
        if "text" in delta:
            kind, piece = "text", delta["text"]
        elif "toolUse" in delta:
            kind, piece = "tool_use", (delta["toolUse"] or {}).get("input")
        elif "reasoningContent" in delta:
            kind, piece = "reasoning", (delta["reasoningContent"] or {}).get("text")
        else:
            return
        if block is None:
            block = self._blocks[index] = [kind, None, None, StreamedText()]  # type: ignore[index]
        if isinstance(piece, str) and piece:
            block[3].add(piece)

    def _streamed_parts(self) -> list[dict[str, Any]]:
        out = []
        for _, (kind, id, name, streamed) in sorted((self._blocks or {}).items()):
            text = str(streamed)
            if kind == "tool_use":
                out.append(tool_call_part(id, name, parse_arguments(text) if text else {}))
            elif kind == "reasoning":
                out.append({"type": "reasoning", "content": text})
            else:
                out.append(text_part(text))
        return out

    def on_end(self, span: Span, error: BaseException | None) -> None:
        if self._blocks:
            self.output_messages = [message("assistant", self._streamed_parts(), self._finish())]
        super().on_end(span, error)

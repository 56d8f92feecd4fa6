"""``responses.create`` / ``.parse`` / ``.stream()``: request attributes, response reading, content."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from otel_genai import semconv as gen_ai
from otel_genai.instrumentation._llm import (
    StreamedText,
    message,
    request_attributes,
    text_part,
    tool_call_part,
    tool_call_response_part,
    tool_definition,
)
from otel_genai.instrumentation.openai.chat import (
    SERVICE_TIER_REQUEST,
    SERVICE_TIER_RESPONSE,
    field,
    input_messages,
)
from otel_genai.instrumentation.openai.patch import OpenAIObserver, Operation

_PARAMS = {
    "temperature": gen_ai.GEN_AI_REQUEST_TEMPERATURE,
    "top_p": gen_ai.GEN_AI_REQUEST_TOP_P,
    "max_output_tokens": gen_ai.GEN_AI_REQUEST_MAX_TOKENS,
    "service_tier": SERVICE_TIER_REQUEST,
}
_TERMINAL = frozenset(("response.completed", "response.incomplete", "response.failed"))
_FINISH = {"completed": "stop", "failed": "error", "cancelled": "cancelled"}


def request(kwargs: dict) -> dict[str, Any]:
    attributes = request_attributes(kwargs, _PARAMS)
    text = kwargs.get("text")
    fmt = field(field(text, "format"), "type") if text is not None else None
    if fmt in ("json_schema", "json_object"):
        attributes[gen_ai.GEN_AI_OUTPUT_TYPE] = "json"
    elif fmt == "text":
        attributes[gen_ai.GEN_AI_OUTPUT_TYPE] = "text"
    elif isinstance(kwargs.get("text_format"), type):  # responses.parse(text_format=Model)
        attributes[gen_ai.GEN_AI_OUTPUT_TYPE] = "json"
    conversation = kwargs.get("conversation")
    conversation = field(conversation, "id") if not isinstance(conversation, str) else conversation
    if isinstance(conversation, str):
        attributes[gen_ai.GEN_AI_CONVERSATION_ID] = conversation
    return attributes


# -- content ------------------------------------------------------------------------------------------------------


def input_items(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        return [message("user", [text_part(value)])]
    out = []
    for item in value or ():
        kind = field(item, "type")
        if kind == "function_call":
            call = tool_call_part(field(item, "call_id"), field(item, "name"), field(item, "arguments"))
            out.append(message("assistant", [call]))
        elif kind == "function_call_output":
            out.append(message("tool", [tool_call_response_part(field(item, "call_id"), field(item, "output"))]))
        elif kind == "reasoning":  # the conventions' ReasoningPart needs its text: the summary's
            summary = "".join(str(field(s, "text") or "") for s in field(item, "summary") or ())
            out.append(message("assistant", [{"type": "reasoning", "content": summary}]))
        elif field(item, "role") is not None:
            content = field(item, "content")
            if isinstance(content, str) or content is None:
                out.extend(input_messages([item]))
            else:
                out.append(message(field(item, "role"), [_part(p) for p in content]))
        else:
            out.append(message("user", [{"type": kind or "unknown"}]))
    return out


def _part(part: Any) -> dict[str, Any]:
    """An input/output content part: ``input_text`` / ``output_text`` / ``refusal`` as text, others by type."""
    kind = field(part, "type")
    if kind in ("input_text", "output_text", "text"):
        return text_part(field(part, "text"))
    if kind == "refusal":
        return text_part(field(part, "refusal"))
    if kind == "input_image":
        return {"type": "uri", "modality": "image", "uri": field(part, "image_url")}
    return {"type": kind or "unknown"}


def capture(observer: OpenAIObserver, kwargs: dict) -> None:
    observer.input_messages = input_items(kwargs.get("input"))
    instructions = kwargs.get("instructions")
    if isinstance(instructions, str):
        observer.system_instructions = [text_part(instructions)]
    tools = kwargs.get("tools")
    if isinstance(tools, (list, tuple)):
        observer.tool_definitions = [
            tool_definition(field(t, "name"), field(t, "description"), field(t, "parameters"))
            if field(t, "type") == "function"
            else {"type": field(t, "type") or "unknown", "name": field(t, "name") or field(t, "type") or "unknown"}
            for t in tools
        ]


def finish_reason(response: Any) -> str | None:
    status = response.status
    if status == "incomplete":
        details = response.incomplete_details
        reason = getattr(details, "reason", None)
        return "length" if reason == "max_output_tokens" else (reason or "incomplete")
    if status == "completed" and any(getattr(o, "type", None) == "function_call" for o in response.output or ()):
        return "tool_calls"
    return _FINISH.get(status, status)


def output_messages(response: Any, finish: str | None) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for item in response.output or ():
        kind = getattr(item, "type", None)
        if kind == "message":
            parts.extend(_part(c) for c in item.content)
        elif kind == "function_call":
            parts.append(tool_call_part(item.call_id, item.name, item.arguments))
    return [message("assistant", parts, finish)]


class ResponsesObserver(OpenAIObserver):
    """Reads a ``Response`` or the stream's events (id/model from ``response.created``, the rest from the end)."""

    __slots__ = ("_text",)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._text: StreamedText | None = StreamedText() if self.capture is not None else None

    def response(self, value: Any) -> None:
        self.response_id = value.id
        self.response_model = value.model
        finish = finish_reason(value)
        self.finish_reasons = [finish] if finish else []
        if value.service_tier is not None:
            self.extra = {SERVICE_TIER_RESPONSE: value.service_tier}
        if value.status == "failed":  # reported in the stream, not raised by the SDK
            self.error_type = getattr(value.error, "code", None) or "failed"
        usage = value.usage
        if usage is not None:
            self.input_tokens = usage.input_tokens
            self.output_tokens = usage.output_tokens
            details = getattr(usage, "input_tokens_details", None)
            if isinstance(details, dict):  # openai < 1.67 kept it as an undeclared (dict) field
                details = SimpleNamespace(**details)
            if details is not None:
                self.cache_read_tokens = getattr(details, "cached_tokens", None)
                write = getattr(details, "cache_write_tokens", None)
                if write is not None:
                    self.cache_creation_tokens = write
        if self.capture is not None:
            self.output_messages = output_messages(value, finish)
            self._text = None

    def chunk(self, item: Any) -> None:
        kind = item.type
        if kind == "response.output_text.delta":
            if self._text is not None:
                self._text.add(item.delta)
        elif kind in _TERMINAL:
            self.response(item.response)
        elif kind == "response.created":
            self.response_id = item.response.id
            self.response_model = item.response.model

    def on_end(self, span: Any, error: BaseException | None) -> None:
        if self._text:  # the stream stopped before its final event: keep what was streamed
            self.output_messages = [message("assistant", [text_part(str(self._text))])]
        super().on_end(span, error)


OPERATION = Operation("chat", ResponsesObserver, request, capture)

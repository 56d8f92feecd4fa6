"""``chat.completions.create`` / ``.parse`` / ``.stream()``: request attributes, response reading, content."""

from __future__ import annotations

from time import perf_counter
from typing import Any

from otel_genai import content
from otel_genai import semconv as gen_ai
from otel_genai.instrumentation._llm import (
    StreamedText,
    field,
    message,
    request_attributes,
    text_part,
    tool_call_part,
    tool_call_response_part,
    tool_definition,
)
from otel_genai.instrumentation.openai.patch import OpenAIObserver, Operation

CHAT = "chat"
SERVICE_TIER_REQUEST = "openai.request.service_tier"
SERVICE_TIER_RESPONSE = "openai.response.service_tier"
SYSTEM_FINGERPRINT = "openai.response.system_fingerprint"

_PARAMS = {
    "temperature": gen_ai.GEN_AI_REQUEST_TEMPERATURE,
    "top_p": gen_ai.GEN_AI_REQUEST_TOP_P,
    "max_tokens": gen_ai.GEN_AI_REQUEST_MAX_TOKENS,
    "max_completion_tokens": gen_ai.GEN_AI_REQUEST_MAX_TOKENS,
    "stop": gen_ai.GEN_AI_REQUEST_STOP_SEQUENCES,
    "seed": gen_ai.GEN_AI_REQUEST_SEED,
    "frequency_penalty": gen_ai.GEN_AI_REQUEST_FREQUENCY_PENALTY,
    "presence_penalty": gen_ai.GEN_AI_REQUEST_PRESENCE_PENALTY,
    "service_tier": SERVICE_TIER_REQUEST,
}


def output_type(response_format: Any) -> str | None:
    kind = field(response_format, "type") if response_format is not None else None
    if kind in ("json_object", "json_schema"):
        return "json"
    if kind == "text":
        return "text"
    if isinstance(response_format, type):  # .parse(response_format=PydanticModel)
        return "json"
    return None


def request(kwargs: dict) -> dict[str, Any]:
    attributes = request_attributes(kwargs, _PARAMS)
    n = kwargs.get("n")
    if isinstance(n, int) and n != 1:
        attributes[gen_ai.GEN_AI_REQUEST_CHOICE_COUNT] = n
    kind = output_type(kwargs.get("response_format"))
    if kind is not None:
        attributes[gen_ai.GEN_AI_OUTPUT_TYPE] = kind
    return attributes


# -- content ------------------------------------------------------------------------------------------------------


def _content_parts(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if isinstance(value, str):
        return [text_part(value)]
    if not isinstance(value, (list, tuple)):  # not a content the API knows: a placeholder, never an exception
        return [text_part(content.placeholder(value))]
    parts = []
    for part in value:
        kind = field(part, "type")
        if kind == "text":
            parts.append(text_part(field(part, "text")))
        elif kind == "image_url":
            url = field(field(part, "image_url"), "url")
            parts.append({"type": "uri", "modality": "image", "uri": url})
        elif kind == "refusal":
            parts.append(text_part(field(part, "refusal")))
        else:
            parts.append({"type": kind or "unknown"})
    return parts


def input_messages(messages: Any) -> list[dict[str, Any]]:
    out = []
    for msg in messages or ():
        role = field(msg, "role") or "user"
        if role == "tool":
            out.append(message("tool", [tool_call_response_part(field(msg, "tool_call_id"), field(msg, "content"))]))
            continue
        parts = _content_parts(field(msg, "content"))
        for call in field(msg, "tool_calls") or ():
            fn = field(call, "function")
            parts.append(tool_call_part(field(call, "id"), field(fn, "name"), field(fn, "arguments")))
        out.append(message(role, parts))
    return out


def tool_definitions(tools: Any) -> list[dict[str, Any]]:
    out = []
    for tool in tools or ():
        fn = field(tool, "function")
        if fn is not None:
            out.append(tool_definition(field(fn, "name"), field(fn, "description"), field(fn, "parameters")))
        else:  # a hosted tool ({"type": "web_search", ...}): the conventions' generic definition needs a name
            kind = field(tool, "type") or "unknown"
            out.append({"type": kind, "name": field(tool, "name") or kind})
    return out


def capture(observer: OpenAIObserver, kwargs: dict) -> None:
    observer.input_messages = input_messages(kwargs.get("messages"))
    tools = kwargs.get("tools")
    if isinstance(tools, (list, tuple)):
        observer.tool_definitions = tool_definitions(tools)


def output_message(msg: Any, finish_reason: Any) -> dict[str, Any]:
    parts = _content_parts(msg.content) if msg.content else []
    for call in msg.tool_calls or ():
        fn = getattr(call, "function", None)
        if fn is not None:
            parts.append(tool_call_part(call.id, fn.name, fn.arguments))
    return message(msg.role or "assistant", parts, finish_reason)


# -- the observer ---------------------------------------------------------------------------------------------------


class ChatObserver(OpenAIObserver):
    """Reads ``ChatCompletion`` / ``ChatCompletionChunk``; accumulates streamed text only while capturing."""

    __slots__ = ("_choices",)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._choices: dict[int, list] | None = {} if self.capture is not None else None

    def _usage(self, usage: Any) -> None:
        self.input_tokens = usage.prompt_tokens
        self.output_tokens = usage.completion_tokens
        details = usage.prompt_tokens_details
        if details is not None:
            if details.cached_tokens is not None:
                self.cache_read_tokens = details.cached_tokens
            write = getattr(details, "cache_write_tokens", None)
            if write is not None:
                self.cache_creation_tokens = write

    def _service(self, value: Any) -> None:
        extra = {}
        if value.service_tier is not None:
            extra[SERVICE_TIER_RESPONSE] = value.service_tier
        if value.system_fingerprint is not None:
            extra[SYSTEM_FINGERPRINT] = value.system_fingerprint
        self.extra = extra

    def response(self, value: Any) -> None:
        self.response_id = value.id
        self.response_model = value.model
        self._service(value)
        choices = value.choices
        self.finish_reasons = [c.finish_reason for c in choices if c.finish_reason is not None]
        if value.usage is not None:
            self._usage(value.usage)
        if self.capture is not None:
            self.output_messages = [output_message(c.message, c.finish_reason) for c in choices]

    def on_item(self, item: Any) -> None:
        """Per streamed chunk (replaces the base hook to save a call per chunk)."""
        if self.first_chunk is None:
            self.first_chunk = perf_counter()
        if self.response_id is None:  # Azure may lead with a prompt-filter chunk whose id and model are empty
            self.response_id = item.id or None
            self.response_model = item.model or None
            self._service(item)
        for choice in item.choices:
            if choice.finish_reason is not None:
                self.finish_reasons.append(choice.finish_reason)
            if self._choices is not None:
                self._accumulate(choice)
        usage = item.usage
        if usage is not None:
            self._usage(usage)

    def _accumulate(self, choice: Any) -> None:
        # [role, text, {tool index: [id, name, arguments]}, finish_reason]
        choices = self._choices
        acc = choices.get(choice.index)  # type: ignore[union-attr]
        if acc is None:
            acc = choices[choice.index] = [None, StreamedText(), {}, None]  # type: ignore[index]
        delta = choice.delta
        if delta is not None:
            if delta.role:
                acc[0] = delta.role
            if delta.content:
                acc[1].add(delta.content)
            for call in delta.tool_calls or ():
                slot = acc[2].get(call.index)
                if slot is None:
                    slot = acc[2][call.index] = [None, None, StreamedText()]
                if call.id:
                    slot[0] = call.id
                fn = call.function
                if fn is not None:
                    if fn.name:
                        slot[1] = fn.name
                    if fn.arguments:
                        slot[2].add(fn.arguments)
        if choice.finish_reason is not None:
            acc[3] = choice.finish_reason

    def on_end(self, span: Any, error: BaseException | None) -> None:
        if self._choices:
            messages = []
            for _, (role, text, calls, finish) in sorted(self._choices.items()):
                parts = [text_part(str(text))] if text else []
                for _, (call_id, name, arguments) in sorted(calls.items()):
                    parts.append(tool_call_part(call_id, name, str(arguments)))
                messages.append(message(role or "assistant", parts, finish))
            self.output_messages = messages
        super().on_end(span, error)


OPERATION = Operation(CHAT, ChatObserver, request, capture)

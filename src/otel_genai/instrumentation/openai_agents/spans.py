"""How an SDK trace or span maps to an OTel span: name, kind and attributes at its start, what is added at its end.

An SDK trace becomes ``invoke_workflow {name}`` (built by the processor); ``agent`` -> ``invoke_agent {name}``;
``function`` -> ``execute_tool {name}``; ``handoff`` -> ``handoff {from} -> {to}``; ``guardrail`` -> ``guardrail
{name}`` (a triggered tripwire is an error); ``generation`` / ``response`` -> ``chat {model}`` CLIENT spans;
``task`` / ``turn`` / ``custom`` / anything else -> INTERNAL spans; a span's SDK ``error`` -> status ERROR.

Times are the SDK's (``started_at`` / ``ended_at``, ISO-8601 -> ns), so spans line up with the SDK's own view.
Content (tool arguments and results, model input and output) is recorded only when otel-genai content capture is on
*and* the SDK's ``trace_include_sensitive_data`` allowed it: with that setting off the SDK leaves these fields
``None``, and ``None`` is never recorded.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from otel_genai import content
from otel_genai import semconv as gen_ai

logger = logging.getLogger(__name__)

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_MICROSECOND = datetime.timedelta(microseconds=1)


def sdk_time_ns(iso: str | None) -> int | None:
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
            out.append(chat.output_message(msg, None))
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

    return responses.input_items(value)


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


def start_shape(data: Any, model: str | None) -> tuple[str, SpanKind, dict[str, Any]]:
    """Name, kind and attributes of the OTel span for an SDK span, from what is known at its start."""
    kind = getattr(data, "type", "custom")
    attrs: dict[str, Any] = {gen_ai.SPAN_TYPE: kind}
    if kind == "agent":
        name, attrs = gen_ai.agent_span(data.name)
        return name, SpanKind.INTERNAL, attrs
    if kind == "function":
        name, attrs = gen_ai.tool_span(data.name)
        return name, SpanKind.INTERNAL, attrs
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
        _set_dict(attrs, gen_ai.AGENT_NAME, getattr(data, "agent_name", None))
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


def finish_shape(span: Span, sdk_span: Any) -> None:
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
        usage = getattr(data, "usage", None)  # ResponseSpanData.usage exists from openai-agents 0.14
        _usage(span, usage if usage is not None else getattr(response, "usage", None))
        _set_messages(span, gen_ai.GEN_AI_INPUT_MESSAGES, data.input, _responses_input)
    elif kind == "handoff":
        _set(span, gen_ai.HANDOFF_FROM_AGENT, data.from_agent)
        _set(span, gen_ai.HANDOFF_TO_AGENT, data.to_agent)
        if data.to_agent:
            span.update_name(f"handoff {data.from_agent} -> {data.to_agent}")
    elif kind == "guardrail":
        span.set_attribute(gen_ai.GUARDRAIL_TRIGGERED, bool(data.triggered))
        if data.triggered:
            span.set_attribute(gen_ai.ERROR_TYPE, "GuardrailTripwireTriggered")
            span.set_status(Status(StatusCode.ERROR, f"guardrail {data.name} tripwire triggered"))
    error = sdk_span.error
    if error:
        message = error.get("message") if isinstance(error, dict) else str(error)
        span.set_attribute(gen_ai.ERROR_TYPE, message or "error")
        span.set_status(Status(StatusCode.ERROR, message or "error"))

"""Gemini contents, parts, tools and finish reasons -> the conventions' shapes.

Everything here reads both forms the SDK accepts: its pydantic types (``types.Content``, ``types.Part``, ...) and
the plain dicts of the same shape (snake_case keys, or the camelCase names of the wire). A value of a kind the SDK
does not document (a PIL image, a file object) becomes a placeholder text part, never an exception.

Finish reasons are mapped to the conventions' values: ``STOP`` -> ``stop``, ``MAX_TOKENS`` -> ``length``, the safety
family (``SAFETY``, ``RECITATION``, ``BLOCKLIST``, ``PROHIBITED_CONTENT``, ``SPII``, ``IMAGE_*``, ``LANGUAGE``) ->
``content_filter``, ``MALFORMED_FUNCTION_CALL`` / ``UNEXPECTED_TOOL_CALL`` -> ``error``, a ``STOP`` whose candidate
calls a function -> ``tool_call``; any other value is passed on lowercased (``other``, ``no_image``).
"""

from __future__ import annotations

import base64
import inspect
from collections.abc import Mapping
from typing import Any

from otel_genai import content
from otel_genai.instrumentation._llm import (
    message,
    text_part,
    tool_call_part,
    tool_call_response_part,
    tool_definition,
)

FINISH_REASONS = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "LANGUAGE": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "IMAGE_PROHIBITED_CONTENT": "content_filter",
    "IMAGE_RECITATION": "content_filter",
    "MALFORMED_FUNCTION_CALL": "error",
    "UNEXPECTED_TOOL_CALL": "error",
}
_ROLES = {"model": "assistant", "user": "user", "function": "tool", "tool": "tool", "system": "system"}
# non-function tool kinds of types.Tool (google_search, code_execution, ...): reported by their field name
_FUNCTION_DECLARATIONS = ("function_declarations", "functionDeclarations")


def get(obj: Any, key: str, camel: str | None = None) -> Any:
    """A field of an SDK model (attribute) or of a dict (snake_case key, else its camelCase name)."""
    if isinstance(obj, Mapping):
        value = obj.get(key)
        if value is None and camel is not None:
            value = obj.get(camel)
        return value
    return getattr(obj, key, None)


def finish_reason(reason: Any, calls_function: bool = False) -> str:
    """A Gemini finish reason (``types.FinishReason`` or its string) as the conventions' value."""
    raw = getattr(reason, "value", reason)
    raw = raw if isinstance(raw, str) else str(raw)
    if raw == "STOP" and calls_function:
        return "tool_call"
    return FINISH_REASONS.get(raw, raw.lower())


def _modality(mime_type: Any) -> str:
    """``image`` / ``audio`` / ``video`` from the MIME type; otherwise its top-level type (``application``)."""
    kind = mime_type.partition("/")[0] if isinstance(mime_type, str) else ""
    return kind or "unknown"


def part(value: Any) -> dict[str, Any]:
    """One Gemini part (``types.Part``, its dict, or a plain string) as a conventions message part."""
    if isinstance(value, str):
        return text_part(value)
    if not isinstance(value, Mapping) and not hasattr(type(value), "model_fields"):
        return text_part(content.placeholder(value))  # e.g. a PIL image: the SDK converts it, we only name it
    text = get(value, "text")
    if text is not None:
        if get(value, "thought"):
            return {"type": "reasoning", "content": text}
        return text_part(text)
    call = get(value, "function_call", "functionCall")
    if call is not None:
        return tool_call_part(get(call, "id"), get(call, "name"), get(call, "args") or {})
    response = get(value, "function_response", "functionResponse")
    if response is not None:
        out = tool_call_response_part(get(response, "id"), get(response, "response"))
        name = get(response, "name")
        if name:
            out["name"] = name
        return out
    blob = get(value, "inline_data", "inlineData")
    if blob is not None:
        data = get(blob, "data")
        if isinstance(data, (bytes, bytearray)):
            data = base64.b64encode(data).decode("ascii")
        mime_type = get(blob, "mime_type", "mimeType")
        return {"type": "blob", "modality": _modality(mime_type), "mime_type": mime_type, "content": data or ""}
    file = get(value, "file_data", "fileData")
    if file is not None:
        mime_type = get(file, "mime_type", "mimeType")
        uri = get(file, "file_uri", "fileUri")
        return {"type": "uri", "modality": _modality(mime_type), "mime_type": mime_type, "uri": uri or ""}
    code = get(value, "executable_code", "executableCode")
    if code is not None:
        return {"type": "executable_code", "content": get(code, "code") or ""}
    result = get(value, "code_execution_result", "codeExecutionResult")
    if result is not None:
        return {"type": "code_execution_result", "content": get(result, "output") or ""}
    return {"type": "unknown"}


def _is_content(value: Any) -> bool:
    if isinstance(value, Mapping):
        return "parts" in value or "role" in value
    return hasattr(value, "parts") and hasattr(value, "role")


def content_message(value: Any, default_role: str = "user") -> dict[str, Any]:
    """A ``types.Content`` (or its dict) as a conventions message; a user turn of function responses is ``tool``."""
    parts = [part(p) for p in get(value, "parts") or ()]
    role = get(value, "role")
    role = _ROLES.get(role, default_role) if isinstance(role, str) else default_role
    if role == "user" and parts and all(p["type"] == "tool_call_response" for p in parts):
        role = "tool"
    return message(role, parts)


def input_messages(contents: Any) -> list[dict[str, Any]]:
    """The request's ``contents`` (a string, a part, a content, or a list of those) as conventions messages.

    Loose parts between contents form one user message, as the SDK groups them."""
    items = contents if isinstance(contents, (list, tuple)) else [contents]
    messages: list[dict[str, Any]] = []
    loose: list[dict[str, Any]] = []
    for item in items:
        if _is_content(item):
            if loose:
                messages.append(message("user", loose))
                loose = []
            messages.append(content_message(item))
        else:
            loose.append(part(item))
    if loose:
        messages.append(message("user", loose))
    return messages


def system_instructions(value: Any) -> list[dict[str, Any]]:
    """``config.system_instruction`` (a string, part, content or list of parts) as conventions parts."""
    if value is None:
        return []
    if _is_content(value):
        return [part(p) for p in get(value, "parts") or ()]
    if isinstance(value, (list, tuple)):
        return [part(p) for p in value]
    return [part(value)]


def _json_schema(value: Any) -> Any:
    """A Gemini ``types.Schema`` (dumped by alias) as JSON Schema: its ``type`` values are upper case."""
    if isinstance(value, Mapping):
        return {k: v.lower() if k == "type" and isinstance(v, str) else _json_schema(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_schema(v) for v in value]
    return value


def _parameters(declaration: Any) -> Any:
    schema = get(declaration, "parameters_json_schema", "parametersJsonSchema")
    if schema is not None:
        return schema
    schema = get(declaration, "parameters")
    if schema is None:
        return None
    if hasattr(schema, "model_dump"):
        schema = schema.model_dump(mode="json", by_alias=True, exclude_none=True)
    return _json_schema(schema)


def tool_definitions(tools: Any) -> list[dict[str, Any]]:
    """``config.tools`` (``types.Tool``, its dict, or Python functions for automatic function calling)."""
    out: list[dict[str, Any]] = []
    for tool in tools if isinstance(tools, (list, tuple)) else ():
        if callable(tool) and not isinstance(tool, Mapping) and not hasattr(type(tool), "model_fields"):
            doc = inspect.getdoc(tool)
            out.append(tool_definition(getattr(tool, "__name__", "function"), doc or None))
            continue
        for declaration in get(tool, *_FUNCTION_DECLARATIONS) or ():
            out.append(
                tool_definition(get(declaration, "name"), get(declaration, "description"), _parameters(declaration))
            )
        fields = tool.keys() if isinstance(tool, Mapping) else type(tool).model_fields
        for field in fields:
            if field not in _FUNCTION_DECLARATIONS and get(tool, field) is not None:
                out.append({"type": field, "name": field})
    return out

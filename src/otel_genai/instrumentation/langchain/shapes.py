"""How a LangChain run maps to a span: name, kind and attributes at its start, what its end adds.

* the outermost chain / graph run -> ``invoke_workflow {name}``; an agent graph (``create_agent``: a run whose
  ``lc_agent_name`` / ``ls_integration`` metadata first appears on it) -> ``invoke_agent {name}``;
* a LangGraph node (a chain run named like its ``langgraph_node`` metadata) -> an INTERNAL span named for the node,
  with its step, triggers and path; any other chain -> an INTERNAL span named for the run;
* a tool -> ``execute_tool {name}`` (``gen_ai.tool.call.id`` when LangChain passes it); a retriever -> ``retrieval
  {name}``; a chat model -> ``chat {model}`` CLIENT (``text_completion {model}`` for a completion LLM) recorded by
  an :class:`~otel_genai.instrumentation._llm.LLMCallObserver` (request parameters, usage, finish reasons, response
  id / model, time to first chunk, metrics, content).

``configurable.thread_id`` (LangChain copies it into the run's metadata) -> ``gen_ai.conversation.id``. Content
(inputs / outputs, messages, tool arguments and results, documents) only when content capture is on, capped.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.trace import SpanKind

from otel_genai import content
from otel_genai import semconv as gen_ai
from otel_genai.instrumentation._llm import LLMCallObserver, message, parse_arguments, text_part, tool_call_part

# langchain metadata "ls_provider" -> gen_ai.provider.name
PROVIDERS = {
    "openai": "openai",
    "azure": "azure.ai.openai",
    "anthropic": "anthropic",
    "google_genai": "gcp.gen_ai",
    "google_vertexai": "gcp.vertex_ai",
    "bedrock": "aws.bedrock",
    "amazon_bedrock": "aws.bedrock",
    "mistralai": "mistral_ai",
    "groq": "groq",
    "deepseek": "deepseek",
    "xai": "x_ai",
    "cohere": "cohere",
}

# invocation parameter -> attribute
REQUEST_PARAMETERS = {
    "temperature": gen_ai.GEN_AI_REQUEST_TEMPERATURE,
    "max_tokens": gen_ai.GEN_AI_REQUEST_MAX_TOKENS,
    "max_completion_tokens": gen_ai.GEN_AI_REQUEST_MAX_TOKENS,
    "max_tokens_to_sample": gen_ai.GEN_AI_REQUEST_MAX_TOKENS,
    "top_p": gen_ai.GEN_AI_REQUEST_TOP_P,
    "top_k": gen_ai.GEN_AI_REQUEST_TOP_K,
    "stop": gen_ai.GEN_AI_REQUEST_STOP_SEQUENCES,
    "stop_sequences": gen_ai.GEN_AI_REQUEST_STOP_SEQUENCES,
    "seed": gen_ai.GEN_AI_REQUEST_SEED,
    "frequency_penalty": gen_ai.GEN_AI_REQUEST_FREQUENCY_PENALTY,
    "presence_penalty": gen_ai.GEN_AI_REQUEST_PRESENCE_PENALTY,
    "n": gen_ai.GEN_AI_REQUEST_CHOICE_COUNT,
}

_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool", "function": "tool"}


def run_name(serialized: Any, kwargs: dict[str, Any], default: str) -> str:
    name = kwargs.get("name")
    if not name and isinstance(serialized, dict):
        name = serialized.get("name")
        if not name:
            ids = serialized.get("id")
            name = ids[-1] if isinstance(ids, list) and ids else None
    return str(name) if name else default


def conversation(attrs: dict[str, Any], metadata: dict[str, Any]) -> None:
    thread_id = metadata.get("thread_id")
    if thread_id is not None and thread_id != "":
        attrs[gen_ai.GEN_AI_CONVERSATION_ID] = str(thread_id)


def agent_marker(metadata: dict[str, Any]) -> Any:
    """What marks runs of an agent graph: its ``lc_agent_name``, else ``create_agent``'s integration tag."""
    name = metadata.get("lc_agent_name")
    if name:
        return name
    return True if metadata.get("ls_integration") == "langchain_create_agent" else None


def chain_shape(name: str, metadata: dict[str, Any], root: bool, agent: bool) -> tuple[str, dict[str, Any]]:
    """Name and attributes of a chain run's span."""
    node = metadata.get("langgraph_node")
    if agent:
        marker = metadata.get("lc_agent_name")
        span_name, attrs = gen_ai.agent_span(str(marker) if marker else name)
    elif root:
        span_name, attrs = gen_ai.workflow_span(name)
    elif node is not None and node == name:
        span_name, attrs = str(node), {gen_ai.SPAN_TYPE: "node", gen_ai.LANGGRAPH_NODE: str(node)}
    else:
        span_name, attrs = name, {gen_ai.SPAN_TYPE: "chain"}
    if node is not None and node == name:
        step = metadata.get("langgraph_step")
        if isinstance(step, int):
            attrs[gen_ai.LANGGRAPH_STEP] = step
        triggers = metadata.get("langgraph_triggers")
        if isinstance(triggers, (list, tuple)):
            attrs[gen_ai.LANGGRAPH_TRIGGERS] = [str(t) for t in triggers]
        path = metadata.get("langgraph_path")
        if isinstance(path, (list, tuple)):
            attrs[gen_ai.LANGGRAPH_PATH] = "/".join(str(p) for p in path)
    if root or agent:
        conversation(attrs, metadata)
    return span_name, attrs


def tool_shape(serialized: Any, input_str: Any, kwargs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    name = run_name(serialized, kwargs, "tool")
    span_name, attrs = gen_ai.tool_span(name, kwargs.get("tool_call_id"))
    description = serialized.get("description") if isinstance(serialized, dict) else None
    if description:
        attrs["gen_ai.tool.description"] = str(description)
    if content.capture_mode().on_span:
        inputs = kwargs.get("inputs")
        arguments = inputs if inputs is not None else parse_arguments(input_str)
        attrs[gen_ai.GEN_AI_TOOL_CALL_ARGUMENTS] = content.to_json(arguments)
    return span_name, attrs


def tool_result(output: Any) -> str:
    value = getattr(output, "content", output)
    return content.truncate(value) if isinstance(value, str) else content.to_json(value)


def retriever_shape(serialized: Any, query: Any, kwargs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    name = run_name(serialized, kwargs, "retriever")
    attrs: dict[str, Any] = {gen_ai.SPAN_TYPE: "retriever", gen_ai.GEN_AI_OPERATION_NAME: gen_ai.RETRIEVAL}
    if content.capture_mode().on_span and query is not None:
        attrs[gen_ai.INPUT] = content.to_json(query)
    return gen_ai.span_name(gen_ai.RETRIEVAL, name), attrs


def documents(docs: Any) -> str:
    return content.to_json(
        [{"content": getattr(d, "page_content", None), "metadata": getattr(d, "metadata", None)} for d in docs or ()]
    )


def model_request(
    serialized: Any, metadata: dict[str, Any], kwargs: dict[str, Any], operation: str
) -> tuple[str, str | None, dict[str, Any], dict[str, Any]]:
    """(span name, langchain provider, span attributes, metric attributes) of a model run."""
    params = kwargs.get("invocation_params") or {}
    provider = metadata.get("ls_provider") or None
    model = params.get("model") or params.get("model_name") or metadata.get("ls_model_name")
    metric: dict[str, Any] = {gen_ai.GEN_AI_OPERATION_NAME: operation}
    metric[gen_ai.GEN_AI_PROVIDER_NAME] = PROVIDERS.get(str(provider), str(provider)) if provider else "langchain"
    if model:
        metric[gen_ai.GEN_AI_REQUEST_MODEL] = str(model)
    attrs: dict[str, Any] = dict(metric)
    for key, attribute in REQUEST_PARAMETERS.items():
        value = params.get(key)
        if value is None:
            continue
        if attribute == gen_ai.GEN_AI_REQUEST_STOP_SEQUENCES:
            value = [value] if isinstance(value, str) else [str(v) for v in value if isinstance(v, str)]
        elif not isinstance(value, (str, bool, int, float)):
            continue
        attrs[attribute] = value
    conversation(attrs, metadata)
    return gen_ai.span_name(operation, model), provider, attrs, metric


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        texts = [b if isinstance(b, str) else b.get("text") for b in value if isinstance(b, (str, dict))]
        return "".join(t for t in texts if isinstance(t, str))
    return None


def convert_message(msg: Any, finish_reason: str | None = None) -> dict[str, Any]:
    """A LangChain message in the conventions' message shape."""
    role = _ROLES.get(getattr(msg, "type", ""), "user")
    parts: list[dict[str, Any]] = []
    if role == "tool":
        parts.append({"type": "tool_call_response", "id": getattr(msg, "tool_call_id", None), "response": msg.content})
    else:
        text = _text(getattr(msg, "content", None))
        if text:
            parts.append(text_part(text))
        for call in getattr(msg, "tool_calls", None) or ():
            parts.append(tool_call_part(call.get("id"), call.get("name"), call.get("args")))
    return message(role, parts, finish_reason)


def _usage(observer: LLMCallObserver, usage: Any) -> None:
    if not isinstance(usage, dict):
        return
    if isinstance(usage.get("input_tokens"), int):
        observer.input_tokens = usage["input_tokens"]
    if isinstance(usage.get("output_tokens"), int):
        observer.output_tokens = usage["output_tokens"]
    details = usage.get("input_token_details")
    if isinstance(details, dict):
        if isinstance(details.get("cache_read"), int):
            observer.cache_read_tokens = details["cache_read"]
        if isinstance(details.get("cache_creation"), int):
            observer.cache_creation_tokens = details["cache_creation"]


def _finish_reason(info: Any) -> str | None:
    if not isinstance(info, dict):
        return None
    reason = info.get("finish_reason") or info.get("stop_reason")
    return str(reason) if reason else None


def model_response(observer: LLMCallObserver, result: Any) -> None:
    """Fill the observer from an ``LLMResult``."""
    outputs = []
    for choices in getattr(result, "generations", None) or ():
        for generation in choices:
            msg = getattr(generation, "message", None)
            info = getattr(msg, "response_metadata", None) or {}
            reason = _finish_reason(info) or _finish_reason(getattr(generation, "generation_info", None))
            if reason:
                observer.finish_reasons.append(reason)
            model = info.get("model_name") or info.get("model")
            if model and observer.response_model is None:
                observer.response_model = str(model)
            response_id = info.get("id") or getattr(msg, "id", None)
            if response_id and observer.response_id is None and not str(response_id).startswith("lc_run-"):
                observer.response_id = str(response_id)
            if observer.input_tokens is None:
                _usage(observer, getattr(msg, "usage_metadata", None))
            if observer.capture:
                if msg is not None:
                    outputs.append(convert_message(msg, reason or "stop"))
                else:
                    outputs.append(message("assistant", [text_part(str(generation.text))], reason or "stop"))
    llm_output = getattr(result, "llm_output", None)
    if isinstance(llm_output, dict):
        if observer.response_model is None and llm_output.get("model_name"):
            observer.response_model = str(llm_output["model_name"])
        usage = llm_output.get("token_usage") or llm_output.get("usage")
        if observer.input_tokens is None and isinstance(usage, dict):
            prompt = usage.get("prompt_tokens", usage.get("input_tokens"))
            completion = usage.get("completion_tokens", usage.get("output_tokens"))
            if isinstance(prompt, int):
                observer.input_tokens = prompt
            if isinstance(completion, int):
                observer.output_tokens = completion
    if observer.capture and outputs:
        observer.output_messages = outputs


def model_input(observer: LLMCallObserver, messages: Any, prompts: Any) -> None:
    """The request content (only while capturing)."""
    if messages is not None:
        batch = messages[0] if messages else []
        converted = [convert_message(m) for m in batch]
        system = [p for m in converted if m["role"] == "system" for p in m["parts"]]
        if system:
            observer.system_instructions = system
        observer.input_messages = [m for m in converted if m["role"] != "system"]
    elif prompts:
        observer.input_messages = [message("user", [text_part(str(prompts[0]))])]


SPAN_KIND = {"chat": SpanKind.CLIENT, "text_completion": SpanKind.CLIENT}

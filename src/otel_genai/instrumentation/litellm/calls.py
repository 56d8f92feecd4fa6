"""The LiteLLM call wrapper: provider routing, request attributes, one CLIENT span per call."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from opentelemetry.trace import SpanKind

from otel_genai import semconv as gen_ai
from otel_genai.instrumentation._llm import LLMCallObserver, Telemetry, request_attributes, server_attributes, span_name
from otel_genai.instrumentation.litellm import responses
from otel_genai.instrumentation.openai import chat, embeddings
from otel_genai.lifecycle import SpanRun, call_in_span, start_run

__all__ = ["CHAT", "EMBEDDINGS", "PROVIDERS", "TEXT_COMPLETION", "Operation", "call_wrapper", "provider_name"]

logger = logging.getLogger(__name__)

LITELLM = "litellm"  # gen_ai.provider.name when LiteLLM cannot route the model (the call then fails as well)

# LiteLLM's provider names -> the conventions' gen_ai.provider.name values; any other name is kept as LiteLLM's
PROVIDERS = {
    "openai": "openai",
    "text-completion-openai": "openai",
    "chatgpt": "openai",
    "azure": "azure.ai.openai",
    "azure_text": "azure.ai.openai",
    "azure_ai": "azure.ai.inference",
    "anthropic": "anthropic",
    "anthropic_text": "anthropic",
    "bedrock": "aws.bedrock",
    "gemini": "gcp.gemini",
    "vertex_ai": "gcp.vertex_ai",
    "vertex_ai_beta": "gcp.vertex_ai",
    "cohere": "cohere",
    "cohere_chat": "cohere",
    "mistral": "mistral_ai",
    "codestral": "mistral_ai",
    "text-completion-codestral": "mistral_ai",
    "groq": "groq",
    "deepseek": "deepseek",
    "perplexity": "perplexity",
    "xai": "x_ai",
    "watsonx": "ibm.watsonx.ai",
    "watsonx_text": "ibm.watsonx.ai",
}

_PARAMS = {
    "temperature": gen_ai.GEN_AI_REQUEST_TEMPERATURE,
    "top_p": gen_ai.GEN_AI_REQUEST_TOP_P,
    "top_k": gen_ai.GEN_AI_REQUEST_TOP_K,
    "max_tokens": gen_ai.GEN_AI_REQUEST_MAX_TOKENS,
    "max_completion_tokens": gen_ai.GEN_AI_REQUEST_MAX_TOKENS,
    "stop": gen_ai.GEN_AI_REQUEST_STOP_SEQUENCES,
    "seed": gen_ai.GEN_AI_REQUEST_SEED,
    "frequency_penalty": gen_ai.GEN_AI_REQUEST_FREQUENCY_PENALTY,
    "presence_penalty": gen_ai.GEN_AI_REQUEST_PRESENCE_PENALTY,
}

_CACHE_MAX = 256  # routes and servers are per model / endpoint: few, but never let them grow without bound
_routes: dict[tuple[Any, Any, Any], tuple[str, str, str | None]] = {}
_servers: dict[str, dict[str, Any]] = {}


def provider_name(litellm_provider: str | None) -> str:
    """The conventions' ``gen_ai.provider.name`` for one of LiteLLM's provider names."""
    if not litellm_provider:
        return LITELLM
    return PROVIDERS.get(litellm_provider, litellm_provider)


def route(model: str, params: dict[str, Any]) -> tuple[str, str, str | None]:
    """(model as sent to the provider, provider name, api_base) as LiteLLM routes ``model``; cached per route.

    ``litellm.get_llm_provider`` costs about 30 µs a call: once per (model, provider, api_base) is enough.
    """
    custom = params.get("custom_llm_provider")
    api_base = params.get("api_base") or params.get("base_url")
    key = (model, custom, api_base)
    found = _routes.get(key)
    if found is None:
        try:
            from litellm import get_llm_provider

            resolved, provider, _, routed_base = get_llm_provider(
                model=model, custom_llm_provider=custom, api_base=api_base
            )
            found = (resolved or model, provider_name(provider), api_base or routed_base)
        except Exception:  # a model LiteLLM cannot route: the call raises the same error itself
            found = (model, LITELLM, api_base)
        if len(_routes) >= _CACHE_MAX:
            _routes.clear()
        _routes[key] = found
    return found


def _server(url: Any) -> dict[str, Any]:
    if not isinstance(url, str) or not url:
        return {}
    found = _servers.get(url)
    if found is None:
        if len(_servers) >= _CACHE_MAX:
            _servers.clear()
        found = _servers[url] = server_attributes(url)
    return found


def _chat_request(params: dict[str, Any]) -> dict[str, Any]:
    attributes = request_attributes(params, _PARAMS)
    n = params.get("n")
    if isinstance(n, int) and not isinstance(n, bool) and n != 1:
        attributes[gen_ai.GEN_AI_REQUEST_CHOICE_COUNT] = n
    kind = chat.output_type(params.get("response_format"))
    if kind is not None:
        attributes[gen_ai.GEN_AI_OUTPUT_TYPE] = kind
    return attributes


def _chat_capture(observer: LLMCallObserver, params: dict[str, Any]) -> None:
    observer.input_messages = chat.input_messages(params.get("messages"))
    tools = params.get("tools")
    if isinstance(tools, (list, tuple)):
        observer.tool_definitions = chat.tool_definitions(tools)


def _text_request(params: dict[str, Any]) -> dict[str, Any]:
    attributes = request_attributes(params, _PARAMS)
    n = params.get("n")
    if isinstance(n, int) and not isinstance(n, bool) and n != 1:
        attributes[gen_ai.GEN_AI_REQUEST_CHOICE_COUNT] = n
    return attributes


def _text_capture(observer: LLMCallObserver, params: dict[str, Any]) -> None:
    observer.input_messages = responses.prompt_messages(params.get("prompt"))


class Operation:
    """How one LiteLLM function is traced: operation name, positional parameter names, observer, request reading."""

    __slots__ = ("capture", "name", "observer_cls", "positional", "request")

    def __init__(
        self,
        name: str,
        positional: tuple[str, ...],
        observer_cls: type[LLMCallObserver],
        request: Callable[[dict], dict[str, Any]],
        capture: Callable[[Any, dict], None],
    ) -> None:
        self.name = name
        self.positional = positional
        self.observer_cls = observer_cls
        self.request = request
        self.capture = capture

    def start(self, telemetry: Telemetry, args: tuple, kwargs: dict) -> SpanRun | None:
        params = {**dict(zip(self.positional, args, strict=False)), **kwargs} if args else kwargs
        model = params.get("model")
        if isinstance(model, str) and model:
            model, provider, api_base = route(model, params)
        else:
            model, provider, api_base = None, LITELLM, None
        common: dict[str, Any] = {gen_ai.GEN_AI_OPERATION_NAME: self.name, gen_ai.GEN_AI_PROVIDER_NAME: provider}
        if model:
            common[gen_ai.GEN_AI_REQUEST_MODEL] = model
        common.update(_server(api_base))
        attributes = self.request(params)
        stream = params.get("stream") is True
        if stream:
            attributes[gen_ai.GEN_AI_REQUEST_STREAM] = True
        attributes.update(common)
        observer = self.observer_cls(telemetry, common, stream)
        if observer.capture is not None:
            try:
                self.capture(observer, params)
            except Exception:
                logger.debug("otel-genai: capturing LiteLLM input failed", exc_info=True)
        return start_run(telemetry.tracer, span_name(self.name, model), SpanKind.CLIENT, attributes, observer)


CHAT = Operation("chat", ("model", "messages"), responses.CompletionObserver, _chat_request, _chat_capture)
TEXT_COMPLETION = Operation(
    "text_completion", ("prompt", "model"), responses.TextCompletionObserver, _text_request, _text_capture
)
EMBEDDINGS = Operation(
    "embeddings", ("model", "input"), responses.EmbeddingsObserver, embeddings.request, embeddings.capture
)


def call_wrapper(operation: Operation) -> Callable[..., Any]:
    """A wrapper tracing ``operation`` (sync or async, stream or not: the engine handles whatever LiteLLM returns).

    ``suppress_instrumentation()`` and an enclosing CLIENT span of ours are checked by ``start_run``.
    """

    def wrapper(telemetry: Telemetry, wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
        try:
            run = operation.start(telemetry, args, kwargs)
        except Exception:
            logger.debug("otel-genai: starting LiteLLM span failed", exc_info=True)
            return wrapped(*args, **kwargs)
        return call_in_span(run, wrapped, args, kwargs)

    return wrapper

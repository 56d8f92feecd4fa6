"""Wrappers shared by the google-genai patches: the provider and server of a client, one call wrapper, and the chat
sessions' context wrapper.

Each is a :data:`~otel_genai.instrumentation.base.Wrapper` (it gets the call's telemetry first). The SDK's methods
take keyword arguments only (``model=``, ``contents=``, ``config=``), so the wrappers read ``kwargs``.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.trace import SpanKind

from otel_genai import semconv as gen_ai
from otel_genai.instrumentation._llm import LLMCallObserver, Telemetry, server_attributes, span_name
from otel_genai.lifecycle import SpanRun, call_in_context, call_in_span, start_run

logger = logging.getLogger(__name__)

GEMINI = "gcp.gemini"  # the Gemini Developer API (generativelanguage.googleapis.com)
VERTEX_AI = "gcp.vertex_ai"  # the Vertex AI mode (Client(vertexai=True))

_server_cache: weakref.WeakKeyDictionary[Any, tuple[Any, str, dict[str, Any]]] = weakref.WeakKeyDictionary()


def client_attributes(module: Any) -> tuple[str, dict[str, Any]]:
    """(provider name, server attributes) of the API client behind ``client.models`` / ``client.aio.models``.

    Read from the module's ``_api_client`` (``vertexai`` and the HTTP options' ``base_url``), cached per API client
    (weakly) while its base URL is the same object.
    """
    api_client = getattr(module, "_api_client", None)
    options = getattr(api_client, "_http_options", None)
    base_url = get_option(options, "base_url")
    try:
        cached = _server_cache.get(api_client)
    except TypeError:  # not weak-referenceable / hashable
        cached = None
    if cached is not None and cached[0] is base_url:
        return cached[1], cached[2]
    provider = VERTEX_AI if getattr(api_client, "vertexai", False) else GEMINI
    server = server_attributes(base_url) if base_url else {}
    try:
        _server_cache[api_client] = (base_url, provider, server)
    except TypeError:
        pass
    return provider, server


def get_option(options: Any, name: str) -> Any:
    return options.get(name) if isinstance(options, Mapping) else getattr(options, name, None)


class Operation:
    """How one patched method is traced: its operation name, observer class and request-side attributes.

    ``request(config) -> attributes`` reads the request parameters from the call's ``config`` (a config object or
    its dict); ``capture(observer, kwargs)`` fills the input content (only called while capturing).
    """

    __slots__ = ("capture", "name", "observer_cls", "request", "stream")

    def __init__(
        self,
        name: str,
        observer_cls: type[LLMCallObserver],
        request: Callable[[Any], dict[str, Any]],
        capture: Callable[[LLMCallObserver, dict], None] | None = None,
        stream: bool = False,
    ) -> None:
        self.name = name
        self.observer_cls = observer_cls
        self.request = request
        self.capture = capture
        self.stream = stream

    def start(self, telemetry: Telemetry, module: Any, kwargs: dict) -> SpanRun | None:
        provider, server = client_attributes(module)
        model = kwargs.get("model")
        common: dict[str, Any] = {gen_ai.GEN_AI_OPERATION_NAME: self.name, gen_ai.GEN_AI_PROVIDER_NAME: provider}
        if isinstance(model, str):
            common[gen_ai.GEN_AI_REQUEST_MODEL] = model
        else:
            model = None
        common.update(server)
        config = kwargs.get("config")
        attributes = self.request(config) if config is not None else {}
        if self.stream:
            attributes[gen_ai.GEN_AI_REQUEST_STREAM] = True
        attributes.update(common)
        observer = self.observer_cls(telemetry, common, self.stream)
        if observer.capture is not None and self.capture is not None:
            try:
                self.capture(observer, kwargs)
            except Exception:
                logger.debug("otel-genai: capturing google-genai input failed", exc_info=True)
        return start_run(telemetry.tracer, span_name(self.name, model), SpanKind.CLIENT, attributes, observer)


def call_wrapper(operation: Operation) -> Callable[..., Any]:
    """A wrapper tracing ``operation``: the engine ends the span for whatever the SDK returns (a response, a
    generator, a coroutine resolving to a response or to an async generator).

    ``suppress_instrumentation()`` is checked once, by ``start_run`` (no span, the call passes straight through).
    """

    def wrapper(telemetry: Telemetry, wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
        try:
            run = operation.start(telemetry, instance, kwargs)
        except Exception:
            logger.debug("otel-genai: starting google-genai span failed", exc_info=True)
            return wrapped(*args, **kwargs)
        return call_in_span(run, wrapped, args, kwargs)

    return wrapper


def chat_wrapper(telemetry: Telemetry, wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
    """A chat session's ``send_message_stream`` (sync and async) and async ``send_message``: no span of its own.

    The session calls ``models.generate_content*`` (traced) only when its generator is first stepped or its
    coroutine awaited, possibly in another task. This runs the session's call in the caller's context at call time
    (:func:`~otel_genai.lifecycle.call_in_context`), so each of those spans has the caller's span as its parent.
    """
    if not is_instrumentation_enabled():
        return wrapped(*args, **kwargs)
    return call_in_context(otel_context.get_current(), wrapped, args, kwargs)

"""Wrappers shared by the OpenAI patches: one generic call wrapper and the stream-helper fixes (raw and streaming
responses: :mod:`otel_genai.instrumentation._stainless`).

Each is a :data:`~otel_genai.instrumentation.base.Wrapper` (it gets the call's telemetry first); the instrumentor's
guard passes calls straight through while not instrumented, so a bound method the SDK cached while we were
instrumented (``with_raw_response`` captures ``resource.create`` once) is harmless after ``uninstrument()``.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from typing import Any

from opentelemetry.trace import SpanKind

from otel_genai import semconv as gen_ai
from otel_genai.instrumentation._llm import LLMCallObserver, Telemetry, server_attributes, span_name
from otel_genai.instrumentation._stainless import call_parked, parks, unparsed
from otel_genai.lifecycle import SpanRun, TracedAsyncIterator, TracedIterator, call_in_span, start_run

logger = logging.getLogger(__name__)

OPENAI = "openai"
AZURE = "azure.ai.openai"
_AZURE_HOSTS = (".openai.azure.com", ".cognitiveservices.azure.com")


_server_cache: weakref.WeakKeyDictionary[Any, tuple[Any, str, dict[str, Any]]] = weakref.WeakKeyDictionary()


def client_attributes(resource: Any) -> tuple[str, dict[str, Any]]:
    """(provider name, server attributes) of the client behind a resource.

    Cached per client (weakly: the entry goes with the client) while its base URL is the same object. The URL is
    read from the client's ``_base_url`` when it has one: openai 3's public ``base_url`` property imports a module
    on every access (about 1 µs a call).
    """
    client = getattr(resource, "_client", None)
    state = getattr(client, "__dict__", None)
    base_url = state.get("_base_url") if state else None
    if base_url is None:
        base_url = getattr(client, "base_url", None)
    try:
        cached = _server_cache.get(client)
    except TypeError:  # not weak-referenceable / hashable
        cached = None
    if cached is not None and cached[0] is base_url:
        return cached[1], cached[2]
    text = str(base_url) if base_url is not None else ""
    server = server_attributes(text) if text else {}
    host = server.get("server.address", "")
    azure = type(client).__name__.endswith("AzureOpenAI") or host.endswith(_AZURE_HOSTS)
    provider = AZURE if azure else OPENAI
    try:
        _server_cache[client] = (base_url, provider, server)
    except TypeError:
        pass
    return provider, server


class OpenAIObserver(LLMCallObserver):
    """Base observer for OpenAI calls: unwraps a ``with_raw_response`` result before reading it."""

    __slots__ = ()

    def value(self, value: Any) -> None:
        value = unparsed(value)
        if value is not None:  # None: a streaming response that could not be parked, the body is the caller's
            self.response(value)

    def response(self, value: Any) -> None:
        """The parsed response object of a non-stream call."""


class Operation:
    """How one patched method is traced: its operation name, observer class and request-side attributes.

    ``request(kwargs) -> attributes`` (the operation's own request parameters; ``stream`` is handled here);
    ``capture(observer, kwargs)`` fills the input content.
    """

    __slots__ = ("capture", "name", "observer_cls", "request")

    def __init__(
        self,
        name: str,
        observer_cls: type[OpenAIObserver],
        request: Callable[[dict], dict[str, Any]],
        capture: Callable[[OpenAIObserver, dict], None] | None = None,
    ) -> None:
        self.name = name
        self.observer_cls = observer_cls
        self.request = request
        self.capture = capture

    def start(self, telemetry: Telemetry, resource: Any, kwargs: dict) -> tuple[SpanRun | None, bool]:
        """Start the span; the flag says the result is a response object whose ``parse()`` yields the body."""
        provider, server = client_attributes(resource)
        model = kwargs.get("model")
        common: dict[str, Any] = {gen_ai.GEN_AI_OPERATION_NAME: self.name, gen_ai.GEN_AI_PROVIDER_NAME: provider}
        if isinstance(model, str):
            common[gen_ai.GEN_AI_REQUEST_MODEL] = model
        else:
            model = None
        common.update(server)
        attributes = self.request(kwargs)
        stream = kwargs.get("stream") is True
        if stream:
            attributes[gen_ai.GEN_AI_REQUEST_STREAM] = True
        attributes.update(common)
        observer = self.observer_cls(telemetry, common, stream)
        if observer.capture is not None and self.capture is not None:
            try:
                self.capture(observer, kwargs)
            except Exception:
                logger.debug("otel-genai: capturing OpenAI input failed", exc_info=True)
        run = start_run(telemetry.tracer, span_name(self.name, model), SpanKind.CLIENT, attributes, observer)
        return run, run is not None and parks(kwargs, stream)


def call_wrapper(operation: Operation) -> Callable[..., Any]:
    """A wrapper tracing ``operation`` (sync or async: the engine handles whatever the SDK returns).

    ``suppress_instrumentation()`` is checked once, by ``start_run`` (no span, the call passes straight through).
    """

    def wrapper(telemetry: Telemetry, wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
        try:
            run, parked = operation.start(telemetry, instance, kwargs)
        except Exception:
            logger.debug("otel-genai: starting OpenAI span failed", exc_info=True)
            return wrapped(*args, **kwargs)
        if parked:
            return call_parked(run, wrapped, args, kwargs)
        return call_in_span(run, wrapped, args, kwargs)

    return wrapper


# -- stream helpers: ChatCompletionStream / ResponseStream close the HTTP response, not the raw stream ------------


def helper_close_wrapper(
    telemetry: Telemetry, wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict
) -> Any:
    try:
        return wrapped(*args, **kwargs)
    finally:
        raw = getattr(instance, "_raw_stream", None)
        if isinstance(raw, TracedIterator):
            raw.close()  # closing twice is harmless for the SDK; ends our span as stopped early if still open


async def async_helper_close_wrapper(
    telemetry: Telemetry, wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict
) -> Any:
    try:
        return await wrapped(*args, **kwargs)
    finally:
        raw = getattr(instance, "_raw_stream", None)
        if isinstance(raw, TracedAsyncIterator):
            await raw.close()

"""Wrappers shared by the OpenAI patches: one generic call wrapper, the raw/streaming-response and stream-helper fixes.

Each is a :data:`~otel_genai.instrumentation.base.Wrapper` (it gets the call's telemetry first); the instrumentor's
guard passes calls straight through while not instrumented, so a bound method the SDK cached while we were
instrumented (``with_raw_response`` captures ``resource.create`` once) is harmless after ``uninstrument()``.
"""

from __future__ import annotations

import functools
import inspect
import logging
import weakref
from collections.abc import Callable
from typing import Any

from opentelemetry.trace import SpanKind

from otel_genai import semconv as gen_ai
from otel_genai.instrumentation._llm import (
    LLMCallObserver,
    Telemetry,
    await_attached,
    call_attached,
    server_attributes,
    span_name,
)
from otel_genai.lifecycle import (
    Outcome,
    SpanRun,
    TracedAsyncIterator,
    TracedIterator,
    call_in_span,
    start_run,
    wrap_result,
)

logger = logging.getLogger(__name__)

OPENAI = "openai"
AZURE = "azure.ai.openai"
RAW_RESPONSE_HEADER = "X-Stainless-Raw-Response"
# the header's values set by with_raw_response ("true") and with_streaming_response ("stream")
_RAW, _STREAMING = "true", "stream"
# the response objects a parked run waits on: parse() hands over the body, close() without it is stopping early
_PARKING = frozenset(("LegacyAPIResponse", "APIResponse", "AsyncAPIResponse"))
_AZURE_HOSTS = (".openai.azure.com", ".cognitiveservices.azure.com")
_RUN = "_otel_genai_run"
_PROXY = "_otel_genai_stream"


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
        name = type(value).__name__
        if name == "LegacyAPIResponse":
            value = value.parse()  # cached by the SDK: the caller's own parse() returns this same object
        elif name in _PARKING:  # a streaming response that could not be parked: the body is the caller's to read
            return
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
        parked = False
        if run is not None:
            headers = kwargs.get("extra_headers")
            if isinstance(headers, dict):
                mode = headers.get(RAW_RESPONSE_HEADER)
                # with_raw_response parses a plain body at once (the observer reads it); a stream waits for parse()
                parked = mode == _STREAMING or (stream and mode == _RAW)
        return run, parked


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
            return _call_parked(run, wrapped, args, kwargs)
        return call_in_span(run, wrapped, args, kwargs)

    return wrapper


# -- with_raw_response(stream=True) and with_streaming_response: the body only exists once the caller parse()s --
#
# The call returns a response object (LegacyAPIResponse / APIResponse / AsyncAPIResponse) before the body is read.
# The run is parked on it: its parse() hands the body to the engine (a stream gets the stream proxy, a plain body
# ends the span with its attributes); its close() (the ``with`` exit of with_streaming_response) before that ends the
# span as stopped early; a response dropped unparsed ends it as abandoned when the run is collected.


def _call_parked(run: SpanRun, fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    result = call_attached(run, functools.partial(fn, *args, **kwargs))
    if inspect.iscoroutine(result):
        return _await_parked(run, result)
    return _park(run, result)


async def _await_parked(run: SpanRun, coroutine: Any) -> Any:
    return _park(run, await await_attached(run, coroutine))


def _park(run: SpanRun, result: Any) -> Any:
    """Park ``run`` on a response object until its parse(); anything else goes to the engine."""
    if any(cls.__name__ in _PARKING for cls in type(result).__mro__):
        try:
            result.__dict__[_RUN] = run
            return result
        except Exception:
            logger.debug("otel-genai: cannot track raw response", exc_info=True)
    return wrap_result(run, result)


def _parsed(state: dict, result: Any) -> Any:
    """What parse() returns: the stream proxy (the same one every time) or the body, ending a parked run."""
    proxy = state.get(_PROXY)
    if proxy is not None and proxy.__wrapped__ is result:
        return proxy
    run = state.pop(_RUN, None)
    if run is None:
        return result
    wrapped = wrap_result(run, result)  # a plain body ends the span here, with the response's attributes
    if wrapped is not result:
        state[_PROXY] = wrapped
    return wrapped


def _parse_failed(state: dict | None, exc: BaseException) -> None:
    run = state.pop(_RUN, None) if state else None
    if run is not None:
        run.end_with(exc)


def parse_wrapper(telemetry: Telemetry, wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
    """``LegacyAPIResponse.parse`` / ``APIResponse.parse``: hand the body of a traced call to the engine."""
    state = getattr(instance, "__dict__", None)
    try:
        result = wrapped(*args, **kwargs)
    except BaseException as exc:
        _parse_failed(state, exc)
        raise
    if not state:
        return result
    return _parsed(state, result)


async def async_parse_wrapper(
    telemetry: Telemetry, wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict
) -> Any:
    """``AsyncAPIResponse.parse``: the async twin of :func:`parse_wrapper`."""
    state = getattr(instance, "__dict__", None)
    try:
        result = await wrapped(*args, **kwargs)
    except BaseException as exc:
        _parse_failed(state, exc)
        raise
    if not state:
        return result
    return _parsed(state, result)


def _closed(state: dict | None) -> None:
    if not state:
        return
    run = state.pop(_RUN, None)
    proxy = state.get(_PROXY)
    if run is None and proxy is not None:
        run = getattr(proxy, "_self_run", None)
    if run is not None:
        run.end(Outcome.STOPPED_EARLY)  # no-op when the stream already ended


def response_close_wrapper(
    telemetry: Telemetry, wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict
) -> Any:
    """``APIResponse.close`` (with_streaming_response's ``with`` exit): the body was not read to the end."""
    try:
        return wrapped(*args, **kwargs)
    finally:
        _closed(getattr(instance, "__dict__", None))


async def async_response_close_wrapper(
    telemetry: Telemetry, wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict
) -> Any:
    """``AsyncAPIResponse.close``: the async twin of :func:`response_close_wrapper`."""
    try:
        return await wrapped(*args, **kwargs)
    finally:
        _closed(getattr(instance, "__dict__", None))


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


# -- with_raw/streaming_response accessed before instrument(): its cached wrapper holds the unpatched bound method -


class RawMethod:
    """Data descriptor put on a ``*WithRawResponse`` class while instrumented.

    The SDK's raw-response object stores ``to_raw_response_wrapper(resource.create)`` in its instance ``__dict__``
    when first accessed; a data descriptor on the class takes precedence over that entry, so every access resolves
    ``resource.create`` through the (patched) resource class again. Removing it on uninstrument makes the stored
    entry visible again: the SDK is exactly as before.
    """

    __slots__ = ("method", "resource_attr", "wrap")

    def __init__(self, resource_attr: str, method: str, wrap: Callable[[Any], Any]) -> None:
        self.resource_attr = resource_attr
        self.method = method
        self.wrap = wrap

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self
        state = obj.__dict__
        resource = state.get(self.resource_attr)
        if resource is None or self.method not in state:  # never add a method this SDK version does not have
            try:
                return state[self.method]
            except KeyError:
                raise AttributeError(self.method) from None
        return self.wrap(getattr(resource, self.method))

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.method] = value

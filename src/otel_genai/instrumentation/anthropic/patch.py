"""The wrappers: Messages.create / Messages.stream (sync and async) and the SDK's own span hook.

Each is a :data:`~otel_genai.instrumentation.base.Wrapper`: it gets the call's telemetry first, and the
instrumentor's guard passes calls straight through while not instrumented.

Payload parsing (events, messages, content parts) lives in :mod:`.messages`; the conventions' attributes,
metrics and content shapes in :mod:`otel_genai.instrumentation._llm`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import wrapt
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.trace import SpanKind

from otel_genai import semconv as gen_ai
from otel_genai.instrumentation._llm import (
    Telemetry,
    await_attached,
    call_attached,
    request_attributes,
    server_attributes,
    span_name,
)
from otel_genai.instrumentation._stainless import call_parked, parks
from otel_genai.instrumentation.anthropic.messages import MessagesObserver
from otel_genai.lifecycle import SpanRun, call_in_span, start_run, wrap_result

logger = logging.getLogger(__name__)

PROVIDER = "anthropic"
OPERATION = "chat"

# request parameters the conventions name: {create() kwarg or extra_body key: attribute}
REQUEST_PARAMS = {
    "max_tokens": gen_ai.GEN_AI_REQUEST_MAX_TOKENS,
    "temperature": gen_ai.GEN_AI_REQUEST_TEMPERATURE,
    "top_p": gen_ai.GEN_AI_REQUEST_TOP_P,
    "top_k": gen_ai.GEN_AI_REQUEST_TOP_K,
    "stop_sequences": gen_ai.GEN_AI_REQUEST_STOP_SEQUENCES,
}

# the OTel context key that marks "this is one of our Messages calls": its value is our span
_CALL_SPAN = otel_context.create_key("otel_genai.anthropic.call_span")


# -- starting a call -------------------------------------------------------------------------------------------


_servers: dict[str, dict[str, Any]] = {}  # base URL -> server.address/port (parsing it costs more than the lookup)


def _server(client: Any) -> dict[str, Any]:
    try:
        url = str(client.base_url)
    except Exception:
        return {}
    attributes = _servers.get(url)
    if attributes is None:
        if len(_servers) > 64:
            _servers.clear()
        attributes = _servers[url] = server_attributes(url)
    return attributes


def _start(telemetry: Telemetry, instance: Any, kwargs: dict[str, Any], stream: bool) -> SpanRun | None:
    """Start the span of one Messages call (None when suppressed), with its observer and the call marker."""
    if not is_instrumentation_enabled():
        return None
    model = kwargs.get("model")
    metric_attributes = {
        gen_ai.GEN_AI_OPERATION_NAME: OPERATION,
        gen_ai.GEN_AI_PROVIDER_NAME: PROVIDER,
        **_server(getattr(instance, "_client", None)),
    }
    if isinstance(model, str):
        metric_attributes[gen_ai.GEN_AI_REQUEST_MODEL] = model
    attributes = {**metric_attributes, **_params(kwargs)}
    observer = MessagesObserver(telemetry, metric_attributes, stream)
    if observer.capture is not None:
        observer.request(kwargs)
    run = start_run(telemetry.tracer, span_name(OPERATION, model), SpanKind.CLIENT, attributes, observer)
    if run is not None:
        run.otel_context = otel_context.set_value(_CALL_SPAN, run.span, run.otel_context)
    return run


def _params(kwargs: dict[str, Any]) -> dict[str, Any]:
    params = request_attributes(kwargs, REQUEST_PARAMS)
    extra_body = kwargs.get("extra_body")
    if isinstance(extra_body, dict):  # parameters create() has no keyword for (temperature... in anthropic 2.x)
        params = {**request_attributes(extra_body, REQUEST_PARAMS), **params}
    return params


# -- the wrappers ----------------------------------------------------------------------------------------------


def create_wrapper(telemetry: Telemetry, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
    """``Messages.create`` and ``AsyncMessages.create``: the engine ends the span when the result is consumed.

    Through ``with_raw_response`` / ``with_streaming_response`` (langchain-anthropic sends every call that way) the
    result is a response object: the span waits for its ``parse()`` (see :mod:`~otel_genai.instrumentation._stainless`).
    """
    stream = kwargs.get("stream") is True
    run = _start(telemetry, instance, kwargs, stream)
    if run is not None and parks(kwargs, stream):
        return call_parked(run, wrapped, args, kwargs)
    return call_in_span(run, wrapped, args, kwargs)


def stream_wrapper(manager_proxy: type) -> Any:
    """``(Async)Messages.stream``: the span starts when the manager is entered (that is when the request is sent)."""

    def wrapper(telemetry: Telemetry, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
        manager = wrapped(*args, **kwargs)
        return manager_proxy(manager, lambda: _start(telemetry, instance, kwargs, True))

    return wrapper


def _adopt(run: SpanRun, message_stream: Any) -> Any:
    """Hand the ``MessageStream``'s raw event stream to the engine.

    ``text_stream``, iteration, ``until_done()``, ``get_final_message()`` and ``close()`` of a (Async)MessageStream
    all go through its ``_raw_stream``, so the span sees every event and every way of ending, whichever the
    application uses. Nothing has been read yet when the manager returns the stream.
    """
    try:
        message_stream._raw_stream = wrap_result(run, message_stream._raw_stream)
    except Exception:
        logger.debug("otel-genai: could not trace an anthropic message stream", exc_info=True)
        run.end()
    return message_stream


class TracedMessageStreamManager(wrapt.ObjectProxy):
    """A ``MessageStreamManager`` whose ``with`` starts the span, sends the request in it and adopts the stream."""

    def __init__(self, wrapped: Any, start: Any) -> None:
        super().__init__(wrapped)
        self._self_start = start
        self._self_run: SpanRun | None = None

    def __enter__(self) -> Any:
        run = self._self_run = self._self_start()
        if run is None:
            return self.__wrapped__.__enter__()
        return _adopt(run, call_attached(run, self.__wrapped__.__enter__))

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        run = self._self_run
        if run is not None and exc is not None:
            run.end_with(exc)  # before the manager closes the stream, which would end it as stopped early
        return self.__wrapped__.__exit__(exc_type, exc, tb)  # closes the stream: ends an unfinished span


class TracedAsyncMessageStreamManager(wrapt.ObjectProxy):
    """The async twin: ``async with`` awaits the request (created by ``stream()``) with the span current."""

    def __init__(self, wrapped: Any, start: Any) -> None:
        super().__init__(wrapped)
        self._self_start = start
        self._self_run: SpanRun | None = None

    async def __aenter__(self) -> Any:
        run = self._self_run = self._self_start()
        if run is None:
            return await self.__wrapped__.__aenter__()
        return _adopt(run, await await_attached(run, self.__wrapped__.__aenter__()))

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        run = self._self_run
        if run is not None and exc is not None:
            run.end_with(exc)
        return await self.__wrapped__.__aexit__(exc_type, exc, tb)


def sdk_span_wrapper(telemetry: Telemetry, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
    """``anthropic._base_client.start_api_call_span``: the SDK's own call span, off for the calls we trace.

    See the package docstring. For our calls it returns None, so the SDK sends the request without tracing code of
    its own; when the client propagates (its ``propagation`` option, on by default) we first put our span's trace
    headers on the request options, as the SDK would have put its own span's. Suppressed: None, and no headers.
    """
    if not is_instrumentation_enabled():
        return None
    ours = otel_context.get_value(_CALL_SPAN)
    if ours is not None and ours is trace.get_current_span():
        if kwargs.get("propagation", True):
            _propagate(args[2] if len(args) > 2 else kwargs.get("options"))
        return None
    return wrapped(*args, **kwargs)


def _propagate(options: Any) -> None:
    """Add the current context's trace headers (the registered propagator's) to a request's ``options.headers``."""
    carrier: dict[str, str] = {}
    try:
        propagate.inject(carrier)
        if carrier:
            headers = getattr(options, "headers", None)
            options.headers = {**headers, **carrier} if isinstance(headers, Mapping) else carrier
    except Exception:
        logger.debug("otel-genai: cannot add trace headers to the anthropic request", exc_info=True)

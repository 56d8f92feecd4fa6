"""Raw and streaming responses, traced the same way for every Stainless-generated SDK (``openai``, ``anthropic``).

``client.x.with_raw_response.create(...)`` and ``with_streaming_response`` return a response object
(``LegacyAPIResponse`` / ``APIResponse`` / ``AsyncAPIResponse``) before the body is read; the request carries the
header :data:`RAW_RESPONSE_HEADER`. The SDKs share these classes' names and behaviour, so the patches are the same:
an instrumentor lists ``parse`` / ``close`` of its SDK's response classes with the wrappers below, starts its calls'
runs as usual and hands a result to :func:`call_parked` when :func:`parks` says the body waits for ``parse()``.
Frameworks call these variants too (langchain-anthropic sends every request through ``with_raw_response``).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import logging
from collections.abc import Callable
from typing import Any

from otel_genai.instrumentation._llm import Telemetry, await_attached, call_attached
from otel_genai.lifecycle import Outcome, SpanRun, wrap_result

__all__ = [
    "RAW_RESPONSE_HEADER",
    "RawMethod",
    "async_parse_wrapper",
    "async_response_close_wrapper",
    "call_parked",
    "parks",
    "parse_wrapper",
    "raw_methods",
    "response_close_wrapper",
    "unparsed",
]

logger = logging.getLogger(__name__)

RAW_RESPONSE_HEADER = "X-Stainless-Raw-Response"
# the header's values: with_raw_response sets "true" where it returns a LegacyAPIResponse (openai), "raw" where it
# returns an APIResponse (anthropic); with_streaming_response sets "stream"
_LEGACY_RAW, _PARKED_MODES = "true", frozenset(("raw", "stream"))
# the response objects a parked run waits on: parse() hands over the body, close() without it is stopping early
_PARKING = frozenset(("LegacyAPIResponse", "APIResponse", "AsyncAPIResponse"))
_RUN = "_otel_genai_run"
_PROXY = "_otel_genai_stream"
_NOTHING = object()


def parks(kwargs: dict, stream: bool) -> bool:
    """Whether a call's result is a response object whose ``parse()`` yields the body the span waits for.

    A ``LegacyAPIResponse`` parses a plain body at once (the observer reads it through :func:`unparsed`); its stream,
    and every ``APIResponse`` / ``AsyncAPIResponse`` (anthropic's with_raw_response, with_streaming_response), waits
    for ``parse()``.
    """
    headers = kwargs.get("extra_headers")
    if not isinstance(headers, dict):
        return False
    mode = headers.get(RAW_RESPONSE_HEADER)
    return mode in _PARKED_MODES or (stream and mode == _LEGACY_RAW)


def unparsed(value: Any) -> Any:
    """The body an observer reads from a call's result: a with_raw_response result is parsed (the SDK caches it: the
    caller's own ``parse()`` returns the same object); a streaming response that could not be parked gives None."""
    name = type(value).__name__
    if name == "LegacyAPIResponse":
        return value.parse()
    if name in _PARKING:
        return None
    return value


# -- parking: the body only exists once the caller parse()s ----------------------------------------------------
#
# The call returns a response object (LegacyAPIResponse / APIResponse / AsyncAPIResponse) before the body is read.
# The run is parked on it: its parse() hands the body to the engine (a stream gets the stream proxy, a plain body
# ends the span with its attributes); its close() (the ``with`` exit of with_streaming_response) before that ends the
# span as stopped early; a response dropped unparsed ends it as abandoned when the run is collected.


def call_parked(run: SpanRun, fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
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


# -- with_raw/streaming_response accessed before instrument(): its cached wrapper holds the unpatched bound method


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


# (raw- or streaming-response class name, attribute holding the resource, methods, (module, SDK wrapper name))
RawResponseClass = tuple[str, str, tuple[str, ...], tuple[str, str]]


def raw_methods(module: str, classes: tuple[RawResponseClass, ...]) -> Callable[[], None]:
    """Put a :class:`RawMethod` on each listed ``*WithRawResponse`` / ``*WithStreamingResponse`` class of ``module``;
    the returned undo removes them. A class or wrapper this SDK version lacks is skipped."""
    added: list[tuple[type, str]] = []
    mod = importlib.import_module(module)
    for cls_name, resource_attr, methods, (wrap_module, wrap_name) in classes:
        cls = getattr(mod, cls_name, None)
        wrap = getattr(importlib.import_module(wrap_module), wrap_name, None)
        if cls is None or wrap is None:
            continue
        for method in methods:
            if method not in vars(cls):  # never shadow something the SDK itself defines on the class
                setattr(cls, method, RawMethod(resource_attr, method, wrap))
                added.append((cls, method))

    def undo() -> None:
        for cls, method in added:
            if isinstance(vars(cls).get(method), RawMethod):
                delattr(cls, method)

    return undo

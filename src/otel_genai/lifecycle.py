"""The result-wrapping engine: where every span of otel-genai ends.

A traced call starts a span and hands whatever the call returned to :func:`wrap_result`, which gives back an object
of the same kind whose consumption ends the span, exactly once, on every path:

* a plain value ends the span at once;
* a coroutine ends it when awaited; an ``asyncio.Future`` when done;
* a generator / async generator is re-yielded item by item by a generator of the same kind;
* any other iterator, async iterator or awaitable (an SDK stream object) is wrapped in a transparent proxy that
  keeps ``isinstance``, attribute access and the ``with`` / ``async with`` protocols; an object that is both an
  iterator and an async iterator (LiteLLM's ``CustomStreamWrapper``) keeps both, whichever the consumer uses.

Context rule: a generator's body runs in a private :class:`contextvars.Context`, copied from the caller's when the
result was wrapped and with the span current in it. Each resumption runs there through ``Context.run``, so the span
is current exactly while code that belongs to it runs, the caller's context is never touched, and no context token
is ever held across a ``yield``: whichever task or thread iterates, closes or finalizes the result, nothing is
detached in a foreign context. Coroutines and plain calls attach and detach in one frame, as usual.

Outcomes are recorded on the span as ``otel_genai.outcome`` (see :class:`Outcome`).

One CLIENT span per call: :func:`start_run` starts no CLIENT span while one of ours is current in the context (a
gateway such as LiteLLM calling a provider SDK that is instrumented as well): the outer span is the call's, the
inner call runs untraced, so its tokens are not counted twice, whichever instrumentor was set up first.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
import sys
import types
from collections.abc import Callable, Mapping
from typing import Any

import wrapt
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.trace import INVALID_SPAN, Span, SpanKind, Status, StatusCode

from otel_genai import semconv

__all__ = [
    "ERROR_TYPE",
    "OUTCOME",
    "STREAM_ITEMS",
    "Observer",
    "Outcome",
    "SpanRun",
    "TracedAsyncIterator",
    "TracedAwaitable",
    "TracedDualIterator",
    "TracedIterator",
    "await_attached",
    "call_attached",
    "call_in_context",
    "call_in_span",
    "context_attributes",
    "error_type",
    "iterate_in_run",
    "owned_first_step",
    "start_run",
    "wrap_result",
]

logger = logging.getLogger(__name__)

OUTCOME = semconv.OUTCOME
STREAM_ITEMS = semconv.STREAM_ITEMS
ERROR_TYPE = semconv.ERROR_TYPE

# where using_attributes puts its attributes in the OTel context (the engine reads them at every span start)
_ATTRIBUTES_KEY = otel_context.create_key("otel_genai.context_attributes")
# set in the context of each CLIENT run: a CLIENT span asked for under it is not started (one CLIENT span per call)
_CLIENT_CALL_KEY = otel_context.create_key("otel_genai.client_call")


def context_attributes(ctx: otel_context.Context | None = None) -> Mapping[str, Any] | None:
    """The attributes ``using_attributes`` put in ``ctx`` (default: the current context), or None."""
    return otel_context.get_value(_ATTRIBUTES_KEY, ctx)  # type: ignore[return-value]


class Outcome:
    """Values of ``otel_genai.outcome``: how a streamed or awaited result ended."""

    COMPLETED = "completed"  # exhausted / awaited to the end
    STOPPED_EARLY = "stopped_early"  # closed before the end: break, close(), with-exit, or by Python / the event loop
    ABANDONED = "abandoned"  # dropped unfinished and garbage-collected before anything closed it
    CANCELLED = "cancelled"  # asyncio cancellation reached it
    ERROR = "error"  # an exception escaped it


class Observer:
    """Per-call hooks an instrumentor passes to :func:`start_run`; override what you need.

    Every hook is guarded: an exception in one is logged at debug level and never reaches the user.
    """

    def on_item(self, item: Any) -> None:
        """Each streamed item, before the consumer gets it. Runs per chunk: keep it cheap."""

    def on_value(self, span: Span, value: Any) -> None:
        """The final plain value of the call (after awaiting, for a coroutine), just before the span ends."""

    def on_end(self, span: Span, error: BaseException | None) -> None:
        """Once, just before the span ends, with the error that ended it or None."""


def error_type(exc: BaseException) -> str:
    """The ``error.type`` of an exception: its qualified class name (``module.Class``; builtins without module)."""
    cls = type(exc)
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def _record_error(span: Span, error: BaseException) -> None:
    """Mark ``span`` with ``error``; each step on its own, as the error's ``__str__`` or the span may raise."""
    try:
        span.set_attribute(ERROR_TYPE, error_type(error))
    except Exception:
        logger.debug("otel-genai: recording error.type failed", exc_info=True)
    try:
        span.record_exception(error)
    except Exception:
        logger.debug("otel-genai: recording the exception failed", exc_info=True)
    try:
        description = str(error)
    except Exception:
        logger.debug("otel-genai: str() of the error failed", exc_info=True)
        description = ""
    try:
        span.set_status(Status(StatusCode.ERROR, description or type(error).__name__))
    except Exception:
        logger.debug("otel-genai: setting the error status failed", exc_info=True)


class SpanRun:
    """One started span and the one place that ends it."""

    __slots__ = ("_hook", "_once", "_private", "items", "observer", "otel_context", "span")

    def __init__(self, span: Span, otel_ctx: otel_context.Context, observer: Observer | None = None) -> None:
        self.span = span
        self.otel_context = otel_ctx  # the caller's context at start, with the span current
        self.observer = observer
        self.items = 0
        # the per-item hook, bound once (None when the observer keeps the no-op default)
        hook = getattr(observer, "on_item", None)
        overridden = observer is not None and type(observer).on_item is not Observer.on_item
        self._hook = hook if hook is not None and overridden else None
        self._once = [True]  # popped by the one call of end() that ends the span: atomic, whatever the thread
        self._private: contextvars.Context | None = None

    def private_context(self) -> contextvars.Context:
        """The contextvars.Context a generator body runs in: the caller's, now, with the span current."""
        ctx = self._private
        if ctx is None:
            ctx = self._private = contextvars.copy_context()
            ctx.run(otel_context.attach, self.otel_context)  # the token dies with the private context
        return ctx

    def on_item(self, item: Any) -> None:
        self.items += 1
        hook = self._hook
        if hook is not None:
            try:
                hook(item)
            except Exception:
                logger.debug("otel-genai: on_item hook failed", exc_info=True)

    def end(self, outcome: str | None = None, error: BaseException | None = None) -> None:
        """End the span once; later calls do nothing.

        Every decoration (observer hook, error, status, outcome) is guarded on its own, and ``span.end()`` is reached
        whatever they raise: a user exception whose ``__str__`` raises or a span whose setters raise still leaves
        the span ended, exactly once.
        """
        try:
            self._once.pop()
        except IndexError:
            return
        span = self.span
        try:
            if self.observer is not None:
                try:
                    self.observer.on_end(span, error)
                except Exception:
                    logger.debug("otel-genai: on_end hook failed", exc_info=True)
            if error is not None:
                if isinstance(error, asyncio.CancelledError):
                    outcome = Outcome.CANCELLED
                else:
                    outcome = Outcome.ERROR
                    _record_error(span, error)
            if outcome is not None:
                try:
                    span.set_attribute(OUTCOME, outcome)
                    if self.items:
                        span.set_attribute(STREAM_ITEMS, self.items)
                except Exception:
                    logger.debug("otel-genai: recording the outcome failed", exc_info=True)
        finally:
            try:
                span.end()
            except Exception:
                logger.debug("otel-genai: ending span failed", exc_info=True)

    def end_with(self, error: BaseException) -> None:
        """End after ``error`` escaped the result; GeneratorExit is the consumer stopping, not an error."""
        if isinstance(error, GeneratorExit):
            self.end(Outcome.STOPPED_EARLY)
        else:
            self.end(error=error)

    def __del__(self) -> None:
        if self._once:
            self.end(Outcome.ABANDONED)


def start_run(
    tracer: trace.Tracer,
    name: str,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: dict[str, Any] | None = None,
    observer: Observer | None = None,
) -> SpanRun | None:
    """Start a span under the current context, or return None when instrumentation is suppressed or fails, and for
    a CLIENT span inside a call that already has one of ours (see the module docstring: the call runs untraced)."""
    if not is_instrumentation_enabled():
        return None
    try:
        parent = otel_context.get_current()
        client = kind is SpanKind.CLIENT
        if client and otel_context.get_value(_CLIENT_CALL_KEY, parent) is not None:
            return None
        extra = context_attributes(parent)
        if extra:
            attributes = {**extra, **attributes} if attributes else dict(extra)
        span = tracer.start_span(name, context=parent, kind=kind, attributes=attributes)
        ctx = trace.set_span_in_context(span, parent)
        if client:
            ctx = otel_context.set_value(_CLIENT_CALL_KEY, True, ctx)
        return SpanRun(span, ctx, observer)
    except Exception:
        logger.debug("otel-genai: starting span %r failed", name, exc_info=True)
        return None


def call_in_span(run: SpanRun | None, fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    """Call ``fn`` with the span current, then hand its result to :func:`wrap_result`. Equivalent to::

    if run is None:
        return fn(*args, **kwargs)
    return wrap_result(run, call_attached(run, fn, *args, **kwargs))
    """
    if run is None:
        return fn(*args, **kwargs)
    return wrap_result(run, call_attached(run, fn, *args, **kwargs))


def call_in_context(ctx: otel_context.Context, fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    """:func:`call_in_span` for a run with no span of its own: ``ctx`` is current while ``fn`` runs and, for what it
    returns, while each step of it runs (a generator's body, a coroutine's awaits). Ends nothing. For carrying a
    context (a parent span, ``using_attributes`` values) into a result consumed elsewhere."""
    return call_in_span(SpanRun(INVALID_SPAN, ctx), fn, args, kwargs)


def call_attached(run: SpanRun, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` with ``run``'s context current; an exception ends the span; the result is returned as
    it is (for an instrumentor that hands it to the engine itself, e.g. a stream manager's stream). Equivalent to::

        token = attach(run.otel_context)
        try:
            return fn(*args, **kwargs)
        except BaseException as exc:
            run.end_with(exc)
            raise
        finally:
            detach(token)
    """
    token = otel_context.attach(run.otel_context)
    try:
        return fn(*args, **kwargs)
    except BaseException as exc:
        run.end_with(exc)
        raise
    finally:
        otel_context.detach(token)


async def await_attached(run: SpanRun, awaitable: Any) -> Any:
    """The async twin of :func:`call_attached`: ``await awaitable`` with the context current, attached and detached
    in this one frame (never across a ``yield`` to the caller)."""
    token = otel_context.attach(run.otel_context)
    try:
        return await awaitable
    except BaseException as exc:
        run.end_with(exc)
        raise
    finally:
        otel_context.detach(token)


def wrap_result(run: SpanRun, result: Any) -> Any:
    """Return an object like ``result`` whose consumption ends ``run``'s span (see the module docstring)."""
    try:
        cls = type(result)
        kind = _KINDS.get(cls)
        if kind is None:
            kind = _kind_of(cls)
        if kind is _GENERATOR:
            return _traced_generator(run, result)
        if kind is _ASYNC_GENERATOR:
            return _traced_async_generator(run, result)
        if kind is _COROUTINE:
            return _traced_coroutine(run, result)
        if kind is _FUTURE:
            result.add_done_callback(_end_when_done(run))
            return result
        if kind is _DUAL_ITERATOR:
            return TracedDualIterator(result, run)
        if kind is _ASYNC_ITERATOR:
            return TracedAsyncIterator(result, run)
        if kind is _ITERATOR:
            return TracedIterator(result, run)
        if kind is _AWAITABLE:
            return TracedAwaitable(result, run)
        if run.observer is not None:
            run.observer.on_value(run.span, result)
    except Exception:
        logger.debug("otel-genai: wrapping result failed", exc_info=True)
    run.end()
    return result


# What wrap_result does with a result, by its class (checked in this order), cached per class: the checks on a
# class that has none of these attributes can be costly (pydantic's model metaclass raises in __getattr__ on each).
_GENERATOR, _ASYNC_GENERATOR, _COROUTINE, _FUTURE = "generator", "async generator", "coroutine", "future"
_DUAL_ITERATOR, _ASYNC_ITERATOR, _ITERATOR = "iterator and async iterator", "async iterator", "iterator"
_AWAITABLE, _VALUE = "awaitable", "value"
_KINDS: dict[type, str] = {}
_KINDS_MAX = 1024  # classes made on the fly must not grow the cache without bound


def _kind_of(cls: type) -> str:
    if issubclass(cls, types.GeneratorType):
        kind = _GENERATOR
    elif issubclass(cls, types.AsyncGeneratorType):
        kind = _ASYNC_GENERATOR
    elif issubclass(cls, types.CoroutineType):
        kind = _COROUTINE
    elif issubclass(cls, asyncio.Future):
        kind = _FUTURE
    elif hasattr(cls, "__anext__"):
        kind = _DUAL_ITERATOR if hasattr(cls, "__next__") else _ASYNC_ITERATOR
    elif hasattr(cls, "__next__"):
        kind = _ITERATOR
    elif hasattr(cls, "__await__"):
        kind = _AWAITABLE
    else:
        kind = _VALUE
    if len(_KINDS) >= _KINDS_MAX:
        _KINDS.clear()
    _KINDS[cls] = kind
    return kind


def _end_when_done(run: SpanRun) -> Callable[[asyncio.Future], None]:
    def done(future: asyncio.Future) -> None:
        if future.cancelled():
            run.end(Outcome.CANCELLED)
        else:
            exc = future.exception()
            if exc is None:
                run.end()
            else:
                run.end(error=exc)

    return done


class _Resume:
    """Finish awaiting ``it`` (an awaitable's iterator) whose first step, run inside ``ctx``, yielded ``pending``.

    The engine takes each awaitable's first step itself, inside the private context: when that step already
    produces the item (the common case for streams whose data is buffered) no awaiting happens at all. Only an
    awaitable that really suspends is driven through this object, every further step again inside ``ctx``.
    """

    __slots__ = ("_it", "_pending", "_run")

    def __init__(self, ctx: contextvars.Context, it: Any, pending: Any) -> None:
        self._run = ctx.run
        self._it = it
        self._pending = pending

    def __await__(self) -> _Resume:
        return self

    def __iter__(self) -> _Resume:
        return self

    def __next__(self) -> Any:
        return self.send(None)

    def send(self, value: Any) -> Any:
        pending = self._pending
        if pending is not _NOTHING:
            self._pending = _NOTHING
            return pending
        return self._run(self._it.send, value)

    def throw(self, *exc: Any) -> Any:
        self._pending = _NOTHING
        return self._run(self._it.throw, *exc)

    def close(self) -> None:
        self._pending = _NOTHING
        return self._run(self._it.close)


_NOTHING = object()


async def _await_in(ctx: contextvars.Context, awaitable: Any) -> Any:
    """``await awaitable`` with each of its steps run inside ``ctx``."""
    it = awaitable.__await__()
    try:
        pending = ctx.run(it.send, None)
    except StopIteration as done:
        return done.value
    return await _Resume(ctx, it, pending)


def _traced_generator(run: SpanRun, gen: Any) -> Any:
    """Re-yield ``gen`` step by step in the span's private context (send/throw/close and return value pass)."""
    step = run.private_context().run
    op, arg = gen.send, None
    try:
        while True:
            try:
                item = step(op, arg)
            except StopIteration as stop:
                run.end(Outcome.COMPLETED)
                return stop.value
            run.on_item(item)
            try:
                arg = yield item
            except GeneratorExit:
                step(gen.close)
                run.end(Outcome.STOPPED_EARLY)
                raise
            except BaseException as exc:  # thrown in by the consumer: pass it on
                op, arg = gen.throw, exc
            else:
                op = gen.send
    except BaseException as exc:
        run.end_with(exc)
        raise


async def _traced_async_generator(run: SpanRun, agen: Any) -> Any:
    """The async twin of :func:`_traced_generator`: no await of its own between items, so nothing is buffered.

    Only this wrapper is known to the event loop (see :func:`owned_first_step`): the loop's ``shutdown_asyncgens()`` or
    its finalizer for a dropped generator closes the wrapper, which closes ``agen``, once, awaiting its cleanup in
    the span: the outcome is then ``stopped_early``, as for ``aclose()``. A wrapper collected together with its run
    (a reference cycle) or after its loop closed ends ``abandoned``; any cleanup its loop still runs comes after.
    """
    ctx = run.private_context()
    step = ctx.run
    op, arg = owned_first_step, agen
    try:
        while True:
            try:
                awaiting = op(arg)  # asend/athrow objects are their own iterators
                try:
                    pending = step(awaiting.send, None)
                except StopIteration as done:
                    item = done.value
                else:
                    item = await _Resume(ctx, awaiting, pending)
            except StopAsyncIteration:
                run.end(Outcome.COMPLETED)
                return
            run.on_item(item)
            try:
                arg = yield item
            except GeneratorExit:
                await _await_in(ctx, agen.aclose())
                run.end(Outcome.STOPPED_EARLY)
                raise
            except BaseException as exc:
                op, arg = agen.athrow, exc
            else:
                op = agen.asend
    except BaseException as exc:
        run.end_with(exc)
        raise


async def _traced_coroutine(run: SpanRun, awaitable: Any) -> Any:
    """Await with the span current (:func:`await_attached`); a streamed result keeps the span open."""
    return wrap_result(run, await await_attached(run, awaitable))


def iterate_in_run(run: SpanRun, forward: Callable[[], Any]) -> Any:
    """The engine's per-item loop, for an instrumentation with a stream proxy of its own (botocore's
    ``EventStream``): a generator over ``forward()`` (an iterator's ``__next__``), each step in the run's private
    context, each item to the observer, the run ended at exhaustion or error; closing the generator ends nothing.
    Call ``run.private_context()`` at call time first when the loop is made later (the context is copied then)."""
    return _iterate(run, forward)


def _iterate(run: SpanRun, forward: Callable[[], Any]) -> Any:
    """The per-item loop of a proxied iterator: one generator per proxy, driven by ``for`` and ``next()`` alike.

    A generator rather than a ``__next__`` method on the proxy, because resuming a frame costs less per item than a
    call through the proxy's attribute machinery. Closing it (the proxy was dropped) ends nothing: the run ends on
    its own paths (exhaustion, error, ``close()``, ``with`` exit, or garbage collection as abandoned).
    """
    step = run.private_context().run
    return _iterate_in(run, step, forward)


def _iterate_in(run: SpanRun, step: Callable[..., Any], forward: Callable[[], Any]) -> Any:
    on_item = run.on_item
    while True:
        try:
            item = step(forward)
        except StopIteration:
            run.end(Outcome.COMPLETED)
            return
        except BaseException as exc:
            run.end_with(exc)
            raise
        on_item(item)
        yield item  # what is thrown in here (the loop closed or finalized with its proxy) is not the stream's


def _aiterate(run: SpanRun, forward: Callable[[], Any]) -> Any:
    """The async twin of :func:`_iterate`; each step of the stream's ``__anext__`` runs in the private context.

    It is started at once without event-loop hooks (:func:`_start_unhooked`), so a dropped proxy closes this
    generator at once, as a sync generator would be, instead of through an ``aclose()`` task the event loop would
    schedule later: it awaits nothing when closed at its ``yield``, and the span is then ended as abandoned when the
    run is collected.
    """
    items = _aiterate_in(run, run.private_context(), forward)
    _start_unhooked(items)
    return items


def _first_step(agen: Any, finalizer: Callable[[Any], None] | None) -> Any:
    """``agen.asend(None)``, made under the event-loop hooks ``(None, finalizer)``: the one place hooks are chosen.

    An async generator takes the running thread's event-loop hooks when its first step is *made* (not awaited):
    ``firstiter`` registers it with the loop (whose ``shutdown_asyncgens()`` then closes it) and ``finalizer`` is
    what garbage collection calls instead of closing it. A generator the engine drives must not be known to the
    loop, which would close it concurrently with the wrapper that owns it. Equivalent to::

        hooks = sys.get_asyncgen_hooks()
        sys.set_asyncgen_hooks(None, finalizer)
        try:
            return agen.asend(None)
        finally:
            sys.set_asyncgen_hooks(*hooks)

    A generator already stepped keeps the hooks it took then. The step made must be used: Python 3.13 warns about
    one dropped unrun ("coroutine method 'asend' ... was never awaited").
    """
    firstiter, old_finalizer = sys.get_asyncgen_hooks()  # per thread: nothing else sees the change below
    if firstiter is None and old_finalizer is finalizer:
        return agen.asend(None)
    sys.set_asyncgen_hooks(None, finalizer)
    try:
        return agen.asend(None)
    finally:
        sys.set_asyncgen_hooks(firstiter, old_finalizer)


def _start_unhooked(agen: Any) -> None:
    """Run ``agen`` (one of the engine's, whose body begins with a bare ``yield``) to that ``yield``, with no hooks.

    Equivalent to ``_first_step(agen, None).send(None)``, which raises StopIteration at that ``yield`` (nothing is
    awaited before it). Garbage collection then closes the generator at once, as a sync one.
    """
    try:
        _first_step(agen, None).send(None)
    except StopIteration:
        pass


def owned_first_step(agen: Any) -> Any:
    """``agen.asend(None)`` for an async generator not yet stepped, made so that its wrapper owns closing it.

    For an instrumentation that wraps a user's async generator in one of its own: the wrapper makes its first step
    of ``agen`` with this. The event loop then knows only the wrapper: its ``shutdown_asyncgens()`` and garbage
    collection close the wrapper, which closes ``agen``, once (the two closed concurrently fail with "aclose():
    asynchronous generator is already running"). Equivalent to ``_first_step(agen, _left_to_wrapper)``: no
    ``firstiter``, and a finalizer that does nothing. Made at the wrapper's first step rather than when wrapping,
    so a wrapper never iterated makes no step.
    """
    return _first_step(agen, _left_to_wrapper)


def _left_to_wrapper(agen: Any) -> None:
    """The finalizer of a user's async generator the engine wraps: do nothing, the wrapper owns closing it.

    Called only when the generator is collected unclosed: in the same collection as its wrapper (whose loop then
    closes the wrapper, which closes it) or after the wrapper was discarded unclosed (its loop already closed),
    where an unwrapped generator would not be closed either.
    """


async def _aiterate_in(run: SpanRun, ctx: contextvars.Context, forward: Callable[[], Any]) -> Any:
    step = ctx.run
    on_item = run.on_item
    yield None  # where _start_unhooked leaves it: the consumer's first __anext__() resumes here
    while True:
        try:
            awaiting = forward().__await__()
            try:
                pending = step(awaiting.send, None)
            except StopIteration as done:
                item = done.value
            else:
                item = await _Resume(ctx, awaiting, pending)
        except StopAsyncIteration:
            run.end(Outcome.COMPLETED)
            return
        except BaseException as exc:
            run.end_with(exc)
            raise
        on_item(item)
        yield item  # what is thrown in here (closed or finalized by its event loop) is not the stream's


class _StreamProxy(wrapt.ObjectProxy):
    """What both stream proxies share: the run, the per-item loop, and how a ``with`` exit ends the span.

    (wrapt's proxy already refuses copy and pickle: a copied stream would end the span twice or never.)
    """

    def __init__(self, wrapped: Any, run: SpanRun) -> None:
        super().__init__(wrapped)
        self._self_run = run

    def _self_exited(self, exc: BaseException | None) -> None:
        if exc is None:
            self._self_run.end(Outcome.STOPPED_EARLY)  # no-op when the stream was already exhausted
        else:
            self._self_run.end_with(exc)


class TracedIterator(_StreamProxy):
    """Proxy for an iterator object (e.g. ``openai.Stream``): ends the span at exhaustion, error, close or exit."""

    def __init__(self, wrapped: Any, run: SpanRun) -> None:
        super().__init__(wrapped, run)
        self._self_items = _iterate(run, wrapped.__next__)  # the per-item loop

    def __iter__(self) -> Any:
        return self._self_items

    def __next__(self) -> Any:
        return self._self_items.__next__()

    def close(self) -> Any:
        close = self.__wrapped__.close  # AttributeError, as without us, before the span is touched
        try:
            return close()
        finally:
            self._self_run.end(Outcome.STOPPED_EARLY)

    def __enter__(self) -> Any:
        entered = self.__wrapped__.__enter__()
        return self if entered is self.__wrapped__ else entered

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        try:
            return self.__wrapped__.__exit__(exc_type, exc, tb)
        finally:
            self._self_exited(exc)


class TracedAsyncIterator(_StreamProxy):
    """Proxy for an async iterator object (e.g. ``openai.AsyncStream``)."""

    def __init__(self, wrapped: Any, run: SpanRun) -> None:
        super().__init__(wrapped, run)
        self._self_aitems = _aiterate(run, wrapped.__anext__)  # the per-item loop

    def __aiter__(self) -> Any:
        return self._self_aitems

    def __anext__(self) -> Any:
        return self._self_aitems.__anext__()

    async def _self_close(self, name: str) -> Any:
        close = getattr(self.__wrapped__, name)  # AttributeError, as without us, before the span is touched
        try:
            return await close()
        finally:
            self._self_run.end(Outcome.STOPPED_EARLY)

    def close(self) -> Any:
        return self._self_close("close")

    def aclose(self) -> Any:
        return self._self_close("aclose")

    async def __aenter__(self) -> Any:
        entered = await self.__wrapped__.__aenter__()
        return self if entered is self.__wrapped__ else entered

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(exc_type, exc, tb)
        finally:
            self._self_exited(exc)


class TracedDualIterator(TracedIterator, TracedAsyncIterator):
    """Proxy for an object that is both an iterator and an async iterator (e.g. LiteLLM's ``CustomStreamWrapper``).

    Which protocol the consumer will use is unknown when the call returns, so the proxy has the per-item loop of
    each (:func:`_iterate` over ``__next__``, :func:`_aiterate` over ``__anext__``), both ending the one run: with
    only the async one, a plain ``for`` would bypass it, count nothing and leave the span to garbage collection.
    Iteration and ``with`` / ``async with`` come from the two proxies it combines; ``close()`` may be either kind.
    """

    def __init__(self, wrapped: Any, run: SpanRun) -> None:
        _StreamProxy.__init__(self, wrapped, run)
        self._self_items = _iterate(run, wrapped.__next__)
        self._self_aitems = _aiterate(run, wrapped.__anext__)

    def close(self) -> Any:
        return self._self_close_either(self.__wrapped__.close)  # AttributeError, as without us, before the span

    def aclose(self) -> Any:
        return self._self_close_either(self.__wrapped__.aclose)

    def _self_close_either(self, close: Callable[[], Any]) -> Any:
        """Call the stream's own close: one that returns an awaitable ends the span when awaited, others at once."""
        try:
            closed = close()
        except BaseException:
            self._self_run.end(Outcome.STOPPED_EARLY)
            raise
        if inspect.isawaitable(closed):
            return self._self_awaited(closed)
        self._self_run.end(Outcome.STOPPED_EARLY)
        return closed

    async def _self_awaited(self, closing: Any) -> Any:
        try:
            return await closing
        finally:
            self._self_run.end(Outcome.STOPPED_EARLY)


class TracedAwaitable(wrapt.ObjectProxy):
    """Proxy for an awaitable that is not a coroutine: awaiting it goes through :func:`_traced_coroutine`."""

    def __init__(self, wrapped: Any, run: SpanRun) -> None:
        super().__init__(wrapped)
        self._self_run = run

    def __await__(self) -> Any:
        return _traced_coroutine(self._self_run, _await(self.__wrapped__)).__await__()


async def _await(awaitable: Any) -> Any:
    return await awaitable

"""Request-scoped attributes (session, user, metadata, tags) carried in the OpenTelemetry context.

They live in the OTel context, not in a contextvar of our own, so they travel wherever the context does: into a
generator created inside ``using_attributes`` and iterated later by Starlette in another task, because the engine
runs generator bodies in the context captured when they were created.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import wrapt
from opentelemetry import context as otel_context

from otel_genai import content, semconv
from otel_genai.lifecycle import _ATTRIBUTES_KEY, call_in_context, context_attributes

SESSION_ID = semconv.SESSION_ID
USER_ID = semconv.USER_ID
METADATA_PREFIX = semconv.METADATA_PREFIX
TAGS = semconv.TAGS
F = TypeVar("F", bound=Callable[..., Any])

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _attribute_value(value: Any) -> Any:
    """A valid OTel attribute value for a metadata value, capped like captured content; never raises.

    Strings are cut at the content length cap (``OTEL_GENAI_CONTENT_MAX_LENGTH``): these values land on every span
    in scope, so a 10 MB value must not. bool / int / float stay as they are (an int beyond OTel's 64-bit range
    becomes text); anything else becomes capped JSON (:func:`otel_genai.content.to_json`).
    """
    if isinstance(value, str):
        return content.truncate(value)
    if isinstance(value, (bool, float)):
        return value
    if isinstance(value, int):
        return value if _INT64_MIN <= value <= _INT64_MAX else content.to_json(content.safe_str(value))
    return content.to_json(value)


def _tags(tags: Iterable[str] | str | None) -> tuple[str, ...]:
    """``tags`` as a tuple of capped strings: one string is one tag, ``None`` items are skipped; never raises."""
    if tags is None:
        return ()
    if isinstance(tags, (str, bytes)):
        tags = (tags,)
    items: list[Any]
    try:
        items = list(tags)
    except Exception:
        items = [tags]
    out = []
    for tag in items:
        if tag is None:
            continue
        out.append(content.truncate(tag if isinstance(tag, str) else content.safe_str(tag)))
    return tuple(out)


class using_attributes:  # noqa: N801 - used like a function, as contextlib's helpers are
    """Put ``session.id``, ``user.id``, metadata and tags on every otel-genai span started inside.

    Use as ``with using_attributes(session_id=...):`` or as a decorator of a function, coroutine function or
    (async) generator function. Nested uses merge: inner values win, tags accumulate. To put them on spans from
    other instrumentations too, add :class:`ContextAttributesSpanProcessor` to the tracer provider.
    """

    def __init__(
        self,
        *,
        session_id: str | None = None,
        user_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        tags: Iterable[str] | str | None = None,
    ) -> None:
        attributes: dict[str, Any] = {}
        if session_id is not None:
            attributes[SESSION_ID] = content.truncate(content.safe_str(session_id))
        if user_id is not None:
            attributes[USER_ID] = content.truncate(content.safe_str(user_id))
        for key, value in (metadata or {}).items():
            if value is not None:
                attributes[METADATA_PREFIX + content.truncate(content.safe_str(key))] = _attribute_value(value)
        self._attributes = attributes
        self._tags = _tags(tags)
        self._tokens: list[Any] = []

    def context(self, parent: otel_context.Context | None = None) -> otel_context.Context:
        """``parent`` (default: current) with these attributes merged into the ones already there."""
        merged = dict(context_attributes(parent) or {})
        merged.update(self._attributes)
        if self._tags:
            merged[TAGS] = tuple(dict.fromkeys((*merged.get(TAGS, ()), *self._tags)))
        return otel_context.set_value(_ATTRIBUTES_KEY, merged, parent)

    def __enter__(self) -> using_attributes:
        self._tokens.append(otel_context.attach(self.context()))
        return self

    def __exit__(self, *exc_info: Any) -> None:
        otel_context.detach(self._tokens.pop())

    def __call__(self, fn: F) -> F:
        """Decorate ``fn``: each call, and any generator or coroutine it returns, runs with these attributes."""

        def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
            # A span-less run: the engine steps what ``wrapped`` returns in a context carrying the attributes.
            return call_in_context(self.context(), wrapped, args, kwargs)

        return wrapt.FunctionWrapper(fn, wrapper)  # type: ignore[return-value]


def _processor_base() -> type:
    try:
        from opentelemetry.sdk.trace import SpanProcessor

        return SpanProcessor
    except ImportError:  # the SDK is the application's choice, not a dependency of ours
        return object


class ContextAttributesSpanProcessor(_processor_base()):  # type: ignore[misc]
    """A span processor that copies ``using_attributes`` values onto every span, whoever starts it."""

    def on_start(self, span: Any, parent_context: otel_context.Context | None = None) -> None:
        attributes = context_attributes(parent_context)
        if attributes:
            span.set_attributes(attributes)

    def on_end(self, span: Any) -> None:
        pass

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True

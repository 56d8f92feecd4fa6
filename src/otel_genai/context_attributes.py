"""Request-scoped attributes (session, user, metadata, tags) carried in the OpenTelemetry context.

They live in the OTel context, not in a contextvar of our own, so they travel wherever the context does: into a
generator created inside ``using_attributes`` and iterated later by Starlette in another task, because the engine
runs generator bodies in the context captured when they were created.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import wrapt
from opentelemetry import context as otel_context
from opentelemetry.trace import INVALID_SPAN

from otel_genai.content import truncate

SESSION_ID = "session.id"
USER_ID = "user.id"
METADATA_PREFIX = "otel_genai.metadata."
TAGS = "otel_genai.tags"

_KEY = otel_context.create_key("otel_genai.context_attributes")
F = TypeVar("F", bound=Callable[..., Any])


def context_attributes(ctx: otel_context.Context | None = None) -> Mapping[str, Any] | None:
    """The attributes ``using_attributes`` put in ``ctx`` (default: the current context), or None."""
    return otel_context.get_value(_KEY, ctx)  # type: ignore[return-value]


def _attribute_value(value: Any) -> Any:
    """A valid attribute value; text capped like captured content (a user's 1 MB id must not become a 1 MB span)."""
    if isinstance(value, (bool, int, float)):
        return value
    if not isinstance(value, str):
        try:
            value = json.dumps(value, default=str, ensure_ascii=False)
        except Exception:
            value = str(value)
    return truncate(value)


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
        tags: Iterable[str] | None = None,
    ) -> None:
        attributes: dict[str, Any] = {}
        if session_id is not None:
            attributes[SESSION_ID] = truncate(str(session_id))
        if user_id is not None:
            attributes[USER_ID] = truncate(str(user_id))
        for key, value in (metadata or {}).items():
            attributes[METADATA_PREFIX + truncate(str(key))] = _attribute_value(value)
        self._attributes = attributes
        self._tags = tuple(truncate(str(tag)) for tag in tags or ())
        self._tokens: list[object] = []

    def context(self, parent: otel_context.Context | None = None) -> otel_context.Context:
        """``parent`` (default: current) with these attributes merged into the ones already there."""
        merged = dict(context_attributes(parent) or {})
        merged.update(self._attributes)
        if self._tags:
            merged[TAGS] = tuple(dict.fromkeys((*merged.get(TAGS, ()), *self._tags)))
        return otel_context.set_value(_KEY, merged, parent)

    def __enter__(self) -> using_attributes:
        self._tokens.append(otel_context.attach(self.context()))
        return self

    def __exit__(self, *exc_info: Any) -> None:
        otel_context.detach(self._tokens.pop())

    def __call__(self, fn: F) -> F:
        """Decorate ``fn``: each call, and any generator or coroutine it returns, runs with these attributes."""
        from otel_genai.lifecycle import SpanRun, call_in_span  # the engine imports this module

        def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict) -> Any:
            # A span-less run: the engine steps what ``wrapped`` returns in a context carrying the attributes.
            return call_in_span(SpanRun(INVALID_SPAN, self.context()), wrapped, args, kwargs)

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

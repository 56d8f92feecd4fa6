"""Whether and how message/tool content is captured: off unless the user opts in.

``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``: ``SPAN_ONLY`` (or ``true``) puts content on span
attributes, ``EVENT_ONLY`` on a ``gen_ai.client.inference.operation.details`` event, ``SPAN_AND_EVENT`` on both;
anything else (``false``, ``NO_CONTENT``, unset) captures nothing. Captured text is capped at
``OTEL_INSTRUMENTATION_GENAI_CONTENT_MAX_LENGTH`` characters (default 16384).
The environment is read once, at the first use or at ``instrument()``; :func:`reload` reads it again.
"""

from __future__ import annotations

import enum
import json
import os
from typing import Any

CAPTURE_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
MAX_LENGTH_ENV = "OTEL_INSTRUMENTATION_GENAI_CONTENT_MAX_LENGTH"
DEFAULT_MAX_LENGTH = 16384
TRUNCATED = "…[truncated]"


class CaptureMode(enum.Enum):
    NO_CONTENT = "NO_CONTENT"
    SPAN_ONLY = "SPAN_ONLY"
    EVENT_ONLY = "EVENT_ONLY"
    SPAN_AND_EVENT = "SPAN_AND_EVENT"

    @property
    def on_span(self) -> bool:
        return self in (CaptureMode.SPAN_ONLY, CaptureMode.SPAN_AND_EVENT)

    @property
    def on_event(self) -> bool:
        return self in (CaptureMode.EVENT_ONLY, CaptureMode.SPAN_AND_EVENT)

    @property
    def enabled(self) -> bool:
        return self is not CaptureMode.NO_CONTENT


class _Settings:
    __slots__ = ("capture", "max_length", "mode")

    def __init__(self) -> None:
        raw = os.environ.get(CAPTURE_ENV, "").strip()
        if raw.lower() == "true":
            self.mode = CaptureMode.SPAN_ONLY
        else:
            try:
                self.mode = CaptureMode(raw.upper())
            except ValueError:
                self.mode = CaptureMode.NO_CONTENT
        self.capture = self.mode if self.mode.enabled else None
        try:
            self.max_length = max(0, int(os.environ.get(MAX_LENGTH_ENV, DEFAULT_MAX_LENGTH)))
        except ValueError:
            self.max_length = DEFAULT_MAX_LENGTH


_settings: _Settings | None = None


def settings() -> _Settings:
    return _settings or _load()


def _load() -> _Settings:
    global _settings
    if _settings is None:
        _settings = _Settings()
    return _settings


def reload() -> None:
    """Read the environment again (instrumentors call this in ``instrument()``)."""
    global _settings
    _settings = _Settings()


def capture_mode() -> CaptureMode:
    return settings().mode


def capturing() -> CaptureMode | None:
    """The capture mode when content is captured, None when it is not (read once per call)."""
    return settings().capture


def truncate(text: str) -> str:
    limit = settings().max_length
    if len(text) <= limit:
        return text
    return text[:limit] + TRUNCATED


def to_json(value: Any) -> str:
    """``value`` as compact JSON (anything unknown via ``str``), capped in size."""
    try:
        text = json.dumps(value, default=_fallback, ensure_ascii=False, separators=(",", ":"))
    except Exception:
        text = repr(value)
    return truncate(text)


def _fallback(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)  # pydantic models (the SDKs' types)
    if callable(dump):
        try:
            return dump(mode="json", exclude_none=True)
        except Exception:
            pass
    return str(value)

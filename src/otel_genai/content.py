"""Whether and how message/tool content is captured: off unless the user opts in.

Environment (read once, at the first use or at ``instrument()``; :func:`reload` reads it again):

``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` (case-insensitive), the values of the official
``opentelemetry-util-genai``: ``NO_CONTENT`` (the default), ``SPAN_ONLY`` (content on span attributes),
``EVENT_ONLY`` (content on the ``gen_ai.client.inference.operation.details`` event), ``SPAN_AND_EVENT`` (both).
``true`` / ``false`` are kept as aliases of ``SPAN_ONLY`` / ``NO_CONTENT`` (older releases documented them). Any
other value (``1``, ``yes``, a typo) captures nothing and logs one warning on the ``otel_genai`` logger listing
the accepted values: content capture is a privacy decision, so a value we cannot read never turns it on.

``OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT``, as ``opentelemetry-util-genai`` reads it: ``true`` / ``false``
(case-insensitive) turn the ``gen_ai.client.inference.operation.details`` event on / off whatever the capture mode
(with ``true`` and a mode without events, the event carries the call's attributes but no content); unset, the
event is emitted when the capture mode is ``EVENT_ONLY`` or ``SPAN_AND_EVENT``; any other value logs a warning and
falls back to that default.

``OTEL_GENAI_CONTENT_MAX_LENGTH`` (otel-genai's own, so outside the ``OTEL_INSTRUMENTATION_GENAI_*`` namespace the
OpenTelemetry GenAI group owns): the most characters of text one captured value keeps (default 16384); longer text
is cut and ends with ``…[truncated]``, and the value stays valid JSON (strings inside it are cut, never the JSON
text itself). The old name ``OTEL_INSTRUMENTATION_GENAI_CONTENT_MAX_LENGTH`` is still read when the new one is
unset. A value that is not a non-negative integer logs a warning and the default applies.

Capture never raises into the user's call: a value that cannot be serialized becomes a placeholder such as
``"<unserializable int>"`` (see :func:`to_json`, :func:`safe_str`).
"""

from __future__ import annotations

import enum
import json
import logging
import os
from typing import Any

logger = logging.getLogger("otel_genai")

CAPTURE_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
EMIT_EVENT_ENV = "OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT"
MAX_LENGTH_ENV = "OTEL_GENAI_CONTENT_MAX_LENGTH"
LEGACY_MAX_LENGTH_ENV = "OTEL_INSTRUMENTATION_GENAI_CONTENT_MAX_LENGTH"
DEFAULT_MAX_LENGTH = 16384
TRUNCATED = "…[truncated]"
_KEEP = 64  # strings this short are kept whole when capping a JSON value (see _Budget)
_MAX_DEPTH = 64  # deeper values (or cycles) become a placeholder instead of recursing further


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


_ALIASES = {"true": CaptureMode.SPAN_ONLY, "false": CaptureMode.NO_CONTENT}
_warned: set[tuple[str, str]] = set()  # (variable, value) already warned about: one warning however often we reload


def _warn_once(variable: str, value: str, message: str, *args: Any) -> None:
    if (variable, value) in _warned:
        return
    _warned.add((variable, value))
    logger.warning(message, *args)


def _capture_mode(raw: str) -> CaptureMode:
    if not raw:
        return CaptureMode.NO_CONTENT
    alias = _ALIASES.get(raw.lower())
    if alias is not None:
        return alias
    try:
        return CaptureMode(raw.upper())
    except ValueError:
        accepted = ", ".join([*(m.value for m in CaptureMode), "true", "false"])
        _warn_once(
            CAPTURE_ENV,
            raw,
            "otel-genai: %s=%r is not a valid value; content capture stays off. Accepted values "
            "(case-insensitive): %s.",
            CAPTURE_ENV,
            raw,
            accepted,
        )
        return CaptureMode.NO_CONTENT


def _emit_event(raw: str, mode: CaptureMode) -> bool:
    value = raw.lower()
    if value == "true":
        return True
    if value == "false":
        return False
    if value:
        _warn_once(
            EMIT_EVENT_ENV,
            raw,
            "otel-genai: %s=%r is not a valid value (true or false, case-insensitive); the event follows the "
            "content capture mode.",
            EMIT_EVENT_ENV,
            raw,
        )
    return mode.on_event


def _max_length() -> int:
    variable = MAX_LENGTH_ENV if os.environ.get(MAX_LENGTH_ENV, "").strip() else LEGACY_MAX_LENGTH_ENV
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return DEFAULT_MAX_LENGTH
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        _warn_once(
            variable,
            raw,
            "otel-genai: %s=%r is not a non-negative integer; captured content is capped at %d characters.",
            variable,
            raw,
            DEFAULT_MAX_LENGTH,
        )
        return DEFAULT_MAX_LENGTH
    return value


class _Settings:
    __slots__ = ("capture", "emit_event", "max_length", "mode")

    def __init__(self) -> None:
        self.mode = _capture_mode(os.environ.get(CAPTURE_ENV, "").strip())
        self.capture = self.mode if self.mode.enabled else None
        self.emit_event = _emit_event(os.environ.get(EMIT_EVENT_ENV, "").strip(), self.mode)
        self.max_length = _max_length()


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


def emit_event() -> bool:
    """Whether LLM calls emit the ``gen_ai.client.inference.operation.details`` event (see the module docstring)."""
    return settings().emit_event


def truncate(text: str) -> str:
    limit = settings().max_length
    if len(text) <= limit:
        return text
    return text[:limit] + TRUNCATED


def placeholder(value: Any) -> str:
    """What stands for a value we cannot turn into text: ``<unserializable TYPE>``."""
    try:
        name = type(value).__name__
    except Exception:
        name = "object"
    return f"<unserializable {name}>"


def safe_str(value: Any) -> str:
    """``str(value)``, else ``repr(value)``, else :func:`placeholder`: never raises (``10**5000`` has no str)."""
    for convert in (str, repr):
        try:
            text = convert(value)
            if isinstance(text, str):
                return text
        except Exception:
            pass
    return placeholder(value)


def to_json(value: Any) -> str:
    """``value`` as compact JSON (anything unknown via ``model_dump`` / ``str``), capped in size; never raises.

    The cap applies to the text inside the value (each cut string ends with ``…[truncated]``), so the result is
    always valid JSON (the conventions' consumers parse it), and to the whole: at most ``max_length`` characters.
    """
    try:
        limit = settings().max_length
        try:
            text = json.dumps(value, default=_fallback, ensure_ascii=False, separators=(",", ":"))
        except Exception:  # e.g. an int over the int-to-str digit limit, a cycle, a key type JSON has no form for
            return _dumps(_jsonable(value, 0), limit)
        if len(text) <= limit:
            return text
        return _dumps(json.loads(text), limit)
    except Exception:
        return json.dumps(placeholder(value))


def _dumps(value: Any, limit: int) -> str:
    """Capped JSON of at most ``limit`` characters in all: the text budget shrinks by what the structure and the
    escapes add (unless the structure alone is larger: then only the text is cut to nothing)."""
    budget = limit
    for _ in range(4):
        text = json.dumps(_Budget(budget).cap(value), ensure_ascii=False, separators=(",", ":"))
        over = len(text) - limit
        if over <= 0 or budget == 0:
            return text
        budget = max(0, budget - over)
    return text


class _Budget:
    """Cuts the strings of a JSON value so that together they keep at most ``limit`` characters.

    Strings of up to ``_KEEP`` characters are never cut: they are the structure (roles, part types, ids, names)."""

    __slots__ = ("left",)

    def __init__(self, limit: int) -> None:
        self.left = limit

    def cap(self, value: Any) -> Any:
        if isinstance(value, str):
            if len(value) <= self.left or len(value) <= _KEEP:
                self.left = max(0, self.left - len(value))
                return value
            kept, self.left = value[: self.left], 0
            return kept + TRUNCATED
        if isinstance(value, dict):
            return {key: self.cap(item) for key, item in value.items()}  # keys stay: they name the fields
        if isinstance(value, list):
            return [self.cap(item) for item in value]
        return value


def _jsonable(value: Any, depth: int) -> Any:
    """A JSON-safe copy of ``value``, with a placeholder for each part that has no JSON form."""
    if depth > _MAX_DEPTH:
        return placeholder(value)
    if value is None or isinstance(value, (str, bool, float)):
        return value
    if isinstance(value, int):
        try:
            json.dumps(value)
            return value
        except Exception:
            return placeholder(value)
    if isinstance(value, dict):
        return {safe_str(key): _jsonable(item, depth + 1) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(item, depth + 1) for item in value]
    try:
        converted = _fallback(value)
    except Exception:
        return placeholder(value)
    if converted is value or isinstance(converted, str):
        return converted if isinstance(converted, str) else placeholder(value)
    return _jsonable(converted, depth + 1)


def _fallback(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)  # pydantic models (the SDKs' types)
    if callable(dump):
        try:
            return dump(mode="json", exclude_none=True)
        except Exception:
            pass
    return safe_str(value)

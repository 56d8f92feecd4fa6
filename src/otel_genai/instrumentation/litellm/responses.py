"""Observers reading LiteLLM's response objects (OpenAI-shaped: ``ModelResponse``, ``ModelResponseStream``,
``TextCompletionResponse``, ``EmbeddingResponse``).

LiteLLM normalises every provider's answer to the OpenAI shapes, so the chat observer is the OpenAI one with the
differences LiteLLM has: no OpenAI service tier / fingerprint attributes (the call may not go to OpenAI), usage that
a stream chunk may lack as an attribute, and cache write tokens under LiteLLM's name.
"""

from __future__ import annotations

from time import perf_counter
from typing import Any

from otel_genai.instrumentation._llm import LLMCallObserver, StreamedText, message, text_part
from otel_genai.instrumentation.openai.chat import ChatObserver
from otel_genai.instrumentation.openai.embeddings import EmbeddingsObserver

__all__ = ["CompletionObserver", "EmbeddingsObserver", "TextCompletionObserver", "field", "read_usage"]


def read_usage(observer: LLMCallObserver, usage: Any) -> None:
    """Tokens from a LiteLLM ``Usage`` (``prompt_tokens`` includes cached tokens, as the conventions ask).

    Read with :func:`field`: the cache write counts are absent from most ``Usage`` objects, and a missing attribute
    costs about ten microseconds through pydantic.
    """
    observer.input_tokens = field(usage, "prompt_tokens")
    observer.output_tokens = field(usage, "completion_tokens")
    details = field(usage, "prompt_tokens_details")
    if details is not None:
        cached = field(details, "cached_tokens")
        if cached is not None:
            observer.cache_read_tokens = cached
        written = field(details, "cache_creation_tokens")
        if written is None:
            written = field(details, "cache_write_tokens")
        if written is not None:
            observer.cache_creation_tokens = written


_MISSING = object()
_on_class: dict[tuple[type, str], bool] = {}  # (class, name): whether the class itself has the attribute


def field(obj: Any, name: str) -> Any:
    """``getattr(obj, name, None)``, without pydantic's ``__getattr__`` for the values LiteLLM keeps as extras.

    LiteLLM's stream objects (``StreamingChoices``, ``Delta``, and a ``ModelResponseStream``'s ``usage``) hold their
    values as pydantic extras: reading one goes through ``BaseModel.__getattr__`` (microseconds), and a missing one
    raises and catches an ``AttributeError`` in there (about ten). A pydantic model's declared fields are in its
    ``__dict__`` and its extras in ``__pydantic_extra__``: both are read directly. Anything else (a property, a
    private attribute, an object that is not a pydantic model) is read with ``getattr``.
    """
    values = getattr(obj, "__dict__", None)
    if values is None:
        return getattr(obj, name, None)
    found = values.get(name, _MISSING)
    if found is not _MISSING:
        return found
    extra = getattr(obj, "__pydantic_extra__", None)
    if type(extra) is dict:
        found = extra.get(name, _MISSING)
        if found is not _MISSING:
            return found
        key = (type(obj), name)
        on_class = _on_class.get(key)
        if on_class is None:
            if len(_on_class) >= 256:
                _on_class.clear()
            on_class = _on_class[key] = hasattr(type(obj), name)
        if not on_class:
            return None  # neither a field, nor an extra, nor a class attribute: getattr would raise
    return getattr(obj, name, None)


class CompletionObserver(ChatObserver):
    """``completion`` / ``acompletion``: a ``ModelResponse``, or ``ModelResponseStream`` chunks."""

    __slots__ = ()

    def _service(self, value: Any) -> None:
        """OpenAI's service tier and system fingerprint attributes are not recorded for a LiteLLM call."""

    def _usage(self, usage: Any) -> None:
        read_usage(self, usage)

    def on_item(self, item: Any) -> None:
        """Per streamed chunk (a chunk carries ``usage`` only when ``stream_options.include_usage`` asked for it).

        The chunk's values are read with :func:`field`: the attributes of LiteLLM's stream objects cost microseconds
        each through pydantic, several per chunk, against a budget of one microsecond per chunk.
        """
        if self.first_chunk is None:
            self.first_chunk = perf_counter()
        if self.response_id is None:
            self.response_id = item.id or None
            self.response_model = item.model or None
        for choice in item.choices:
            finish = field(choice, "finish_reason")
            if finish is not None:
                self.finish_reasons.append(finish)
            if self._choices is not None:
                self._accumulate_fields(choice, finish)
        usage = field(item, "usage")
        if usage is not None:
            read_usage(self, usage)

    def _accumulate_fields(self, choice: Any, finish: Any) -> None:
        """``ChatObserver._accumulate`` for one of LiteLLM's ``StreamingChoices``, read with :func:`field`."""
        # [role, text, {tool index: [id, name, arguments]}, finish_reason]
        choices = self._choices
        index = field(choice, "index")
        acc = choices.get(index)  # type: ignore[union-attr]
        if acc is None:
            acc = choices[index] = [None, StreamedText(), {}, None]  # type: ignore[index]
        delta = field(choice, "delta")
        if delta is not None:
            role = field(delta, "role")
            if role:
                acc[0] = role
            content = field(delta, "content")
            if content:
                acc[1].add(content)
            for call in field(delta, "tool_calls") or ():
                call_index = field(call, "index")
                slot = acc[2].get(call_index)
                if slot is None:
                    slot = acc[2][call_index] = [None, None, StreamedText()]
                call_id = field(call, "id")
                if call_id:
                    slot[0] = call_id
                fn = field(call, "function")
                if fn is not None:
                    name = field(fn, "name")
                    if name:
                        slot[1] = name
                    arguments = field(fn, "arguments")
                    if arguments:
                        slot[2].add(arguments)
        if finish is not None:
            acc[3] = finish


class TextCompletionObserver(LLMCallObserver):
    """``text_completion`` / ``atext_completion``: a ``TextCompletionResponse``, or one per streamed chunk."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._texts: dict[int, list] | None = {} if self.capture is not None else None  # index: [text, finish]

    def _read(self, value: Any) -> None:
        if self.response_id is None:
            self.response_id = getattr(value, "id", None) or None
            self.response_model = getattr(value, "model", None) or None
        for choice in getattr(value, "choices", None) or ():
            finish = getattr(choice, "finish_reason", None)
            if finish is not None:
                self.finish_reasons.append(finish)
            texts = self._texts
            if texts is not None:
                slot = texts.get(choice.index)
                if slot is None:
                    slot = texts[choice.index] = [StreamedText(), None]
                if choice.text:
                    slot[0].add(choice.text)
                if finish is not None:
                    slot[1] = finish
        usage = getattr(value, "usage", None)
        if usage is not None:
            read_usage(self, usage)

    def value(self, value: Any) -> None:
        self._read(value)

    def chunk(self, item: Any) -> None:
        self._read(item)

    def on_end(self, span: Any, error: BaseException | None) -> None:
        if self._texts:
            self.output_messages = [
                message("assistant", [text_part(str(text))] if text else [], finish)
                for _, (text, finish) in sorted(self._texts.items())
            ]
        super().on_end(span, error)


def prompt_messages(prompt: Any) -> list[dict[str, Any]] | None:
    """A text completion's prompt (a string or strings) as one user message; None for token-id prompts."""
    texts = [prompt] if isinstance(prompt, str) else prompt
    if isinstance(texts, (list, tuple)) and texts and all(isinstance(t, str) for t in texts):
        return [message("user", [text_part(t) for t in texts])]
    return None

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

__all__ = ["CompletionObserver", "EmbeddingsObserver", "TextCompletionObserver", "read_usage"]


def read_usage(observer: LLMCallObserver, usage: Any) -> None:
    """Tokens from a LiteLLM ``Usage`` (``prompt_tokens`` includes cached tokens, as the conventions ask)."""
    observer.input_tokens = getattr(usage, "prompt_tokens", None)
    observer.output_tokens = getattr(usage, "completion_tokens", None)
    details = getattr(usage, "prompt_tokens_details", None)
    if details is not None:
        cached = getattr(details, "cached_tokens", None)
        if cached is not None:
            observer.cache_read_tokens = cached
        written = getattr(details, "cache_creation_tokens", None)
        if written is None:
            written = getattr(details, "cache_write_tokens", None)
        if written is not None:
            observer.cache_creation_tokens = written


class CompletionObserver(ChatObserver):
    """``completion`` / ``acompletion``: a ``ModelResponse``, or ``ModelResponseStream`` chunks."""

    __slots__ = ()

    def _service(self, value: Any) -> None:
        """OpenAI's service tier and system fingerprint attributes are not recorded for a LiteLLM call."""

    def _usage(self, usage: Any) -> None:
        read_usage(self, usage)

    def on_item(self, item: Any) -> None:
        """Per streamed chunk (a chunk carries ``usage`` only when ``stream_options.include_usage`` asked for it)."""
        if self.first_chunk is None:
            self.first_chunk = perf_counter()
        if self.response_id is None:
            self.response_id = item.id or None
            self.response_model = item.model or None
        for choice in item.choices:
            if choice.finish_reason is not None:
                self.finish_reasons.append(choice.finish_reason)
            if self._choices is not None:
                self._accumulate(choice)
        usage = getattr(item, "usage", None)
        if usage is not None:
            read_usage(self, usage)


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

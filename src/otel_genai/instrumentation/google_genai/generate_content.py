"""``models.generate_content`` / ``generate_content_stream`` (sync and async): request parameters, usage, finish
reasons, response id and model, content.

Usage comes from the response's ``usage_metadata`` (for a stream, the last chunk that carries one):

* ``gen_ai.usage.input_tokens`` = ``prompt_token_count`` (which already includes cached content) +
  ``tool_use_prompt_token_count`` (the results of built-in tools fed back to the model);
* ``gen_ai.usage.output_tokens`` = ``candidates_token_count`` + ``thoughts_token_count`` (thinking is output the
  model generates and is billed as such; the conventions ask for reasoning tokens to be included), and
  ``gen_ai.usage.reasoning.output_tokens`` = ``thoughts_token_count``;
* ``gen_ai.usage.cache_read.input_tokens`` = ``cached_content_token_count``.

``gen_ai.response.model`` is the response's ``model_version``, ``gen_ai.response.id`` its ``response_id``.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.trace import Span

from otel_genai import semconv as gen_ai
from otel_genai.instrumentation._llm import LLMCallObserver, StreamedText, message, text_part
from otel_genai.instrumentation.google_genai import contents
from otel_genai.instrumentation.google_genai.contents import get

# (config field, its camelCase name in a dict, attribute)
_REQUEST = (
    ("temperature", "temperature", gen_ai.GEN_AI_REQUEST_TEMPERATURE),
    ("top_p", "topP", gen_ai.GEN_AI_REQUEST_TOP_P),
    ("top_k", "topK", gen_ai.GEN_AI_REQUEST_TOP_K),
    ("max_output_tokens", "maxOutputTokens", gen_ai.GEN_AI_REQUEST_MAX_TOKENS),
    ("seed", "seed", gen_ai.GEN_AI_REQUEST_SEED),
    ("candidate_count", "candidateCount", gen_ai.GEN_AI_REQUEST_CHOICE_COUNT),
    ("presence_penalty", "presencePenalty", gen_ai.GEN_AI_REQUEST_PRESENCE_PENALTY),
    ("frequency_penalty", "frequencyPenalty", gen_ai.GEN_AI_REQUEST_FREQUENCY_PENALTY),
)
_OUTPUT_TYPES = {"application/json": "json", "text/plain": "text", "text/x.enum": "text"}


def request(config: Any) -> dict[str, Any]:
    """The conventions' request attributes from a ``GenerateContentConfig`` (or its dict)."""
    out: dict[str, Any] = {}
    for field, camel, attribute in _REQUEST:
        value = get(config, field, camel)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[attribute] = value
    stop = get(config, "stop_sequences", "stopSequences")
    if isinstance(stop, str):
        stop = [stop]
    if isinstance(stop, (list, tuple)):
        out[gen_ai.GEN_AI_REQUEST_STOP_SEQUENCES] = [s for s in stop if isinstance(s, str)]
    output_type = _OUTPUT_TYPES.get(get(config, "response_mime_type", "responseMimeType"))
    if output_type is not None:
        out[gen_ai.GEN_AI_OUTPUT_TYPE] = output_type
    return out


def capture(observer: LLMCallObserver, kwargs: dict) -> None:
    observer.input_messages = contents.input_messages(kwargs.get("contents"))
    config = kwargs.get("config")
    if config is None:
        return
    system = contents.system_instructions(get(config, "system_instruction", "systemInstruction"))
    if system:
        observer.system_instructions = system
    tools = contents.tool_definitions(get(config, "tools"))
    if tools:
        observer.tool_definitions = tools


class GenerateContentObserver(LLMCallObserver):
    """One generate_content call: reads each streamed ``GenerateContentResponse`` or the final one.

    Per chunk it reads the ids, the usage and each candidate's finish reason; the parts of each candidate are
    accumulated only while content capture is on (text pieces joined per part kind).
    """

    __slots__ = ("_calls", "_outputs", "_reasons", "_usage_metadata")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._reasons: dict[int, Any] = {}
        self._usage_metadata: Any = None  # the last usage_metadata seen (a stream's last chunk carries the totals)
        self._calls: set[int] = set()  # candidates that call a function (their STOP is a tool call)
        # candidate index -> [[kind, StreamedText | part]]; only while capturing a stream
        self._outputs: dict[int, list[list[Any]]] | None = {} if self.capture is not None and self.stream else None

    def chunk(self, response: Any) -> None:
        try:  # the fields of a GenerateContentResponse; runs per chunk, so plain attribute reads
            response_id = response.response_id
            model = response.model_version
            usage = response.usage_metadata
            candidates = response.candidates
        except AttributeError:  # older SDKs lack some fields
            response_id = getattr(response, "response_id", None)
            model = getattr(response, "model_version", None)
            usage = getattr(response, "usage_metadata", None)
            candidates = getattr(response, "candidates", None)
        if response_id:
            self.response_id = response_id
        if model:
            self.response_model = model
        if usage is not None:
            self._usage_metadata = usage  # read once, when the span ends: the last one a chunk carried
        if candidates:
            for candidate in candidates:
                self._candidate(candidate)

    def value(self, response: Any) -> None:
        if not hasattr(response, "candidates"):
            return
        self.chunk(response)
        if self.capture is not None:
            self.output_messages = [
                self._output_message(getattr(c, "index", None) or 0, [contents.part(p) for p in _parts(c) or ()])
                for c in response.candidates or ()
            ]

    def _candidate(self, candidate: Any) -> None:
        try:
            index = candidate.index or 0
            reason = candidate.finish_reason
            content = candidate.content
        except AttributeError:
            index = getattr(candidate, "index", None) or 0
            reason = getattr(candidate, "finish_reason", None)
            content = getattr(candidate, "content", None)
        if reason is not None:
            self._reasons[index] = reason
        parts = getattr(content, "parts", None) if content is not None else None
        if not parts:
            return
        if index not in self._calls:
            for p in parts:
                if getattr(p, "function_call", None) is not None:
                    self._calls.add(index)
                    break
        outputs = self._outputs
        if outputs is not None:
            _accumulate(outputs.setdefault(index, []), parts)

    def _usage(self, usage: Any) -> None:
        prompt = getattr(usage, "prompt_token_count", None)
        tool_use = getattr(usage, "tool_use_prompt_token_count", None)
        if prompt is not None or tool_use is not None:
            self.input_tokens = (prompt or 0) + (tool_use or 0)
        candidates = getattr(usage, "candidates_token_count", None)
        thoughts = getattr(usage, "thoughts_token_count", None)
        if candidates is not None or thoughts is not None:
            self.output_tokens = (candidates or 0) + (thoughts or 0)
        if thoughts is not None:
            self.extra = {gen_ai.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: thoughts}
        cached = getattr(usage, "cached_content_token_count", None)
        if cached is not None:
            self.cache_read_tokens = cached

    def _finish_reason(self, index: int) -> str | None:
        reason = self._reasons.get(index)
        return None if reason is None else contents.finish_reason(reason, index in self._calls)

    def _output_message(self, index: int, parts: list[dict[str, Any]]) -> dict[str, Any]:
        return message("assistant", parts, self._finish_reason(index))

    def on_end(self, span: Span, error: BaseException | None) -> None:
        if self._usage_metadata is not None:
            self._usage(self._usage_metadata)
        if self._reasons:
            self.finish_reasons = [self._finish_reason(i) for i in sorted(self._reasons)]  # type: ignore[misc]
        if self._outputs:
            self.output_messages = [
                self._output_message(index, [_streamed(entry) for entry in entries])
                for index, entries in sorted(self._outputs.items())
            ]
        super().on_end(span, error)


def _parts(candidate: Any) -> Any:
    content = getattr(candidate, "content", None)
    return getattr(content, "parts", None)


def _accumulate(entries: list[list[Any]], parts: Any) -> None:
    """Add a chunk's parts to a candidate's output: text (and thought text) pieces join the previous piece."""
    for p in parts:
        text = getattr(p, "text", None)
        if text is not None:
            kind = "reasoning" if getattr(p, "thought", None) else "text"
            if entries and entries[-1][0] == kind:
                entries[-1][1].add(text)
            else:
                streamed = StreamedText()
                streamed.add(text)
                entries.append([kind, streamed])
        else:
            entries.append(["part", contents.part(p)])


def _streamed(entry: list[Any]) -> dict[str, Any]:
    kind, value = entry
    if kind == "text":
        return text_part(str(value))
    if kind == "reasoning":
        return {"type": "reasoning", "content": str(value)}
    return value

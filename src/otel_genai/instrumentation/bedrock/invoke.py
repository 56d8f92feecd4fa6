"""``invoke_model`` / ``invoke_model_with_response_stream``: the model family's own JSON bodies.

The body format depends on the model, and the model id says which family it is: ``anthropic.claude-...``,
``amazon.nova-...`` / ``amazon.titan-...``, ``meta.llama...``, ``mistral....``, ``cohere.command...``; an
inference-profile id has a region prefix (``us.anthropic...``), an ARN ends in one of those ids. A model id of no
known family (a provisioned-throughput ARN, a custom model) still gets its span, usage from Bedrock's own counts,
and no body parsing. A model whose id names an embedding model (``...embed...``) is an ``embeddings`` span.

Usage, whatever the family: Bedrock adds its own counts to every InvokeModel response (the
``X-Amzn-Bedrock-Input-Token-Count`` / ``-Output-Token-Count`` headers) and to the last chunk of a stream
(``amazon-bedrock-invocationMetrics``); the family's own usage fields, where it has them (anthropic, nova, titan,
llama), come first, as they also report cached tokens.

Reading a streamed chunk means parsing its JSON; while content is not captured, the content deltas of the two
families that stream the most events (anthropic's ``content_block_delta``, nova's ``contentBlockDelta``) are
recognised by a byte search and not parsed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from time import perf_counter
from typing import Any

from opentelemetry.trace import Span

from otel_genai import content
from otel_genai import semconv as gen_ai
from otel_genai.instrumentation._llm import (
    LLMCallObserver,
    StreamedText,
    message,
    parse_arguments,
    request_attributes,
    text_part,
    tool_call_part,
)
from otel_genai.instrumentation.bedrock import converse

logger = logging.getLogger(__name__)

ANTHROPIC, NOVA, TITAN, LLAMA, MISTRAL, COHERE = "anthropic", "nova", "titan", "llama", "mistral", "cohere"
_PROVIDERS = {"anthropic": ANTHROPIC, "amazon": TITAN, "meta": LLAMA, "mistral": MISTRAL, "cohere": COHERE}
INVOCATION_METRICS = "amazon-bedrock-invocationMetrics"
INPUT_TOKENS_HEADER = "x-amzn-bedrock-input-token-count"
OUTPUT_TOKENS_HEADER = "x-amzn-bedrock-output-token-count"

_anthropic_finish = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_call",
    "refusal": "content_filter",
}
_upper_finish = {  # titan's completionReason, cohere's finish_reason
    "FINISH": "stop",
    "FINISHED": "stop",
    "COMPLETE": "stop",
    "STOP_SEQUENCE": "stop",
    "LENGTH": "length",
    "MAX_TOKENS": "length",
    "CONTENT_FILTERED": "content_filter",
    "ERROR_TOXIC": "content_filter",
    "ERROR": "error",
}
_FINISH = {ANTHROPIC: _anthropic_finish, NOVA: converse.FINISH_REASONS, TITAN: _upper_finish, COHERE: _upper_finish}

_P = gen_ai  # request parameter names per family: {body key: attribute}
_PARAMS: dict[str, dict[str, str]] = {
    ANTHROPIC: {
        "max_tokens": _P.GEN_AI_REQUEST_MAX_TOKENS,
        "temperature": _P.GEN_AI_REQUEST_TEMPERATURE,
        "top_p": _P.GEN_AI_REQUEST_TOP_P,
        "top_k": _P.GEN_AI_REQUEST_TOP_K,
        "stop_sequences": _P.GEN_AI_REQUEST_STOP_SEQUENCES,
    },
    NOVA: {
        "maxTokens": _P.GEN_AI_REQUEST_MAX_TOKENS,
        "max_new_tokens": _P.GEN_AI_REQUEST_MAX_TOKENS,
        "temperature": _P.GEN_AI_REQUEST_TEMPERATURE,
        "topP": _P.GEN_AI_REQUEST_TOP_P,
        "top_p": _P.GEN_AI_REQUEST_TOP_P,
        "topK": _P.GEN_AI_REQUEST_TOP_K,
        "top_k": _P.GEN_AI_REQUEST_TOP_K,
        "stopSequences": _P.GEN_AI_REQUEST_STOP_SEQUENCES,
    },
    TITAN: {
        "maxTokenCount": _P.GEN_AI_REQUEST_MAX_TOKENS,
        "temperature": _P.GEN_AI_REQUEST_TEMPERATURE,
        "topP": _P.GEN_AI_REQUEST_TOP_P,
        "stopSequences": _P.GEN_AI_REQUEST_STOP_SEQUENCES,
    },
    LLAMA: {
        "max_gen_len": _P.GEN_AI_REQUEST_MAX_TOKENS,
        "temperature": _P.GEN_AI_REQUEST_TEMPERATURE,
        "top_p": _P.GEN_AI_REQUEST_TOP_P,
    },
    MISTRAL: {
        "max_tokens": _P.GEN_AI_REQUEST_MAX_TOKENS,
        "temperature": _P.GEN_AI_REQUEST_TEMPERATURE,
        "top_p": _P.GEN_AI_REQUEST_TOP_P,
        "top_k": _P.GEN_AI_REQUEST_TOP_K,
        "stop": _P.GEN_AI_REQUEST_STOP_SEQUENCES,
    },
    COHERE: {
        "max_tokens": _P.GEN_AI_REQUEST_MAX_TOKENS,
        "temperature": _P.GEN_AI_REQUEST_TEMPERATURE,
        "p": _P.GEN_AI_REQUEST_TOP_P,
        "k": _P.GEN_AI_REQUEST_TOP_K,
        "stop_sequences": _P.GEN_AI_REQUEST_STOP_SEQUENCES,
        "seed": _P.GEN_AI_REQUEST_SEED,
        "frequency_penalty": _P.GEN_AI_REQUEST_FREQUENCY_PENALTY,
        "presence_penalty": _P.GEN_AI_REQUEST_PRESENCE_PENALTY,
    },
}
# the byte marks of content-delta chunks that need no parsing while content is not captured
_DELTA_MARK = {ANTHROPIC: b"content_block_delta", NOVA: b"contentBlockDelta"}


def family(model_id: Any) -> tuple[str | None, bool]:
    """(family, is an embedding model) of a model id, inference-profile id or ARN; (None, False) when unknown."""
    if not isinstance(model_id, str):
        return None, False
    name = model_id.rsplit("/", 1)[-1].lower()
    embeddings = "embed" in name
    segments = name.split(".")
    for i, segment in enumerate(segments[:2]):  # a region prefix (us., eu., apac., global.) comes first
        found = _PROVIDERS.get(segment)
        if found is not None:
            rest = ".".join(segments[i + 1 :])
            if found == TITAN and rest.startswith("nova"):
                found = NOVA
            return found, embeddings
    return None, embeddings


def parse_body(body: Any) -> Any:
    """The JSON request body an app passed (bytes, str); None for a file-like body or one that is not JSON."""
    if isinstance(body, (bytes, bytearray, str)):
        try:
            return json.loads(body)
        except ValueError:
            return None
    return None


def request(kind: str | None, embeddings: bool, body: Any) -> dict[str, Any]:
    """The request parameters the conventions name, from the family's request body."""
    if not isinstance(body, Mapping):
        return {}
    if embeddings:
        dimensions = body.get("dimensions") or body.get("output_dimension")
        if isinstance(dimensions, int) and not isinstance(dimensions, bool):
            return {gen_ai.GEN_AI_EMBEDDINGS_DIMENSION_COUNT: dimensions}
        return {}
    params = _PARAMS.get(kind or "")
    if params is None:
        return {}
    if kind == NOVA:
        config = body.get("inferenceConfig")
        return request_attributes(config, params) if isinstance(config, Mapping) else {}
    if kind == TITAN:
        config = body.get("textGenerationConfig")
        return request_attributes(config, params) if isinstance(config, Mapping) else {}
    return request_attributes(body, params)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else content.placeholder(value)


def _anthropic_parts(value: Any) -> list[dict[str, Any]]:
    from otel_genai.instrumentation.anthropic.messages import parts  # the Messages API's shapes, dicts included

    return parts(value)


def input_content(kind: str | None, embeddings: bool, body: Any) -> tuple[list | None, list | None]:
    """(input messages, system instructions) of a request body."""
    if not isinstance(body, Mapping):
        return None, None
    if embeddings:
        texts = body.get("texts") if "texts" in body else body.get("inputText")
        texts = [texts] if isinstance(texts, str) else texts
        if isinstance(texts, (list, tuple)) and texts:
            return [message("user", [text_part(_text(t)) for t in texts])], None
        return None, None
    if kind == ANTHROPIC or (kind == MISTRAL and "messages" in body):
        msgs = [
            message(m.get("role") or "user", _anthropic_parts(m.get("content")))
            for m in body.get("messages") or ()
            if isinstance(m, Mapping)
        ]
        system = body.get("system")
        return msgs, (_anthropic_parts(system) if system else None)
    if kind == NOVA:
        return converse.input_messages(body.get("messages")), converse.parts(body.get("system")) or None
    if kind == COHERE and "message" in body:  # Command R
        preamble = body.get("preamble")
        system = [text_part(_text(preamble))] if preamble else None
        return [message("user", [text_part(_text(body["message"]))])], system
    prompt = body.get("inputText") if kind == TITAN else body.get("prompt")
    if prompt is not None:
        return [message("user", [text_part(_text(prompt))])], None
    return None, None


class InvokeObserver(LLMCallObserver):
    """Reads an InvokeModel body or the stream's chunks in the model family's format."""

    __slots__ = ("_blocks", "_delta_mark", "_finish", "_stop_reason", "_text", "_uncached", "embeddings", "kind")

    response_body: bytes | None = None  # the InvokeModel body, read by the wrapper

    def __init__(self, telemetry: Any, metric_attributes: dict, stream: bool, kind: str | None, embeddings: bool):
        super().__init__(telemetry, metric_attributes, stream)
        self.kind = kind
        self.embeddings = embeddings
        self._finish = _FINISH.get(kind or "", {})
        self._stop_reason: str | None = None
        self._uncached: int | None = None
        capturing = self.capture is not None and stream
        self._text: StreamedText | None = StreamedText() if capturing and kind != ANTHROPIC else None
        self._blocks: dict[int, list[Any]] | None = {} if capturing and kind == ANTHROPIC else None
        self._delta_mark = None if capturing else _DELTA_MARK.get(kind or "")

    def request(self, body: Any) -> None:
        """Capture the request's content (only called when capturing); never raises into the caller's call."""
        try:
            self.input_messages, self.system_instructions = input_content(self.kind, self.embeddings, body)
        except Exception:
            logger.debug("otel-genai: capturing a Bedrock InvokeModel request failed", exc_info=True)

    # -- shared ---------------------------------------------------------------------------------------------------

    def _stopped(self, reason: Any) -> None:
        if isinstance(reason, str) and reason:
            self._stop_reason = reason
            self.finish_reasons = [self._finish.get(reason, reason.lower())]

    def _finish_reason(self) -> str | None:
        return self.finish_reasons[0] if self.finish_reasons else None

    def _tokens(self, input_tokens: Any, output_tokens: Any) -> None:
        if isinstance(input_tokens, int):
            self.input_tokens = input_tokens
        if isinstance(output_tokens, int):
            self.output_tokens = output_tokens

    def _fallback(self, input_tokens: Any, output_tokens: Any) -> None:
        """Bedrock's own counts, where the family's body gave none."""
        if self.input_tokens is None and input_tokens is not None:
            try:
                self.input_tokens = int(input_tokens)
            except (TypeError, ValueError):
                pass
        if self.output_tokens is None and output_tokens is not None and not self.embeddings:
            try:
                self.output_tokens = int(output_tokens)
            except (TypeError, ValueError):
                pass

    def _anthropic_usage(self, usage: Any) -> None:
        if not isinstance(usage, Mapping):
            return
        if usage.get("input_tokens") is not None:
            self._uncached = usage["input_tokens"]
        for field, attribute in (
            ("cache_read_input_tokens", "cache_read_tokens"),
            ("cache_creation_input_tokens", "cache_creation_tokens"),
            ("output_tokens", "output_tokens"),
        ):
            if usage.get(field) is not None:
                setattr(self, attribute, usage[field])
        if self._uncached is not None:
            self.input_tokens = self._uncached + (self.cache_read_tokens or 0) + (self.cache_creation_tokens or 0)

    # -- InvokeModel ----------------------------------------------------------------------------------------------

    def value(self, value: Any) -> None:
        body = None
        if self.response_body is not None:
            try:
                body = json.loads(self.response_body)
            except ValueError:
                body = None
        if isinstance(body, Mapping):
            self._body(body)
        headers = ((value or {}).get("ResponseMetadata") or {}).get("HTTPHeaders") or {}
        self._fallback(headers.get(INPUT_TOKENS_HEADER), headers.get(OUTPUT_TOKENS_HEADER))

    def _body(self, body: Mapping[str, Any]) -> None:
        kind = self.kind
        out: list[dict[str, Any]] | None = None
        if self.embeddings:
            self._tokens(body.get("inputTextTokenCount"), None)
            billed = (body.get("meta") or {}).get("billed_units") if isinstance(body.get("meta"), Mapping) else None
            if isinstance(billed, Mapping):
                self._tokens(billed.get("input_tokens"), None)
            if isinstance(body.get("id"), str):
                self.response_id = body["id"]
            return
        if kind == ANTHROPIC:
            self.response_id = body.get("id")
            self.response_model = body.get("model")
            self._anthropic_usage(body.get("usage"))
            self._stopped(body.get("stop_reason"))
            out = _anthropic_parts(body.get("content"))
        elif kind == NOVA:
            self._stopped(body.get("stopReason"))
            usage = body.get("usage") or {}
            self._tokens(usage.get("inputTokens"), usage.get("outputTokens"))
            out = converse.parts(((body.get("output") or {}).get("message") or {}).get("content"))
        elif kind == TITAN:
            results = body.get("results") or [{}]
            self._tokens(body.get("inputTextTokenCount"), results[0].get("tokenCount"))
            self._stopped(results[0].get("completionReason"))
            out = [text_part(_text(r.get("outputText") or "")) for r in results]
        elif kind == LLAMA:
            self._tokens(body.get("prompt_token_count"), body.get("generation_token_count"))
            self._stopped(body.get("stop_reason"))
            out = [text_part(_text(body.get("generation") or ""))]
        elif kind == MISTRAL:
            if "choices" in body:  # the chat format (mistral-large)
                choice = (body.get("choices") or [{}])[0]
                self._stopped(choice.get("finish_reason"))
                out = [text_part(_text((choice.get("message") or {}).get("content") or ""))]
            else:
                output = (body.get("outputs") or [{}])[0]
                self._stopped(output.get("stop_reason"))
                out = [text_part(_text(output.get("text") or ""))]
        elif kind == COHERE:
            if isinstance(body.get("id"), str):
                self.response_id = body["id"]
            if "generations" in body:
                generation = (body.get("generations") or [{}])[0]
                self._stopped(generation.get("finish_reason"))
                out = [text_part(_text(generation.get("text") or ""))]
            else:  # Command R
                self._stopped(body.get("finish_reason"))
                out = [text_part(_text(body.get("text") or ""))]
        if self.capture is not None and out is not None:
            self.output_messages = [message("assistant", out, self._finish_reason())]

    # -- InvokeModelWithResponseStream ----------------------------------------------------------------------------

    def on_item(self, event: Any) -> None:
        """Per stream event: ``{"chunk": {"bytes": <the family's JSON>}}``."""
        if self.first_chunk is None:
            self.first_chunk = perf_counter()
        chunk = event.get("chunk")
        if chunk is None:
            return
        data = chunk.get("bytes")
        if data is None:
            return
        mark = self._delta_mark
        if mark is not None and mark in data:
            return
        try:
            body = json.loads(data)
        except ValueError:
            return
        if isinstance(body, Mapping):
            self._chunk(body)

    def _chunk(self, body: Mapping[str, Any]) -> None:
        kind = self.kind
        text = self._text
        if kind == ANTHROPIC:
            self._anthropic_event(body)
        elif kind == NOVA:
            if "contentBlockDelta" in body:
                if text is not None:
                    piece = ((body["contentBlockDelta"] or {}).get("delta") or {}).get("text")
                    if isinstance(piece, str):
                        text.add(piece)
            elif "messageStop" in body:
                self._stopped((body["messageStop"] or {}).get("stopReason"))
            elif "metadata" in body:
                usage = (body["metadata"] or {}).get("usage") or {}
                self._tokens(usage.get("inputTokens"), usage.get("outputTokens"))
        elif kind == TITAN:
            self._piece(body.get("outputText"))
            self._tokens(body.get("inputTextTokenCount"), body.get("totalOutputTextTokenCount"))
            self._stopped(body.get("completionReason"))
        elif kind == LLAMA:
            self._piece(body.get("generation"))
            self._tokens(body.get("prompt_token_count"), body.get("generation_token_count"))
            self._stopped(body.get("stop_reason"))
        elif kind == MISTRAL:
            if "choices" in body:
                choice = (body.get("choices") or [{}])[0]
                self._piece((choice.get("delta") or choice.get("message") or {}).get("content"))
                self._stopped(choice.get("finish_reason") or choice.get("stop_reason"))
            else:
                output = (body.get("outputs") or [{}])[0]
                self._piece(output.get("text"))
                self._stopped(output.get("stop_reason"))
        elif kind == COHERE:
            if not body.get("is_finished"):
                self._piece(body.get("text"))
            self._stopped(body.get("finish_reason"))
        metrics = body.get(INVOCATION_METRICS)
        if isinstance(metrics, Mapping):
            self._fallback(metrics.get("inputTokenCount"), metrics.get("outputTokenCount"))

    def _piece(self, piece: Any) -> None:
        if self._text is not None and isinstance(piece, str):
            self._text.add(piece)

    def _anthropic_event(self, body: Mapping[str, Any]) -> None:
        kind = body.get("type")
        if kind == "content_block_delta":
            if self._blocks is not None:
                delta = body.get("delta") or {}
                piece = delta.get("text") or delta.get("partial_json") or delta.get("thinking")
                block = self._blocks.get(body.get("index", 0))
                if block is not None and isinstance(piece, str):
                    block[3].add(piece)
        elif kind == "message_start":
            msg = body.get("message") or {}
            self.response_id = msg.get("id")
            self.response_model = msg.get("model")
            self._anthropic_usage(msg.get("usage"))
        elif kind == "message_delta":
            self._stopped((body.get("delta") or {}).get("stop_reason"))
            self._anthropic_usage(body.get("usage"))
        elif kind == "content_block_start" and self._blocks is not None:
            block = body.get("content_block") or {}
            self._blocks[body.get("index", 0)] = [block.get("type"), block.get("id"), block.get("name"), StreamedText()]

    def _streamed_parts(self) -> list[dict[str, Any]]:
        if self._text is not None:
            return [text_part(str(self._text))]
        out = []
        for _, (kind, id, name, streamed) in sorted((self._blocks or {}).items()):
            text = str(streamed)
            if kind in ("tool_use", "server_tool_use"):
                out.append(tool_call_part(id, name, parse_arguments(text) if text else {}))
            elif kind == "thinking":
                out.append({"type": "reasoning", "content": text})
            else:
                out.append(text_part(text))
        return out

    def on_end(self, span: Span, error: BaseException | None) -> None:
        if self._text or self._blocks:
            self.output_messages = [message("assistant", self._streamed_parts(), self._finish_reason())]
        super().on_end(span, error)

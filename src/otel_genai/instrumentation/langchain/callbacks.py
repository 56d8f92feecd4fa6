"""The callback handler added to every LangChain callback manager: one span per run, parents from ``parent_run_id``.

**Parents come from LangChain's run ids**, never from context attached in a callback: callbacks run in whichever
task or thread LangChain picks (a sync handler of an async run may run in an executor), so a token attached there
would be detached elsewhere. A run's span is started under its parent run's span, looked up in a map keyed by run
id. A root run (no parent, or one we never saw) starts under the OTel context current when the callback runs, which
is the caller's: for ``stream`` / ``astream`` the stream wrapper (:mod:`.streams`) runs the stream's body in the
context current when the call was made.

**Outcomes.** LangChain reports a consumer that stops a stream early as an error of the root run (``GeneratorExit``
for a closed generator, ``CancelledError`` for a cancelled task): those end the span with status UNSET and
``otel_genai.outcome`` = ``stopped_early`` / ``cancelled`` (``abandoned`` when the stream wrapper saw the stream
dropped and collected), never ERROR. LangGraph's control-flow exceptions (``GraphBubbleUp``: interrupts,
``Command`` to a parent graph) are not errors either. When a root run ends, every run of its tree still open (a node
in flight when the consumer stopped) is ended once, with the root's outcome.

**Bounded and thread-safe.** One lock guards the map; at most ``max_runs`` runs are in flight, beyond that the
oldest is evicted and ended as ``abandoned``. The map is empty once every run ended.

**One CLIENT span per model HTTP call.** A chat-model run whose provider otel-genai's OpenAI / Anthropic instrumentor
traces makes no span of its own: it stands for its parent's span, and the provider's CLIENT span (which sees the
wire: usage, response id) is the one, nested at the chat-model run's place (the node's or chain's span is current
while the model runs, see :mod:`.streams`). Tokens are then counted once, by the provider's span. Other chat models
get a ``chat {model}`` CLIENT span with what LangChain reports. anthropic >= 2.13 traces its own calls by default:
without our Anthropic instrumentor (which switches that off for the calls it traces) a ChatAnthropic call would have
two CLIENT spans, and one WARNING says so.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import OrderedDict
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.trace import Span, SpanKind

from otel_genai import content
from otel_genai import semconv as gen_ai
from otel_genai.instrumentation._llm import LLMCallObserver, Telemetry
from otel_genai.instrumentation.langchain import shapes
from otel_genai.lifecycle import Outcome, SpanRun, context_attributes

__all__ = ["STREAM_KEY", "OTelCallbackHandler", "StreamState", "provider_instrumented"]

logger = logging.getLogger(__name__)

STREAM_KEY = otel_context.create_key("otel_genai.langchain.stream")

_PROVIDER_INSTRUMENTORS = {
    "openai": ("otel_genai.instrumentation.openai", "OpenAIInstrumentor"),
    "azure": ("otel_genai.instrumentation.openai", "OpenAIInstrumentor"),
    "anthropic": ("otel_genai.instrumentation.anthropic", "AnthropicInstrumentor"),
}


def provider_instrumented(provider: str | None) -> bool:
    """Whether otel-genai's instrumentor of this LangChain provider is on (it then makes the CLIENT span)."""
    where = _PROVIDER_INSTRUMENTORS.get(provider or "")
    if where is None:
        return False
    import sys

    module = sys.modules.get(where[0])
    cls = getattr(module, where[1], None) if module is not None else None
    instance = vars(cls).get("_instance") if isinstance(cls, type) else None
    return bool(instance is not None and getattr(instance, "_is_instrumented_by_opentelemetry", False))


def _anthropic_traces_itself() -> bool:
    """Whether anthropic (>= 2.13, which has ``start_api_call_span``) makes its own span per call: by default it does,
    whenever a tracer provider is set, unless ``ANTHROPIC_OPEN_TELEMETRY=false``."""
    import os
    import sys

    base_client = sys.modules.get("anthropic._base_client")
    return hasattr(base_client, "start_api_call_span") and os.environ.get("ANTHROPIC_OPEN_TELEMETRY", "").lower() != (
        "false"
    )


_DOUBLED_BY_ANTHROPIC = (
    "otel-genai: anthropic's own tracing is on, so each ChatAnthropic call gets anthropic's span next to "
    "otel-genai's 'chat' span (two CLIENT spans per call). Instrument AnthropicInstrumentor too (GenAIInstrumentor "
    "and opentelemetry-instrument do) for one span that both agree on, or set ANTHROPIC_OPEN_TELEMETRY=false."
)


class StreamState:
    """Shared by a wrapped stream and its root run: whether the stream was dropped and collected unclosed."""

    __slots__ = ("dropped",)

    def __init__(self) -> None:
        self.dropped = False


class _Run:
    """A LangChain run in flight: its SpanRun (None for a run that stands for its parent's span)."""

    __slots__ = ("agent", "base", "children", "root", "run", "span", "state")

    def __init__(
        self, run: SpanRun | None, span: Span, root: UUID, base: otel_context.Context, agent: Any = None
    ) -> None:
        self.run = run
        self.span = span
        self.root = root
        self.base = base  # the root's context (using_attributes values, baggage), the base of its tree's contexts
        self.agent = agent
        self.children: set[UUID] | None = None  # roots only: runs of the tree in flight
        self.state: StreamState | None = None  # roots only


def _is_bubble_up(error: BaseException) -> bool:
    return any(c.__name__ == "GraphBubbleUp" for c in type(error).__mro__)


def _end(run: SpanRun | None, outcome: str, error: BaseException | None = None) -> None:
    if run is not None:
        run.end(outcome, error)


class OTelCallbackHandler(BaseCallbackHandler):
    """Mirrors LangChain runs as OTel spans (see the module docstring). Inert once ``telemetry`` is None."""

    run_inline = True  # called in the run's own task, in order (never in an executor)
    raise_error = False
    # Plain class attributes instead of BaseCallbackHandler's properties: LangChain reads one for every event it
    # dispatches to every handler (once per streamed token), and a property is a Python call.
    ignore_llm = ignore_chain = ignore_agent = ignore_retriever = ignore_chat_model = ignore_custom_event = False
    ignore_retry = False
    _token_run: Any = None  # the run id whose first token was seen last: its later tokens need nothing

    def __init__(self, telemetry: Telemetry, max_runs: int = 10_000) -> None:
        super().__init__()
        self.telemetry: Telemetry | None = telemetry
        self.max_runs = max_runs
        self._warned_anthropic = False
        self._lock = threading.Lock()
        self._runs: OrderedDict[UUID, _Run] = OrderedDict()

    def __copy__(self) -> OTelCallbackHandler:
        return self

    def __deepcopy__(self, memo: Any) -> OTelCallbackHandler:
        return self

    # -- lookups ---------------------------------------------------------------------------------------------------

    def span_of(self, run_id: UUID) -> Span | None:
        """The span standing for a run in flight (its parent's, for a run that makes none)."""
        entry = self._runs.get(run_id)
        return None if entry is None else entry.span

    def in_flight(self) -> int:
        return len(self._runs)

    # -- starting and ending ---------------------------------------------------------------------------------------

    def _parent(self, parent_run_id: UUID | None) -> _Run | None:
        return self._runs.get(parent_run_id) if parent_run_id is not None else None

    def _start(
        self,
        run_id: UUID,
        parent: _Run | None,
        name: str | None,
        kind: SpanKind,
        attrs: dict[str, Any] | None,
        observer: Any = None,
        agent: Any = None,
    ) -> None:
        """Start the run's span (``name`` None: the run stands for its parent's span) and register it."""
        telemetry = self.telemetry
        if telemetry is None or not is_instrumentation_enabled():
            return
        if parent is None:
            base = otel_context.get_current()
            parent_ctx = base
        else:
            base = parent.base
            parent_ctx = trace.set_span_in_context(parent.span, base)
        if name is None and parent is not None:
            entry = _Run(None, parent.span, parent.root, base, agent)
        else:
            attrs = attrs or {}
            attrs[gen_ai.LANGCHAIN_RUN_ID] = str(run_id)
            extra = context_attributes(base)
            if extra:
                attrs = {**extra, **attrs}
            span = telemetry.tracer.start_span(name or "run", context=parent_ctx, kind=kind, attributes=attrs)
            run = SpanRun(span, trace.set_span_in_context(span, base), observer)
            entry = _Run(run, span, parent.root if parent is not None else run_id, base, agent)
        if parent is None:
            entry.children = set()
            state = entry.state = otel_context.get_value(STREAM_KEY, base)  # type: ignore[assignment]
            if state is not None and entry.run is not None:
                # Running inside a wrapped stream's body, i.e. in its private contextvars.Context (or a copy of
                # it): the root span is made current there for the rest of the body (checkpointer calls, code the
                # graph runs outside any node), never detached: that context is discarded with the stream.
                otel_context.attach(entry.run.otel_context)
        with self._lock:
            self._runs[run_id] = entry
            if parent is not None:
                root = self._runs.get(entry.root)
                if root is not None and root.children is not None:
                    root.children.add(run_id)
            evicted = []
            while len(self._runs) > self.max_runs:
                old_id, old = self._runs.popitem(last=False)
                root = self._runs.get(old.root)
                if root is not None and root.children is not None:
                    root.children.discard(old_id)
                evicted.append(old)
        for old in evicted:
            _end(old.run, Outcome.ABANDONED)

    def _finish(self, run_id: UUID, error: BaseException | None = None, output: Any = None, attr: str = "") -> None:
        """End the run's span once; a root also ends what is left of its tree."""
        with self._lock:
            entry = self._runs.pop(run_id, None)
            if entry is None:
                return
            leftovers: list[_Run] = []
            if entry.children is not None:
                leftovers = [e for i in entry.children if (e := self._runs.pop(i, None)) is not None]
                entry.children = None
            else:
                root = self._runs.get(entry.root)
                if root is not None and root.children is not None:
                    root.children.discard(run_id)
        outcome, error = self._outcome(entry, error)
        run = entry.run
        if run is not None and output is not None and attr:
            try:
                run.span.set_attribute(attr, output)
            except Exception:
                logger.debug("otel-genai: recording a run's output failed", exc_info=True)
        _end(run, outcome, error)
        if leftovers:
            rest = outcome if outcome in (Outcome.STOPPED_EARLY, Outcome.CANCELLED, Outcome.ABANDONED) else None
            for left in reversed(leftovers):
                _end(left.run, rest or (Outcome.CANCELLED if error is not None else Outcome.ABANDONED))

    @staticmethod
    def _outcome(entry: _Run, error: BaseException | None) -> tuple[str, BaseException | None]:
        if error is None:
            return Outcome.COMPLETED, None
        if isinstance(error, GeneratorExit):
            state = entry.state
            return (Outcome.ABANDONED if state is not None and state.dropped else Outcome.STOPPED_EARLY), None
        if isinstance(error, asyncio.CancelledError):
            return Outcome.CANCELLED, None
        if _is_bubble_up(error):
            return Outcome.COMPLETED, None
        return Outcome.ERROR, error

    def shutdown(self) -> None:
        """End everything in flight (``abandoned``) and go inert."""
        self.telemetry = None
        with self._lock:
            leftovers = list(self._runs.values())[::-1]
            self._runs.clear()
        for entry in leftovers:
            _end(entry.run, Outcome.ABANDONED)

    def _guarded(self, what: str, fn: Any, *args: Any) -> None:
        try:
            fn(*args)
        except Exception:
            logger.debug("otel-genai: langchain %s failed", what, exc_info=True)

    # -- chains (graphs, nodes, sequences, lambdas) ----------------------------------------------------------------

    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self._guarded(
            "on_chain_start", self._chain_start, serialized, inputs, run_id, parent_run_id, tags, metadata, kwargs
        )

    def _chain_start(
        self,
        serialized: Any,
        inputs: Any,
        run_id: UUID,
        parent_run_id: UUID | None,
        tags: list[str] | None,
        metadata: dict[str, Any] | None,
        kwargs: dict[str, Any],
    ) -> None:
        if self.telemetry is None:
            return
        parent = self._parent(parent_run_id)
        metadata = metadata or {}
        if parent is not None and tags and "langsmith:hidden" in tags:
            self._start(run_id, parent, None, SpanKind.INTERNAL, None, agent=parent.agent)
            return
        name = shapes.run_name(serialized, kwargs, "chain")
        marker = shapes.agent_marker(metadata)
        agent = marker is not None and (parent is None or parent.agent != marker)
        span_name, attrs = shapes.chain_shape(name, metadata, parent is None, agent)
        if content.capture_mode().on_span and inputs is not None:
            attrs[gen_ai.INPUT] = content.to_json(inputs)
        self._start(run_id, parent, span_name, SpanKind.INTERNAL, attrs, agent=marker)

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        capture = outputs is not None and content.capture_mode().on_span
        self._guarded("on_chain_end", self._finish_with, run_id, outputs if capture else None, gen_ai.OUTPUT)

    def _finish_with(self, run_id: UUID, output: Any, attr: str) -> None:
        self._finish(run_id, None, None if output is None else content.to_json(output), attr)

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._guarded("on_chain_error", self._finish, run_id, error)

    # -- models ----------------------------------------------------------------------------------------------------

    def on_chat_model_start(
        self,
        serialized: dict[str, Any] | None,
        messages: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self._guarded(
            "on_chat_model_start",
            self._model_start,
            serialized,
            messages,
            None,
            run_id,
            parent_run_id,
            metadata,
            kwargs,
        )

    def on_llm_start(
        self,
        serialized: dict[str, Any] | None,
        prompts: list[str],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self._guarded(
            "on_llm_start", self._model_start, serialized, None, prompts, run_id, parent_run_id, metadata, kwargs
        )

    def _model_start(
        self,
        serialized: Any,
        messages: Any,
        prompts: Any,
        run_id: UUID,
        parent_run_id: UUID | None,
        metadata: dict[str, Any] | None,
        kwargs: dict[str, Any],
    ) -> None:
        telemetry = self.telemetry
        if telemetry is None:
            return
        parent = self._parent(parent_run_id)
        metadata = metadata or {}
        operation = gen_ai.CHAT if messages is not None else gen_ai.TEXT_COMPLETION
        span_name, provider, attrs, metric = shapes.model_request(serialized, metadata, kwargs, operation)
        if provider_instrumented(provider):  # the provider's span is the CLIENT span: this run stands for its parent
            if parent is not None:
                self._start(run_id, parent, None, SpanKind.CLIENT, None, agent=parent.agent)
            return
        if provider == "anthropic" and not self._warned_anthropic and _anthropic_traces_itself():
            self._warned_anthropic = True
            logger.warning(_DOUBLED_BY_ANTHROPIC)
        observer = LLMCallObserver(telemetry, metric)
        if observer.capture:
            shapes.model_input(observer, messages, prompts)
        agent = parent.agent if parent is not None else None
        self._start(run_id, parent, span_name, SpanKind.CLIENT, attrs, observer, agent)

    def on_llm_new_token(self, token: str, *, run_id: UUID, **kwargs: Any) -> None:
        if run_id is self._token_run:  # per token, only the first one matters (time to first chunk)
            return
        entry = self._runs.get(run_id)
        run = entry.run if entry is not None else None
        if run is not None:
            observer = run.observer
            if isinstance(observer, LLMCallObserver) and observer.first_chunk is None:
                observer.stream = True
                observer.on_item(token)
        self._token_run = run_id  # run ids are never reused: skipping this run's later tokens is always right

    def on_llm_end(self, response: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._guarded("on_llm_end", self._model_end, response, run_id)

    def _model_end(self, response: Any, run_id: UUID) -> None:
        entry = self._runs.get(run_id)
        run = entry.run if entry is not None else None
        if run is not None and isinstance(run.observer, LLMCallObserver):
            try:
                shapes.model_response(run.observer, response)
            except Exception:
                logger.debug("otel-genai: reading a langchain model result failed", exc_info=True)
        self._finish(run_id)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._guarded("on_llm_error", self._finish, run_id, error)

    # -- tools and retrievers ------------------------------------------------------------------------------------

    def on_tool_start(
        self,
        serialized: dict[str, Any] | None,
        input_str: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self._guarded(
            "on_tool_start", self._leaf_start, shapes.tool_shape, serialized, input_str, run_id, parent_run_id, kwargs
        )

    def _leaf_start(
        self,
        shape: Any,
        serialized: Any,
        value: Any,
        run_id: UUID,
        parent_run_id: UUID | None,
        kwargs: dict[str, Any],
    ) -> None:
        """A tool or retriever run: an INTERNAL span under its parent run, shaped by ``shape``."""
        if self.telemetry is None:
            return
        parent = self._parent(parent_run_id)
        span_name, attrs = shape(serialized, value, kwargs)
        self._start(run_id, parent, span_name, SpanKind.INTERNAL, attrs, agent=parent.agent if parent else None)

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        capture = output is not None and content.capture_mode().on_span
        self._guarded("on_tool_end", self._tool_end, run_id, output if capture else None)

    def _tool_end(self, run_id: UUID, output: Any) -> None:
        result = None if output is None else shapes.tool_result(output)
        self._finish(run_id, None, result, gen_ai.GEN_AI_TOOL_CALL_RESULT)

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._guarded("on_tool_error", self._finish, run_id, error)

    def on_retriever_start(
        self,
        serialized: dict[str, Any] | None,
        query: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self._guarded(
            "on_retriever_start",
            self._leaf_start,
            shapes.retriever_shape,
            serialized,
            query,
            run_id,
            parent_run_id,
            kwargs,
        )

    def on_retriever_end(self, documents: Any, *, run_id: UUID, **kwargs: Any) -> None:
        capture = documents is not None and content.capture_mode().on_span
        self._guarded("on_retriever_end", self._retriever_end, run_id, documents if capture else None)

    def _retriever_end(self, run_id: UUID, docs: Any) -> None:
        self._finish(run_id, None, None if docs is None else shapes.documents(docs), gen_ai.OUTPUT)

    def on_retriever_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._guarded("on_retriever_error", self._finish, run_id, error)

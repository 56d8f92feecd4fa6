"""LangChain and LangGraph -> OpenTelemetry GenAI spans, with only ``langchain-core`` required.

Every run LangChain reports through its callback system becomes a span (graphs and outer chains ``invoke_workflow``,
agent graphs ``invoke_agent``, LangGraph nodes INTERNAL spans named for the node, tools ``execute_tool``, retrievers
``retrieval``, chat models ``chat {model}`` CLIENT unless otel-genai's OpenAI / Anthropic instrumentor makes the one
CLIENT span of the call); streams keep their kind and the caller's context; checkpointer calls get INTERNAL spans.

Layout: :mod:`.instrumentor` (the table), :mod:`.package` (supported versions), :mod:`.callbacks` (the handler and
its bounded run map: parents from ``parent_run_id``), :mod:`.shapes` (span names and attributes of each run type),
:mod:`.streams` (the caller's context for streams, the run's span in run bodies), :mod:`.checkpoints`.
"""

from otel_genai.instrumentation.langchain.instrumentor import LangChainInstrumentor

__all__ = ["LangChainInstrumentor"]

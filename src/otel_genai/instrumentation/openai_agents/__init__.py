"""OpenAI Agents SDK (``openai-agents``) -> OpenTelemetry GenAI spans.

An SDK trace becomes ``invoke_workflow {name}``, agents ``invoke_agent {name}``, function tools ``execute_tool
{name}``, handoffs, guardrails and the rest INTERNAL spans; model calls nest under the agent that made them, as
CLIENT spans of the OpenAI instrumentor when it is on (else the SDK's generation / response spans become them).

Layout: :mod:`.instrumentor` (registration, the SDK's own exporter, tracing-disabled warning), :mod:`.package`
(supported versions), :mod:`.processor` (the bounded, thread-safe trace processor: parents from the SDK's ids),
:mod:`.spans` (how each SDK span maps to an OTel span), :mod:`.models` (model calls under the right agent).
"""

from otel_genai.instrumentation.openai_agents.instrumentor import OpenAIAgentsInstrumentor

__all__ = ["OpenAIAgentsInstrumentor"]

"""Agno -> OpenTelemetry GenAI spans.

``Agent.run`` / ``Agent.arun`` and ``Team.run`` / ``Team.arun`` become ``invoke_agent {name}`` spans, tool calls
(``FunctionCall.execute`` / ``aexecute``) ``execute_tool {name}`` spans. A stream's span covers the whole stream,
ends once, and each event reaches the consumer as soon as Agno yields it; failures Agno reports as data set ERROR.

Agno makes no model spans of its own; model calls through the OpenAI SDK get their CLIENT span from the OpenAI
instrumentor, nested under ``invoke_agent`` because the engine keeps the agent span current while Agno runs.

Layout: :mod:`.instrumentor` (the patch table), :mod:`.package` (supported versions), :mod:`.runs` (agent and team
runs), :mod:`.tools` (tool calls).
"""

from otel_genai.instrumentation.agno.instrumentor import AgnoInstrumentor

__all__ = ["AgnoInstrumentor"]

"""``AgnoInstrumentor``: the patch table for Agno agents, teams and tool calls."""

from __future__ import annotations

from collections.abc import Sequence

from otel_genai.instrumentation.agno.package import INSTRUMENTS
from otel_genai.instrumentation.agno.runs import run_wrapper
from otel_genai.instrumentation.agno.tools import tool_wrapper
from otel_genai.instrumentation.base import LibraryInstrumentor, Patch, Setup

__all__ = ["AgnoInstrumentor"]

PATCHES = (
    Patch("agno.agent.agent", "Agent.run", run_wrapper),
    Patch("agno.agent.agent", "Agent.arun", run_wrapper),
    Patch("agno.team.team", "Team.run", run_wrapper),
    Patch("agno.team.team", "Team.arun", run_wrapper),
    Patch("agno.tools.function", "FunctionCall.execute", tool_wrapper(is_async=False)),
    Patch("agno.tools.function", "FunctionCall.aexecute", tool_wrapper(is_async=True)),
)


class AgnoInstrumentor(LibraryInstrumentor):
    """Trace Agno agents, teams and tool calls as OpenTelemetry GenAI spans."""

    entry_point = "otel_genai_agno"
    library = "agno"
    instruments = INSTRUMENTS

    def patches(self) -> Sequence[Patch | Setup]:
        return PATCHES

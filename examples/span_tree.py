"""Print finished spans as an indented tree (what the examples show you after they run)."""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan

SHOWN = (
    "gen_ai.operation.name",
    "gen_ai.request.model",
    "gen_ai.response.model",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.response.finish_reasons",
    "gen_ai.tool.name",
    "session.id",
    "otel_genai.outcome",
    "otel_genai.stream.items",
    "error.type",
)


def format_tree(spans: Sequence[ReadableSpan]) -> str:
    """One line per span, children under their parent, in start order; key attributes after the name."""
    ids = {s.context.span_id for s in spans}
    children: dict[int | None, list[ReadableSpan]] = {}
    for s in sorted(spans, key=lambda s: s.start_time or 0):
        parent = s.parent.span_id if s.parent and s.parent.span_id in ids else None
        children.setdefault(parent, []).append(s)
    lines: list[str] = []

    def walk(parent: int | None, depth: int) -> None:
        for s in children.get(parent, []):
            ms = ((s.end_time or 0) - (s.start_time or 0)) / 1e6
            attrs = ", ".join(f"{k}={s.attributes[k]!r}" for k in SHOWN if k in (s.attributes or {}))
            lines.append(f"{'  ' * depth}- {s.name} [{s.kind.name}, {ms:.1f} ms] {attrs}".rstrip())
            walk(s.context.span_id, depth + 1)

    walk(None, 0)
    return "\n".join(lines)

"""Reads back what ``SpanTreeConsoleExporter`` prints, so tests check tree structure rather than whitespace."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

ANSI = re.compile(r"\x1b\[[0-9;]*m")
HEADER = re.compile(r"^trace (?P<trace_id>[0-9a-f]{32})(?:  service=(?P<service>\S+))?(?:  (?P<note>.*))?$")
PREFIX = re.compile(r"^(?:(?:│  |\|  |   )*(?:├─ |└─ |\|- |`- ))?")
BODY = re.compile(r"^(?P<left>.+?) {2,}(?P<duration>[-0-9.]+ m?s|\?)(?:  (?P<attrs>.*))?$")
KINDS = ("SERVER", "CLIENT", "PRODUCER", "CONSUMER")


@dataclass
class Node:
    depth: int
    name: str
    kind: str
    duration: str
    attrs: dict[str, str]
    red: bool


@dataclass
class Tree:
    trace_id: str
    service: str | None
    note: str | None
    nodes: list[Node] = field(default_factory=list)

    def names(self) -> list[str]:
        return [n.name for n in self.nodes]


def parse_attrs(text: str) -> dict[str, str]:
    """``key=value`` pairs; ``error=`` is last and its value may hold spaces."""
    attrs: dict[str, str] = {}
    if "error=" in text:
        text, _, error = text.partition("error=")
        attrs["error"] = error
    for pair in text.split():
        key, _, value = pair.partition("=")
        attrs[key] = value
    return attrs


def parse(output: str) -> list[Tree]:
    """Every tree in ``output`` (other lines, such as a program's own prints, are skipped)."""
    trees: list[Tree] = []
    current: Tree | None = None
    for raw in output.splitlines():
        line = ANSI.sub("", raw)
        header = HEADER.match(line)
        if header:
            current = Tree(header["trace_id"], header["service"], header["note"])
            trees.append(current)
            continue
        if current is None or not line.strip():
            current = None
            continue
        prefix = PREFIX.match(line).group(0)
        body = BODY.match(line[len(prefix) :])
        assert body, f"not a span line: {line!r}"
        left = body["left"]
        name, _, last = left.rpartition(" ")
        kind = last if name and last in KINDS else ""
        attrs = parse_attrs(body["attrs"] or "")
        current.nodes.append(
            Node(len(prefix) // 3, name if kind else left, kind, body["duration"], attrs, "\x1b[31m" in raw)
        )
    return trees

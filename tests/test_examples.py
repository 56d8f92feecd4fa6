"""Every example runs offline (no API key) and prints the span tree it produced, through the console exporter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.console_tree import parse

EXAMPLES = Path(__file__).parent.parent / "examples"
SCRIPTS = sorted(EXAMPLES.glob("*.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_example_runs_offline(script):
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(AGNO_TELEMETRY="false", OTEL_SDK_DISABLED="false")
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    trees = parse(done.stdout)
    assert len(trees) == 1, done.stdout  # one run, one trace, printed once and complete
    assert trees[0].note is None and trees[0].nodes, done.stdout
    assert [n for n in trees[0].nodes if n.kind == "CLIENT"], done.stdout  # the LLM call is in the tree
    assert "Failed to detach context" not in done.stderr
    assert "different Context" not in done.stderr


def test_demo_tree_nests_the_stream_under_the_agent():
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "demo.py")],
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "FORCE_COLOR")},
    )
    assert done.returncode == 0, done.stderr
    (tree,) = parse(done.stdout)
    assert tree.service == "otel-genai-demo"
    workflow, agent = tree.nodes[0], tree.nodes[1]
    assert (workflow.depth, workflow.name) == (0, "invoke_workflow demo")
    assert (agent.depth, agent.name) == (1, "invoke_agent weather") and agent.attrs["outcome"] == "completed"
    client = [n for n in tree.nodes if n.name == "chat gpt-4o-mini" and n.kind == "CLIENT"]
    assert client and client[0].depth == 2 and client[0].attrs["tokens_out"] == "6"
    assert tree.nodes.index(client[0]) > tree.nodes.index(agent)  # under the agent: its depth-2 line follows it
    assert all(n.depth == 2 for n in tree.nodes[2:])  # the tool and the chat are both the agent's children
    assert "\x1b[" not in done.stdout  # a pipe is no terminal: no colour
    assert "answer: It is sunny in Paris." in done.stdout

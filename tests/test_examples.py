"""Every example runs offline (no API key) and prints the span tree it produced."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parent.parent / "examples"
SCRIPTS = sorted(p for p in EXAMPLES.glob("*.py") if p.name != "span_tree.py")


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_example_runs_offline(script):
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update(AGNO_TELEMETRY="false", OTEL_SDK_DISABLED="false")
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    tree = [line for line in done.stdout.splitlines() if line.lstrip().startswith("- ")]
    assert tree, done.stdout
    assert "Failed to detach context" not in done.stderr
    assert "different Context" not in done.stderr


def test_demo_tree_nests_the_stream_under_the_agent():
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "demo.py")],
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"},
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if line.lstrip().startswith("- ")]
    assert lines[0].startswith("- invoke_workflow demo")
    assert lines[1].startswith("  - invoke_agent weather") and "otel_genai.outcome='completed'" in lines[1]
    client = [line for line in lines if "chat gpt-4o-mini [CLIENT" in line]
    assert client and client[0].startswith("    - ") and "gen_ai.usage.output_tokens=6" in client[0]
    assert "answer: It is sunny in Paris." in done.stdout

"""The benchmark still runs: a one-round smoke run of otel-genai and the baselines in this interpreter.

Numbers are not asserted (speed is measured, not tested); what is checked is that every configuration produced a
value, one span per call, all items, and that decorated generators switch context per step."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

RUN = Path(__file__).parent.parent / "benchmarks" / "run.py"


@pytest.mark.timeout(360)  # a full interleaved pass over every configuration: minutes on a loaded 2-core machine
def test_benchmark_smoke_run(tmp_path):
    done = subprocess.run(
        [sys.executable, str(RUN), "--quick", "--here", "--rounds", "1", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    rows = json.loads((tmp_path / "latest.json").read_text())["rows"]
    run = load_run()
    ours = [r for r in rows if r["config"].startswith("otel-genai")]
    client = {"chat", "stream_chunk", "memory"}
    groups = run.GROUPS
    assert len(groups) > 3  # the library groups of benchmarks/groups/ are found
    assert {(r["group"], r["scenario"]) for r in ours} == {
        *(("decorators", s) for s in ("gen_sync", "gen_async", "call")),
        *((g, s) for g in groups if g != "decorators" for s in client),
    }
    for row in rows:
        assert row["error"] is None, row
        assert row["value"] is not None, row
    for row in ours:  # one span per call; a graph run has one per graph, node, tool and model call
        expected = getattr(run.GROUP_MODULES.get(row["group"]), "SPANS_PER_CALL", 1)
        assert row["spans"] == expected, row
        assert row.get("items_ok") is not False, row  # memory rows count no items
    assert {r["context"] for r in ours if r["scenario"].startswith("gen_")} == {"switches"}


def load_run():
    spec = importlib.util.spec_from_file_location("benchmark_run", RUN)
    run = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = run  # dataclasses look their module up
    try:
        spec.loader.exec_module(run)
    finally:
        del sys.modules[spec.name]
    return run


def test_configurations_are_told_apart():
    """Samples are keyed by configuration: the same peer in two groups must not share a key; one baseline each."""
    run = load_run()
    configs = run.configs()
    keys = [run.key(c) for c in configs]
    assert len(keys) == len(set(keys))
    for group in run.GROUPS:
        assert sum(c.baseline for c in configs if c.group == group) == 1, group
        assert any(run.is_ours(c.venv) and not c.baseline for c in configs if c.group == group), group


def test_agent_runs_benchmark_smoke():
    done = subprocess.run(
        [sys.executable, str(RUN.parent / "agent_runs.py")],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "N": "2"},
    )
    assert done.returncode == 0, done.stderr
    rows = [
        line for line in done.stdout.splitlines() if line.startswith("| openai-agents") or line.startswith("| Agno")
    ]
    assert len(rows) == 4
    spans = [int(row.split("|")[2]) for row in rows]
    assert spans == [8, 8, 2, 4]  # with the OpenAI instrumentor on, model calls are not doubled

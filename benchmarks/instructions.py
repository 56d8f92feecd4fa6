"""Instructions per call and per chunk (valgrind's callgrind): the noise-free complement of run.py.

``python benchmarks/instructions.py [--peers]`` (needs ``valgrind``; the venvs run.py builds).

Wall-clock medians on a shared machine move with its neighbours; instruction counts do not. For each configuration
(the venvs, environments and setups of run.py / worker.py) and scenario, the worker's scenario code runs under
``valgrind --tool=callgrind`` twice, with K1 and K2 iterations after the same warm-up; (I(K2) - I(K1)) / (K2 - K1)
is what one more call (``chat``: a non-streaming call) or one more chunk (``chunk``: a chunk of one stream)
executes. Deterministic for a given interpreter and packages (``PYTHONHASHSEED=0``), whatever else the machine does.
Instructions are not time: cache misses and branch mispredictions are not counted, so use them to compare the work
configurations do, and run.py for what that work costs here.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # the configurations, venvs and worker environment of the wall-clock benchmark

K = {"chat": (10, 60), "chunk": (100, 1100)}
DEFAULT = {"none", "anthropic", "ours"}  # without --peers: the baselines, anthropic's own spans and otel-genai


def instructions(config: run.Config, scenario: str, k: int) -> int:
    env = {**run.worker_env(config), "PYTHONHASHSEED": "0"}
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    cmd += [str(run.venv_python(config.venv)), str(run.WORKER), "--count", config.group, config.kind, scenario, str(k)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(run.HERE), timeout=1800)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode or not found:
        raise RuntimeError(f"{run.key(config)} {scenario}: {done.stderr[-500:]}")
    return int(found.group(1))


def per_unit(config: run.Config, scenario: str) -> float:
    k1, k2 = K[scenario]
    return (instructions(config, scenario, k2) - instructions(config, scenario, k1)) / (k2 - k1)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--peers", action="store_true", help="every configuration of the openai and anthropic groups")
    p.add_argument("--jobs", type=int, default=2, help="valgrind processes at once (default 2)")
    args = p.parse_args()
    if shutil.which("valgrind") is None:
        print("valgrind is not installed", file=sys.stderr)
        return 1
    configs = [
        c
        for c in run.configs()
        if c.group in ("openai", "anthropic")
        and (args.peers or ((c.kind in DEFAULT and not c.extra_env) or c.baseline))
    ]
    for name in dict.fromkeys(c.venv for c in configs):
        error = run.ensure_venv(name)
        if error:
            print(f"[venv] {name}: {error}", file=sys.stderr)
            configs = [c for c in configs if c.venv != name]
    jobs = [(c, s) for c in configs for s in K]
    with ThreadPoolExecutor(args.jobs) as pool:
        values = list(pool.map(lambda job: per_unit(*job), jobs))
    counts = {(run.key(c), s): value for (c, s), value in zip(jobs, values, strict=True)}
    lines = ["| group | scenario | configuration | content | instructions | added vs baseline |", "|---" * 6 + "|"]
    for c, s in jobs:
        base = next(b for b in configs if b.group == c.group and b.baseline)
        value, base_value = counts[(run.key(c), s)], counts[(run.key(base), s)]
        added = value - base_value
        shown = "-" if c.baseline else f"{added:+,.0f} ({added / base_value:+.1%})"
        lines.append(f"| {c.group} | {s} | {c.name} | {c.content} | {value:,.0f} | {shown} |")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Interleaved benchmark of otel-genai against its peers: ``python benchmarks/run.py [--quick]``.

Each configuration runs in a long-lived worker (worker.py) inside the venv of its
peer (benchmarks/.venvs/<venv>, built from requirements/<venv>.txt and cached
by a hash stamp), because the peers' dependency pins conflict. The orchestrator
sends "run scenario S for N iterations" to every worker in turn, round after
round, so all configurations share the same noisy time window; it reports
medians (and IQR) over rounds, and differences/ratios against the baseline
measured in the same round. See benchmarks/README.md for the method.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import os
import select
import shutil
import statistics
import subprocess
import sys
import time
import venv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
VENVS = HERE / ".venvs"
REQS = HERE / "requirements"
RESULTS = HERE / "results"
WORKER = HERE / "worker.py"

CLIENT_SCENARIOS = ("chat", "stream_long", "stream_short", "memory")
CONTENT_OFF, CONTENT_ON = "off", "on"
# How each family switches prompt/completion capture (read when the worker starts).
GENAI_CONTENT = {
    CONTENT_OFF: {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "NO_CONTENT"},
    CONTENT_ON: {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "SPAN_ONLY"},
}
CONTENT_ENV = {
    "ours": GENAI_CONTENT,
    "genai-openai": GENAI_CONTENT,
    "openai-v2": GENAI_CONTENT,
    "official": GENAI_CONTENT,
    "openllmetry": {
        CONTENT_OFF: {"TRACELOOP_TRACE_CONTENT": "false"},
        CONTENT_ON: {"TRACELOOP_TRACE_CONTENT": "true"},
    },
    "openinference": {
        CONTENT_OFF: {"OPENINFERENCE_HIDE_INPUTS": "true", "OPENINFERENCE_HIDE_OUTPUTS": "true"},
        CONTENT_ON: {"OPENINFERENCE_HIDE_INPUTS": "false", "OPENINFERENCE_HIDE_OUTPUTS": "false"},
    },
}
# Inherited variables that would change what a peer does; every worker starts without them.
SCRUB_PREFIXES = ("OTEL_", "TRACELOOP_", "LANGFUSE_", "LOGFIRE_", "OPENINFERENCE_", "OPENAI_", "ANTHROPIC_")
# anthropic >= 2.13 traces its own calls whenever a tracer provider is set; this switches that off.
ANTHROPIC_OWN_SPANS_OFF = {"ANTHROPIC_OPEN_TELEMETRY": "false"}
BASE_ENV = {
    "TRACELOOP_TELEMETRY": "false",
    "TRACELOOP_METRICS_ENABLED": "false",
    "TRACELOOP_LOGGING_ENABLED": "false",
    "OTEL_SEMCONV_STABILITY_OPT_IN": "gen_ai_latest_experimental",
    "PYTHONWARNINGS": "ignore",
}


@dataclass
class Config:
    """One row of a table: a worker (venv + setup) and the packages whose versions it reports."""

    group: str
    name: str
    venv: str
    kind: str
    packages: list[str]
    content: str = "-"
    baseline: bool = False
    scenarios: tuple[str, ...] = ()
    extra_env: dict[str, str] = field(default_factory=dict)
    content_env: dict[str, dict[str, str]] | None = None  # how this configuration switches content; default by kind

    @property
    def env(self) -> dict[str, str]:
        switch = CONTENT_ENV.get(self.kind, {}) if self.content_env is None else self.content_env
        return {**switch.get(self.content, {}), **self.extra_env}


def _group_modules() -> dict[str, Any]:
    """The client groups defined in ``groups/<name>.py`` (see groups/__init__.py for what a module holds)."""
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    names = sorted(p.stem for p in (HERE / "groups").glob("*.py") if not p.stem.startswith("_"))
    return {name: importlib.import_module(f"groups.{name}") for name in names}


GROUP_MODULES = _group_modules()
BUILTIN_GROUPS = ["decorators", "openai", "anthropic"]
GROUPS = BUILTIN_GROUPS + list(GROUP_MODULES)


def is_ours(venv_name: str) -> bool:
    """Venvs with otel-genai installed from this repository: ``ours`` and every group's ``<group>-ours``."""
    return venv_name == "ours" or venv_name.endswith("-ours")


def configs() -> list[Config]:
    """Every configuration, in table order."""
    deco = ("gen_sync", "gen_async", "call")
    out = [
        Config(
            "decorators", "undecorated", "ours", "undecorated", ["opentelemetry-sdk"], baseline=True, scenarios=deco
        ),
        Config(
            "decorators", "bare start_as_current_span", "ours", "bare-span", ["opentelemetry-sdk"], scenarios=("call",)
        ),
        Config("decorators", "otel-genai @task", "ours", "ours", ["otel-genai"], scenarios=deco),
        Config("decorators", "traceloop @task", "traceloop", "traceloop", ["traceloop-sdk"], scenarios=deco),
        Config(
            "decorators",
            "openinference @tracer.chain",
            "peers",
            "openinference",
            ["openinference-instrumentation"],
            scenarios=deco,
        ),
        Config("decorators", "logfire @instrument", "peers", "logfire", ["logfire"], scenarios=deco),
        Config("decorators", "langfuse @observe", "peers", "langfuse", ["langfuse"], scenarios=deco),
    ]
    oa = ("chat", "stream_long", "stream_short", "memory")
    out.append(Config("openai", "no instrumentation", "ours", "none", ["openai"], baseline=True, scenarios=oa))
    peers = [
        ("otel-genai", "ours", "ours", ["otel-genai"]),
        ("openllmetry", "traceloop", "openllmetry", ["opentelemetry-instrumentation-openai"]),
        (
            "otel genai-openai",
            "genai-openai",
            "genai-openai",
            ["opentelemetry-instrumentation-genai-openai", "opentelemetry-util-genai"],
        ),
        (
            "otel openai-v2",
            "openai-v2",
            "openai-v2",
            ["opentelemetry-instrumentation-openai-v2", "opentelemetry-util-genai"],
        ),
        ("openinference", "peers", "openinference", ["openinference-instrumentation-openai"]),
    ]
    for name, venv_name, kind, packages in peers:
        for content in (CONTENT_OFF, CONTENT_ON):
            out.append(Config("openai", name, venv_name, kind, packages, content=content, scenarios=oa))
    off = ANTHROPIC_OWN_SPANS_OFF
    out += [
        Config("anthropic", "no tracing", "ours", "none", ["anthropic"], baseline=True, scenarios=oa, extra_env=off),
        Config("anthropic", "anthropic's own spans", "ours", "anthropic", ["anthropic"], scenarios=oa),
    ]
    anthropic_peers = [
        ("otel-genai", "ours", "ours", ["otel-genai"], {}),
        ("otel-genai, anthropic's own tracing off", "ours", "ours", ["otel-genai"], off),
        ("openllmetry", "traceloop", "openllmetry", ["opentelemetry-instrumentation-anthropic"], off),
        ("openinference", "peers", "openinference", ["openinference-instrumentation-anthropic"], off),
    ]
    for name, venv_name, kind, packages, env in anthropic_peers:
        for content in (CONTENT_OFF, CONTENT_ON):
            out.append(
                Config("anthropic", name, venv_name, kind, packages, content=content, scenarios=oa, extra_env=env)
            )
    for group, module in GROUP_MODULES.items():
        out += [Config(group=group, scenarios=CLIENT_SCENARIOS, **entry) for entry in module.CONFIGS]
    return out


# --------------------------------------------------------------------------- venvs


def venv_python(name: str) -> Path:
    return VENVS / name / "bin" / "python"


def _requirement_files(name: str) -> list[Path]:
    """The requirement file and those it includes with ``-r``, so any change invalidates the stamp."""
    files, todo = [], [REQS / f"{name}.txt"]
    while todo:
        path = todo.pop()
        files.append(path)
        for line in path.read_text().splitlines():
            if line.startswith("-r "):
                todo.append(path.parent / line[3:].strip())
    return files


def _stamp(name: str) -> str:
    h = hashlib.sha256(sys.version.encode())
    for path in _requirement_files(name):
        h.update(path.read_bytes())
    if is_ours(name) and (REPO / "pyproject.toml").exists():
        h.update((REPO / "pyproject.toml").read_bytes())
    return h.hexdigest()


def ensure_venv(name: str) -> str | None:
    """Create or reuse benchmarks/.venvs/<name>; return an error message or None."""
    target, stamp_file = VENVS / name, VENVS / f"{name}.stamp"
    stamp = _stamp(name)
    if stamp_file.exists() and stamp_file.read_text() == stamp and venv_python(name).exists():
        return None
    print(f"[venv] building {name} (cached afterwards) ...", file=sys.stderr, flush=True)
    shutil.rmtree(target, ignore_errors=True)
    stamp_file.unlink(missing_ok=True)
    venv.create(target, with_pip=True)
    log = VENVS / f"{name}.log"
    pip = [str(venv_python(name)), "-m", "pip", "install", "--disable-pip-version-check"]
    with log.open("w") as out:
        if subprocess.run([*pip, "-r", str(REQS / f"{name}.txt")], stdout=out, stderr=out).returncode:
            return f"pip install -r requirements/{name}.txt failed, see {log}"
        if is_ours(name) and (REPO / "pyproject.toml").exists():
            # Falls back to PYTHONPATH=src (always set for this venv) while the package is not installable.
            if subprocess.run([*pip, "-e", str(REPO)], stdout=out, stderr=out).returncode:
                print(f"[venv] pip install -e {REPO} failed; using PYTHONPATH=src ({log})", file=sys.stderr)
    stamp_file.write_text(stamp)
    return None


# --------------------------------------------------------------------------- workers


def worker_env(config: Config) -> dict[str, str]:
    """The environment a configuration's worker runs in: ours, scrubbed of variables that change what peers do."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUB_PREFIXES)}
    env.update(BASE_ENV)
    env.update(config.env)
    if is_ours(config.venv):
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    return env


@dataclass
class Worker:
    """The orchestrator's handle on one worker process."""

    config: Config
    python: str = ""  # the interpreter to run the worker with; default: the config's venv
    proc: subprocess.Popen[str] | None = None
    error: str | None = None
    hello: dict[str, Any] = field(default_factory=dict)
    n: dict[str, int] = field(default_factory=dict)

    def start(self) -> None:
        env = worker_env(self.config)
        slug = "".join(ch if ch.isalnum() else "-" for ch in key(self.config)).strip("-")
        log = (VENVS / f"worker-{self.config.group}-{slug}.log").open("w")
        cmd = [
            self.python or str(venv_python(self.config.venv)),
            str(WORKER),
            self.config.group,
            self.config.kind,
            *self.config.packages,
        ]
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True, env=env, cwd=str(HERE)
        )

    def _read(self, timeout: float) -> dict[str, Any] | None:
        assert self.proc and self.proc.stdout
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            self.fail("timed out" if not ready else f"exited with {self.proc.poll()}")
            return None
        return json.loads(line)

    def wait_hello(self, timeout: float = 180) -> None:
        if self.error:
            return
        hello = self._read(timeout)
        if hello is None:
            return
        self.hello = hello
        if not hello.get("ok"):
            self.fail(hello.get("error", "setup failed"))

    def run(self, scenario: str, n: int, timeout: float = 300) -> dict[str, Any] | None:
        if self.error or not self.proc or not self.proc.stdin:
            return None
        self.proc.stdin.write(json.dumps({"cmd": "run", "scenario": scenario, "n": n}) + "\n")
        self.proc.stdin.flush()
        res = self._read(timeout)
        if res is not None and not res.get("ok"):
            self.fail(f"{scenario}: {res.get('error')}")
            return None
        return res

    def fail(self, reason: str) -> None:
        self.error = self.error or reason
        self.stop()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            try:
                assert self.proc.stdin
                self.proc.stdin.write('{"cmd": "quit"}\n')
                self.proc.stdin.flush()
                self.proc.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()


# --------------------------------------------------------------------------- measurement

TIMED = {"gen_sync", "gen_async", "call", "chat", "stream_long", "stream_short"}
# Seconds per sample. Per-call samples of a real client are long, so that each holds enough calls for a stable
# median (the decorator scenarios are microseconds per call: 20 ms holds thousands).
SAMPLE_S = {"chat": 0.2, "stream_long": 0.25, "stream_short": 0.1}
DEFAULT_SAMPLE_S = 0.02
QUICK_SAMPLE_S = 0.004


def sample_seconds(scenario: str, quick: bool) -> float:
    return QUICK_SAMPLE_S if quick else SAMPLE_S.get(scenario, DEFAULT_SAMPLE_S)


def calibrate(w: Worker, scenario: str, target_s: float) -> None:
    """Pick N so one sample takes about target_s, after a warm-up (imports, caches, JIT-less warm paths)."""
    n = 1
    for _ in range(12):
        res = w.run(scenario, n)
        if res is None:
            return
        if res["ns"] > target_s * 1e9 / 4 or n >= 1 << 20:
            break
        n *= 4
    else:
        res = None
    per = res["ns"] / n if res else target_s * 1e9
    w.n[scenario] = max(1, round(target_s * 1e9 / per))
    w.run(scenario, w.n[scenario])  # warm-up at the final size


def measure(workers: list[Worker], rounds: int, quick: bool, mem_chunks: int) -> dict[str, Any]:
    """Round-robin all (scenario, worker) pairs; rotate the worker order each round to spread drift."""
    samples: dict[tuple[str, str], list[dict[str, Any]]] = {}
    scenarios = [s for s in dict.fromkeys(s for w in workers for s in w.config.scenarios) if s in TIMED]
    t0 = time.monotonic()
    for w in workers:
        for s in w.config.scenarios:
            if s in TIMED:
                calibrate(w, s, sample_seconds(s, quick))
    print(f"  calibrated in {time.monotonic() - t0:.1f} s", file=sys.stderr, flush=True)
    for r in range(rounds if workers else 0):
        order = workers[r % len(workers) :] + workers[: r % len(workers)]
        for s in scenarios:
            for w in order:
                if s in w.config.scenarios and s in w.n:
                    res = w.run(s, w.n[s])
                    if res:
                        samples.setdefault((key(w.config), s), []).append({**res, "round": r})
        if r % 10 == 9:
            print(f"  round {r + 1}/{rounds}", file=sys.stderr, flush=True)
    print(f"  rounds done at {time.monotonic() - t0:.1f} s", file=sys.stderr, flush=True)
    for w in workers:  # memory: one long stream per worker, after the timing rounds
        if "memory" in w.config.scenarios:
            res = w.run("memory", mem_chunks, timeout=900)
            if res:
                samples[(key(w.config), "memory")] = [res]
    return samples


def key(c: Config) -> str:
    """A configuration's unique name across groups (the same peer appears in several)."""
    name = f"{c.name} [{c.content}]" if c.content != "-" else c.name
    return f"{c.group}: {name}"


def per_unit(scenario: str, res: dict[str, Any]) -> float:
    """µs per item (generators) or per call."""
    units = res["calls"] * (1000 if scenario.startswith("gen_") else 1)
    return res["ns"] / units / 1000


def quartiles(xs: Sequence[float]) -> tuple[float, float, float]:
    if len(xs) < 2:
        return (xs[0], xs[0], xs[0]) if xs else (float("nan"),) * 3
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return q[0], statistics.median(xs), q[2]


def series(samples: dict[tuple[str, str], list[dict[str, Any]]], k: str, scenario: str) -> dict[int, float]:
    """Per-round values for a row; stream per chunk = (t(1000 chunks) - t(1 chunk)) / 999 in the same round."""
    if scenario == "stream_chunk":
        long = {s["round"]: per_unit("x", s) for s in samples.get((k, "stream_long"), [])}
        short = {s["round"]: per_unit("x", s) for s in samples.get((k, "stream_short"), [])}
        return {r: (long[r] - short[r]) / 999 for r in long if r in short}
    return {s["round"]: per_unit(scenario, s) for s in samples.get((k, scenario), [])}


def summarize(workers: list[Worker], samples: dict[tuple[str, str], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One dict per (scenario, configuration): median, IQR and paired deltas against the baseline."""
    rows = []
    by_group: dict[str, list[Worker]] = {}
    for w in workers:
        by_group.setdefault(w.config.group, []).append(w)
    for group, ws in by_group.items():
        base = next((w for w in ws if w.config.baseline), None)
        scen = ["gen_sync", "gen_async", "call"] if group == "decorators" else ["chat", "stream_chunk", "memory"]
        for s in scen:
            for w in ws:
                c = w.config
                if s not in c.scenarios and not (s == "stream_chunk" and "stream_long" in c.scenarios):
                    continue
                row: dict[str, Any] = {
                    "group": group,
                    "baseline": c.baseline,
                    "scenario": s,
                    "config": c.name,
                    "content": c.content,
                    "versions": w.hello.get("versions", {}),
                    "error": w.error,
                    "context": w.hello.get("context", "-") if s.startswith("gen_") else "-",
                    "notes": [n for n in w.hello.get("notes", []) if s.startswith("gen_") or "generator" not in n],
                }
                raw = samples.get((key(c), "stream_long" if s == "stream_chunk" else s), [])
                if s == "memory":
                    if raw:
                        row.update(value=raw[0]["bytes_per_chunk"], spans=raw[0]["spans"] / raw[0]["calls"])
                        braw = samples.get((key(base.config), s), []) if base is not None and base is not w else []
                        if braw:
                            row["added"] = raw[0]["bytes_per_chunk"] - braw[0]["bytes_per_chunk"]
                    rows.append(row)
                    continue
                vals = series(samples, key(c), s)
                if vals:
                    q1, med, q3 = quartiles(list(vals.values()))
                    row.update(value=med, iqr=q3 - q1, rounds=len(vals))
                    row["spans"] = sum(x["spans"] for x in raw) / max(1, sum(x["calls"] for x in raw))
                    row["items_ok"] = all(x["items"] >= x["calls"] * (1000 if s.startswith("gen_") else 1) for x in raw)
                    if base is not None and base is not w:
                        b = series(samples, key(base.config), s)
                        paired = [(vals[r], b[r]) for r in vals if r in b]
                        if paired:
                            row["added"] = statistics.median(v - bv for v, bv in paired)
                            row["ratio"] = statistics.median(v / bv for v, bv in paired if bv > 0)
                rows.append(row)
    return rows


# --------------------------------------------------------------------------- report

SCENARIO_LABEL = {
    "gen_sync": "sync generator, µs/item",
    "gen_async": "async generator, µs/item",
    "call": "plain function, µs/call",
    "chat": "chat.completions (non-streaming), µs/call",
    "messages": "messages.create (non-streaming), µs/call",
    "stream_chunk": "streaming, µs/chunk",
    "memory": "memory growth, bytes/chunk",
}


def fmt(x: Any, spec: str = ".3f") -> str:
    return "n/a" if x is None else format(x, spec)


def sanity(row: dict[str, Any]) -> str:
    """Flags that make a fast number meaningless: no span, lost items, span not covering the body."""
    out = []
    spans = row.get("spans")
    if spans is not None and spans < 0.999 and not row.get("baseline"):
        out.append("NO SPAN (not comparable)")
    if row.get("items_ok") is False:
        out.append("ITEMS LOST")
    if row.get("context") == "body outside span":
        out.append("span ends before the first item")
    return "; ".join(out)


def table(rows: list[dict[str, Any]], group: str, markdown: bool) -> str:
    head = [
        "scenario",
        "configuration",
        "content",
        "median",
        "IQR",
        "added vs baseline",
        "ratio",
        "spans/call",
        "generator context",
        "versions",
        "notes",
    ]
    body = []
    for r in rows:
        if r["group"] != group:
            continue
        mem = r["scenario"] == "memory"
        notes = "; ".join(filter(None, [sanity(r), f"n/a: {r['error']}" if r.get("error") else "", *r["notes"]]))
        label = "messages" if group == "anthropic" and r["scenario"] == "chat" else r["scenario"]
        labels = getattr(GROUP_MODULES.get(group), "LABELS", {})
        body.append(
            [
                labels.get(r["scenario"], SCENARIO_LABEL[label]),
                r["config"],
                r["content"],
                fmt(r.get("value"), ".1f" if mem else ".3f"),
                fmt(r.get("iqr")) if not mem else "-",
                fmt(r.get("added"), "+.1f" if mem else "+.3f") if "added" in r else "-",
                fmt(r.get("ratio"), ".2f") + "x" if "ratio" in r else "-",
                fmt(r.get("spans"), ".2f"),
                r["context"],
                ", ".join(f"{k} {v}" for k, v in r["versions"].items()),
                notes,
            ]
        )
    if group == "decorators":  # no content column for decorators
        head.pop(2)
        body = [b[:2] + b[3:] for b in body]
    else:
        i = head.index("generator context")
        head.pop(i)
        body = [b[:i] + b[i + 1 :] for b in body]
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(str(c).replace("|", "/") for c in b) + " |" for b in body]
        return "\n".join(lines)
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body, strict=True)]
    lines = ["  ".join(str(c).ljust(wd) for c, wd in zip(line, widths, strict=True)) for line in [head, *body]]
    return "\n".join(line.rstrip() for line in lines)


def report(rows: list[dict[str, Any]], groups: Iterable[str], meta: dict[str, Any], markdown: bool) -> str:
    parts = [
        "otel-genai benchmarks: interleaved rounds "
        + ", ".join(f"{g} {n}" for g, n in meta["rounds"].items())
        + ", ms per sample: "
        + ", ".join(f"{s} {ms}" for s, ms in meta["sample_ms"].items())
        + " (each after one untimed warm-up iteration), "
        f"python {meta['python']}, {meta['cpus']} CPUs, {meta['date']}."
    ]
    notes = {
        "decorators": "Medians over rounds; added/ratio are medians of per-round differences/ratios against "
        "'undecorated' measured in the same round. µs/item = time to create and fully consume "
        "a 1000-item generator / 1000 (span start/end amortised over the items). "
        "Target for otel-genai: <= 1 µs added per item while switching context per step.",
        "openai": "Real openai client over httpx.MockTransport serving pre-encoded OpenAI wire bytes. "
        "µs/chunk = (t(stream of 1000 content chunks) - t(stream of 1 chunk)) / 999, per round. "
        f"Memory = Python heap (tracemalloc) allocated during the last {meta['mem_window']} chunks of one "
        f"{meta['mem_chunks']}-chunk stream and still alive at its last chunk, per chunk; 'added' is net of "
        "the uninstrumented client. Targets for otel-genai: <= 100 µs/call, <= 1 µs/chunk, no growth with content off.",
        "anthropic": "Real anthropic client over httpx.MockTransport serving pre-encoded Messages API wire bytes "
        "(per chunk: text_delta events, measured as for openai). Baseline: anthropic with its own tracing off "
        "(ANTHROPIC_OPEN_TELEMETRY=false). otel-genai runs with anthropic's defaults (we switch its span off per "
        "call); the peers run with anthropic's own tracing off, so that each configuration records one span per call.",
    }
    notes.update({g: module.NOTE for g, module in GROUP_MODULES.items()})
    for g in groups:
        parts += [f"\n### {g}\n", notes[g] + "\n", table(rows, g, markdown)]
    return "\n".join(parts) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="short smoke run (< 60 s once venvs exist)")
    p.add_argument("--only", help=f"comma-separated scenario groups, of: {', '.join(GROUPS)}")
    p.add_argument("--rounds", type=int, help="interleaved rounds (default: decorators 150, client groups 40; quick 5)")
    p.add_argument("--markdown", action="store_true", help="print markdown tables (for the README)")
    p.add_argument(
        "--here",
        action="store_true",
        help="no venvs: only otel-genai and the baselines, in this interpreter (the test suite's smoke check)",
    )
    p.add_argument("--out", type=Path, default=RESULTS, help="where latest.md / latest.json go")
    args = p.parse_args(argv)
    groups = args.only.split(",") if args.only else GROUPS
    unknown = set(groups) - set(GROUPS)
    if unknown:
        p.error(f"unknown group(s) {', '.join(sorted(unknown))}; known: {', '.join(GROUPS)}")
    rounds = {g: args.rounds or (5 if args.quick else 150 if g == "decorators" else 40) for g in groups}
    mem_chunks = 1_000 if args.quick else 100_000
    cfgs = [c for c in configs() if c.group in groups and (is_ours(c.venv) or not args.here)]

    VENVS.mkdir(exist_ok=True)
    if args.here:
        venv_errors: dict[str, str | None] = {c.venv: None for c in cfgs}
    else:
        venv_errors = {name: ensure_venv(name) for name in dict.fromkeys(c.venv for c in cfgs)}
    t0 = time.monotonic()
    samples: dict[tuple[str, str], list[dict[str, Any]]] = {}
    workers_all: list[Worker] = []
    for g in groups:  # one group at a time: idle workers of the other group would only add noise
        workers = [Worker(c, python=sys.executable if args.here else "") for c in cfgs if c.group == g]
        for w in workers:
            if venv_errors[w.config.venv]:
                w.error = venv_errors[w.config.venv]
            else:
                w.start()
        t_start = time.monotonic()
        for w in workers:
            w.wait_hello()
            if w.error:
                print(f"[{g}] {key(w.config)}: n/a ({w.error})", file=sys.stderr)
        live = [w for w in workers if not w.error]
        print(
            f"[{g}] {len(live)} workers up in {time.monotonic() - t_start:.1f} s; {rounds[g]} rounds ...",
            file=sys.stderr,
            flush=True,
        )
        try:
            samples.update(measure(live, rounds[g], args.quick, mem_chunks))
        finally:
            for w in workers:
                w.stop()
        workers_all += workers
    meta = {
        "rounds": rounds,
        "sample_ms": {s: round(sample_seconds(s, args.quick) * 1000) for s in sorted(TIMED)},
        "mem_chunks": mem_chunks,
        "mem_window": min(10_000, mem_chunks // 2),
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d"),
        "seconds": round(time.monotonic() - t0, 1),
        "quick": args.quick,
    }
    rows = summarize(workers_all, samples)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.md").write_text(report(rows, groups, meta, markdown=True))
    (args.out / "latest.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    print(report(rows, groups, meta, markdown=args.markdown))
    print(f"measured in {meta['seconds']} s; wrote {args.out / 'latest.md'} and latest.json", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

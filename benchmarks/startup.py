"""Start-up time of an app run under ``opentelemetry-instrument``, with and without otel-genai installed.

    python benchmarks/startup.py                 # 30 interleaved rounds (+3 warm-up), ~1-2 min once venvs exist
    python benchmarks/startup.py --rounds 60

Two fresh venvs built like a user's (see ``tests/support/venvs.py``; pinned by constraints.txt, byte-compiled as a
normal ``pip install`` leaves them): ``base`` = opentelemetry-distro + openai, ``ours`` = the same + otel-genai's
wheel. Apps: one that imports openai and makes no call, one that imports only ``json``. Each is run as
``opentelemetry-instrument --traces_exporter none --metrics_exporter none --logs_exporter none python app.py``
(plus the openai app without the wrapper, for scale). Every round runs every configuration once, in an order that
rotates, so all share the same noisy window; the table gives the median wall time, its IQR, and the paired median
difference against ``base`` in the same round. Results: ``benchmarks/results/startup.md`` / ``.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support import venvs

RESULTS = Path(__file__).resolve().parent / "results"
APPS = {
    "openai": "import openai\n",
    "json": "import json\n",
    "check": "import json, sys\nprint(json.dumps(sorted(m for m in ('openai', 'anthropic') if m in sys.modules)))\n",
    "count": "import openai, sys\nprint(len(sys.modules))\n",
}
EXPORTERS = ["--traces_exporter", "none", "--metrics_exporter", "none", "--logs_exporter", "none"]


def build(wheel: Path) -> dict[str, venvs.Venv]:
    built = {}
    for name, extra in (("base", None), ("ours", wheel)):
        venv = venvs.create(
            venvs.CACHE / f"startup-{name}",
            ["openai", "opentelemetry-distro"],
            wheel=extra,
            constraints=venvs.CONSTRAINTS,
        )
        (site,) = venv.path.glob("lib/python*/site-packages")
        subprocess.run([venv.python, "-m", "compileall", "-q", "-j", "0", site], check=True, capture_output=True)
        built[name] = venv
    return built


def configurations(built: dict[str, venvs.Venv], apps: dict[str, Path]) -> dict[str, list[str]]:
    out = {}
    for app in ("openai", "json"):
        for name in ("base", "ours"):
            venv = built[name]
            out[f"{name} / {app} app"] = [str(venv.bin / "opentelemetry-instrument"), *EXPORTERS, "python", apps[app]]
    out["ours / openai app, no wrapper"] = [str(built["ours"].python), str(apps["openai"])]
    return out


def time_once(venv: venvs.Venv, cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child): CPU time moves much less than wall time on a shared machine."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = venv.run(cmd)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{result.stdout}\n{result.stderr}")
    return elapsed, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def quartiles(values: list[float]) -> tuple[float, float, float]:
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, median, q3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args(argv)
    wheel = venvs.build_wheel(venvs.CACHE / "startup-wheel")
    built = build(wheel)
    app_dir = venvs.CACHE / "startup-apps"
    app_dir.mkdir(parents=True, exist_ok=True)
    apps = {}
    for name, source in APPS.items():
        apps[name] = app_dir / f"app_{name}.py"
        apps[name].write_text(source)
    configs = configurations(built, apps)
    imported = {}  # what start-up alone imported, for the json app (the point of patching at import time)
    for name, venv in built.items():
        result = venv.run(["opentelemetry-instrument", *EXPORTERS, "python", apps["check"]])
        imported[name] = json.loads(result.stdout.strip().splitlines()[-1]) if result.returncode == 0 else "error"
    module_counts = {}  # modules loaded once the openai app's import is done
    for name, venv in built.items():
        result = venv.run(["opentelemetry-instrument", *EXPORTERS, "python", apps["count"]])
        module_counts[name] = int(result.stdout.split()[-1]) if result.returncode == 0 else "error"
    owner = {label: built["ours" if label.startswith("ours") else "base"] for label in configs}
    samples: dict[str, list[float]] = {label: [] for label in configs}
    cpu: dict[str, list[float]] = {label: [] for label in configs}
    labels = list(configs)
    for round_ in range(args.warmup + args.rounds):
        order = labels[round_ % len(labels) :] + labels[: round_ % len(labels)]
        for label in order:
            elapsed, cpu_seconds = time_once(owner[label], configs[label])
            if round_ >= args.warmup:
                samples[label].append(elapsed)
                cpu[label].append(cpu_seconds)
    rows = []
    for label in labels:
        q1, median, q3 = quartiles(samples[label])
        base_label = label.replace("ours", "base") if "no wrapper" not in label else None
        added = added_cpu = None
        if label.startswith("ours") and base_label in samples:
            added = statistics.median(a - b for a, b in zip(samples[label], samples[base_label], strict=True))
            added_cpu = statistics.median(a - b for a, b in zip(cpu[label], cpu[base_label], strict=True))
        c1, cmed, c3 = quartiles(cpu[label])
        rows.append({"config": label, "median_ms": median * 1e3, "q1_ms": q1 * 1e3, "q3_ms": q3 * 1e3,
                     "added_ms": None if added is None else added * 1e3, "runs": len(samples[label]),
                     "cpu_median_ms": cmed * 1e3, "cpu_q1_ms": c1 * 1e3, "cpu_q3_ms": c3 * 1e3,
                     "cpu_added_ms": None if added_cpu is None else added_cpu * 1e3})  # fmt: skip
    versions = built["ours"].freeze()
    meta = {
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} cpu(s)",
        "rounds": args.rounds,
        "libraries_imported_by_start_up": imported,
        "modules_after_import_openai": module_counts,
        "warmup": args.warmup,
        "versions": {k: versions[k] for k in ("otel-genai", "openai", "opentelemetry-distro", "opentelemetry-sdk")},
    }
    lines = [
        "# Start-up time under opentelemetry-instrument",
        "",
        f"Python {meta['python']}, {meta['machine']}; {args.rounds} interleaved rounds after {args.warmup} warm-up; "
        + ", ".join(f"{k} {v}" for k, v in meta["versions"].items())
        + f". Libraries imported by start-up alone (json app): {imported}"
        + f". Modules loaded after `import openai` under the wrapper: {module_counts}"
        + f". Load average at the end: {os.getloadavg()[0]:.1f}"
        + ". Wall and CPU (user+sys) time of the whole process, exporters `none`. `added` = median of the per-round "
        "difference against `base` running the same app.",
        "",
        "| configuration | wall median (ms) | wall IQR (ms) | wall added (ms) | CPU median (ms) | CPU IQR (ms) "
        "| CPU added (ms) | runs |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        added = "" if row["added_ms"] is None else f"{row['added_ms']:+.1f}"
        cpu_added = "" if row["cpu_added_ms"] is None else f"{row['cpu_added_ms']:+.1f}"
        iqr = f"{row['q1_ms']:.1f} - {row['q3_ms']:.1f}"
        cpu_iqr = f"{row['cpu_q1_ms']:.1f} - {row['cpu_q3_ms']:.1f}"
        lines.append(
            f"| {row['config']} | {row['median_ms']:.1f} | {iqr} | {added} | {row['cpu_median_ms']:.1f} | {cpu_iqr} "
            f"| {cpu_added} | {row['runs']} |"
        )
    text = "\n".join(lines) + "\n"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "startup.md").write_text(text)
    (RESULTS / "startup.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

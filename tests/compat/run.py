"""Compatibility stage: otel-genai works at both ends of every version range it declares.

    python tests/compat/run.py                  # both stages (what `make test` runs after pytest)
    python tests/compat/run.py --stage floor    # one stage
    python tests/compat/run.py --stage floor --pin opentelemetry-api==1.45.2 --no-xfail   # diagnose one failure

* **floor**: Python 3.10 and every lower bound pyproject.toml declares (``dependencies`` and the extra of each
  library), pinned with ``==``. The bounds are READ FROM pyproject.toml here, at run time, so what is declared is
  what is tested. openai-agents' own floor needs a newer openai than ours (openai-agents 0.2.0 requires
  ``openai>=1.9x``; pip: ResolutionImpossible against openai==1.66.0), so the stage has two venvs: ``floor``
  (openai, anthropic, agno at their floors) and ``floor-agents`` (openai-agents at its floor, with openai at the
  lowest version both it and pyproject.toml allow).
* **newest**: Python 3.13, the newest release of everything, no constraints, one venv.

A missing interpreter falls back to the one running this script, announced loudly (a machine with one Python still
passes, and nobody takes that run for the version asked). Each venv gets otel-genai's wheel, the stage's pins,
opentelemetry-sdk and pytest, and runs ``tests/compat/smoke.py`` on the libraries it holds (pytest ``-m``), so
every library's smoke tests run exactly once per stage. Known failures are strict xfails in smoke.py.
A venv is kept between runs while its key holds (interpreter, pins; for newest, what the index resolves to today),
and only otel-genai's wheel is reinstalled; ``OTEL_GENAI_FRESH_VENVS=1`` rebuilds. Exit status: 0 when every venv
built and its smoke suite passed.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support import venvs

HERE = Path(__file__).resolve().parent
MARKERS = {
    "openai": "openai",
    "anthropic": "anthropic",
    "openai-agents": "openai_agents",
    "agno": "agno",
    "google-genai": "google_genai",
}


@dataclass
class Group:
    """One venv of a stage: its name, the libraries whose smoke tests it runs, and its requirements."""

    name: str
    libraries: list[str]
    requirements: list[str] = field(default_factory=list)


@dataclass
class Stage:
    name: str
    python: str
    pinned: bool
    groups: list[Group]


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~\[;]", requirement.strip(), maxsplit=1)[0]


def _version_key(version: str) -> tuple:
    try:
        from packaging.version import Version

        return (Version(version),)
    except ImportError:  # a bare interpreter: numeric parts are enough for the release versions compared here
        return tuple(int(x) for x in re.findall(r"\d+", version))


def requires_of(pin: str) -> list[str]:
    """``Requires-Dist`` of one pinned distribution, from pip's resolver report (no install, cached per pin)."""
    cache = venvs.WHEELHOUSE / f".requires-{re.sub(r'[^A-Za-z0-9.]+', '_', pin)}.json"
    if cache.exists():
        return json.loads(cache.read_text())
    dry_run = ["install", "--dry-run", "--no-deps", "--ignore-installed", "--quiet", "--report", "-"]
    out = subprocess.run(
        [sys.executable, "-m", "pip", *dry_run, pin],
        capture_output=True,
        text=True,
        check=True,
        env=venvs._pip_env(),
    ).stdout
    (item,) = json.loads(out)["install"]
    requires = item["metadata"].get("requires_dist", [])
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(requires))
    return requires


def floor_stage() -> Stage:
    """The floor pins, from pyproject.toml (see the module docstring for why openai-agents has its own venv)."""
    runtime = [venvs.floor_pin(r) for r in venvs.runtime_requirements()]
    api = next(p for p in runtime if _name(p) == "opentelemetry-api")
    tools = [f"opentelemetry-sdk=={api.split('==')[1]}", "pytest"]
    lib_pins = {lib: [venvs.floor_pin(r) for r in venvs.extra_requirements(lib)] for lib in venvs.LIBRARY_EXTRAS}
    main = ["openai", "anthropic", "agno"]
    floor = Group("floor", main, runtime + [p for lib in main for p in lib_pins[lib]] + tools)
    agents_pins = lib_pins["openai-agents"]
    (agents_pin,) = [p for p in agents_pins if _name(p) == "openai-agents"]
    openai_floor = lib_pins["openai"][0].split("==")[1]
    for requirement in requires_of(agents_pin):
        if _name(requirement) == "openai" and ";" not in requirement:
            theirs = venvs.floor_pin(requirement).split("==")[1]
            openai_floor = max(openai_floor, theirs, key=_version_key)
    agents = Group("floor-agents", ["openai-agents"], [*runtime, *agents_pins, f"openai=={openai_floor}", *tools])
    return Stage("floor", "3.10", True, [floor, agents])


def newest_stage() -> Stage:
    names = [_name(r) for r in venvs.runtime_requirements()]
    names += [_name(r) for lib in venvs.LIBRARY_EXTRAS for r in venvs.extra_requirements(lib)]
    names += ["opentelemetry-sdk", "pytest"]
    return Stage("newest", "3.13", False, [Group("newest", list(venvs.LIBRARY_EXTRAS), list(dict.fromkeys(names)))])


@dataclass
class Result:
    group: str
    ok: bool
    summary: str
    output: str
    seconds: float


def build_and_smoke(stage: Stage, group: Group, wheel: Path, interp: venvs.Interpreter, xfail: bool) -> Result:
    start = time.perf_counter()
    try:
        venv = venvs.create(
            venvs.CACHE / f"compat-{group.name}",
            group.requirements,
            interp=interp,
            wheel=wheel,
            cached=stage.pinned,
            reuse=True,
        )
    except venvs.VenvError as exc:
        return Result(group.name, False, "VENV BUILD FAILED", str(exc), time.perf_counter() - start)
    others = [MARKERS[lib] for lib in venvs.LIBRARY_EXTRAS if lib not in group.libraries]
    selection = ["-m", f"not ({' or '.join(others)})"] if others else []
    env = {"OTEL_GENAI_COMPAT_STAGE": stage.name if xfail else "", "AGNO_TELEMETRY": "false"}
    pytest = ["python", "-m", "pytest", "-c", HERE / "pytest.ini", "--rootdir", HERE, "-q", "-rfEXx", "-s"]
    result = venv.run(
        [*pytest, *selection, HERE / "smoke.py"],
        env=env,
        timeout=900,
        cwd=HERE,
    )
    lines = result.stdout.strip().splitlines()
    summary = lines[-1] if lines else "(no output)"
    output = "\n".join(venv.log) + "\n" + result.stdout + result.stderr
    return Result(group.name, result.returncode == 0, summary, output, time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", choices=["floor", "newest"], action="append", help="default: both")
    parser.add_argument("--pin", action="append", default=[], help="override one requirement (diagnosis)")
    parser.add_argument("--no-xfail", action="store_true", help="run the known floor failures as plain tests")
    args = parser.parse_args(argv)
    stages = [floor_stage() if name == "floor" else newest_stage() for name in args.stage or ["floor", "newest"]]
    for stage in stages:
        for group in stage.groups:
            overridden = {_name(p) for p in args.pin}
            group.requirements = [r for r in group.requirements if _name(r) not in overridden] + args.pin
    start = time.perf_counter()
    wheel = venvs.build_wheel(venvs.CACHE / "compat-wheel")
    jobs = []
    for stage in stages:
        interp = venvs.interpreter(stage.python)
        if interp.note:
            print(f"!!! compat {stage.name}: {interp.note}", flush=True)
        for group in stage.groups:
            print(f"compat {group.name}: Python {interp.version}, {' '.join(group.requirements)}", flush=True)
            jobs.append((stage, group, interp))
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(build_and_smoke, s, g, wheel, i, not args.no_xfail) for s, g, i in jobs]
        results = [f.result() for f in futures]
    for result in results:
        print(f"\n===== compat {result.group}: {'ok' if result.ok else 'FAILED'} ({result.seconds:.0f}s) =====")
        print(result.output.rstrip())
    print(f"\ncompat stage ({time.perf_counter() - start:.0f}s):")
    for result in results:
        print(f"  {result.group:<14} {'ok    ' if result.ok else 'FAILED'} {result.summary}")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())

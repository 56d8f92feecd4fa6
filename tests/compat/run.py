"""Compatibility stage: otel-genai works at both ends of every version range it declares.

    python tests/compat/run.py                  # both stages (what `make test` runs after pytest)
    python tests/compat/run.py --stage floor    # one stage
    python tests/compat/run.py --stage floor --pin opentelemetry-api==1.45.2 --no-xfail   # diagnose one failure

* **floor**: Python 3.10 and every lower bound pyproject.toml declares (``dependencies`` and the extra of each
  library), pinned with ``==``. The bounds are READ FROM pyproject.toml here, at run time, so what is declared is
  what is tested. Most libraries share one venv, ``floor``; a library whose own floor cannot be installed beside
  the others' floors gets a venv of its own, ``floor-<library>``, in which each library of ours it depends on is
  pinned to the lowest version both it and pyproject.toml allow (see :data:`SEPARATE` for who and why).
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
    "bedrock": "bedrock",
    "langchain": "langchain",
    "litellm": "litellm",
    "google-genai": "google_genai",
}
# Libraries whose floor cannot share a venv with the other floors (pip: ResolutionImpossible), each in its own:
# * openai-agents 0.2.0 requires openai >= 1.93.1, < 2 (ours: openai >= 1.66.0);
# * litellm 1.110.0 requires openai >= 2.20.0 (so it cannot share openai-agents' venv either) and boto3 >= 1.43.117,
#   that is botocore >= 1.43.117 (ours: botocore >= 1.34.116).
SEPARATE = ("openai-agents", "litellm")
# What a library's smoke tests need beside its extra, at the floor and newest stages. langchain: the extra asks only
# for langchain-core, but the graph patches need langgraph; its floor here is 1.0.0, the first release of the 1.x
# line that came out with langchain-core 1.0.0 (pip picks its langgraph-checkpoint/-prebuilt/-sdk).
COMPANIONS: dict[str, tuple[list[str], list[str]]] = {"langchain": (["langgraph==1.0.0"], ["langgraph"])}


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
    """The floor pins, from pyproject.toml: one ``floor`` venv, and one per library of :data:`SEPARATE`."""
    runtime = [venvs.floor_pin(r) for r in venvs.runtime_requirements()]
    api = next(p for p in runtime if _name(p) == "opentelemetry-api")
    tools = [f"opentelemetry-sdk=={api.split('==')[1]}", "pytest"]
    lib_pins = {lib: [venvs.floor_pin(r) for r in venvs.extra_requirements(lib)] for lib in venvs.LIBRARY_EXTRAS}
    for lib, (floor_companions, _) in COMPANIONS.items():
        lib_pins[lib] += floor_companions
    ours = {_name(p): p.split("==")[1] for pins in lib_pins.values() for p in pins}  # distribution -> our floor
    shared = [lib for lib in venvs.LIBRARY_EXTRAS if lib not in SEPARATE]
    groups = [Group("floor", shared, runtime + [p for lib in shared for p in lib_pins[lib]] + tools)]
    for lib in SEPARATE:
        (pin,) = [p for p in lib_pins[lib] if _name(p) == lib]
        raised = {}  # a library of ours it depends on -> the lowest version both allow
        for requirement in requires_of(pin):
            name = _name(requirement)
            if name in ours and name != lib and ";" not in requirement:
                theirs = venvs.floor_pin(requirement).split("==")[1]
                raised[name] = max(ours[name], theirs, key=_version_key)
        pins = [*lib_pins[lib], *(f"{name}=={version}" for name, version in raised.items())]
        groups.append(Group(f"floor-{lib}", [lib], [*runtime, *pins, *tools]))
    return Stage("floor", "3.10", True, groups)


def newest_stage() -> Stage:
    names = [_name(r) for r in venvs.runtime_requirements()]
    names += [_name(r) for lib in venvs.LIBRARY_EXTRAS for r in venvs.extra_requirements(lib)]
    names += [r for _, newest in COMPANIONS.values() for r in newest]
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
    env = {
        "OTEL_GENAI_COMPAT_STAGE": stage.name if xfail else "",
        "AGNO_TELEMETRY": "false",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # else litellm fetches its model cost map at import
    }
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

"""Fresh virtual environments for the tests that must see the package the way a user installs it.

Used by ``tests/test_zero_code.py``, ``tests/compat/run.py`` and ``benchmarks/startup.py``. Standard library only,
so any Python >= 3.10 can drive it.

Why it is built this way:

* **Fresh venvs, from a wheel.** The editable install of the dev venv hides packaging mistakes (a wrong extra, a
  missing entry point); a venv holding only the built wheel and the libraries named shows them as users meet them.
* **Local wheel cache.** A pinned requirement set is turned into wheels once (``pip wheel``) in
  :data:`WHEELHOUSE`, keyed by a hash of the set, the constraints and the interpreter version; installs then run
  with ``--no-index`` from that folder, so a rebuild costs seconds and needs no network. Unpinned sets (the newest
  stage) go to the index each time, through pip's HTTP cache in :data:`CACHE`.
* **``--without-pip`` + the driving pip with ``--python``.** Skips ensurepip (a few seconds per venv);
  ``--no-compile`` skips byte-compiling thousands of files the test imports once.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("OTEL_GENAI_VENV_CACHE") or REPO / ".cache" / "venvs")
WHEELHOUSE = CACHE / "wheels"
PIP_CACHE = CACHE / "pip"
CONSTRAINTS = REPO / "constraints.txt"

# The libraries an extra of pyproject.toml names, one extra each (the instrumentors' libraries).
LIBRARY_EXTRAS = ("openai", "anthropic", "openai-agents", "agno", "bedrock", "langchain", "litellm", "google-genai")


class VenvError(RuntimeError):
    """A venv could not be built; the message holds the failing command and the tail of its output."""


def _run(cmd: Sequence[str], *, env: Mapping[str, str] | None = None, timeout: float = 900) -> str:
    result = subprocess.run(
        [str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, env=_pip_env(env), check=False
    )
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-40:])
        raise VenvError(f"command failed ({result.returncode}): {' '.join(map(str, cmd))}\n{tail}")
    return result.stdout


def _pip_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {**os.environ, "PIP_CACHE_DIR": str(PIP_CACHE), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PYTHONPATH", None)  # the dev tree must never leak into a fresh venv
    env.pop("PIP_REQUIRE_VIRTUALENV", None)
    return {**env, **(extra or {})}


def pip(python: Path | str, *args: str, timeout: float = 900) -> str:
    """Run the driving interpreter's pip against ``python`` (``pip --python``), output captured."""
    return _run([sys.executable, "-m", "pip", "--python", str(python), *args], timeout=timeout)


@dataclass(frozen=True)
class Interpreter:
    """A Python to build venvs with; ``note`` says when it is a fallback for the version asked."""

    path: Path
    version: str
    note: str = ""


def interpreter(version: str) -> Interpreter:
    """The newest installed ``version`` (e.g. "3.10"): pyenv's, then ``pythonX.Y`` on PATH, else this Python.

    The fallback is announced in ``note`` (callers print it): a machine with one Python still runs the stage, and
    nobody mistakes that run for one on the version asked.
    """
    candidates: list[str] = []
    root = os.environ.get("PYENV_ROOT") or _pyenv_root()
    if root:
        found = glob.glob(os.path.join(root, "versions", f"{version}.*", "bin", "python"))
        candidates += sorted(found, key=lambda p: [int(x) for x in re.findall(r"\d+", Path(p).parents[1].name)])[::-1]
    on_path = shutil.which(f"python{version}")
    if on_path:
        candidates.append(on_path)
    for candidate in candidates:
        try:
            got = _run([candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]).strip()
        except (VenvError, OSError):
            continue
        if got == version:
            return Interpreter(Path(candidate), version)
    here = _version()
    note = f"Python {version} not found (pyenv, PATH): FALLING BACK to {sys.executable} (Python {here})"
    return Interpreter(Path(sys.executable), here, note)


def _version() -> str:
    return f"{sys.version_info[0]}.{sys.version_info[1]}"


def _pyenv_root() -> str | None:
    exe = shutil.which("pyenv")
    if not exe:
        return None
    try:
        return _run([exe, "root"]).strip() or None
    except (VenvError, OSError):
        return None


def build_wheel(dest: Path) -> Path:
    """Build otel-genai's wheel from the working tree into ``dest`` (no deps) and return its path."""
    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.glob("otel_genai-*.whl"):
        old.unlink()
    _run([sys.executable, "-m", "pip", "wheel", str(REPO), "-w", str(dest), "--no-deps", "--quiet"])
    (wheel,) = dest.glob("otel_genai-*.whl")
    return wheel


def _key(*parts: object) -> str:
    return hashlib.sha256(json.dumps([str(p) for p in parts]).encode()).hexdigest()[:16]


@dataclass
class Venv:
    """A venv built by :func:`create`; ``log`` lists its steps with their durations."""

    path: Path
    interpreter: Interpreter
    log: list[str]

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    @property
    def bin(self) -> Path:
        return self.path / "bin"

    def freeze(self) -> dict[str, str]:
        """``{normalized name: version}`` of every distribution installed."""
        out = _run([self.python, "-c", _FREEZE])
        return json.loads(out)

    def run(
        self,
        args: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        timeout: float = 300,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess:
        """Run ``args`` (first item a program in this venv's bin or a path) with a clean environment."""
        program = args[0] if os.sep in str(args[0]) else str(self.bin / args[0])
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "PYTHON"))}
        full_env.update({"VIRTUAL_ENV": str(self.path), "PATH": f"{self.bin}{os.pathsep}{os.environ['PATH']}"})
        full_env.update(env or {})
        return subprocess.run(
            [program, *map(str, args[1:])], capture_output=True, text=True, env=full_env, timeout=timeout, cwd=cwd
        )


_FREEZE = (
    "import json, re, importlib.metadata as m; "
    "print(json.dumps({re.sub(r'[-_.]+', '-', d.metadata['Name']).lower(): d.version for d in m.distributions()}))"
)


def create(
    path: Path,
    requirements: Iterable[str],
    *,
    interp: Interpreter | None = None,
    wheel: Path | None = None,
    constraints: Path | None = None,
    cached: bool = True,
    reuse: bool = False,
) -> Venv:
    """A venv at ``path`` holding ``requirements`` (+ ``wheel``, the built package); fresh unless ``reuse``.

    ``cached``: resolve once into :data:`WHEELHOUSE` and install offline (pinned sets); False resolves against
    the index every time (the newest stage). The wheel's own dependencies are resolved with the requirements:
    they are read from pyproject.toml so the cache key does not change with every edit of the code.
    ``reuse``: keep a venv built earlier for the same key (interpreter, requirements, constraints and, when not
    ``cached``, the set the index resolves to today) and only reinstall the wheel into it; the environment variable
    ``OTEL_GENAI_FRESH_VENVS=1`` turns reuse off.
    """
    interp = interp or Interpreter(Path(sys.executable), _version())
    reqs = list(requirements)
    log: list[str] = []
    c_args = ["-c", str(constraints)] if constraints else []
    deps = runtime_requirements() if wheel else []
    python = path / "bin" / "python"
    start = time.perf_counter()
    key = _key(interp.version, sorted(reqs + deps), constraints.read_text() if constraints else "")
    if not cached:  # the newest releases change: the key is what the index resolves to now
        dry_run = ["install", "--dry-run", "--ignore-installed", "--quiet", "--report", "-"]
        report = json.loads(pip(interp.path, *dry_run, *reqs, *deps))
        resolved = sorted(f"{i['metadata']['name']}=={i['metadata']['version']}" for i in report["install"])
        key = _key(key, resolved)
        log.append(f"resolved {len(resolved)} distributions: {time.perf_counter() - start:.1f}s")
    stamp = path / ".otel-genai-venv-key"
    reuse = reuse and os.environ.get("OTEL_GENAI_FRESH_VENVS") != "1"
    if reuse and python.exists() and stamp.exists() and stamp.read_text() == key:
        if wheel:
            pip(python, "install", "--quiet", "--no-compile", "--no-deps", "--force-reinstall", str(wheel))
        log.append(f"reused (same key), wheel reinstalled: {time.perf_counter() - start:.1f}s")
        return Venv(path, interp, log)
    if path.exists():
        shutil.rmtree(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    _run([interp.path, "-m", "venv", "--without-pip", path])
    log.append(f"venv {interp.path}: {time.perf_counter() - start:.1f}s")
    start = time.perf_counter()
    if cached:
        WHEELHOUSE.mkdir(parents=True, exist_ok=True)
        filled = WHEELHOUSE / f".{key}.done"
        if not filled.exists():
            pip(python, "wheel", "--quiet", "-w", str(WHEELHOUSE), *c_args, *reqs, *deps)
            filled.write_text(json.dumps(reqs + deps))
            log.append(f"wheel cache filled: {time.perf_counter() - start:.1f}s")
            start = time.perf_counter()
        source = ["--no-index", "--find-links", str(WHEELHOUSE)]
    else:
        source = []
    targets = [*reqs, *([str(wheel)] if wheel else [])]
    pip(python, "install", "--quiet", "--no-compile", *source, *c_args, *targets)
    stamp.write_text(key)
    log.append(f"install {len(reqs)} requirement(s){' + wheel' if wheel else ''}: {time.perf_counter() - start:.1f}s")
    return Venv(path, interp, log)


def pyproject() -> dict:
    """pyproject.toml, parsed (tomllib, or tomli on Python 3.10)."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    with open(REPO / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


def runtime_requirements() -> list[str]:
    """The ``dependencies`` of pyproject.toml, as written."""
    return list(pyproject()["project"]["dependencies"])


def extra_requirements(extra: str) -> list[str]:
    """The requirements of one optional-dependencies extra of pyproject.toml, as written."""
    return list(pyproject()["project"]["optional-dependencies"][extra])


_LOWER = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(.*)$")


def floor_pin(requirement: str) -> str:
    """``"name>=1.2"`` -> ``"name==1.2"``: the lowest version the requirement admits, pinned.

    Every requirement a floor is read from must declare a lower bound (``>=`` or ``==`` or ``~=``); one that does
    not is an error, because "works at the floor" means nothing without one.
    """
    match = _LOWER.match(requirement.split(";")[0])
    if not match:
        raise ValueError(f"cannot parse requirement {requirement!r}")
    name, spec = match.group(1), match.group(2)
    for clause in spec.split(","):
        clause = clause.strip()
        for op in (">=", "==", "~="):
            if clause.startswith(op):
                return f"{name}=={clause[len(op) :].strip()}"
    raise ValueError(f"requirement {requirement!r} declares no lower bound")

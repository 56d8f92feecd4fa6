"""What pyproject.toml declares and what the code says agree: entry points, extras, supported versions."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import distribution, entry_points
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement

from otel_genai.instrumentation import INSTRUMENTORS, load

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
EXTRAS = PYPROJECT["project"]["optional-dependencies"]
EXTRA_OF = {  # entry point -> its per-library extra
    "otel_genai_openai": "openai",
    "otel_genai_anthropic": "anthropic",
    "otel_genai_openai_agents": "openai-agents",
    "otel_genai_agno": "agno",
    "otel_genai_bedrock": "bedrock",
    "otel_genai_langchain": "langchain",
    "otel_genai_litellm": "litellm",
    "otel_genai_google_genai": "google-genai",
}


def _specs(requirements) -> set[str]:
    return {str(Requirement(r)) for r in requirements}


def test_entry_points_match_the_table():
    declared = PYPROJECT["project"]["entry-points"]["opentelemetry_instrumentor"]
    assert declared == {name: f"{module}:{cls}" for name, (module, cls) in INSTRUMENTORS.items()}
    registered = {ep.name: ep.value for ep in entry_points(group="opentelemetry_instrumentor")}
    for name, value in declared.items():
        assert registered[name] == value


@pytest.mark.parametrize("name", sorted(INSTRUMENTORS))
def test_each_library_floor_comes_from_one_place(name):
    instrumentor = load(name)()
    floors = _specs(instrumentor.instrumentation_dependencies())
    assert instrumentor.entry_point == name
    assert floors == _specs(EXTRAS[EXTRA_OF[name]])
    assert floors <= _specs(EXTRAS["instruments-any"])
    assert floors <= _specs(EXTRAS["all"])


def test_instruments_any_and_all_list_exactly_the_libraries():
    every = set().union(*(_specs(load(name)().instrumentation_dependencies()) for name in INSTRUMENTORS))
    assert _specs(EXTRAS["instruments-any"]) == every == _specs(EXTRAS["all"])
    assert "instruments" not in EXTRAS  # the loader would demand every library at once


def test_installed_metadata_uses_instruments_any():
    requires = distribution("otel-genai").requires or []
    markers = {str(Requirement(r).marker) for r in requires if Requirement(r).marker is not None}
    assert any("instruments-any" in m for m in markers)
    assert not any('extra == "instruments"' in m for m in markers)


def test_importing_the_package_imports_no_library():
    code = (
        "import sys, otel_genai, otel_genai.instrumentation\n"
        "from otel_genai import OpenAIInstrumentor, AnthropicInstrumentor, OpenAIAgentsInstrumentor, "
        "AgnoInstrumentor, GenAIInstrumentor\n"
        "OpenAIInstrumentor().instrument(); AnthropicInstrumentor().instrument()\n"
        "OpenAIAgentsInstrumentor().instrument(); AgnoInstrumentor().instrument()\n"
        "print(sorted(m for m in ('openai', 'anthropic', 'agents', 'agno') if m in sys.modules))\n"
        "import openai\n"
        "print(type(openai.resources.chat.completions.completions.Completions.__dict__['create']).__name__)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[]", "FunctionWrapper"]


def test_root_exports_the_user_api_lazily():
    import otel_genai

    assert otel_genai.OpenAIInstrumentor is load("otel_genai_openai")
    assert otel_genai.GenAIInstrumentor.__name__ == "GenAIInstrumentor"
    assert set(otel_genai.__all__) <= set(dir(otel_genai))
    with pytest.raises(AttributeError):
        otel_genai.SpanRun  # noqa: B018 - the engine is for writing instrumentations: otel_genai.lifecycle

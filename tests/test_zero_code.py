"""Zero-code, as a new user meets it: a fresh venv holding otel-genai's wheel, ONE library and
``opentelemetry-distro``, an app run unchanged under ``opentelemetry-instrument``.

The dev venv holds every library, so a loader rule that needs all of them (the ``instruments`` extra) passes there
and records nothing for a user who has only ``openai``. Here each library gets its own venv (built once per
session, from the local wheel cache of :mod:`support.venvs`, pinned by constraints.txt), and the SDK is faked only
at the HTTP edge with the real wire JSON of :mod:`support.wire`.

tests/test_openai_cli.py runs in the dev venv, where every library (and OpenInference) is installed; here only one is.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from support import venvs, wire

pytestmark = [pytest.mark.venv, pytest.mark.timeout(900)]

EXPORTERS = ["--traces_exporter", "console", "--metrics_exporter", "none", "--logs_exporter", "none"]
# In a venv's site-packages: configures stdlib logging at DEBUG before the OTel loader runs, only when asked.
# The loader's skip lines are debug records and, with the versions pinned here, OTEL_LOG_LEVEL configures no
# handler for them (measured: nothing printed), so a test that wants to read them has to install one.
DEBUG_PTH = (
    "import os, logging; os.environ.get('ZERO_CODE_DEBUG_LOG') and "
    "logging.basicConfig(level=logging.DEBUG, format='ZCLOG %(levelname)s %(name)s: %(message)s')\n"
)

APP = r"""
import json, os, sys

LIB = sys.argv[1]
body = open(os.environ["WIRE_BODY"], "rb").read()
headers = json.loads(os.environ["WIRE_HEADERS"])
try:
    import httpx2 as httpx  # what the newer SDKs require
except ImportError:
    import httpx

transport = httpx.MockTransport(lambda request: httpx.Response(200, headers=headers, content=body))
http_client = httpx.Client(transport=transport)
if LIB == "openai":
    import openai

    client = openai.OpenAI(api_key="test", http_client=http_client, max_retries=0)
    reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hello"}])
    print("REPLY", reply.choices[0].message.content)
elif LIB == "anthropic":
    import anthropic

    client = anthropic.Anthropic(api_key="test", http_client=http_client, max_retries=0)
    reply = client.messages.create(
        model="claude-sonnet-4-5", max_tokens=64, messages=[{"role": "user", "content": "hello"}]
    )
    print("REPLY", reply.content[0].text)
LIBRARIES = ("openai", "anthropic", "agents", "agno")
print("MODULES", json.dumps(sorted(name for name in LIBRARIES if name in sys.modules)))
"""

JSON_ONLY_APP = r"""
import json, sys

print("MODULES", json.dumps(sorted(name for name in ("openai", "anthropic", "agents", "agno") if name in sys.modules)))
"""

# library -> (wire response, expected span name, expected attributes)
CASES: dict[str, tuple[wire.WireResponse, str, dict[str, Any]]] = {
    "openai": (
        wire.openai_chat("hi", id="chatcmpl-zero-1", model="gpt-4o-mini-2024-07-18", request_id="req_zero_openai"),
        "chat gpt-4o-mini",
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
            "gen_ai.response.id": "chatcmpl-zero-1",
            "gen_ai.usage.input_tokens": 12,
            "gen_ai.usage.output_tokens": 5,
            "gen_ai.response.finish_reasons": ["stop"],
            "server.address": "api.openai.com",
        },
    ),
    "anthropic": (
        wire.anthropic_message("hi", id="msg_zero_1", model="claude-sonnet-4-5-20250929", request_id="req_zero_a"),
        "chat claude-sonnet-4-5",
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "anthropic",
            "gen_ai.request.model": "claude-sonnet-4-5",
            "gen_ai.response.model": "claude-sonnet-4-5-20250929",
            "gen_ai.response.id": "msg_zero_1",
            "gen_ai.usage.input_tokens": 12,
            "gen_ai.usage.output_tokens": 5,
            "gen_ai.response.finish_reasons": ["stop"],
            "gen_ai.request.max_tokens": 64,
            "server.address": "api.anthropic.com",
        },
    ),
}
OTHER_ENTRY_POINTS = {
    "openai": ("otel_genai_anthropic", "otel_genai_openai_agents", "otel_genai_agno"),
    "anthropic": ("otel_genai_openai", "otel_genai_openai_agents", "otel_genai_agno"),
}


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    """otel-genai's wheel, built once per session from this working tree."""
    return venvs.build_wheel(tmp_path_factory.mktemp("wheel"))


_VENVS: dict[str, venvs.Venv] = {}


@pytest.fixture(scope="session", params=sorted(CASES))
def user_venv(request, wheel) -> venvs.Venv:
    """A fresh venv: the wheel, exactly one library, opentelemetry-distro; nothing else (asserted)."""
    library = request.param
    if library not in _VENVS:
        venv = venvs.create(
            venvs.CACHE / f"zero-code-{library}",
            [library, "opentelemetry-distro"],
            wheel=wheel,
            constraints=venvs.CONSTRAINTS,
        )
        (site,) = venv.path.glob("lib/python*/site-packages")
        (site / "zero_code_debug_log.pth").write_text(DEBUG_PTH)
        installed = venv.freeze()
        assert "otel-genai" in installed and library in installed and "opentelemetry-distro" in installed
        others = {"openai", "anthropic", "openai-agents", "agno", "opentelemetry-exporter-otlp"} - {library}
        assert not others & set(installed), f"venv for {library} holds {sorted(others & set(installed))}"
        venv.library = library  # type: ignore[attr-defined]
        _VENVS[library] = venv
    return _VENVS[library]


def run_app(venv: venvs.Venv, tmp_path: Path, app: str = APP, **env: str) -> tuple[str, list[dict], str]:
    """Run ``app`` under opentelemetry-instrument in ``venv``: (stdout, spans the console exporter printed, stderr)."""
    library = venv.library  # type: ignore[attr-defined]
    response = CASES[library][0]
    (tmp_path / "body").write_bytes(response.body)
    (tmp_path / "app.py").write_text(app)
    full_env = {"WIRE_BODY": str(tmp_path / "body"), "WIRE_HEADERS": json.dumps(dict(response.headers)), **env}
    result = venv.run(["opentelemetry-instrument", *EXPORTERS, "python", tmp_path / "app.py", library], env=full_env)
    assert result.returncode == 0, f"app failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout, console_spans(result.stdout), result.stderr


def console_spans(stdout: str) -> list[dict]:
    """The spans the console exporter printed (one indented JSON object each, among the app's own lines)."""
    decoder = json.JSONDecoder()
    spans: list[dict] = []
    end = 0
    for match in re.finditer(r"^\{", stdout, re.MULTILINE):
        if match.start() < end:
            continue
        obj, end = decoder.raw_decode(stdout, match.start())
        if isinstance(obj, dict) and "context" in obj and "name" in obj:
            spans.append(obj)
    return spans


def ours(spans: list[dict]) -> list[dict]:
    """The spans otel-genai made: with our anthropic entry point disabled, anthropic >= 2 traces its calls itself
    (``anthropic.messages.create``) whenever a tracer provider is set, and the console exporter prints no scope."""
    return [s for s in spans if not s["name"].startswith(NATIVE_SPAN_PREFIXES)]


NATIVE_SPAN_PREFIXES = ("anthropic.",)
# How a skipped entry point reads: the loader's "Skipping instrumentation X: No module named ..." or its dependency
# check's "X only instruments ..., but no installed version was found", or our own check's "skip".
SKIP = re.compile(r"skip|no installed version|not installed|nothing can be instrumented", re.IGNORECASE)


def modules(stdout: str) -> list[str]:
    (line,) = [line for line in stdout.splitlines() if line.startswith("MODULES ")]
    return json.loads(line.removeprefix("MODULES "))


def test_one_library_venv_gets_its_client_span(user_venv, tmp_path):
    library = user_venv.library
    stdout, spans, stderr = run_app(user_venv, tmp_path)
    assert "REPLY hi" in stdout
    assert modules(stdout) == [library]
    _, name, expected = CASES[library]
    assert ours(spans) == spans, "anthropic's own span is switched off for the calls we trace: one span per call"
    named = [s for s in spans if s["name"] == name]
    assert len(named) == 1, f"no single {name!r} span among {[s['name'] for s in spans]}\nstderr:\n{stderr}"
    span = named[0]
    assert span["kind"] == "SpanKind.CLIENT"
    assert span["status"]["status_code"] in ("UNSET", "OK")
    missing = {k: v for k, v in expected.items() if span["attributes"].get(k) != v}
    assert not missing, f"attributes differ: want {missing}, got {span['attributes']}"
    assert "Traceback" not in stderr, stderr


def test_disabled_instrumentation_records_nothing(user_venv, tmp_path):
    library = user_venv.library
    stdout, spans, _ = run_app(user_venv, tmp_path, OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=f"otel_genai_{library}")
    assert "REPLY hi" in stdout
    assert ours(spans) == []


def test_enabled_by_default_control(user_venv, tmp_path):
    """The control for the test above: disabling an unrelated entry point keeps the span."""
    library = user_venv.library
    other = OTHER_ENTRY_POINTS[library][0]
    _, spans, _ = run_app(user_venv, tmp_path, OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=other)
    assert [s["name"] for s in ours(spans)] == [CASES[library][1]]


def test_uninstalled_libraries_are_skipped_quietly(user_venv, tmp_path):
    """The other entry points are skipped with a debug line naming them, never an exception or an error."""
    library = user_venv.library
    _, spans, stderr = run_app(user_venv, tmp_path, OTEL_LOG_LEVEL="debug", ZERO_CODE_DEBUG_LOG="1")
    assert [s["name"] for s in ours(spans)] == [CASES[library][1]]
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.startswith("ZCLOG ")]
    errors = [line for line in lines if line.startswith(("ZCLOG ERROR", "ZCLOG CRITICAL", "ZCLOG WARNING"))]
    assert not [line for line in errors if "otel_genai" in line or "otel-genai" in line], errors
    for entry_point in OTHER_ENTRY_POINTS[library]:
        mentions = [line for line in lines if entry_point in line or entry_point.replace("_", "-") in line]
        assert any(SKIP.search(line) for line in mentions), f"no skip line for {entry_point} in:\n{stderr}"
    # (The loader still logs "Instrumented X" for a skipped X: our instrument() returns without raising, because
    # older loaders turn any exception from it into a failed start-up.)
    assert f"Instrumented otel_genai_{library}" in stderr


def test_start_up_imports_no_library_the_app_does_not(user_venv, tmp_path):
    """An app that imports only json: the instrumentor is loaded (debug line) and its library is not imported."""
    library = user_venv.library
    stdout, spans, stderr = run_app(user_venv, tmp_path, app=JSON_ONLY_APP, ZERO_CODE_DEBUG_LOG="1")
    assert f"Instrumented otel_genai_{library}" in stderr, stderr
    assert modules(stdout) == []
    assert ours(spans) == []

"""Zero-code: a script run under the real ``opentelemetry-instrument`` CLI gets the ``chat ...`` span."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

VENV_BIN = Path(sys.executable).parent
CLI = VENV_BIN / "opentelemetry-instrument"

SCRIPT = r"""
import json
import httpx2
import openai

BODY = {
    "id": "chatcmpl-cli-1", "object": "chat.completion", "created": 0, "model": "gpt-4o-mini-2024-07-18",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
}
transport = httpx2.MockTransport(lambda request: httpx2.Response(200, json=BODY))
client = openai.OpenAI(api_key="test", http_client=httpx2.Client(transport=transport), max_retries=0)
reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hello"}])
print("REPLY", reply.choices[0].message.content)
"""


def _run(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    script = tmp_path / "app.py"
    script.write_text(SCRIPT)
    full_env = {
        **os.environ,
        "OTEL_TRACES_EXPORTER": "console",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "",
        **env,
    }
    full_env.pop("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", None)
    return subprocess.run(
        [str(CLI), sys.executable, str(script)], env=full_env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.skipif(not CLI.exists(), reason="opentelemetry-instrument not installed")
def test_span_under_opentelemetry_instrument(tmp_path):
    result = _run(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "REPLY hi" in result.stdout
    assert '"name": "chat gpt-4o-mini"' in result.stdout
    assert '"gen_ai.response.id": "chatcmpl-cli-1"' in result.stdout
    assert '"kind": "SpanKind.CLIENT"' in result.stdout


@pytest.mark.skipif(not CLI.exists(), reason="opentelemetry-instrument not installed")
def test_next_to_openinference_one_warning_names_the_choice(tmp_path):
    """The test venv has OpenInference's openai instrumentor too (as `pip install arize-phoenix` brings it)."""
    both = _run(tmp_path)
    assert both.returncode == 0, both.stderr
    assert both.stderr.count("otel-genai: openai is also traced by openinference-instrumentation-openai") == 1
    assert "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=openai keeps otel-genai's spans" in both.stderr
    ours_only = _run(tmp_path, OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="openai,openai_agents")
    assert ours_only.returncode == 0, ours_only.stderr
    assert "is also traced by" not in ours_only.stderr
    assert ours_only.stdout.count('"name": "chat gpt-4o-mini"') == 1


@pytest.mark.skipif(not CLI.exists(), reason="opentelemetry-instrument not installed")
def test_disabled_instrumentation_is_absent(tmp_path):
    result = _run(tmp_path, OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="otel_genai_openai")
    assert result.returncode == 0, result.stderr
    assert "REPLY hi" in result.stdout
    assert "chat gpt-4o-mini" not in result.stdout

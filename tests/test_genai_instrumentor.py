"""GenAIInstrumentor instruments every supported library that is importable, and undoes it all."""

from __future__ import annotations

import importlib

from otel_genai.instrumentation import INSTRUMENTORS, GenAIInstrumentor


def _instrumentor(name):
    module, cls = INSTRUMENTORS[name]
    return getattr(importlib.import_module(module), cls)()


def test_instruments_and_uninstruments_everything():
    import openai

    original = openai.resources.chat.completions.completions.Completions.create
    genai = GenAIInstrumentor()
    genai.instrument()
    try:
        for name in INSTRUMENTORS:
            assert _instrumentor(name).is_instrumented_by_opentelemetry, name
        assert openai.resources.chat.completions.completions.Completions.create is not original
        GenAIInstrumentor().instrument()  # twice is harmless (and a singleton)
    finally:
        genai.uninstrument()
    for name in INSTRUMENTORS:
        assert not _instrumentor(name).is_instrumented_by_opentelemetry, name
    assert openai.resources.chat.completions.completions.Completions.create is original

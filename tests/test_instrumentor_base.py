"""The instrumentor base: patched when the library is imported, isolated failures, exact undo, the loader's dependency
path, neighbours, and GenAIInstrumentor's per-library isolation."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap

import pytest

from otel_genai.instrumentation import GenAIInstrumentor, load
from otel_genai.instrumentation.base import LibraryInstrumentor, Patch, Setup


def _calls(log):
    def wrapper(telemetry, wrapped, instance, args, kwargs):
        log.append(args)
        return wrapped(*args, **kwargs)

    return wrapper


class ToyInstrumentor(LibraryInstrumentor):
    entry_point = "toy"
    library = "support.toy_library"
    instruments = ("wrapt >= 1.0",)
    calls: list = []
    fail_setup = False

    def patches(self):
        def broken():
            raise RuntimeError("this step fails")

        table = [Patch("support.toy_library", "Toy.missing", _calls(self.calls))]
        if self.fail_setup:
            table.append(Setup("broken", broken))
        table.append(Patch("support.toy_library", "Toy.greet", _calls(self.calls)))
        return table


@pytest.mark.swallows(RuntimeError, reason="a Setup step that raises, on purpose")
def test_a_failing_step_is_logged_and_the_others_apply(caplog):
    from support import toy_library

    original = toy_library.Toy.__dict__["greet"]
    toy = ToyInstrumentor()
    toy.fail_setup = True
    toy.calls.clear()
    with caplog.at_level(logging.WARNING, logger="otel_genai"):
        toy.instrument()
    try:
        assert toy_library.Toy().greet("a") == "hello a"
        assert toy.calls == [("a",)]
        assert any("could not apply" in r.getMessage() for r in caplog.records)
    finally:
        toy.uninstrument()
        toy.fail_setup = False
    assert toy_library.Toy.__dict__["greet"] is original
    assert toy_library.Toy().greet("b") == "hello b" and toy.calls == [("a",)]


def test_a_method_cached_while_instrumented_passes_through_after():
    from support import toy_library

    toy = ToyInstrumentor()
    toy.calls.clear()
    toy.instrument()
    cached = toy_library.Toy().greet
    toy.uninstrument()
    assert cached("c") == "hello c"
    assert toy.calls == []


def test_loader_path_still_checks_each_library(caplog):
    class Missing(LibraryInstrumentor):  # not a subclass of an instantiated one: BaseInstrumentor is a singleton
        entry_point = "toy_missing"
        library = "support.toy_library"
        instruments = ("surely-not-installed-dist >= 1",)
        patches = ToyInstrumentor.patches

    with caplog.at_level(logging.DEBUG, logger="otel_genai"):
        Missing().instrument(skip_dep_check=True)  # what opentelemetry-instrument passes
    assert not Missing().is_instrumented_by_opentelemetry
    assert any("skipping toy_missing" in r.getMessage() for r in caplog.records)


def test_unsupported_version_under_the_loader_warns(caplog):
    class TooOld(LibraryInstrumentor):
        entry_point = "toy_too_old"
        library = "support.toy_library"
        instruments = ("wrapt >= 999",)
        patches = ToyInstrumentor.patches

    with caplog.at_level(logging.DEBUG, logger="otel_genai"):
        TooOld().instrument(skip_dep_check=True)
    assert not TooOld().is_instrumented_by_opentelemetry
    assert [r.levelno for r in caplog.records if "toy_too_old" in r.getMessage()] == [logging.WARNING]


def _run(code: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_patched_when_imported_and_not_before():
    lines = _run(
        """
        import sys
        from otel_genai import OpenAIInstrumentor
        i = OpenAIInstrumentor()
        i.instrument(); i.uninstrument(); i.instrument()  # the first hook is stale: it must do nothing
        print("openai" in sys.modules)
        import openai
        from wrapt import FunctionWrapper
        create = vars(openai.resources.chat.completions.completions.Completions)["create"]
        print(type(create).__name__, isinstance(create.__wrapped__, FunctionWrapper))
        i.uninstrument()
        print(type(vars(openai.resources.chat.completions.completions.Completions)["create"]).__name__)
        """
    )
    assert lines == ["False", "FunctionWrapper False", "function"]


def test_uninstrumented_before_import_patches_nothing():
    lines = _run(
        """
        from otel_genai import AnthropicInstrumentor
        i = AnthropicInstrumentor(); i.instrument(); i.uninstrument()
        import anthropic.resources.messages.messages as m
        print(type(vars(m.Messages)["create"]).__name__)
        """
    )
    assert lines == ["function"]


def test_genai_instrumentor_isolates_a_failing_library(monkeypatch, caplog):
    import openai

    anthropic_cls = load("otel_genai_anthropic")

    def broken(self, **kwargs):
        raise ImportError("anthropic.resources.messages is a module in this version")

    monkeypatch.setattr(anthropic_cls, "_instrument", broken)
    original = vars(openai.resources.chat.completions.completions.Completions)["create"]
    genai = GenAIInstrumentor()
    with caplog.at_level(logging.WARNING, logger="otel_genai"):
        genai.instrument()
    try:
        assert any("otel_genai_anthropic failed" in r.getMessage() for r in caplog.records)
        assert load("otel_genai_openai")().is_instrumented_by_opentelemetry
        assert load("otel_genai_agno")().is_instrumented_by_opentelemetry
        assert not anthropic_cls().is_instrumented_by_opentelemetry
    finally:
        genai.uninstrument()
    assert vars(openai.resources.chat.completions.completions.Completions)["create"] is original
    assert not load("otel_genai_openai")().is_instrumented_by_opentelemetry


@pytest.fixture
def openinference_openai():
    from openinference.instrumentation.openai import OpenAIInstrumentor as Theirs

    yield Theirs()
    if Theirs().is_instrumented_by_opentelemetry:
        Theirs().uninstrument()


def _neighbour_warnings(caplog):
    return [r.getMessage() for r in caplog.records if "is also traced by" in r.getMessage()]


@pytest.mark.parametrize("theirs_first", [True, False])
def test_another_instrumentation_of_the_same_library_is_named_once(
    openinference_openai, caplog, theirs_first, monkeypatch
):
    import httpx
    import openai

    from otel_genai.instrumentation import base

    monkeypatch.setattr(base, "_WARNED", set())
    ours = load("otel_genai_openai")()
    with caplog.at_level(logging.WARNING, logger="otel_genai"):
        if theirs_first:
            openinference_openai.instrument()
            ours.instrument()
        else:
            ours.instrument()
            openinference_openai.instrument()
        try:
            item = {"object": "embedding", "index": 0, "embedding": [0.5]}
            body = {"object": "list", "data": [item], "model": "m", "usage": {"prompt_tokens": 1, "total_tokens": 1}}
            transport = httpx.MockTransport(lambda request: httpx.Response(200, json=body))
            client = openai.OpenAI(api_key="k", http_client=httpx.Client(transport=transport))
            client.embeddings.create(model="m", input="x")
            client.embeddings.create(model="m", input="y")
        finally:
            ours.uninstrument()
    assert _neighbour_warnings(caplog) == [
        "otel-genai: openai is also traced by openinference-instrumentation-openai (entry point 'openai'): every "
        "call would be traced twice. Keep one: OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=openai keeps otel-genai's "
        "spans, OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=otel_genai_openai keeps openinference-instrumentation-openai's."
    ]


def test_no_warning_alone(caplog, monkeypatch):
    from otel_genai.instrumentation import base

    monkeypatch.setattr(base, "_WARNED", set())
    ours = load("otel_genai_openai")()
    with caplog.at_level(logging.WARNING, logger="otel_genai"):
        ours.instrument()
        try:
            assert ours.check_neighbours() == []
        finally:
            ours.uninstrument()
    assert _neighbour_warnings(caplog) == []


def test_no_deadlock_when_a_hook_fires_while_another_thread_imports(tmp_path):
    """instrument() in one thread while another is executing one of the table's modules: the first thread's hook
    must wait for that import without holding the lock the importing thread's own hooks need (found by the
    toggling load test: sixteen threads making their first call while instrumentation flips)."""
    package = tmp_path / "half_imported"
    package.mkdir()
    (package / "__init__.py").write_text("import threading\ninside_a = threading.Event()\ngo = threading.Event()\n")
    (package / "a.py").write_text(
        "import time\nfrom half_imported import go, inside_a\n"
        "inside_a.set()\ngo.wait(10)\ntime.sleep(0.3)  # the other thread's hook is now waiting for this module\n"
        "import half_imported.b  # fires the hook for b in this thread, mid-import of a\n"
        "def f():\n    return 'f'\n"
    )
    (package / "b.py").write_text("def g():\n    return 'g'\n")
    lines = _run(
        f"""
        import os, sys, threading
        sys.path.insert(0, {str(tmp_path)!r})
        import half_imported
        from otel_genai.instrumentation.base import LibraryInstrumentor, Patch

        def wrapper(telemetry, wrapped, instance, args, kwargs):
            return "traced " + wrapped(*args, **kwargs)

        class Half(LibraryInstrumentor):
            entry_point = "half"
            library = "half_imported"
            instruments = ("wrapt >= 1.0",)

            def patches(self):
                # b's hook is registered first (b is not imported yet); a's fires at once, a being in sys.modules
                return [Patch("half_imported.b", "g", wrapper), Patch("half_imported.a", "f", wrapper)]

        importer = threading.Thread(target=lambda: __import__("half_imported.a"), daemon=True)
        importer.start()
        half_imported.inside_a.wait(10)
        instrumenting = threading.Thread(target=Half().instrument, daemon=True)
        instrumenting.start()
        half_imported.go.set()
        importer.join(10)
        instrumenting.join(10)
        if importer.is_alive() or instrumenting.is_alive():
            print("deadlocked", flush=True)
            os._exit(0)  # the import lock is held for good: importing a here would hang too
        print("False")
        from half_imported import a, b
        print(a.f(), "/", b.g())
        """
    )
    assert lines == ["False", "traced f / traced g"]

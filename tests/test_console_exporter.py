"""SpanTreeConsoleExporter behind a real SDK TracerProvider: one tree per trace whatever the batching, bounded
buffer, colour rules, robustness to odd spans, and the ``otel_genai_console`` entry point under
``opentelemetry-instrument``."""

from __future__ import annotations

import io
import itertools
import os
import subprocess
import sys
import textwrap
import threading
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from support.console_tree import parse

from otel_genai.console import SpanTreeConsoleExporter

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


class CountingExporter(SpanTreeConsoleExporter):
    """The real exporter, remembering the batch sizes it was handed (to prove a trace came in several)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.batches: list[int] = []

    def export(self, spans):
        self.batches.append(len(spans))
        return super().export(spans)


def batched(exporter: SpanTreeConsoleExporter, batch_size: int = 2) -> TracerProvider:
    """A provider wired as ``opentelemetry-instrument`` wires it: the exporter behind a BatchSpanProcessor."""
    provider = TracerProvider(resource=Resource.create({"service.name": "console-test"}))
    provider.add_span_processor(
        BatchSpanProcessor(exporter, max_export_batch_size=batch_size, schedule_delay_millis=60_000)
    )
    return provider


def child_of(span: trace.Span):
    return trace.set_span_in_context(span)


def test_nested_spans_across_batches_print_as_one_tree_parents_first():
    out = io.StringIO()
    exporter = CountingExporter(out=out)
    provider = batched(exporter)
    tracer = provider.get_tracer("test")
    root = tracer.start_span("invoke_workflow root")
    agent = tracer.start_span("invoke_agent a", context=child_of(root))
    tool = tracer.start_span("execute_tool t", context=child_of(agent))
    tool.end()
    chat = tracer.start_span("chat m", context=child_of(agent), kind=SpanKind.CLIENT)
    chat.set_attributes({"gen_ai.usage.input_tokens": 21, "gen_ai.usage.output_tokens": 6})
    chat.set_attributes({"gen_ai.response.time_to_first_chunk": 0.0123, "otel_genai.outcome": "completed"})
    chat.set_attributes({"otel_genai.stream.items": 9, "gen_ai.response.model": "m-2024"})
    chat.end()
    agent.end()
    second = tracer.start_span("task second", context=child_of(root))
    second.end()

    provider.force_flush()
    assert out.getvalue() == ""  # four spans exported, but the root has not ended: nothing printed yet
    root.end()
    provider.force_flush()

    assert sum(exporter.batches) == 5 and len(exporter.batches) >= 3
    (tree,) = parse(out.getvalue())
    assert tree.trace_id == f"{root.get_span_context().trace_id:032x}"
    assert tree.service == "console-test" and tree.note is None
    assert [(n.depth, n.name) for n in tree.nodes] == [
        (0, "invoke_workflow root"),
        (1, "invoke_agent a"),
        (2, "execute_tool t"),
        (2, "chat m"),
        (1, "task second"),
    ]
    chat_line = tree.nodes[3]
    assert chat_line.kind == "CLIENT" and all(n.kind == "" for n in tree.nodes if n is not chat_line)
    assert chat_line.attrs == {
        "model": "m-2024",
        "tokens_in": "21",
        "tokens_out": "6",
        "first_chunk": "12.3ms",
        "items": "9",
        "outcome": "completed",
    }
    assert out.getvalue().count(f"{root.get_span_context().trace_id:032x}") == 1  # trace id once, in the header
    assert "console-test" not in out.getvalue().split("\n", 1)[1]  # resource only in the header
    provider.shutdown()
    assert len(parse(out.getvalue())) == 1  # nothing left over to print at shutdown


def test_two_concurrent_traces_print_as_two_trees():
    out = io.StringIO()
    provider = batched(SpanTreeConsoleExporter(out=out), batch_size=3)
    tracer = provider.get_tracer("test")
    barrier = threading.Barrier(2)
    ids: dict[str, int] = {}

    def run(label: str) -> None:
        with tracer.start_as_current_span(f"invoke_workflow {label}") as root:
            ids[label] = root.get_span_context().trace_id
            for step in range(3):
                barrier.wait()  # both traces have spans open and ending at the same time
                with tracer.start_as_current_span(f"{label} step {step}"):
                    with tracer.start_as_current_span(f"{label} inner {step}"):
                        barrier.wait()

    threads = [threading.Thread(target=run, args=(label,)) for label in ("left", "right")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    provider.shutdown()

    trees = {tree.trace_id: tree for tree in parse(out.getvalue())}
    assert len(trees) == 2
    for label, trace_id in ids.items():
        tree = trees[f"{trace_id:032x}"]
        assert tree.note is None
        expected = [(0, f"invoke_workflow {label}")]
        for step in range(3):
            expected += [(1, f"{label} step {step}"), (2, f"{label} inner {step}")]
        assert [(n.depth, n.name) for n in tree.nodes] == expected


def failing_trace(exporter: SpanTreeConsoleExporter) -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("invoke_workflow w"):
        with tracer.start_as_current_span("execute_tool ok"):
            pass
        try:
            with tracer.start_as_current_span("execute_tool broken") as broken:
                broken.set_attribute("error.type", "ValueError")
                raise ValueError("boom")
        except ValueError:
            pass


@pytest.mark.parametrize("color", [True, False])
def test_error_span_is_red_only_when_colour_is_on(color):
    out = io.StringIO()
    failing_trace(SpanTreeConsoleExporter(out=out, color=color))
    (tree,) = parse(out.getvalue())
    broken = tree.nodes[2]
    assert broken.name == "execute_tool broken" and broken.attrs["error"] == "ValueError: boom"
    assert broken.red is color
    assert not any(n.red for n in tree.nodes[:2])
    assert ("\x1b[" in out.getvalue()) is color


@pytest.mark.parametrize(
    ("env", "tty", "expected"),
    [
        ({}, False, False),
        ({}, True, True),
        ({"NO_COLOR": "1"}, True, False),
        ({"FORCE_COLOR": "1"}, False, True),
        ({"FORCE_COLOR": "0"}, True, True),
        ({"FORCE_COLOR": "1", "NO_COLOR": "1"}, False, False),
    ],
)
def test_colour_follows_tty_no_color_and_force_color(monkeypatch, env, tty, expected):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return tty

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    out = Terminal()
    failing_trace(SpanTreeConsoleExporter(out=out))
    assert ("\x1b[31m" in out.getvalue()) is expected
    assert parse(out.getvalue())[0].nodes[2].red is expected


def test_stdout_is_the_default_stream(capsys):
    failing_trace(SpanTreeConsoleExporter())
    (tree,) = parse(capsys.readouterr().out)
    assert tree.names() == ["invoke_workflow w", "execute_tool ok", "execute_tool broken"]


def test_orphans_are_printed_at_shutdown_and_marked_incomplete():
    out = io.StringIO()
    provider = batched(SpanTreeConsoleExporter(out=out))
    tracer = provider.get_tracer("test")
    root = tracer.start_span("never ends")
    with tracer.start_as_current_span("orphan child", context=child_of(root)):
        with tracer.start_as_current_span("orphan grandchild"):
            pass
    provider.force_flush()
    assert out.getvalue() == ""
    provider.shutdown()
    (tree,) = parse(out.getvalue())
    assert "incomplete" in tree.note
    assert [(n.depth, n.name) for n in tree.nodes] == [(0, "orphan child"), (1, "orphan grandchild")]


def test_force_flush_prints_buffered_traces_and_later_spans_come_as_late_trees():
    out = io.StringIO()
    exporter = SpanTreeConsoleExporter(out=out)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    root = tracer.start_span("slow root")
    tracer.start_span("early", context=child_of(root)).end()
    assert exporter.force_flush() is True
    late = tracer.start_span("late", context=child_of(root))
    root.end()
    late.end()  # ends after its parent's tree was printed
    first, second, third = parse(out.getvalue())
    assert first.names() == ["early"] and "incomplete" in first.note
    assert second.names() == ["slow root"] and second.note is None
    assert third.names() == ["late"] and third.note == 'late: ended after "slow root" was printed'


def test_span_with_remote_parent_is_a_local_root():
    out = io.StringIO()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(SpanTreeConsoleExporter(out=out)))
    remote = SpanContext(0xABC, 0xDEF, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("GET /x", context=child_of(NonRecordingSpan(remote)), kind=SpanKind.SERVER):
        with tracer.start_as_current_span("handler"):
            pass
    (tree,) = parse(out.getvalue())
    assert tree.trace_id == f"{0xABC:032x}"
    assert [(n.depth, n.name, n.kind) for n in tree.nodes] == [(0, "GET /x", "SERVER"), (1, "handler", "")]


def orphan_spans(traces: int, per_trace: int) -> list[list[ReadableSpan]]:
    """Finished spans of ``traces`` traces whose roots never end (``per_trace`` children each)."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("test")
    result = []
    for t in range(traces):
        root = tracer.start_span(f"root {t}")
        for c in range(per_trace):
            tracer.start_span(f"t{t} c{c}", context=child_of(root)).end()
        result.append(list(memory.get_finished_spans()))
        memory.clear()
    return result


def test_the_buffer_is_bounded_by_traces_oldest_printed_first():
    out = io.StringIO()
    exporter = SpanTreeConsoleExporter(out=out, max_buffered_traces=3)
    for spans in orphan_spans(10, 2):
        assert exporter.export(spans) is SpanExportResult.SUCCESS
    trees = parse(out.getvalue())
    assert [tree.names() for tree in trees] == [[f"t{t} c0", f"t{t} c1"] for t in range(7)]
    assert all("incomplete" in tree.note for tree in trees)
    exporter.shutdown()
    assert [tree.names()[0] for tree in parse(out.getvalue())[7:]] == ["t7 c0", "t8 c0", "t9 c0"]


@SETTINGS
@given(
    st.lists(st.integers(1, 6), min_size=1, max_size=12),  # spans per trace
    st.integers(1, 12),  # span cap
    st.data(),
)
def test_never_more_than_the_span_cap_is_held_back(sizes, cap, data):
    out = io.StringIO()
    exporter = SpanTreeConsoleExporter(out=out, max_buffered_spans=cap)
    fed = 0
    spans = [span for per_trace in (orphan_spans(1, n)[0] for n in sizes) for span in per_trace]
    while spans:
        size = data.draw(st.integers(1, len(spans)))
        batch, spans = spans[:size], spans[size:]
        exporter.export(batch)
        fed += len(batch)
        printed = sum(len(tree.nodes) for tree in parse(out.getvalue()))
        assert fed - printed <= cap
    exporter.shutdown()
    assert sum(len(tree.nodes) for tree in parse(out.getvalue())) == fed


def make_trace(tracer: trace.Tracer, parents: list[int], label: str, base: int) -> list[tuple[int, str]]:
    """Spans of one trace shaped by ``parents`` (span i+1's parent is span parents[i] % (i+1)), started in index
    order and ended children first, as a real run ends them. Returns the expected (depth, name) rows."""
    spans = [tracer.start_span(f"{label}0", start_time=base)]
    depth = [0]
    kids: dict[int, list[int]] = {}
    for i, p in enumerate(parents):
        parent = p % (i + 1)
        spans.append(tracer.start_span(f"{label}{i + 1}", context=child_of(spans[parent]), start_time=base + i + 1))
        depth.append(depth[parent] + 1)
        kids.setdefault(parent, []).append(i + 1)
    for i in reversed(range(len(spans))):
        spans[i].end(end_time=base + 10_000 - i)
    rows: list[tuple[int, str]] = []
    todo = [0]
    while todo:
        i = todo.pop()
        rows.append((depth[i], f"{label}{i}"))
        todo.extend(reversed(kids.get(i, [])))
    return rows


def split(items: list, cuts: list[int]) -> list[list]:
    bounds = sorted({c % (len(items) + 1) for c in cuts} | {0, len(items)})
    return [items[a:b] for a, b in itertools.pairwise(bounds) if b > a]


@SETTINGS
@given(
    st.lists(st.lists(st.integers(0, 50), max_size=10), min_size=1, max_size=3),  # one parents list per trace
    st.lists(st.integers(0, 100), max_size=8),  # batch boundaries
)
def test_any_batching_of_any_shapes_prints_each_trace_as_its_tree(shapes, cuts):
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("test")
    expected = {}
    for n, parents in enumerate(shapes):
        rows = make_trace(tracer, parents, f"s{n}.", base=1_000_000 * (n + 1))
        expected[rows[0][1]] = rows
    out = io.StringIO()
    exporter = SpanTreeConsoleExporter(out=out)
    for batch in split(list(memory.get_finished_spans()), cuts):
        assert exporter.export(batch) is SpanExportResult.SUCCESS
    trees = parse(out.getvalue())
    assert len(trees) == len(shapes)
    assert {tree.nodes[0].name: [(n.depth, n.name) for n in tree.nodes] for tree in trees} == expected
    assert all(tree.note is None for tree in trees)
    exporter.shutdown()
    assert len(parse(out.getvalue())) == len(shapes)


@SETTINGS
@given(
    st.lists(st.lists(st.integers(0, 50), max_size=10), min_size=1, max_size=3),
    st.randoms(use_true_random=False),
    st.lists(st.integers(0, 100), max_size=8),
)
def test_spans_in_any_order_are_each_printed_once_under_their_printed_parent(shapes, rng, cuts):
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("test")
    for n, parents in enumerate(shapes):
        make_trace(tracer, parents, f"s{n}.", base=1_000_000 * (n + 1))
    spans = list(memory.get_finished_spans())
    rng.shuffle(spans)
    out = io.StringIO()
    exporter = SpanTreeConsoleExporter(out=out)
    for batch in split(spans, cuts):
        assert exporter.export(batch) is SpanExportResult.SUCCESS
    exporter.shutdown()
    parent_of = {
        s.name: next(p.name for p in spans if p.context.span_id == s.parent.span_id) for s in spans if s.parent
    }
    printed = [node.name for tree in parse(out.getvalue()) for node in tree.nodes]
    assert sorted(printed) == sorted(s.name for s in spans)
    for tree in parse(out.getvalue()):
        path: list[str] = []
        for node in tree.nodes:
            del path[node.depth :]
            if node.depth:
                assert parent_of[node.name] == path[-1]
            path.append(node.name)


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no str for you")


ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(),
    st.binary(),
    st.lists(st.one_of(st.integers(), st.text(), st.none()), max_size=4),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.just(Unprintable()),
)
KEYS = st.sampled_from(
    [
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.output_tokens",
        "gen_ai.response.time_to_first_chunk",
        "gen_ai.request.model",
        "gen_ai.response.model",
        "otel_genai.outcome",
        "otel_genai.stream.items",
        "error.type",
        "service.name",
    ]
)


@pytest.mark.swallows(Exception, reason="odd spans (a __str__ that raises) are logged, not raised", optional=True)
@SETTINGS
@given(
    st.dictionaries(KEYS, ODD_VALUES, max_size=9),
    st.text(),
    st.one_of(st.none(), st.integers(-(2**70), 2**70)),
    st.one_of(st.none(), st.integers(-(2**70), 2**70)),
    st.sampled_from([None, *SpanKind]),
    st.one_of(st.none(), st.text(), st.just(Unprintable())),
    st.booleans(),
)
def test_odd_spans_never_raise_out_of_export(attributes, name, start, end, kind, description, self_parent):
    context = SpanContext(1, 2, is_remote=False)
    parent = context if self_parent else None
    status = Status(StatusCode.ERROR, description) if isinstance(description, str) else Status(StatusCode.UNSET)
    odd = ReadableSpan(
        name=name,
        context=context,
        parent=parent,
        resource=Resource({"service.name": "x\n\x1b[2Jy"}),
        attributes=attributes,
        kind=kind,
        status=status,
        start_time=start,
        end_time=end,
    )
    out = io.StringIO()
    exporter = SpanTreeConsoleExporter(out=out, color=False)
    assert exporter.export([odd, ReadableSpan(name="no context")]) is SpanExportResult.SUCCESS
    exporter.shutdown()
    text = out.getvalue()
    assert text.count("\n") == 3  # header, one span line, blank line: nothing in the values broke a line
    assert not any(
        (ord(c) < 32 and c != "\n") or c in "\x85\u2028\u2029" for c in text
    )  # no escapes or control characters leak through
    assert exporter.export([odd]) is SpanExportResult.FAILURE  # after shutdown


@pytest.mark.swallows(Exception, reason="an output stream that raises, on purpose")
def test_a_broken_stream_fails_the_export_without_raising():
    class Closed(io.StringIO):
        def write(self, text: str) -> int:
            raise OSError("stream closed")

    provider = TracerProvider()
    exporter = SpanTreeConsoleExporter(out=Closed())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("test").start_as_current_span("x") as span:
        pass
    assert exporter.export([span]) is SpanExportResult.FAILURE


def test_ascii_glyphs_when_the_stream_cannot_encode_box_drawing():
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="ascii")
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(SpanTreeConsoleExporter(out=out)))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("root"):
        with tracer.start_as_current_span("caf\u00e9"):
            pass
    text = raw.getvalue().decode("ascii")
    assert [(n.depth, n.name) for n in parse(text)[0].nodes] == [(0, "root"), (1, "caf?")]
    assert "`- caf?" in text


SCRIPT = """
from otel_genai import tool, workflow


@tool
def lookup(city: str) -> dict:
    return {"city": city, "forecast": "sunny"}


@tool
def broken(city: str) -> dict:
    raise LookupError(f"no forecast for {city}")


@workflow(name="console-check")
def run() -> None:
    lookup("Paris")
    try:
        broken("Atlantis")
    except LookupError:
        pass


run()
print("script done")
"""


def test_opentelemetry_instrument_prints_the_tree_with_the_entry_point(tmp_path: Path):
    if not list(entry_points(group="opentelemetry_traces_exporter", name="otel_genai_console")):
        pytest.skip("the otel_genai_console entry point is not installed yet: reinstall the package (make install)")
    cli = Path(sys.executable).parent / "opentelemetry-instrument"
    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent(SCRIPT))
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and k not in ("NO_COLOR", "FORCE_COLOR")}
    env.update(OTEL_SERVICE_NAME="console-check", AGNO_TELEMETRY="false")
    done = subprocess.run(
        [
            str(cli),
            "--traces_exporter",
            "otel_genai_console",
            "--metrics_exporter",
            "none",
            "--logs_exporter",
            "none",
            sys.executable,
            str(script),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "script done" in done.stdout
    (tree,) = parse(done.stdout)
    assert tree.service == "console-check" and tree.note is None
    assert [(n.depth, n.name) for n in tree.nodes] == [
        (0, "invoke_workflow console-check"),
        (1, "execute_tool lookup"),
        (1, "execute_tool broken"),
    ]
    assert tree.nodes[2].attrs["error"].startswith("LookupError")
    assert "error" not in tree.nodes[1].attrs
    assert "\x1b[" not in done.stdout  # a pipe is no terminal

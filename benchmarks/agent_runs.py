"""Overhead and spans per run of otel-genai's agent instrumentors (openai-agents, Agno).

One agent run = a tool call then the final answer: two model calls over an in-process fake of the OpenAI API (the
tests' scripted HTTP edge). Instrumented and uninstrumented runs alternate one by one (the instrumentors are toggled
outside the timed part), and medians are reported. Spans go through a SimpleSpanProcessor into memory: the
synchronous worst case.

    python benchmarks/agent_runs.py            # N=300 runs per arm
    N=30 python benchmarks/agent_runs.py       # quicker
    N=100 python benchmarks/agent_runs.py --peers   # side by side with OpenInference's and OpenLLMetry's

``--peers`` runs every configuration (instrumentation x framework) in its own long-lived worker process (this script
with ``--worker``), the peers inside their venvs ``benchmarks/.venvs/agents-<peer>`` (built from
``requirements/agents-<peer>.txt`` by run.py's ``ensure_venv``), otel-genai in this interpreter. Each worker alternates
uninstrumented and instrumented runs; the orchestrator rotates short batches across the workers so that all share the
same time window, then reports medians. Each instrumentation keeps its defaults (content capture included). Turning
an openai-agents instrumentation off also clears the SDK's trace processors, because OpenLLMetry's ``uninstrument()``
leaves its processor registered, and OpenLLMetry's Agno wrappers are removed by hand (its ``uninstrument()`` unwraps
nothing); "spans when off" must stay 0, and a configuration exporting no span is flagged.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

os.environ.setdefault("AGNO_TELEMETRY", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from agents import Agent, OpenAIChatCompletionsModel, Runner, function_tool, set_trace_processors
from agno.agent import Agent as AgnoAgent
from agno.models.openai import OpenAIChat
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from support.agents_edge import ScriptedEdge, clients

N = int(os.environ.get("N", "300"))
EXPORTER = InMemorySpanExporter()


@function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def agno_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def bench(label: str, run_once: Callable[[], object], instrumentors: Sequence) -> str:
    """One markdown row: median ms per run off / on (alternating runs), and spans per instrumented run."""
    for _ in range(20):
        run_once()
    times: dict[bool, list[float]] = {False: [], True: []}
    spans: list[int] = []
    for i in range(2 * N):
        on = bool(i % 2)
        for instrumentor in instrumentors:
            if on != instrumentor.is_instrumented_by_opentelemetry:
                (instrumentor.instrument if on else instrumentor.uninstrument)()
        EXPORTER.clear()
        start = time.perf_counter()
        run_once()
        times[on].append(time.perf_counter() - start)
        if on:
            spans.append(len(EXPORTER.get_finished_spans()))
    for instrumentor in instrumentors:
        if instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()
    off, on_ms = statistics.median(times[False]) * 1e3, statistics.median(times[True]) * 1e3
    return f"| {label} | {statistics.median(spans):.0f} | {off:.2f} | {on_ms:.2f} | {on_ms - off:+.2f} |"


def setup() -> tuple[Callable[[], object], Callable[[], object], asyncio.AbstractEventLoop]:
    """Tracing into EXPORTER, and one openai-agents and one Agno agent run over the scripted edge."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
    trace.set_tracer_provider(provider)
    set_trace_processors([])  # no SDK exporter: only our bridge, when instrumented
    edge = ScriptedEdge()
    sync_client, async_client = clients(edge)
    model = OpenAIChatCompletionsModel(model="gpt-4o-mini", openai_client=async_client)
    oa_agent = Agent(name="W", instructions="x", tools=[get_weather], model=model)
    agno_model = OpenAIChat(id="gpt-4o-mini", client=sync_client, async_client=async_client)
    ag_agent = AgnoAgent(name="W", model=agno_model, tools=[agno_weather])
    loop = asyncio.new_event_loop()

    def oa_run() -> object:
        return loop.run_until_complete(Runner.run(oa_agent, "weather?"))

    def ag_run() -> object:
        return ag_agent.run("weather?")

    return oa_run, ag_run, loop


def main() -> None:
    from otel_genai.instrumentation.agno import AgnoInstrumentor
    from otel_genai.instrumentation.openai import OpenAIInstrumentor
    from otel_genai.instrumentation.openai_agents import OpenAIAgentsInstrumentor

    oa_run, ag_run, loop = setup()
    print(f"{N} runs per arm, alternating; medians in ms per agent run")
    print("| scenario | spans per run | uninstrumented ms | instrumented ms | added ms |")
    print("|---|---|---|---|---|")
    print(bench("openai-agents Runner.run, agents instrumentor", oa_run, [OpenAIAgentsInstrumentor()]))
    print(
        bench("openai-agents Runner.run, agents + OpenAI", oa_run, [OpenAIAgentsInstrumentor(), OpenAIInstrumentor()])
    )
    print(bench("Agno Agent.run, Agno instrumentor", ag_run, [AgnoInstrumentor()]))
    print(bench("Agno Agent.run, Agno + OpenAI", ag_run, [AgnoInstrumentor(), OpenAIInstrumentor()]))
    loop.close()


# --------------------------------------------------------------------------- --peers

OPENAI_AGENTS, AGNO = "openai-agents", "agno"
# (framework, kind) -> (module, class) of the agent instrumentor measured in that worker.
INSTRUMENTORS = {
    (OPENAI_AGENTS, "ours"): ("otel_genai.instrumentation.openai_agents", "OpenAIAgentsInstrumentor"),
    (OPENAI_AGENTS, "openinference"): ("openinference.instrumentation.openai_agents", "OpenAIAgentsInstrumentor"),
    (OPENAI_AGENTS, "openllmetry"): ("opentelemetry.instrumentation.openai_agents", "OpenAIAgentsInstrumentor"),
    (AGNO, "ours"): ("otel_genai.instrumentation.agno", "AgnoInstrumentor"),
    (AGNO, "openinference"): ("openinference.instrumentation.agno", "AgnoInstrumentor"),
    (AGNO, "openllmetry"): ("opentelemetry.instrumentation.agno", "AgnoInstrumentor"),
}
# kind -> (label, venv or None for this interpreter, {framework: reported package})
PEERS = {
    "ours": ("otel-genai", None, {OPENAI_AGENTS: "otel-genai", AGNO: "otel-genai"}),
    "openinference": (
        "OpenInference",
        "agents-openinference",
        {OPENAI_AGENTS: "openinference-instrumentation-openai-agents", AGNO: "openinference-instrumentation-agno"},
    ),
    "openllmetry": (
        "OpenLLMetry",
        "agents-openllmetry",
        {OPENAI_AGENTS: "opentelemetry-instrumentation-openai-agents", AGNO: "opentelemetry-instrumentation-agno"},
    ),
}


def _unwrap_openllmetry_agno() -> None:
    """OpenLLMetry's Agno ``uninstrument()`` calls ``unwrap("agno.agent", "Agent.run")``, which resolves the wrong
    object and unwraps nothing (each ``instrument()`` then stacks another wrapper): unwrap its targets here."""
    import agno.agent
    import agno.team
    import agno.tools
    from opentelemetry.instrumentation.utils import unwrap

    targets = [(agno.agent, "Agent", ("run", "arun")), (agno.team, "Team", ("run", "arun"))]
    targets.append((agno.tools, "FunctionCall", ("execute", "aexecute")))
    for module, cls, methods in targets:
        for method in methods:
            if hasattr(module, cls):
                unwrap(getattr(module, cls), method)


def worker(framework: str, kind: str) -> None:
    """JSON lines on stdin/stdout: {"cmd": "run", "n": k} -> k alternating (off, on) pairs of agent runs."""
    import importlib
    import json
    from importlib import metadata

    def reply(obj: dict) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    try:
        oa_run, ag_run, _loop = setup()
        run_once = oa_run if framework == OPENAI_AGENTS else ag_run
        module, cls = INSTRUMENTORS[(framework, kind)]
        instrumentor = getattr(importlib.import_module(module), cls)()
        package = PEERS[kind][2][framework]
        try:
            version = metadata.version(package)
        except metadata.PackageNotFoundError:
            version = "src"
    except Exception as exc:
        reply({"ok": False, "error": f"{type(exc).__name__}: {exc}"})
        return

    def switch(on: bool) -> None:
        if on:
            instrumentor.instrument()
        else:
            instrumentor.uninstrument()
            if framework == OPENAI_AGENTS:
                set_trace_processors([])  # OpenLLMetry's uninstrument() leaves its trace processor registered
            elif kind == "openllmetry":
                _unwrap_openllmetry_agno()

    reply({"ok": True, "versions": {package: version}})
    for line in sys.stdin:
        msg = json.loads(line)
        if msg.get("cmd") != "run":
            break
        out: dict[str, list] = {"off": [], "on": [], "spans_off": [], "spans_on": []}
        try:
            for i in range(2 * msg["n"]):
                on = bool(i % 2)
                switch(on)
                EXPORTER.clear()
                start = time.perf_counter()
                run_once()
                elapsed = time.perf_counter() - start
                spans = len(EXPORTER.get_finished_spans())
                arm = "on" if on else "off"
                out[arm].append(elapsed)
                out[f"spans_{arm}"].append(spans)
            switch(False)
        except Exception as exc:
            reply({"ok": False, "error": f"{type(exc).__name__}: {exc}"})
            return
        reply({"ok": True, **out})


def peers(batch: int = 5, warmup: int = 10) -> None:
    """Every (framework, instrumentation) in its own worker; short batches rotated across workers; medians."""
    import subprocess

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import run as bench_run
    from run import Config, Worker, ensure_venv

    class AgentWorker(Worker):
        def start(self) -> None:
            env = {k: v for k, v in os.environ.items() if not k.startswith(bench_run.SCRUB_PREFIXES)}
            env.update(bench_run.BASE_ENV)
            log = (bench_run.VENVS / f"worker-agents-{self.config.kind}-{self.config.scenarios[0]}.log").open("w")
            cmd = [self.python, str(Path(__file__).resolve()), "--worker", self.config.scenarios[0], self.config.kind]
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True, env=env
            )

    bench_run.VENVS.mkdir(exist_ok=True)
    venv_errors = {v: ensure_venv(v) for _, v, _ in PEERS.values() if v}
    workers: list[AgentWorker] = []
    for framework in (OPENAI_AGENTS, AGNO):
        for kind, (label, venv_name, packages) in PEERS.items():
            config = Config("agents", label, venv_name or "", kind, [packages[framework]], scenarios=(framework,))
            python = str(bench_run.venv_python(venv_name)) if venv_name else sys.executable
            w = AgentWorker(config, python=python)
            w.error = venv_errors.get(venv_name or "")
            if not w.error:
                w.start()
            workers.append(w)
    for w in workers:
        w.wait_hello()
        w.run(w.config.scenarios[0], warmup)
    data: dict[int, dict[str, list]] = {id(w): {"off": [], "on": [], "spans_off": [], "spans_on": []} for w in workers}
    rounds = -(-N // batch)
    for r in range(rounds):
        order = workers[r % len(workers) :] + workers[: r % len(workers)]
        for w in order:
            res = w.run(w.config.scenarios[0], min(batch, N - r * batch))
            if res:
                for k, v in data[id(w)].items():
                    v.extend(res[k])
    for w in workers:
        w.stop()

    print(f"{N} runs per arm per worker, alternating, batches of {batch} rotated across workers; medians in ms")
    print("| framework | instrumentation | version | spans per run | off ms | on ms | added ms | sanity |")
    print("|---|---|---|---|---|---|---|---|")
    for w in workers:
        framework, d = w.config.scenarios[0], data[id(w)]
        package = w.config.packages[0]
        version = w.hello.get("versions", {}).get(package, "?")
        name = f"{w.config.name} `{package}`" if w.config.kind != "ours" else w.config.name
        if w.error or not d["on"]:
            print(f"| {framework} | {name} | {version} | n/a | n/a | n/a | n/a | {w.error or 'no data'} |")
            continue
        spans = statistics.median(d["spans_on"])
        off, on_ms = statistics.median(d["off"]) * 1e3, statistics.median(d["on"]) * 1e3
        sanity = "ok"
        if spans == 0:
            sanity = "NO SPAN: overhead not comparable"
        elif max(d["spans_off"]) > 0:
            sanity = f"spans when off ({max(d['spans_off'])})"
        print(
            f"| {framework} | {name} | {version} | {spans:.0f} | {off:.2f} | {on_ms:.2f} | {on_ms - off:+.2f} | "
            f"{sanity} |"
        )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        worker(sys.argv[2], sys.argv[3])
    elif sys.argv[1:] == ["--peers"]:
        peers()
    elif sys.argv[1:]:
        sys.exit(f"usage: {sys.argv[0]} [--peers]")
    else:
        main()

"""The seed scenario, for real: a FastAPI app served by uvicorn returns a StreamingResponse over a decorated
generator, which Starlette iterates in another task (async) or in a threadpool (sync), and a real httpx client
reads it fully or disconnects after two chunks."""

from __future__ import annotations

import asyncio
import gc
import threading

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from support.server import serve, wait_until
from support.telemetry import EXPORTER, assert_all_ended

from otel_genai import Outcome, task, using_attributes, workflow
from otel_genai.lifecycle import OUTCOME

tracer = trace.get_tracer("tests.fastapi")
first_chunk_read = threading.Event()
waited_for_client: list[bool] = []
endpoint_parents: list[int] = []  # the span current in the endpoint: FastAPI's own (it traces itself)


@task(name="render")
def render(i: int) -> str:
    return f"data: {i}\n\n"


@workflow(name="chat")
async def async_tokens(n: int):
    for i in range(n):
        if i == 1:
            # Nothing may be buffered: the client must have the first chunk before the second is produced.
            waited_for_client.append(await asyncio.to_thread(first_chunk_read.wait, 5))
        await asyncio.sleep(0.01)
        yield render(i)


@workflow(name="chat")
def sync_tokens(n: int):
    for i in range(n):
        if i == 1:
            waited_for_client.append(first_chunk_read.wait(5))
        yield render(i)


api = FastAPI()


@api.get("/stream/{kind}")
async def stream(kind: str, n: int = 5):
    endpoint_parents.append(trace.get_current_span().get_span_context().span_id)
    with using_attributes(session_id="session-42", user_id="user-7"):
        body = async_tokens(n) if kind == "async" else sync_tokens(n)
    return StreamingResponse(body, media_type="text/event-stream")


@pytest.fixture(scope="module")
def base_url():
    with serve(api) as url:
        yield url


@pytest.fixture(autouse=True)
def reset():
    first_chunk_read.clear()
    waited_for_client.clear()
    endpoint_parents.clear()


def spans_by_name():
    out: dict[str, list] = {}
    for s in EXPORTER.get_finished_spans():
        out.setdefault(s.name, []).append(s)
    return out


def request_ended():
    return any(s.parent is None for s in EXPORTER.get_finished_spans())


def trace_root(span):
    """The one root span (the request's) of ``span``'s trace."""
    (root,) = [
        s for s in EXPORTER.get_finished_spans() if s.context.trace_id == span.context.trace_id and s.parent is None
    ]
    return root


def workflow_ended():
    return "invoke_workflow chat" in spans_by_name()


@pytest.mark.parametrize("kind", ["async", "sync"])
def test_full_consumption(base_url, kind):
    with httpx.Client(timeout=10) as client, client.stream("GET", f"{base_url}/stream/{kind}?n=5") as response:
        chunks = []
        for chunk in response.iter_text():
            chunks.append(chunk)
            first_chunk_read.set()
    assert "".join(chunks) == "".join(f"data: {i}\n\n" for i in range(5))
    wait_until(lambda: request_ended() and workflow_ended(), what="spans to end")
    assert waited_for_client == [True], "the first chunk was held back until the stream went on"

    by_name = spans_by_name()
    (flow,) = by_name["invoke_workflow chat"]
    renders = by_name["render"]
    assert len(renders) == 5
    assert flow.parent.span_id == endpoint_parents[0]
    assert trace_root(flow).kind is SpanKind.SERVER
    assert all(r.parent.span_id == flow.context.span_id for r in renders)
    assert {r.context.trace_id for r in renders} == {flow.context.trace_id}
    assert flow.attributes[OUTCOME] == Outcome.COMPLETED
    assert flow.attributes["session.id"] == "session-42"
    assert all(r.attributes["user.id"] == "user-7" for r in renders)
    assert_all_ended()


@pytest.mark.parametrize("kind", ["async", "sync"])
def test_client_disconnects_after_two_chunks(base_url, kind):
    with httpx.Client(timeout=10) as client, client.stream("GET", f"{base_url}/stream/{kind}?n=200") as response:
        received = 0
        for _chunk in response.iter_raw():
            received += 1
            first_chunk_read.set()
            if received == 2:
                break  # leaving the block closes the connection: a client disconnect
    # Starlette drops the body iterator when the client goes; with a sync body the generator sits in a reference
    # cycle (the cancellation's traceback) until the garbage collector runs, and is closed then.
    wait_until(lambda: gc.collect() >= 0 and request_ended() and workflow_ended(), what="spans to end")
    by_name = spans_by_name()
    (flow,) = by_name["invoke_workflow chat"]
    assert flow.parent.span_id == endpoint_parents[0]
    assert trace_root(flow).kind is SpanKind.SERVER
    assert flow.attributes[OUTCOME] in (Outcome.STOPPED_EARLY, Outcome.CANCELLED)
    assert len(by_name["render"]) < 200
    assert_all_ended()

"""Replay vcrpy cassettes (YAML) of real OpenAI API calls through an httpx/httpx2 MockTransport.

Cassettes live in ``tests/cassettes/openai`` (provenance and licence: ``tests/cassettes/README.md``); override the
root with the ``OTEL_GENAI_CASSETTES`` env var, pointing at the dir that contains ``openai/``.

Typical use::

    cas = load_cassette("test_chat_completion_streaming")
    client = OpenAI(api_key="test", http_client=httpx.Client(transport=cas.transport()))
    req = cas.request_json()            # recorded request body -> replay the same call
    events = cas.response_events()      # parsed SSE data dicts, to derive expected values
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .wire import Lib, Recorder, WireResponse, make_transport, parse_sse

__all__ = ["Cassette", "Interaction", "cassette_names", "cassettes_dir", "load_cassette"]

# Hop-by-hop / encoding headers that must not be replayed with a decoded body.
_DROP_HEADERS = {"content-encoding", "content-length", "transfer-encoding", "connection"}


def cassettes_dir(provider: str = "openai") -> Path:
    """Directory holding ``<provider>/*.yaml`` cassettes (env ``OTEL_GENAI_CASSETTES`` overrides the root)."""
    env = os.environ.get("OTEL_GENAI_CASSETTES")
    if env:
        root = Path(env)
    else:
        root = Path(__file__).resolve().parents[1] / "cassettes"  # tests/support/cassettes.py -> tests/cassettes
    return root / provider


def cassette_names(provider: str = "openai") -> list[str]:
    """Sorted cassette names (file stems) for ``provider``."""
    return sorted(p.stem for p in cassettes_dir(provider).glob("*.yaml"))


def _header_items(raw: dict[str, Any]) -> list[tuple[str, str]]:
    """vcrpy stores header values as lists, but scrubbed ones as plain strings."""
    items: list[tuple[str, str]] = []
    for k, v in (raw or {}).items():
        for val in v if isinstance(v, list) else [v]:
            items.append((str(k), str(val)))
    return items


def _body_bytes(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, dict):
        body = body.get("string", b"")
    if isinstance(body, bytes):
        return body
    return str(body).encode()


@dataclass
class Interaction:
    """One recorded request/response pair."""

    method: str
    uri: str
    request_headers: list[tuple[str, str]]
    request_body: bytes
    status: int
    response_headers: list[tuple[str, str]]
    response_body: bytes

    @property
    def is_stream(self) -> bool:
        ct = dict((k.lower(), v) for k, v in self.response_headers).get("content-type", "")
        return ct.startswith("text/event-stream")

    def request_json(self) -> Any:
        return json.loads(self.request_body) if self.request_body else None

    def response_json(self) -> Any:
        """Response body as JSON (non-stream responses)."""
        return json.loads(self.response_body)

    def response_events(self) -> list[Any]:
        """SSE ``data`` payloads as parsed JSON (``[DONE]`` dropped); for stream responses."""
        return [json.loads(d) for _e, d in parse_sse(self.response_body) if d and d != "[DONE]"]

    def response_header(self, name: str) -> str | None:
        for k, v in self.response_headers:
            if k.lower() == name.lower():
                return v
        return None

    def to_wire(self) -> WireResponse:
        """As a WireResponse; stream bodies are split into one chunk per SSE event."""
        headers = [(k, v) for k, v in self.response_headers if k.lower() not in _DROP_HEADERS]
        if self.is_stream:
            text = self.response_body.decode()
            parts = [p + "\n\n" for p in text.split("\n\n") if p.strip()]
            chunks = [p.encode() for p in parts]
        else:
            chunks = [self.response_body]
        return WireResponse(self.status, headers, chunks)


class Cassette:
    """A loaded cassette: ``interactions`` in recorded order."""

    def __init__(self, name: str, interactions: list[Interaction]) -> None:
        self.name = name
        self.interactions = interactions

    def __repr__(self) -> str:
        return f"Cassette({self.name!r}, {len(self.interactions)} interactions)"

    def __getitem__(self, i: int) -> Interaction:
        return self.interactions[i]

    def request_json(self, i: int = 0) -> Any:
        return self.interactions[i].request_json()

    def response_json(self, i: int = 0) -> Any:
        return self.interactions[i].response_json()

    def response_events(self, i: int = 0) -> list[Any]:
        return self.interactions[i].response_events()

    def transport(self, *, lib: Lib = "httpx", recorder: Recorder | None = None, strict: bool = True) -> Any:
        """MockTransport replaying the responses in order.

        With ``strict`` the request method and path must match the recorded one.
        """
        queue = list(self.interactions)
        name = self.name

        def handler(req: Any) -> WireResponse:
            if not queue:
                raise AssertionError(f"cassette {name}: no more recorded interactions")
            it = queue.pop(0)
            if strict:
                want = it.uri.split("?", 1)[0].rsplit("/v1", 1)[-1]
                got = req.path.rsplit("/v1", 1)[-1]
                assert (req.method, got) == (it.method, want), (
                    f"cassette {name}: got {req.method} {got}, recorded {it.method} {want}"
                )
            return it.to_wire()

        return make_transport(handler, lib=lib, recorder=recorder)


def load_cassette(name_or_path: str | Path, provider: str = "openai") -> Cassette:
    """Load a cassette by name (``test_chat_completion_streaming``, with or without ``.yaml``) or path."""
    p = Path(name_or_path)
    if not p.is_absolute() and not p.exists():
        p = cassettes_dir(provider) / (p.name if p.suffix == ".yaml" else p.name + ".yaml")
    data = yaml.safe_load(p.read_text())
    interactions = []
    for raw in data["interactions"]:
        rq, rs = raw["request"], raw["response"]
        interactions.append(
            Interaction(
                method=rq["method"].upper(),
                uri=rq["uri"],
                request_headers=_header_items(rq.get("headers")),
                request_body=_body_bytes(rq.get("body")),
                status=int(rs["status"]["code"]),
                response_headers=_header_items(rs.get("headers")),
                response_body=_body_bytes(rs.get("body")),
            )
        )
    return Cassette(p.stem, interactions)

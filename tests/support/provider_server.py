"""A fake LLM provider over real HTTP: queued :class:`~support.wire.WireResponse` bodies served by uvicorn.

For libraries that make their own HTTP clients (LiteLLM), so the fake can only be a server: point the library's
``api_base`` at :attr:`Provider.url`. Each request takes the next queued response; its body is sent chunk by chunk.
A response's ``fail_after`` drops the connection after that many chunks (an HTTP error mid-stream); ``hang_after``
(see :meth:`Provider.push`) sends that many chunks and then waits until the client goes away (for cancellation).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from support.server import serve
from support.wire import WireResponse


@dataclass
class Request:
    method: str
    path: str
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Provider:
    """The queue of responses and the requests received (thread-safe: the server runs in its own thread)."""

    def __init__(self) -> None:
        self.url = ""
        self.requests: list[Request] = []
        self._queue: list[tuple[WireResponse, int | None]] = []
        self._lock = threading.Lock()

    def push(self, *responses: WireResponse, hang_after: int | None = None) -> None:
        with self._lock:
            self._queue.extend((r, hang_after) for r in responses)

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self.requests.clear()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        with self._lock:
            self.requests.append(Request(scope["method"], scope["path"], body))
            wire, hang_after = self._queue.pop(0) if self._queue else (_NOT_QUEUED, None)
        headers = [(k.lower().encode(), v.encode()) for k, v in wire.headers if k.lower() != "content-length"]
        await send({"type": "http.response.start", "status": wire.status, "headers": headers})
        for i, chunk in enumerate(wire.chunks):
            if wire.fail_after is not None and i >= wire.fail_after:
                raise ConnectionAbortedError("fake provider: connection dropped mid-body")  # uvicorn drops it
            if hang_after is not None and i >= hang_after:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(_disconnected(receive), 10)
                return
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await asyncio.sleep(0)
        await send({"type": "http.response.body", "body": b""})


async def _disconnected(receive: Any) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


_NOT_QUEUED = WireResponse(
    500, [("content-type", "application/json")], [b'{"error": {"message": "no response queued", "type": "test"}}']
)


@contextlib.contextmanager
def provider() -> Iterator[Provider]:
    """A :class:`Provider` served on 127.0.0.1 (ephemeral port) for the duration of the block."""
    fake = Provider()
    with serve(fake) as url:
        fake.url = url
        yield fake

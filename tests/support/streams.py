"""A stand-in SDK stream object for engine tests (standard library only: the compat smoke suite imports it too)."""

from __future__ import annotations

from typing import Any


class Countdown:
    """An async iterator object yielding ``n - 1`` down to 0, as SDK async streams are; ``aclose()`` ends it."""

    def __init__(self, n: int) -> None:
        self.n, self.closed = n, False

    def __aiter__(self) -> Any:
        return self

    async def __anext__(self) -> int:
        if self.n == 0:
            raise StopAsyncIteration
        self.n -= 1
        return self.n

    async def aclose(self) -> None:
        self.n, self.closed = 0, True


class DualCountdown(Countdown):
    """Both protocols, as LiteLLM's ``CustomStreamWrapper``."""

    def __iter__(self) -> Any:
        return self

    def __next__(self) -> int:
        if self.n == 0:
            raise StopIteration
        self.n -= 1
        return self.n

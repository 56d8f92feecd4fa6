"""``TracedEventStream``: the proxy that replaces a response's botocore ``EventStream`` and ends the call's span.

Why not the engine's ``TracedIterator``: an ``EventStream`` is an *iterable*, not an iterator. It has ``__iter__``
(each call a new generator over one shared event reader: a second ``for`` after a ``break`` goes on where the first
stopped) and ``close()``, but no ``__next__``, so ``wrap_result`` would take it for a plain value. This proxy keeps
exactly that protocol: ``__iter__`` gives a new generator each time, over a new ``iter()`` of the stream, so a
``break`` and a second ``for`` behave as without us; ``close()`` is the stream's. Being a ``wrapt.ObjectProxy`` it
passes ``isinstance(x, EventStream)`` and forwards every other attribute.

The span ends (once, through :class:`~otel_genai.lifecycle.SpanRun`) when an iteration reaches the end
(``completed``), when iterating raises (``error``: an error event arrives as botocore's ``EventStreamError``, a cut
connection as urllib3's error), on ``close()`` (``stopped_early`` unless already ended), or when the stream is
collected unfinished (``abandoned``). A ``break`` alone ends nothing: the stream can still be read on. Each step of
the stream runs in the run's private context (the caller's context at call time, with the span current), so what
the HTTP layer does while reading belongs to the span, whichever thread reads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import wrapt

from otel_genai.lifecycle import Outcome, SpanRun

__all__ = ["TracedEventStream"]


class TracedEventStream(wrapt.ObjectProxy):
    """A botocore ``EventStream`` whose iteration, ``close()`` and collection end the call's span."""

    def __init__(self, wrapped: Any, run: SpanRun) -> None:
        super().__init__(wrapped)
        self._self_run = run
        self._self_step = run.private_context().run  # the caller's context now, whichever thread reads later

    def __iter__(self) -> Iterator[Any]:
        return _events(self._self_run, self._self_step, iter(self.__wrapped__).__next__)

    def close(self) -> Any:
        close = self.__wrapped__.close  # AttributeError, as without us, before the span is touched
        try:
            return close()
        finally:
            self._self_run.end(Outcome.STOPPED_EARLY)  # no-op when already ended


def _events(run: SpanRun, step: Callable[..., Any], forward: Callable[[], Any]) -> Iterator[Any]:
    """One iteration of the stream: each event goes to the run's observer before the consumer gets it."""
    on_item = run.on_item
    while True:
        try:
            item = step(forward)
        except StopIteration:
            run.end(Outcome.COMPLETED)
            return
        except BaseException as exc:
            run.end_with(exc)
            raise
        on_item(item)
        yield item  # closed here by a `break` (the generator is dropped): the stream goes on, the span stays open

"""Shared test set-up: one real SDK tracer provider with an in-memory exporter, and guards that fail a test in
which OpenTelemetry's context machinery logs an error, a span is ended twice, or otel-genai swallows an exception
(catches it and logs it at debug level) that the test did not provoke on purpose (``@pytest.mark.swallows``)."""

from __future__ import annotations

import gc
import logging
import os
import sys
from pathlib import Path

os.environ.setdefault("AGNO_TELEMETRY", "false")  # agno phones home by default; tests never reach the network
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # litellm fetches its model cost map at import

import pytest

from otel_genai import content

sys.path.insert(0, str(Path(__file__).parent))

from support.telemetry import EXPORTER, PROBLEMS, STARTS


class SwallowedLog(logging.Handler):
    """Collects what otel-genai catches and logs with ``exc_info`` (its loggers log nothing else that way).

    Each record is kept as its exception type and formatted text, not the record: a traceback would keep the
    frames of the failed call (runs, generators) alive and change what the garbage collector finds later.
    """

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.swallowed: list[tuple[type[BaseException], str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[0] is not None:
            text = f"{record.name}: {record.getMessage()}\n{logging.Formatter().formatException(record.exc_info)}"
            self.swallowed.append((record.exc_info[0], text))


SWALLOWED = SwallowedLog()
_otel_genai_logger = logging.getLogger("otel_genai")
_otel_genai_logger.setLevel(logging.DEBUG)  # so its debug records exist while tests run
_otel_genai_logger.addHandler(SWALLOWED)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "swallows(*exception_types, reason, optional=False): the test provokes otel-genai into catching and logging "
        "these exceptions (subclasses included) on purpose, for the reason given; unless optional, at least one must "
        "be swallowed.",
    )


def check_swallowed(marker: pytest.Mark | None, swallowed: list[tuple[type[BaseException], str]]) -> None:
    """Fail on every swallowed exception the ``swallows`` marker does not allow; a marker under which nothing was
    swallowed (and not marked optional) fails as well, so it cannot outlive the fault it was written for."""
    if marker and not marker.kwargs.get("reason"):  # also keeps pytest from taking one class argument for the test
        pytest.fail("@pytest.mark.swallows(...) needs reason=: what the test provokes", pytrace=False)
    allowed: tuple[type[BaseException], ...] = tuple(marker.args) if marker else ()
    unexpected = [text for exc_type, text in swallowed if not issubclass(exc_type, allowed)]
    if unexpected:
        pytest.fail(
            f"otel-genai swallowed {len(unexpected)} exception(s) (caught and logged at debug level):\n\n"
            + "\n\n".join(unexpected),
            pytrace=False,
        )
    if marker and not marker.kwargs.get("optional", False) and not swallowed:
        pytest.fail(f"@pytest.mark.swallows{allowed}: nothing was swallowed", pytrace=False)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Freeze what imports and collection made: the collections each test runs below then scan only what tests
    make (a full collection of the libraries' heap took 1.6 s here, twice per test)."""
    gc.collect()
    gc.freeze()


@pytest.fixture(autouse=True)
def spans(request):
    """The exporter, cleared before the test; after it, no context error or double end may have been logged, and
    no exception swallowed by otel-genai unless the test is marked ``@pytest.mark.swallows(...)``."""
    gc.collect()  # what earlier tests left to the collector is finalized now, not during this test
    EXPORTER.clear()
    STARTS.started.clear()
    PROBLEMS.records.clear()
    SWALLOWED.swallowed.clear()
    yield EXPORTER
    gc.collect()  # what this test dropped is finalized within it
    swallowed = list(SWALLOWED.swallowed)
    SWALLOWED.swallowed.clear()
    PROBLEMS.check()
    check_swallowed(request.node.get_closest_marker("swallows"), swallowed)


@pytest.fixture
def capture_content(monkeypatch):
    """Turn content capture on (SPAN_ONLY) for one test."""
    monkeypatch.setenv(content.CAPTURE_ENV, "SPAN_ONLY")
    content.reload()
    yield
    monkeypatch.delenv(content.CAPTURE_ENV)
    content.reload()

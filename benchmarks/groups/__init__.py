"""Client scenario groups, one module per instrumented library: ``groups/<group>.py``.

run.py finds every module here and imports it with whatever Python started it (the standard library only), so a
module imports only the standard library at top level: ``harness`` (which imports the OTel SDK) and the library go
inside functions, the bench class included (each group builds it on first use). worker.py calls its ``setup`` inside
the configuration's venv. A module holds:

- ``NOTE``: the paragraph printed above the group's table (the fake edge, what a call and a chunk are, targets).
- ``LABELS``: the row labels of ``chat``, ``stream_chunk`` and ``memory`` (what one call / one chunk is).
- ``CONFIGS``: one dict per table row, the keyword arguments of run.py's ``Config`` (``name``, ``venv``, ``kind``,
  ``packages``, optional ``content``, ``baseline``, ``extra_env``, ``content_env``). Exactly one row is the
  baseline. ``venv`` names ``requirements/<venv>.txt``; a venv named ``<group>-ours`` also gets otel-genai from this
  repository. Each row runs the scenarios ``chat``, ``stream_long`` / ``stream_short`` (the per-chunk cost) and
  ``memory``.
- ``SPANS_PER_CALL`` (optional, default 1): the spans otel-genai records per call (a graph run records several);
  the test suite's smoke run checks it.
- ``setup(kind) -> harness.ClientBench``: instrument for ``kind`` (``none`` for the baseline) with the tracer
  provider of ``harness.sdk_provider()``, and return the bench whose ``chat``, ``stream`` and ``memory`` the worker
  times.
"""

"""Client scenario groups, one module per instrumented library: ``groups/<group>.py``.

run.py finds every module here (it imports them, so a module imports its library only inside ``setup``) and
worker.py calls its ``setup`` inside the configuration's venv. A module holds:

- ``NOTE``: the paragraph printed above the group's table (the fake edge, what a call and a chunk are, targets).
- ``LABELS``: the row labels of ``chat``, ``stream_chunk`` and ``memory`` (what one call / one chunk is).
- ``CONFIGS``: one dict per table row, the keyword arguments of run.py's ``Config`` (``name``, ``venv``, ``kind``,
  ``packages``, optional ``content``, ``baseline``, ``extra_env``, ``content_env``). Exactly one row is the
  baseline. ``venv`` names ``requirements/<venv>.txt``; a venv named ``<group>-ours`` also gets otel-genai from this
  repository. Each row runs the scenarios ``chat``, ``stream_long`` / ``stream_short`` (the per-chunk cost) and
  ``memory``.
- ``setup(kind) -> harness.ClientBench``: instrument for ``kind`` (``none`` for the baseline) with the tracer
  provider of ``harness.sdk_provider()``, and return the bench whose ``chat``, ``stream`` and ``memory`` the worker
  times.
"""

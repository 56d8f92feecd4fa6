"""The ``anthropic`` versions this instrumentation supports: ``instrumentation_dependencies()`` and the pyproject
extra ``anthropic`` both come from here (``tests/test_packaging.py`` ties them)."""

INSTRUMENTS = ("anthropic >= 1.0.0",)
# 1.0.0, not lower: in 0.x ``anthropic.Stream`` has a metaclass whose ``__instancecheck__`` rejects any proxy (so
# ``isinstance(stream, anthropic.Stream)`` would be False for our traced stream), 0.41-0.42's ``MessageStream.close()``
# closes the HTTP response instead of the event stream (an early exit ends the span only at garbage collection), and
# 0.40 has no ``anthropic.resources.messages.messages`` module (nothing would be traced).

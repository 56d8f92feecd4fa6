"""The ``anthropic`` versions this instrumentation supports: ``instrumentation_dependencies()`` and the pyproject
extra ``anthropic`` both come from here (``tests/test_packaging.py`` ties them)."""

INSTRUMENTS = ("anthropic >= 0.40.0",)

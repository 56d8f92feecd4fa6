"""The ``agno`` versions this instrumentation supports: ``instrumentation_dependencies()`` and the pyproject extra
``agno`` both come from here (``tests/test_packaging.py`` ties them)."""

INSTRUMENTS = ("agno >= 2.0.0",)

"""The ``openai`` versions this instrumentation supports: ``instrumentation_dependencies()`` and the pyproject extra
``openai`` both come from here (``tests/test_packaging.py`` ties them)."""

INSTRUMENTS = ("openai >= 1.66.0",)

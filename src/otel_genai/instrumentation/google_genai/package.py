"""The ``google-genai`` versions this instrumentation supports: ``instrumentation_dependencies()`` and the pyproject
extra ``google-genai`` both come from here (``tests/test_packaging.py`` ties them)."""

INSTRUMENTS = ("google-genai >= 1.0.0",)

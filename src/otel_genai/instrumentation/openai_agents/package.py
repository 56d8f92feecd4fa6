"""The ``openai-agents`` versions this instrumentation supports: ``instrumentation_dependencies()`` and the pyproject
extra ``openai-agents`` both come from here (``tests/test_packaging.py`` ties them)."""

INSTRUMENTS = ("openai-agents >= 0.2.0",)

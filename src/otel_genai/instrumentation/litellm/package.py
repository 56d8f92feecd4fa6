"""The ``litellm`` versions this instrumentation supports: ``instrumentation_dependencies()`` and the pyproject extra
``litellm`` both come from here (``tests/test_packaging.py`` ties them)."""

INSTRUMENTS = ("litellm >= 1.110.0",)

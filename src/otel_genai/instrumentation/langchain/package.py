"""The LangChain versions this instrumentation supports: ``instrumentation_dependencies()`` and the pyproject extra
``langchain`` both come from here (``tests/test_packaging.py`` ties them). ``langchain-core`` is what is required
(LangGraph and the ``langchain`` meta-package build on it; neither is needed)."""

INSTRUMENTS = ("langchain-core >= 1.0.0",)

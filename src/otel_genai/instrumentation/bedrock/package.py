"""The ``botocore`` versions this instrumentation supports: ``instrumentation_dependencies()`` and the pyproject
extra ``bedrock`` both come from here (``tests/test_packaging.py`` ties them)."""

INSTRUMENTS = ("botocore >= 1.34.116",)
# 1.34.116: the first botocore whose bedrock-runtime model has Converse / ConverseStream (May 2024). InvokeModel and
# InvokeModelWithResponseStream are older; one floor keeps all four traced. boto3 is botocore's front end: a boto3
# client *is* a botocore client, so the requirement names botocore, the library that is patched.

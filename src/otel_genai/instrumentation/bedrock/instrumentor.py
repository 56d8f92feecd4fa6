"""``BedrockInstrumentor``: the patch table for ``bedrock-runtime`` clients of botocore / boto3 (see the package
docstring for why ``BaseClient._make_api_call`` is the one place patched)."""

from __future__ import annotations

from collections.abc import Sequence

from otel_genai.instrumentation.base import LibraryInstrumentor, Patch, Setup
from otel_genai.instrumentation.bedrock.package import INSTRUMENTS
from otel_genai.instrumentation.bedrock.patch import api_call_wrapper

__all__ = ["BedrockInstrumentor"]

PATCHES = (Patch("botocore.client", "BaseClient._make_api_call", api_call_wrapper),)


class BedrockInstrumentor(LibraryInstrumentor):
    """Instruments Bedrock runtime calls. ``instrument(tracer_provider=, meter_provider=, logger_provider=)``."""

    entry_point = "otel_genai_bedrock"
    library = "botocore"
    instruments = INSTRUMENTS

    def patches(self) -> Sequence[Patch | Setup]:
        return PATCHES

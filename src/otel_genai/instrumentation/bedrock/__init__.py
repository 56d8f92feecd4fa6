"""OpenTelemetry instrumentation of AWS Bedrock runtime calls made with ``boto3`` / ``botocore``.

One CLIENT span per call of a ``bedrock-runtime`` client: ``converse``, ``converse_stream``, ``invoke_model`` and
``invoke_model_with_response_stream``, named ``chat {modelId}`` (``embeddings {modelId}`` for ``invoke_model`` of an
embedding model), with ``gen_ai.provider.name`` ``aws.bedrock``, ``server.address`` / ``server.port`` from the
client's endpoint, the request parameters, usage, finish reasons, the three GenAI metrics and (opt-in) content.
``invoke_model`` bodies are read in the model family's format, told by the model id: Anthropic Claude, Amazon Nova
and Titan, Meta Llama, Mistral, Cohere (:mod:`.invoke`).

Streams: the call returns the same dict with the same keys; its ``stream`` (``converse_stream``) / ``body``
(``invoke_model_with_response_stream``) is still an ``EventStream`` (``isinstance``, iteration, ``close()``), and
the span ends when it is read to the end, on ``close()`` (also after a ``break``), when it is collected unfinished,
or on an error event / ``EventStreamError`` / cut connection (ERROR, ``error.type``) (:mod:`.stream`).

Why ``botocore.client.BaseClient._make_api_call``
-------------------------------------------------
botocore builds each client's class at run time (``ClientCreator.create_client`` makes a new class per client, its
methods generated from the service model), so there is no ``BedrockRuntime.converse`` to patch. The choices are:

* **botocore's event system** (``before-call.bedrock-runtime.Converse`` / ``after-call...``): handlers are
  registered per session, and each client copies its session's emitter when it is created, so a client made before
  ``instrument()`` would not be traced (nor one from a session we never saw); and a span started in one handler and
  ended in another cannot follow the engine's rule (no context attached across calls we do not own).
* **wrapping client creation** (``ClientCreator.create_client``, what several peers do): only clients created
  after ``instrument()`` are traced, and ``uninstrument()`` cannot unpatch the clients already made.
* **``BaseClient._make_api_call(operation_name, api_params)``**: every generated API method of every client calls
  it on ``self``, and the generated classes inherit it from ``BaseClient``, so patching that one class attribute
  covers clients created before and after ``instrument()``, and ``uninstrument()`` restores it exactly. It has had
  this name and signature for the whole life of botocore (the official ``opentelemetry-instrumentation-botocore``
  patches it too). This is the hook we use: one set lookup on the operation name lets every other call through.

``aiobotocore`` overrides ``_make_api_call`` with its own coroutine, so its clients are not traced by this module.

Layout: :mod:`.instrumentor` (the patch table), :mod:`.package` (supported versions), :mod:`.patch` (the wrapper),
:mod:`.converse` (Converse requests, responses, stream events), :mod:`.invoke` (InvokeModel bodies per model
family), :mod:`.stream` (the ``EventStream`` proxy).
"""

from otel_genai.instrumentation.bedrock.instrumentor import BedrockInstrumentor

__all__ = ["BedrockInstrumentor"]

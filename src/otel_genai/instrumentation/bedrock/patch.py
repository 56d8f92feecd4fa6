"""The one wrapper: ``BaseClient._make_api_call``, for the four traced operations of ``bedrock-runtime``.

Every other service and operation passes straight through after one set lookup (the operation name) and, for the
four names, one check of the client's service name.

What the caller gets back is the very dict botocore returned, with the same keys:

* ``converse``: the span ends at once, with the response's attributes.
* ``invoke_model``: its ``body`` is a ``StreamingBody`` the caller reads later. We read it inside the span (the
  span then covers the whole response, and its usage and content are known), and put a new ``StreamingBody`` over
  those bytes in its place: same class, same content, same length. A read that fails ends the span with the error
  and raises it from the call.
* ``converse_stream`` / ``invoke_model_with_response_stream``: ``stream`` / ``body`` becomes a
  :class:`~otel_genai.instrumentation.bedrock.stream.TracedEventStream` (still ``isinstance`` an ``EventStream``),
  whose consumption ends the span.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping
from typing import Any

from opentelemetry.trace import SpanKind

from otel_genai import semconv as gen_ai
from otel_genai.instrumentation._llm import LLMCallObserver, Telemetry, call_attached, server_attributes, span_name
from otel_genai.instrumentation.bedrock import converse, invoke
from otel_genai.instrumentation.bedrock.stream import TracedEventStream
from otel_genai.lifecycle import SpanRun, start_run, wrap_result

logger = logging.getLogger(__name__)

PROVIDER = "aws.bedrock"
SERVICE = "bedrock-runtime"
CONVERSE, CONVERSE_STREAM = "Converse", "ConverseStream"
INVOKE, INVOKE_STREAM = "InvokeModel", "InvokeModelWithResponseStream"
OPERATIONS = frozenset((CONVERSE, CONVERSE_STREAM, INVOKE, INVOKE_STREAM))
_STREAM_KEY = {CONVERSE_STREAM: "stream", INVOKE_STREAM: "body"}

_servers: dict[str, dict[str, Any]] = {}  # endpoint URL -> server.address/port (parsing costs more than the lookup)


def _server(client: Any) -> dict[str, Any]:
    url = getattr(client.meta, "endpoint_url", None)
    if not isinstance(url, str):
        return {}
    attributes = _servers.get(url)
    if attributes is None:
        if len(_servers) > 64:
            _servers.clear()
        attributes = _servers[url] = server_attributes(url)
    return attributes


def _start(telemetry: Telemetry, client: Any, operation: str, params: Any) -> SpanRun | None:
    """The span of one traced call (None when suppressed or not a bedrock-runtime client)."""
    if client.meta.service_model.service_name != SERVICE:
        return None
    params = params if isinstance(params, Mapping) else {}
    model = params.get("modelId")
    model = model if isinstance(model, str) else None
    stream = operation in _STREAM_KEY
    observer: LLMCallObserver
    if operation in (CONVERSE, CONVERSE_STREAM):
        name = gen_ai.CHAT
        attributes = converse.request(params)
        metric_attributes = _common(name, model, client)
        observer = converse.ConverseObserver(telemetry, metric_attributes, stream)
        if observer.capture is not None:
            observer.request(params)
    else:
        kind, embeddings = invoke.family(model)
        name = gen_ai.EMBEDDINGS if embeddings else gen_ai.CHAT
        body = invoke.parse_body(params.get("body"))
        attributes = invoke.request(kind, embeddings, body)
        metric_attributes = _common(name, model, client)
        observer = invoke.InvokeObserver(telemetry, metric_attributes, stream, kind, embeddings)
        if observer.capture is not None:
            observer.request(body)
    if stream:
        attributes[gen_ai.GEN_AI_REQUEST_STREAM] = True
    attributes.update(metric_attributes)
    return start_run(telemetry.tracer, span_name(name, model), SpanKind.CLIENT, attributes, observer)


def _common(name: str, model: str | None, client: Any) -> dict[str, Any]:
    """The attributes every metric point of the call carries."""
    common: dict[str, Any] = {gen_ai.GEN_AI_OPERATION_NAME: name, gen_ai.GEN_AI_PROVIDER_NAME: PROVIDER}
    if model is not None:
        common[gen_ai.GEN_AI_REQUEST_MODEL] = model
    common.update(_server(client))
    return common


def api_call_wrapper(telemetry: Telemetry, wrapped: Any, instance: Any, args: tuple, kwargs: dict) -> Any:
    """``BaseClient._make_api_call(operation_name, api_params)``: trace the four Bedrock runtime operations."""
    operation = args[0] if args else kwargs.get("operation_name")
    if operation not in OPERATIONS:
        return wrapped(*args, **kwargs)
    try:
        run = _start(telemetry, instance, operation, args[1] if len(args) > 1 else kwargs.get("api_params"))
    except Exception:
        logger.debug("otel-genai: starting a Bedrock span failed", exc_info=True)
        run = None
    if run is None:
        return wrapped(*args, **kwargs)
    result = call_attached(run, wrapped, *args, **kwargs)
    if operation == INVOKE:
        return _invoked(run, result)
    key = _STREAM_KEY.get(operation)
    if key is not None:
        return _streamed(run, result, key)
    return wrap_result(run, result)


def _streamed(run: SpanRun, result: Any, key: str) -> Any:
    """Put the traced event stream in place of the response's, in the same dict."""
    try:
        from botocore.eventstream import EventStream

        stream = result.get(key) if isinstance(result, dict) else None
        if isinstance(stream, EventStream):
            result[key] = TracedEventStream(stream, run)
            return result
    except Exception:
        logger.debug("otel-genai: could not trace a Bedrock event stream", exc_info=True)
    return wrap_result(run, result)  # not a stream after all: the span ends with what the response says


def _invoked(run: SpanRun, result: Any) -> Any:
    """Read an InvokeModel body inside the span and hand the caller an equal ``StreamingBody``."""
    body = result.get("body") if isinstance(result, dict) else None
    read = getattr(body, "read", None)
    if read is None:
        return wrap_result(run, result)
    data = call_attached(run, read)  # the caller's error (a cut connection) ends the span and propagates
    try:
        from botocore.response import StreamingBody

        result["body"] = StreamingBody(io.BytesIO(data), len(data))
    except Exception:  # never hand back the body we consumed
        logger.debug("otel-genai: could not make a StreamingBody for a Bedrock response", exc_info=True)
        result["body"] = io.BytesIO(data)
    try:
        body.close()  # read to the end: its connection is back in the pool already
    except Exception:
        logger.debug("otel-genai: closing a Bedrock response body failed", exc_info=True)
    if isinstance(run.observer, invoke.InvokeObserver):
        run.observer.response_body = data
    return wrap_result(run, result)

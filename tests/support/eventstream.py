"""An encoder of the ``application/vnd.amazon.eventstream`` binary framing, written from the AWS specification.

A message is::

    prelude   total length (uint32 BE) | headers length (uint32 BE) | CRC32 of those 8 bytes (uint32 BE)
    headers   per header: name length (uint8) | name (UTF-8) | value type (uint8) | value
    payload   the event's bytes (JSON for Bedrock)
    CRC32     of everything before it (uint32 BE)

The total length counts the whole message, both CRCs included. Only the string header type (7: uint16 BE length,
UTF-8 bytes) is needed: ``:message-type``, ``:event-type``, ``:exception-type``, ``:content-type`` are all strings.
botocore's own decoder (``botocore.eventstream.EventStreamBuffer``) parses what this produces, and so checks it.
"""

from __future__ import annotations

import base64
import json
import struct
import zlib
from typing import Any

_STRING = 7


def _header(name: str, value: str) -> bytes:
    name_bytes = name.encode()
    value_bytes = value.encode()
    return struct.pack(">B", len(name_bytes)) + name_bytes + struct.pack(">BH", _STRING, len(value_bytes)) + value_bytes


def encode_message(headers: dict[str, str], payload: bytes) -> bytes:
    """One eventstream message with string ``headers`` and ``payload``."""
    header_bytes = b"".join(_header(name, value) for name, value in headers.items())
    total = 12 + len(header_bytes) + len(payload) + 4
    prelude = struct.pack(">II", total, len(header_bytes))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    body = prelude + header_bytes + payload
    return body + struct.pack(">I", zlib.crc32(body))


def event(event_type: str, payload: dict[str, Any]) -> bytes:
    """A modelled event (``:message-type: event``) whose members are ``payload``, as JSON."""
    headers = {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}
    return encode_message(headers, json.dumps(payload).encode())


def exception(exception_type: str, message: str) -> bytes:
    """A modelled exception event (``:message-type: exception``), e.g. ``modelStreamErrorException``."""
    headers = {":exception-type": exception_type, ":content-type": "application/json", ":message-type": "exception"}
    return encode_message(headers, json.dumps({"message": message}).encode())


def chunk(body: dict[str, Any]) -> bytes:
    """An ``invoke_model_with_response_stream`` ``chunk`` event: the model family's JSON body, base64 in ``bytes``."""
    return event("chunk", {"bytes": base64.b64encode(json.dumps(body).encode()).decode()})

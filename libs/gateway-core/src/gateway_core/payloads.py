"""Temporal payloads as JSON, whatever SDK wrote them: the API's payload converter.

Every SDK writes a value as a payload whose ``encoding`` metadata says how to read it back.
The gateway reads each one as JSON, and never fails to answer because of one:

================  ===========================================================================
encoding          what the gateway answers
================  ===========================================================================
json/plain        the JSON value, integers exact at any size (``NaN`` and ``±Infinity``, which
                  Python's JSON writes and JSON cannot hold, as the strings proto JSON uses)
json/protobuf     its data, which is proto JSON already (no descriptor is needed), and its
                  ``messageType``
binary/protobuf   proto JSON (``MessageToDict``, lowerCamelCase names as Go's ``protojson``
                  writes them, so a message reads the same as ``json/protobuf`` and
                  ``binary/protobuf``) when the route's descriptor set knows ``messageType``
                  (the well-known types, ``google.protobuf.*``, need none); else
                  :class:`Undecodable`
binary/null       ``null``
binary/plain      the bytes in base64 (standard alphabet, padded)
anything else     :class:`Undecodable`, with the encoding and message type (a codec's
                  ``binary/encrypted`` or ``binary/zlib`` when the API has no such codec)
================  ===========================================================================

Results, query answers and update answers are fetched as ``RawValue`` (the codec, when there
is one, already applied by the SDK) and read with :func:`decode`, which knows the route's
descriptor set; the API answers an :class:`Undecodable` one with 502 ``undecodable-payload``,
and a completion webhook shows it as what it is.
:class:`GatewayPayloadConverter` is the same reading for everything else the SDK decodes
(failure details, memos), without descriptor sets. Encoding is the SDK's default (``json/plain``),
except for routes whose input is a protobuf message (:func:`json_protobuf`).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import zip_longest
from typing import Any

from google.protobuf import json_format, message_factory
from google.protobuf.descriptor_pool import DescriptorPool
from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payload
from temporalio.common import RawValue
from temporalio.converter import DataConverter, DefaultPayloadConverter

from gateway_core.descriptors import DescriptorSetError, well_known

JSON_PLAIN = "json/plain"
JSON_PROTOBUF = "json/protobuf"
BINARY_PROTOBUF = "binary/protobuf"
BINARY_NULL = "binary/null"
BINARY_PLAIN = "binary/plain"

Descriptors = Callable[[], DescriptorPool]
"""The route's descriptor pool, asked for only when a payload needs it.

Raises:
    DescriptorSetError: the route names none, or it cannot be loaded.
"""


@dataclass(frozen=True, slots=True)
class Undecodable:
    """A payload the gateway cannot read: its encoding, its message type, and why not.

    A dataclass, so a response that shows one anyway (a memo, a failure's details) renders it
    as ``{"encoding", "message_type", "reason"}`` rather than failing to serialize; ``to_json``
    says the same to code that asks (:func:`gateway_core.failures.describe`).
    """

    encoding: str
    message_type: str | None
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"encoding": self.encoding, "message_type": self.message_type, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Decoded:
    """One payload read as JSON: ``value`` (or an :class:`Undecodable`), with its encoding
    and, for protobuf, its message type."""

    value: Any
    encoding: str | None
    message_type: str | None

    @property
    def protobuf_type(self) -> str | None:
        """The message type a protobuf payload names (None for any other)."""
        return self.message_type if self.encoding in (JSON_PROTOBUF, BINARY_PROTOBUF) else None


NOTHING = Decoded(None, None, None)
"""No payload at all: a workflow (or handler) that returns nothing."""


def decode(payload: Payload, descriptors: Descriptors | None = None) -> Decoded:
    """``payload`` as JSON; never raises (an unreadable payload is an :class:`Undecodable`)."""
    metadata = payload.metadata
    encoding = metadata.get("encoding", b"").decode("utf-8", "replace") or "(none)"
    raw_type = metadata.get("messageType")
    message_type = raw_type.decode("utf-8", "replace") if raw_type is not None else None
    reader = _READERS.get(encoding)
    if reader is None:
        value: Any = Undecodable(
            encoding, message_type, "the gateway has no converter or codec for this encoding"
        )
    else:
        value = reader(payload.data, encoding, message_type, descriptors)
    return Decoded(value, encoding, message_type)


def _constant(name: str) -> str:
    # NaN, Infinity, -Infinity: JSON has no such numbers; proto JSON writes them as strings.
    return name


def _number(text: str) -> float | str:
    value = float(text)
    return value if math.isfinite(value) else ("Infinity" if value > 0 else "-Infinity")


def _json(data: bytes, encoding: str, message_type: str | None, _: Any) -> Any:
    try:
        return json.loads(data, parse_constant=_constant, parse_float=_number)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, bad UTF-8, too many digits
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "not readable JSON"
        return Undecodable(encoding, message_type, f"its data is not JSON ({reason})")


def _binary_protobuf(
    data: bytes, encoding: str, message_type: str | None, descriptors: Descriptors | None
) -> Any:
    if not message_type:
        return Undecodable(encoding, None, "it names no messageType")
    try:
        pool = well_known() if descriptors is None else descriptors()
        message = message_factory.GetMessageClass(pool.FindMessageTypeByName(message_type))()
        message.ParseFromString(data)
        return json_format.MessageToDict(message, descriptor_pool=pool)
    except DescriptorSetError as exc:
        return Undecodable(encoding, message_type, exc.reason)
    except KeyError:
        if descriptors is None:  # the well-known types are known without one
            return Undecodable(
                encoding,
                message_type,
                "a binary protobuf message is decoded only with the route's descriptor set "
                "(spec.descriptorSet), and the route names none",
            )
        return Undecodable(
            encoding, message_type, "the route's descriptor set does not define this message"
        )
    except (DecodeError, json_format.Error, TypeError, ValueError) as exc:
        return Undecodable(encoding, message_type, f"its data does not parse as one ({exc})")


def _null(*_: Any) -> None:
    return None


def _bytes(data: bytes, *_: Any) -> str:
    return base64.b64encode(data).decode("ascii")


_READERS: dict[str, Callable[[bytes, str, str | None, Descriptors | None], Any]] = {
    JSON_PLAIN: _json,
    JSON_PROTOBUF: _json,
    BINARY_PROTOBUF: _binary_protobuf,
    BINARY_NULL: _null,
    BINARY_PLAIN: _bytes,
}
"""How each encoding the gateway knows is read."""


class GatewayPayloadConverter(DefaultPayloadConverter):
    """The SDK's default converter that reads every payload as :func:`decode` does and never
    raises: for what the SDK decodes itself (failure details, memos). Encoding is unchanged.

    A type hint other than ``RawValue`` (the gateway's own workflows: the callback state) is
    the SDK's typed decoding, as before, unless the SDK cannot do it: then :func:`decode`'s.
    """

    def from_payloads(
        self, payloads: Sequence[Payload], type_hints: list[type] | None = None
    ) -> list[Any]:
        values: list[Any] = []
        for payload, hint in zip_longest(payloads, type_hints or []):
            if hint is RawValue:
                values.append(RawValue(payload))
                continue
            if hint not in (None, Any, object):
                try:
                    values.extend(super().from_payloads([payload], [hint]))
                    continue
                except (KeyError, RuntimeError, TypeError, ValueError):
                    pass  # what the SDK raises for a payload it cannot make a `hint` of
            values.append(decode(payload).value)
        return values


def json_protobuf_payload(body: Any, message_type: str) -> Payload:
    """``body`` (proto JSON) as a ``json/protobuf`` payload of ``message_type``, as protobuf
    converters (Go's, Java's, TypeScript's) read a message."""
    data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    metadata = {"encoding": JSON_PROTOBUF.encode(), "messageType": message_type.encode()}
    return Payload(metadata=metadata, data=data)


def data_converter(base: DataConverter | None = None) -> DataConverter:
    """``base`` (its codec and failure converter kept; the SDK's default when None) reading
    payloads with :class:`GatewayPayloadConverter`: the one place the API's converter is
    chosen."""
    return dataclasses.replace(
        base or DataConverter.default, payload_converter_class=GatewayPayloadConverter
    )

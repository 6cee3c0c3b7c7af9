"""What the API adds to reading payloads (:mod:`gateway_core.payloads`, shared with the worker,
which reads webhook bodies the same way): an answer the gateway cannot read is 502
``undecodable-payload``, and a route's protobuf input is sent as ``json/protobuf`` and checked
against its descriptor set."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from google.protobuf import json_format, message_factory
from google.protobuf.descriptor import Descriptor
from google.protobuf.descriptor_pool import DescriptorPool
from temporalio.common import RawValue

from gateway_api.errors import UndecodablePayload
from gateway_core.descriptors import DescriptorSetError
from gateway_core.payloads import (
    BINARY_NULL,
    BINARY_PLAIN,
    BINARY_PROTOBUF,
    JSON_PLAIN,
    JSON_PROTOBUF,
    NOTHING,
    Decoded,
    Descriptors,
    GatewayPayloadConverter,
    Undecodable,
    data_converter,
    decode,
    json_protobuf_payload,
)
from gateway_core.routes import FieldError

__all__ = [
    "BINARY_NULL", "BINARY_PLAIN", "BINARY_PROTOBUF", "JSON_PLAIN", "JSON_PROTOBUF", "NOTHING",
    "Decoded", "Descriptors", "GatewayPayloadConverter", "Undecodable", "answer",
    "check_message", "data_converter", "decode", "json_protobuf", "message_errors",
]  # fmt: skip


def answer(raw: RawValue | None, what: str, descriptors: Descriptors | None = None) -> Decoded:
    """A result or answer fetched as ``RawValue``, decoded.

    Args:
        what: what it is, for the problem's detail (``"result"``, ``"update's answer"``).

    Raises:
        UndecodablePayload: the gateway cannot decode it.
    """
    if raw is None:
        return NOTHING
    decoded = decode(raw.payload, descriptors)
    if isinstance(decoded.value, Undecodable):
        bad = decoded.value
        kind = f" of message type {bad.message_type}" if bad.message_type else ""
        raise UndecodablePayload(
            f"the {what} is a {bad.encoding} payload{kind}: {bad.reason}",
            encoding=bad.encoding,
            message_type=bad.message_type,
        )
    return decoded


def json_protobuf(body: Any, message_type: str) -> RawValue:
    """``body`` (proto JSON) as a ``json/protobuf`` payload of ``message_type``, as protobuf
    converters (Go's, Java's, TypeScript's) read a message."""
    return RawValue(json_protobuf_payload(body, message_type))


def check_message(
    body: Any, message_type: str, descriptors: Descriptors | None
) -> list[FieldError]:
    """How ``body`` fails to parse as ``message_type``, when the route's descriptor set
    defines it; empty otherwise. A descriptor set that cannot be loaded checks nothing (the
    schema has, and the worker will): it is logged, and its payloads answer 502."""
    if descriptors is None:
        return []
    try:
        pool = descriptors()
    except DescriptorSetError:
        return []
    return message_errors(body, message_type, pool)


def message_errors(body: Any, message_type: str, pool: DescriptorPool) -> list[FieldError]:
    """Every way (the first, in fact: protobuf stops there) ``body`` fails to parse as
    ``message_type`` in proto JSON; empty when it parses or the pool has no such message.

    The field is found by parsing the body's fields one at a time, into nested messages and
    list items, rather than from the parser's words.
    """
    try:
        descriptor = pool.FindMessageTypeByName(message_type)
    except KeyError:
        return []
    try:
        _parse(body, descriptor, pool)
    except json_format.ParseError as exc:
        field, message = _locate(body, descriptor, pool, "", _first_line(exc))
        return [FieldError(field or "body", message)]
    return []


def _parse(value: Any, descriptor: Descriptor, pool: DescriptorPool) -> None:
    json_format.ParseDict(
        value, message_factory.GetMessageClass(descriptor)(), descriptor_pool=pool
    )


def _first_line(exc: Exception) -> str:
    return str(exc).split("\n", 1)[0].strip()


def _locate(
    value: Any, descriptor: Descriptor, pool: DescriptorPool, path: str, message: str
) -> tuple[str, str]:
    """The deepest field of ``value`` that fails, and the parser's words about it."""
    # Well-known types have JSON forms of their own (a Timestamp is a string): not walked.
    if not isinstance(value, Mapping) or descriptor.full_name.startswith("google.protobuf."):
        return path, message
    fields = {f.json_name: f for f in descriptor.fields} | {f.name: f for f in descriptor.fields}
    for key, item in value.items():
        where = f"{path}.{key}" if path else str(key)
        field = fields.get(key)
        if field is None:
            return where, f"{descriptor.full_name} has no field {key!r}"
        try:
            _parse({key: item}, descriptor, pool)
            continue
        except json_format.ParseError as exc:
            message = _first_line(exc)
        inner = field.message_type
        if inner is None or inner.GetOptions().map_entry:
            return where, message
        if not field.is_repeated:
            return _locate(item, inner, pool, where, message)
        for i, element in enumerate(item if isinstance(item, list) else ()):
            try:
                _parse({key: [element]}, descriptor, pool)
            except json_format.ParseError as exc:
                return _locate(element, inner, pool, f"{where}[{i}]", _first_line(exc))
        return where, message
    return path, message

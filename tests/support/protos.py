"""A protobuf message for the tests, built in Python (no protoc): ``gateway.tests.v1.Parcel``,
with the fields where proto JSON and plain JSON differ (int64 as a string, an enum by name, a
Timestamp as RFC 3339, lowerCamelCase names, nested and repeated messages), and the serialized
FileDescriptorSet a route's ``descriptorSet`` names (what ``buf build -o`` writes)."""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, message_factory, timestamp_pb2
from google.protobuf.descriptor_pool import DescriptorPool
from google.protobuf.message import Message

PARCEL = "gateway.tests.v1.Parcel"
FILE = "gateway/tests/v1/parcel.proto"
_F = descriptor_pb2.FieldDescriptorProto


def parcel_file() -> descriptor_pb2.FileDescriptorProto:
    """``parcel.proto``: Parcel {parcel_id, grams (int64), status (enum), shipped_at
    (Timestamp), items (repeated Item {sku, quantity})}."""
    file = descriptor_pb2.FileDescriptorProto(
        name=FILE,
        package="gateway.tests.v1",
        syntax="proto3",
        dependency=["google/protobuf/timestamp.proto"],
    )
    status = file.enum_type.add(name="Status")
    for number, name in enumerate(("STATUS_UNSPECIFIED", "STATUS_PACKED", "STATUS_SHIPPED")):
        status.value.add(name=name, number=number)
    item = file.message_type.add(name="Item")
    item.field.add(name="sku", number=1, type=_F.TYPE_STRING, label=_F.LABEL_OPTIONAL)
    item.field.add(name="quantity", number=2, type=_F.TYPE_INT32, label=_F.LABEL_OPTIONAL)
    parcel = file.message_type.add(name="Parcel")
    parcel.field.add(name="parcel_id", number=1, type=_F.TYPE_STRING, label=_F.LABEL_OPTIONAL)
    parcel.field.add(name="grams", number=2, type=_F.TYPE_INT64, label=_F.LABEL_OPTIONAL)
    parcel.field.add(
        name="status", number=3, type=_F.TYPE_ENUM, type_name=".gateway.tests.v1.Status",
        label=_F.LABEL_OPTIONAL,
    )  # fmt: skip
    parcel.field.add(
        name="shipped_at", number=4, type=_F.TYPE_MESSAGE,
        type_name=".google.protobuf.Timestamp", label=_F.LABEL_OPTIONAL,
    )  # fmt: skip
    parcel.field.add(
        name="items", number=5, type=_F.TYPE_MESSAGE, type_name=".gateway.tests.v1.Item",
        label=_F.LABEL_REPEATED,
    )  # fmt: skip
    return file


def descriptor_set(*, include_imports: bool = True) -> bytes:
    """The serialized FileDescriptorSet of ``parcel.proto`` (with Timestamp's file, as
    ``--include_imports`` makes it, unless told not to)."""
    files = []
    if include_imports:
        timestamp = descriptor_pb2.FileDescriptorProto()
        timestamp_pb2.DESCRIPTOR.CopyToProto(timestamp)
        files.append(timestamp)
    files.append(parcel_file())
    return descriptor_pb2.FileDescriptorSet(file=files).SerializeToString()


def _pool() -> DescriptorPool:
    pool = DescriptorPool()
    timestamp = descriptor_pb2.FileDescriptorProto()
    timestamp_pb2.DESCRIPTOR.CopyToProto(timestamp)
    pool.Add(timestamp)
    pool.Add(parcel_file())
    return pool


def parcel(**fields: Any) -> Message:
    """A Parcel message (the class made from its own pool, as a worker's generated code is)."""
    cls = message_factory.GetMessageClass(_pool().FindMessageTypeByName(PARCEL))
    message: Message = cls(**fields)
    return message


SAMPLE: dict[str, Any] = {
    "parcel_id": "p-1",
    "grams": 2**62 + 1,
    "status": 2,
    "items": [{"sku": "A", "quantity": 3}],
}
SAMPLE_JSON: dict[str, Any] = {
    "parcelId": "p-1",
    "grams": str(2**62 + 1),
    "status": "STATUS_SHIPPED",
    "shippedAt": "2026-01-02T03:04:05Z",
    "items": [{"sku": "A", "quantity": 3}],
}
"""``SAMPLE`` (shipped at 2026-01-02T03:04:05Z) in proto JSON, as Go's protojson writes it."""


def sample_bytes() -> bytes:
    """``SAMPLE`` as binary protobuf."""
    message = parcel(**SAMPLE)
    message.shipped_at.FromJsonString("2026-01-02T03:04:05Z")  # type: ignore[attr-defined]
    return message.SerializeToString()

"""Payloads as the API reads them (gateway_api.temporal.payloads): every encoding an SDK writes,
protobuf with and without a descriptor set, and what it cannot read, which is a marker rather
than an exception; the descriptor sets' loading (gateway_core.descriptors)."""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.encoders import jsonable_encoder
from google.protobuf import descriptor_pb2, struct_pb2
from temporalio.api.common.v1 import Payload
from temporalio.common import RawValue
from temporalio.converter import DataConverter, PayloadCodec

from gateway_api.errors import UndecodablePayload
from gateway_api.temporal import payloads
from gateway_api.temporal.payloads import Decoded, GatewayPayloadConverter, Undecodable
from gateway_core import descriptors
from gateway_core.routes import FieldError
from support.protos import PARCEL, SAMPLE_JSON, descriptor_set, sample_bytes


def payload(encoding: str | None, data: bytes = b"", message_type: str | None = None) -> Payload:
    metadata = {}
    if encoding is not None:
        metadata["encoding"] = encoding.encode()
    if message_type is not None:
        metadata["messageType"] = message_type.encode()
    return Payload(metadata=metadata, data=data)


@pytest.fixture
def parcels(tmp_path: Path) -> payloads.Descriptors:
    (tmp_path / "parcels.binpb").write_bytes(descriptor_set())
    return lambda: descriptors.pool(tmp_path, "parcels.binpb")


BIG = 2**64 + 1  # beyond any double and any int64: must come back digit for digit


@pytest.mark.parametrize(
    ("encoded", "value", "message_type"),
    [
        (payload("json/plain", b'{"a":[1,2.5,"x",null,true]}'), {"a": [1, 2.5, "x", None, True]},
         None),
        (payload("json/plain", str(BIG).encode()), BIG, None),
        (payload("json/plain", f'{{"n":{-BIG}}}'.encode()), {"n": -BIG}, None),
        # Python's json writes these; JSON has no such numbers: proto JSON's strings instead.
        (payload("json/plain", b"[NaN,Infinity,-Infinity,1e999]"),
         ["NaN", "Infinity", "-Infinity", "Infinity"], None),
        (payload("json/plain", '"Zoë 🍏"'.encode()), "Zoë 🍏", None),
        (payload("json/protobuf", json.dumps(SAMPLE_JSON).encode(), PARCEL), SAMPLE_JSON, PARCEL),
        (payload("json/protobuf", b'{"fields":{}}', "google.protobuf.Struct"), {"fields": {}},
         "google.protobuf.Struct"),
        (payload("binary/null"), None, None),
        (payload("binary/plain", b"\x00\xffhi"), base64.b64encode(b"\x00\xffhi").decode(), None),
    ],
)  # fmt: skip
def test_what_each_encoding_reads_as(encoded, value, message_type) -> None:
    decoded = payloads.decode(encoded)
    assert decoded.value == value
    assert type(decoded.value) is type(value)
    assert decoded.message_type == message_type
    assert decoded.protobuf_type == message_type


def test_big_integers_stay_integers_through_the_response() -> None:
    decoded = payloads.decode(payload("json/plain", f"[{BIG}, 9007199254740993]".encode()))
    assert json.dumps(decoded.value) == f"[{BIG}, 9007199254740993]"


def test_binary_protobuf_is_proto_json_with_the_routes_descriptor_set(parcels) -> None:
    decoded = payloads.decode(payload("binary/protobuf", sample_bytes(), PARCEL), parcels)
    # What Go's protojson writes for the same message: json/protobuf and binary/protobuf read
    # the same.
    assert decoded.value == SAMPLE_JSON
    assert decoded.protobuf_type == PARCEL


def test_a_set_without_its_imports_still_knows_the_well_known_types(tmp_path) -> None:
    (tmp_path / "bare.binpb").write_bytes(descriptor_set(include_imports=False))
    decoded = payloads.decode(
        payload("binary/protobuf", sample_bytes(), PARCEL),
        lambda: descriptors.pool(tmp_path, "bare.binpb"),
    )
    assert decoded.value == SAMPLE_JSON


@pytest.mark.parametrize("with_set", [True, False], ids=["with a set", "without"])
def test_a_well_known_type_in_binary_needs_no_descriptor_set(parcels, with_set) -> None:
    message = struct_pb2.Struct()
    message.update({"total": 12.5, "tags": ["a"], "paid": True})
    decoded = payloads.decode(
        payload("binary/protobuf", message.SerializeToString(), "google.protobuf.Struct"),
        parcels if with_set else None,
    )
    assert decoded.value == {"total": 12.5, "tags": ["a"], "paid": True}
    assert decoded.protobuf_type == "google.protobuf.Struct"


UNDECODABLE = [
    (payload("binary/protobuf", sample_bytes(), PARCEL), None, "binary/protobuf", PARCEL,
     "descriptorSet"),
    (payload("binary/protobuf", b"\xff\xff\xff", PARCEL), "parcels", "binary/protobuf", PARCEL,
     "does not parse"),
    (payload("binary/protobuf", b"", "gateway.tests.v1.Nope"), "parcels", "binary/protobuf",
     "gateway.tests.v1.Nope", "does not define"),
    (payload("binary/protobuf", b""), "parcels", "binary/protobuf", None, "messageType"),
    (payload("binary/zlib", b"x\x9c"), None, "binary/zlib", None, "no converter or codec"),
    (payload("binary/encrypted", b"\x01", "x"), None, "binary/encrypted", "x", "no converter"),
    (payload(None, b"{}"), None, "(none)", None, "no converter"),
    (payload("json/plain", b"{nope"), None, "json/plain", None, "not JSON"),
    (payload("json/protobuf", b"\xff", PARCEL), None, "json/protobuf", PARCEL, "not JSON"),
    (payload("json/plain", b"[" * 100_000), None, "json/plain", None, "not JSON"),
    (payload("json/plain", b"1" * 5000), None, "json/plain", None, "not JSON"),
]  # fmt: skip


@pytest.mark.parametrize(("encoded", "with_set", "encoding", "message_type", "reason"), UNDECODABLE)
def test_what_cannot_be_read_is_a_marker_not_an_exception(
    encoded, with_set, encoding, message_type, reason, parcels
) -> None:
    decoded = payloads.decode(encoded, parcels if with_set else None)
    assert isinstance(decoded.value, Undecodable)
    assert (decoded.value.encoding, decoded.value.message_type) == (encoding, message_type)
    assert reason in decoded.value.reason
    with pytest.raises(UndecodablePayload) as raised:
        payloads.answer(RawValue(encoded), "result", parcels if with_set else None)
    problem = raised.value
    assert (problem.status, problem.code) == (502, "undecodable-payload")
    assert problem.extensions() == {"encoding": encoding, "message_type": message_type}
    assert problem.detail.startswith(f"the result is a {encoding} payload")
    if message_type:
        assert message_type in problem.detail


def test_no_payload_is_null() -> None:
    assert payloads.answer(None, "result") == Decoded(None, None, None)


def test_the_converter_never_raises_and_passes_raw_values() -> None:
    converter = DataConverter.default
    gateway = payloads.data_converter(converter).payload_converter
    encoded = [case[0] for case in UNDECODABLE]
    values = gateway.from_payloads(encoded)
    assert all(isinstance(v, Undecodable) for v in values)
    # Shown anyway (a memo a workflow upserted, a failure's details), it is JSON, not a 500.
    assert jsonable_encoder({"memo": values[0]}) == {"memo": {
        "encoding": "binary/protobuf", "message_type": PARCEL,
        "reason": values[0].reason,
    }}  # fmt: skip
    (raw,) = gateway.from_payloads(encoded[:1], [RawValue])
    assert isinstance(raw, RawValue)
    assert raw.payload == encoded[0]
    # The SDK's own converter fails on the same payloads: what used to be a 500.
    with pytest.raises((KeyError, RuntimeError)):
        converter.payload_converter.from_payloads(encoded[:1])


@dataclass
class _State:
    status: str
    attempts: int


def test_typed_decoding_is_still_the_sdks_and_never_raises() -> None:
    """A type hint (the gateway's own workflows: the callback state) decodes as before; what
    the SDK cannot make into the hinted type is read as any other payload."""
    gateway = payloads.data_converter().payload_converter
    encoded = DataConverter.default.payload_converter.to_payloads([_State("waiting", 2)])
    assert gateway.from_payloads(encoded, [_State]) == [_State("waiting", 2)]
    struct = struct_pb2.Struct()
    struct.update({"a": 1})
    [message] = gateway.from_payloads(gateway.to_payloads([struct]), [struct_pb2.Struct])
    assert message == struct
    [bad] = gateway.from_payloads([payload("binary/zlib", b"x")], [_State])
    assert isinstance(bad, Undecodable)
    [wrong] = gateway.from_payloads([payload("json/plain", b'"text"')], [_State])
    assert wrong == "text"


class _Codec(PayloadCodec):
    async def encode(self, payloads: Any) -> list[Payload]:
        return list(payloads)

    async def decode(self, payloads: Any) -> list[Payload]:
        return list(payloads)


def test_the_data_converter_keeps_a_codec_and_encodes_as_the_sdk_does() -> None:
    codec = _Codec()
    converter = payloads.data_converter(DataConverter(payload_codec=codec))
    assert converter.payload_codec is codec
    assert isinstance(converter.payload_converter_class(), GatewayPayloadConverter)
    assert converter.payload_converter.to_payloads([{"n": BIG}]) == (
        DataConverter.default.payload_converter.to_payloads([{"n": BIG}])
    )


def test_a_protobuf_input_is_json_protobuf_with_its_message_type() -> None:
    raw = payloads.json_protobuf({"parcelId": "p", "note": "Zoë"}, PARCEL)
    assert dict(raw.payload.metadata) == {
        "encoding": b"json/protobuf",
        "messageType": PARCEL.encode(),
    }
    assert raw.payload.data == '{"parcelId":"p","note":"Zoë"}'.encode()


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        (SAMPLE_JSON, []),
        ({"parcel_id": "proto names are accepted too", "grams": 5}, []),
        ({"parcelId": 5}, ["parcelId"]),
        ({"colour": "red"}, ["colour"]),
        ({"status": "STATUS_LOST"}, ["status"]),
        ({"shippedAt": "yesterday"}, ["shippedAt"]),
        ({"items": [{"sku": "A"}, {"sku": "B", "quantity": 2**40}]}, ["items[1].quantity"]),
        ({"items": [{"sku": "A", "weight": 1}]}, ["items[0].weight"]),
        ({"items": {"sku": "A"}}, ["items"]),
        ([1, 2], ["body"]),
    ],
)
def test_a_protobuf_input_is_checked_against_its_message_naming_the_field(
    body, errors, parcels
) -> None:
    found = payloads.check_message(body, PARCEL, parcels)
    assert [e.field for e in found] == errors
    assert all(isinstance(e, FieldError) and e.message for e in found)


def test_an_input_message_the_set_does_not_define_or_no_set_checks_nothing(tmp_path) -> None:
    assert payloads.check_message({"x": 1}, "gateway.tests.v1.Nope", lambda: descriptors.pool(
        tmp_path, "missing.binpb")) == []  # fmt: skip
    assert payloads.check_message({"x": 1}, PARCEL, None) == []


def test_descriptor_sets_load_once_per_content_and_follow_changes(tmp_path, monkeypatch) -> None:
    path = tmp_path / "parcels.binpb"
    path.write_bytes(descriptor_set())
    built: list[bytes] = []
    real = descriptors.build_pool
    monkeypatch.setattr(descriptors, "build_pool", lambda data: built.append(data) or real(data))
    first = descriptors.pool(tmp_path, "parcels.binpb")
    assert descriptors.pool(tmp_path, "parcels.binpb") is first
    os.utime(path, ns=(1, 1))  # touched, same content: not parsed again
    assert descriptors.pool(tmp_path, "parcels.binpb") is first
    assert len(built) == 1
    # A ConfigMap update: a new file swapped in (another inode), with another content.
    replacement = tmp_path / "next.binpb"
    replacement.write_bytes(descriptor_set(include_imports=False))
    replacement.replace(path)
    assert descriptors.pool(tmp_path, "parcels.binpb") is not first
    assert len(built) == 2


@pytest.mark.parametrize(
    ("content", "directory_set", "reason"),
    [
        (None, True, "cannot be read"),
        (b"\xff\xff not protobuf", True, "not a serialized google.protobuf.FileDescriptorSet"),
        (b"", True, "holds no file"),
        ("missing import", True, "imports other/thing.proto, which the set does not hold"),
        (b"irrelevant", False, "API_DESCRIPTOR_SETS_DIR is not set"),
    ],
)
def test_an_unusable_descriptor_set_says_why(tmp_path, content, directory_set, reason) -> None:
    path = tmp_path / "set.binpb"
    if content == "missing import":
        file = descriptor_pb2.FileDescriptorProto(name="a.proto", dependency=["other/thing.proto"])
        content = descriptor_pb2.FileDescriptorSet(file=[file]).SerializeToString()
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(descriptors.DescriptorSetError, match=reason):
        descriptors.pool(tmp_path if directory_set else None, "set.binpb")
    decoded = payloads.decode(
        payload("binary/protobuf", b"", PARCEL),
        lambda: descriptors.pool(tmp_path if directory_set else None, "set.binpb"),
    )
    assert isinstance(decoded.value, Undecodable)
    assert reason in decoded.value.reason

"""The zlib codec that reads and writes what Go's ``converter.NewZlibCodec`` does (the Go
worker behind a route: ``tests/e2e/test_polyglot_payloads.py``)."""

from __future__ import annotations

import json
import tracemalloc
import zlib

import pytest
from temporalio.api.common.v1 import Payload

from gateway_core.codecs import CodecError
from gateway_core.zlib_codec import ENCODING, ZlibCodec, always_encoded


def json_payload(value: object) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(value).encode())


async def test_a_payload_round_trips_compressed() -> None:
    codec = ZlibCodec()
    original = json_payload({"items": ["apple"] * 200})
    (encoded,) = await codec.encode([original])
    assert dict(encoded.metadata) == {"encoding": ENCODING}
    assert zlib.decompress(encoded.data) == original.SerializeToString()  # as Go writes it
    assert len(encoded.data) < len(original.data)
    assert await codec.decode([encoded]) == [original]


async def test_a_payload_compression_does_not_shrink_is_kept_unless_always() -> None:
    tiny = json_payload(1)
    assert await ZlibCodec().encode([tiny]) == [tiny]
    (forced,) = await always_encoded().encode([tiny])
    assert forced.metadata["encoding"] == ENCODING
    assert await ZlibCodec().decode([forced]) == [tiny]


async def test_other_encodings_pass_through() -> None:
    sealed = Payload(metadata={"encoding": b"binary/encrypted"}, data=b"\x00\x01")
    assert await ZlibCodec().decode([sealed]) == [sealed]


async def test_a_compression_bomb_is_refused_without_inflating_it() -> None:
    bomb = Payload(metadata={"encoding": ENCODING}, data=zlib.compress(b"\0" * (256 << 20), 9))
    assert len(bomb.data) < 300 << 10
    tracemalloc.start()
    try:
        with pytest.raises(CodecError, match="larger than 1048576 bytes"):
            await ZlibCodec(max_decoded_bytes=1 << 20).decode([bomb])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, f"peak {peak} bytes: the bomb was inflated"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"not zlib at all", "not zlib"),
        (zlib.compress(json_payload(list(range(100))).SerializeToString())[:-8], "truncated"),
        (zlib.compress(b"\xff\xff\xff\xff"), "not a serialized payload"),
    ],
    ids=["garbage", "truncated", "not a payload"],
)
async def test_bad_data_is_a_codec_error_that_quotes_none_of_it(data, reason) -> None:
    with pytest.raises(CodecError) as caught:
        await ZlibCodec().decode([Payload(metadata={"encoding": ENCODING}, data=data)])
    assert reason in caught.value.reason
    assert "zlib at all" not in str(caught.value)

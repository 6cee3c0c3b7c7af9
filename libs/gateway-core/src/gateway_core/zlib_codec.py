"""Temporal's zlib payload codec, as the Go SDK's ``converter.NewZlibCodec`` writes it, for the
gateway (``API_CODECS``) and the worker (``WORKER_CODECS``)::

    {"zlib": {"import": "gateway_core.zlib_codec:ZlibCodec"}}

An encoded payload has the metadata ``{"encoding": "binary/zlib"}`` and the data
``zlib(serialized original Payload)``. Go's codec keeps a payload as it was when compressing
does not make it smaller (unless ``AlwaysEncode``); so does this one, and decoding passes
other encodings through unchanged, as Go's does.

What a worker stored is decompressed up to :data:`MAX_DECODED_BYTES`: a payload that expands
beyond it (a compression bomb in a history) is a :class:`~gateway_core.codecs.CodecError`, never
memory spent on it.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from gateway_core.codecs import DEFAULT_BLOB_LIMIT_BYTES, CodecError

ENCODING = b"binary/zlib"
MAX_DECODED_BYTES = 16 * DEFAULT_BLOB_LIMIT_BYTES
"""The most one payload may expand to (32 MiB): sixteen times the largest blob Temporal stores,
far beyond what JSON compresses to, far below what would hurt the process."""


class ZlibCodec(PayloadCodec):
    """Compresses each payload whole (its metadata too), as Go's ``converter.NewZlibCodec``."""

    def __init__(
        self, *, always_encode: bool = False, max_decoded_bytes: int = MAX_DECODED_BYTES
    ) -> None:
        self.always_encode = always_encode
        self.max_decoded_bytes = max_decoded_bytes

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.compress(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decompress(p) for p in payloads]

    def compress(self, payload: Payload) -> Payload:
        plain = payload.SerializeToString()
        packed = zlib.compress(plain)
        if len(packed) >= len(plain) and not self.always_encode:
            return payload
        return Payload(metadata={"encoding": ENCODING}, data=packed)

    def decompress(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        inflater = zlib.decompressobj()
        try:
            plain = inflater.decompress(payload.data, self.max_decoded_bytes)
        except zlib.error:
            raise CodecError("zlib", "decode", "data that is not zlib") from None
        if inflater.unconsumed_tail:
            raise CodecError(
                "zlib", "decode", f"a payload larger than {self.max_decoded_bytes} bytes decoded"
            )
        if not inflater.eof:
            raise CodecError("zlib", "decode", "truncated zlib data")
        original = Payload()
        try:
            original.ParseFromString(plain)
        except DecodeError:
            raise CodecError("zlib", "decode", "data that is not a serialized payload") from None
        return original


def always_encoded() -> ZlibCodec:
    """``gateway_core.zlib_codec:always_encoded``: every payload compressed, small ones too (Go's
    ``ZlibCodecOptions{AlwaysEncode: true}``); reading is the same."""
    return ZlibCodec(always_encode=True)

"""The Python AES-GCM codec of ``examples/codec/python``, alone: its format (key id, metadata,
nonce, deterministic plaintext) and its refusals. Its byte compatibility with the Go and
TypeScript codecs is shown against the real processes in ``tests/e2e/test_codec_server.py``."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload

from gateway_codec_example import aes

KEY = bytes(range(32))


def _payloads() -> list[Payload]:
    return [
        Payload(metadata={"encoding": b"json/plain"}, data=b'{"value":1}'),
        # Several metadata keys: the plaintext sorts them, whatever the map's order.
        Payload(metadata={"messageType": b"x.y.Z", "encoding": b"json/protobuf"}, data=b"{}"),
        Payload(metadata={"encoding": b"binary/null"}),  # no data at all
    ]


def test_the_key_id_is_sixteen_hex_digits_of_the_keys_sha256() -> None:
    assert aes.key_id(KEY) == hashlib.sha256(KEY).hexdigest()[:16]
    assert aes.AesGcmCodec(KEY).key_id == aes.key_id(KEY)


async def test_round_trip_and_format() -> None:
    codec = aes.AesGcmCodec(KEY)
    originals = _payloads()
    sealed = await codec.encode(originals)
    for original, payload in zip(originals, sealed, strict=True):
        assert dict(payload.metadata) == {
            "encoding": b"binary/encrypted",
            "encryption-key-id": aes.key_id(KEY).encode(),
        }
        nonce, box = payload.data[:12], payload.data[12:]
        assert AESGCM(KEY).decrypt(nonce, box, None) == original.SerializeToString(
            deterministic=True
        )
    assert await codec.decode(sealed) == originals
    # A fresh nonce each time.
    assert (await codec.encode(originals[:1]))[0].data != sealed[0].data


async def test_other_encodings_pass_through() -> None:
    plain = _payloads()
    assert await aes.AesGcmCodec(KEY).decode(plain) == plain


async def test_another_keys_payload_is_refused() -> None:
    sealed = await aes.AesGcmCodec(bytes(32)).encode(_payloads()[:1])
    with pytest.raises(aes.CodecKeyError, match="unknown key id"):
        await aes.AesGcmCodec(KEY).decode(sealed)


async def test_tampered_data_is_refused() -> None:
    codec = aes.AesGcmCodec(KEY)
    (sealed,) = await codec.encode(_payloads()[:1])
    sealed.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    with pytest.raises(aes.CodecKeyError, match="decrypting"):
        await codec.decode([sealed])


def test_make_codec_reads_the_key_file_named_by_the_environment(tmp_path, monkeypatch) -> None:
    path = tmp_path / "key.hex"
    path.write_text(f"  {KEY.hex().upper()}\n")  # whitespace around it, either case
    monkeypatch.setenv("CODEC_KEY_FILE", str(path))
    assert aes.make_codec().key_id == aes.key_id(KEY)


@pytest.mark.parametrize("text", ["", "zz" * 32, KEY.hex()[:-2], KEY.hex() + "00"])
def test_a_bad_key_file_is_refused(tmp_path, text: str) -> None:
    path = tmp_path / "key.hex"
    path.write_text(text)
    with pytest.raises(ValueError, match=str(path)):
        aes.load_key_file(path)

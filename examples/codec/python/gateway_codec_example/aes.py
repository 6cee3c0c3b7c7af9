"""AES-256-GCM payload codec, byte-compatible with the example workers' codec (Go:
``examples/workers/go/codec``, TypeScript: ``examples/workers/typescript/src/codec.ts``, Java:
``examples/workers/java/src/main/java/example/workers/AesGcmCodec.java``).

An encoded payload has the metadata ``{"encoding": "binary/encrypted", "encryption-key-id":
<key id>}`` and the data ``nonce (12 random bytes) || AES-256-GCM(serialized original
Payload)``, without associated data. The original payload is serialized deterministically
(metadata sorted by key), as the Go, TypeScript and Java codecs do, so one payload always has one
plaintext. The key id is the first 16 hex characters of SHA-256(key). Decoding passes other
encodings through unchanged, so data written before the codec was turned on stays readable.

The gateway (or any Python Temporal client) loads it by import path::

    CODEC_KEY_FILE=key.hex  →  gateway_codec_example.aes:make_codec
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
KEY_FILE_VARIABLE = "CODEC_KEY_FILE"
_NONCE_SIZE = 12
_TAG_SIZE = 16


class CodecKeyError(ValueError):
    """A payload sealed with another key, or data this key cannot open."""


def key_id(key: bytes) -> str:
    """The id written next to each payload: 16 hex characters of SHA-256(key)."""
    return hashlib.sha256(key).hexdigest()[:16]


def load_key_file(path: str | os.PathLike[str]) -> bytes:
    """A key file's 32 bytes: 64 hex characters, surrounding whitespace ignored.

    Raises:
        ValueError: the file does not hold 64 hex characters.
    """
    text = Path(path).read_text().strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise ValueError(f"{path}: not hex") from None
    if len(key) != 32:
        raise ValueError(f"{path}: want 64 hex characters (32 bytes), got {len(key)} bytes")
    return key


class AesGcmCodec(PayloadCodec):
    """Encrypts whole payloads, metadata included (a value's encoding is as private as its
    data)."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError(f"AES-256 needs a 32-byte key, got {len(key)} bytes")
        self._aead = AESGCM(key)
        self.key_id = key_id(key)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.seal(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.open(p) for p in payloads]

    def seal(self, payload: Payload) -> Payload:
        """One payload, encrypted."""
        nonce = os.urandom(_NONCE_SIZE)
        plain = payload.SerializeToString(deterministic=True)
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID_METADATA: self.key_id.encode()},
            data=nonce + self._aead.encrypt(nonce, plain, None),
        )

    def open(self, payload: Payload) -> Payload:
        """One payload, decrypted if this codec sealed it, else as it is.

        Raises:
            CodecKeyError: sealed with another key, or not openable with this one.
        """
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        found = payload.metadata.get(KEY_ID_METADATA, b"").decode(errors="replace")
        if found != self.key_id:
            raise CodecKeyError(
                f"payload sealed with unknown key id {found!r} (this codec has {self.key_id!r})"
            )
        data = payload.data
        if len(data) < _NONCE_SIZE + _TAG_SIZE:
            raise CodecKeyError(f"encrypted payload too short ({len(data)} bytes)")
        try:
            plain = self._aead.decrypt(data[:_NONCE_SIZE], data[_NONCE_SIZE:], None)
        except Exception as exc:  # cryptography's InvalidTag: wrong key or tampered data
            raise CodecKeyError("decrypting payload failed") from exc
        inner = Payload()
        inner.ParseFromString(plain)
        return inner


def make_codec() -> AesGcmCodec:
    """The codec for the key file named by ``CODEC_KEY_FILE``.

    Raises:
        KeyError: ``CODEC_KEY_FILE`` is not set.
        ValueError: the file does not hold a 64-hex-character key.
    """
    return AesGcmCodec(load_key_file(os.environ[KEY_FILE_VARIABLE]))

"""Standard Webhooks signatures: ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``.

Secrets are ``whsec_<base64>``. A route's secret file holds one, or two while a rotation is
under way; every delivery is then signed with each, space-separated, as the specification
allows, so receivers holding either key verify it. The standard library's ``hmac`` does the
work: the ``standardwebhooks`` package's verifier has a fixed tolerance and is only used by
the tests, as the reference the signatures are checked against.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from pathlib import Path

SECRET_PREFIX = "whsec_"  # noqa: S105 (the format's marker)
MAX_SECRETS = 2


class SigningSecretError(Exception):
    """A secret file is missing, unreadable or malformed."""


def new_secret() -> str:
    """A new secret: 32 random bytes, as the specification recommends (24 to 64)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def parse_secret(text: str) -> bytes:
    """
    Raises:
        SigningSecretError: not ``whsec_`` and base64 of at least 24 bytes.
    """
    if not text.startswith(SECRET_PREFIX):
        raise SigningSecretError("a signing secret starts with whsec_")
    try:
        key = base64.b64decode(text[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise SigningSecretError("a signing secret is whsec_ and base64") from None
    if len(key) < 24:
        raise SigningSecretError("a signing secret needs at least 24 bytes of key")
    return key


def parse_secret_file(text: str) -> list[bytes]:
    """One or two secrets separated by white space (the newest first, by convention).

    Raises:
        SigningSecretError: none, more than two, or a malformed one.
    """
    words = text.split()
    if not words:
        raise SigningSecretError("the secret file is empty")
    if len(words) > MAX_SECRETS:
        raise SigningSecretError(f"at most {MAX_SECRETS} secrets at once (old and new)")
    return [parse_secret(w) for w in words]


def read_secrets(directory: Path | None, name: str) -> list[bytes]:
    """Read on every delivery, so a rotated Secret (the kubelet swaps the mounted files) is
    used from the next attempt on, with nothing to watch.

    Raises:
        SigningSecretError: no directory configured, or the file is missing or malformed.
    """
    if directory is None:
        raise SigningSecretError("the worker has no WORKER_CALLBACK_SECRETS_DIR")
    path = directory / name
    # Named, never located: the error becomes the attempt's ``last_error``, which callers read,
    # and an OSError's text holds the worker's path to its secrets.
    try:
        text = path.read_text(encoding="ascii")
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise SigningSecretError(f"signing secret {name!r} cannot be read ({reason})") from None
    except UnicodeDecodeError:
        raise SigningSecretError(f"signing secret {name!r} is not ASCII text") from None
    try:
        return parse_secret_file(text)
    except SigningSecretError as exc:
        raise SigningSecretError(f"signing secret {name!r}: {exc}") from None


def sign(keys: Sequence[bytes], msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header: one ``v1,…`` per key, space-separated."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        for key in keys
    )

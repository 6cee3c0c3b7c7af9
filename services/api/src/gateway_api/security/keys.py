"""API keys: stored hashed, loaded from a file, rotated without a restart.

The key file (a mounted Secret in a cluster, any file under ``make run``) lists the SHA-256 of
each key, never the key itself::

    keys:
      - id: ci                      # the principal is "key:ci" (audit, rate limits)
        sha256: 9f86d081884c7d65…   # hex digest of the whole key
        scopes: [shopping:start, shopping:read]
        groups: [shop]

Keys are 256 random bits, so a fast hash is enough (nothing to brute-force, unlike passwords);
the digest is compared with :func:`hmac.compare_digest`. Rotation: add the new key's entry
(same ``id``), move clients to it, remove the old entry; both work in between. The file is
polled by content, as route files are, because Kubernetes updates a mounted Secret by swapping
a symlink. A broken file is refused and the last good key set kept.

``python -m gateway_api.keys new --id ci --scopes shopping:start shopping:read`` prints a new
key and its entry.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import secrets
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import structlog
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway_api.security.principals import Principal
from gateway_core.errors import GatewayError

log = structlog.get_logger(__name__)

KEY_PREFIX = "tgw_"
"""Marks gateway keys, so secret scanners can find a leaked one."""
_HEX64 = r"^[0-9a-f]{64}$"
_NAME = r"^[A-Za-z0-9._:@/-]{1,128}$"


class KeyFileError(GatewayError):
    """The key file is missing, unreadable or invalid."""


class KeyEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=_NAME)
    sha256: str = Field(pattern=_HEX64)
    scopes: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()

    @cached_property
    def principal(self) -> Principal:
        """The caller this key is, built once: every request with the key gets this one."""
        return Principal(
            id=f"key:{self.id}", method="api-key", scopes=self.scopes, groups=self.groups
        )


class KeyFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    keys: tuple[KeyEntry, ...] = ()


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    """A new key: the prefix and 256 random bits, URL-safe."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class KeySet:
    by_digest: Mapping[str, KeyEntry]
    found: dict[str, KeyEntry] = field(default_factory=dict, compare=False, repr=False)
    """Keys already matched, by their own text, so a caller's next requests skip the digest
    (OpenSSL's SHA-256 costs 10 to 20 µs a request in place). At most one per entry: only a
    key whose digest is listed gets in, so unknown keys cannot grow it; a reload starts a new
    set, so a removed key is forgotten with its entry. The dictionary's lookup time depends on
    the string's hash, which Python keys with a per-process secret."""

    def find(self, key: str) -> KeyEntry | None:
        entry = self.found.get(key)
        if entry is not None:
            return entry
        digest = hash_key(key)
        entry = self.by_digest.get(digest)
        if entry is None or not hmac.compare_digest(entry.sha256, digest):
            return None
        self.found[key] = entry
        return entry


def parse_keys(text: str, *, source: str) -> KeySet:
    """
    Raises:
        KeyFileError: empty, not YAML, not the documented shape, or one digest listed twice.
    """
    if not text.strip():
        # Most often a file caught while it is rewritten in place: refusing it keeps the keys
        # in use instead of refusing every caller until the next check.
        raise KeyFileError(f"{source}: empty (a file with no keys says `keys: []`)")
    try:
        data = yaml.safe_load(text) or {}
        parsed = KeyFile.model_validate(data)
    except yaml.YAMLError as exc:
        raise KeyFileError(f"{source}: invalid YAML: {exc}") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise KeyFileError(f"{source}: {where}: {first['msg']}") from exc
    by_digest: dict[str, KeyEntry] = {}
    for entry in parsed.keys:
        if entry.sha256 in by_digest:
            raise KeyFileError(f"{source}: the key of {entry.id!r} is listed twice")
        by_digest[entry.sha256] = entry
    return KeySet(by_digest)


def read_keys(path: Path) -> tuple[bytes, KeySet]:
    """The file's content and its keys.

    Raises:
        KeyFileError: the file is missing, unreadable or invalid.
    """
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read: {exc.strerror}") from exc
    return content, parse_keys(content.decode(errors="replace"), source=str(path))


class KeyRing:
    """The current key set, reloaded when the file changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.keys = KeySet({})
        self._content: bytes | None = None

    def load(self) -> None:
        """The first load: a missing or broken file stops the API.

        Raises:
            KeyFileError: the file is missing, unreadable or invalid.
        """
        self._content, self.keys = read_keys(self.path)
        log.info("api keys loaded", path=str(self.path), keys=len(self.keys.by_digest))

    def reload(self) -> bool:
        """Load the file again if it changed; True when a new key set is in use."""
        try:
            content = self.path.read_bytes()
        except OSError:  # swapped away while we read, or removed: keep the keys we have
            return False
        if content == self._content:
            return False
        self._content = content
        try:
            keys = parse_keys(content.decode(errors="replace"), source=str(self.path))
        except KeyFileError as exc:
            log.error("api key file rejected; keeping the last good keys", error=str(exc))
            return False
        self.keys = keys
        log.info("api keys reloaded", path=str(self.path), keys=len(keys.by_digest))
        return True

    async def watch(self, interval: float) -> None:
        """Reload every ``interval`` seconds; runs until cancelled."""
        while True:
            await asyncio.sleep(interval)
            await asyncio.to_thread(self.reload)


def entry_yaml(key_id: str, key: str, scopes: Sequence[str], groups: Sequence[str]) -> str:
    entry: dict[str, object] = {"id": key_id, "sha256": hash_key(key)}
    if scopes:
        entry["scopes"] = list(scopes)
    if groups:
        entry["groups"] = list(groups)
    return yaml.safe_dump([entry], sort_keys=False)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gateway_api.security.keys",
        description="Make API keys for temporal-gateway.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    new = commands.add_parser("new", help="print a new key and its entry for the key file")
    new.add_argument("--id", required=True, help="who the key is for (the principal id)")
    new.add_argument("--scopes", nargs="*", default=[], help="scopes the key grants")
    new.add_argument("--groups", nargs="*", default=[], help="groups the key belongs to")
    digest = commands.add_parser("hash", help="the entry for an existing key read from stdin")
    digest.add_argument("--id", required=True)
    digest.add_argument("--scopes", nargs="*", default=[])
    digest.add_argument("--groups", nargs="*", default=[])
    args = parser.parse_args(argv)
    try:
        KeyEntry(id=args.id, sha256="0" * 64)
    except ValidationError:
        parser.error(f"--id {args.id!r}: use 1-128 characters of A-Z a-z 0-9 . _ : @ / -")
    if args.command == "new":
        key = new_key()
        print(f"# The key (give it to the client once; it is not stored anywhere):\n{key}")
    else:
        key = sys.stdin.readline().strip()
        if not key:
            parser.error("no key on stdin")
    print("# Its entry, for the `keys:` list of the key file:")
    print(entry_yaml(args.id, key, args.scopes, args.groups), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Protobuf descriptor sets: what a route's ``descriptorSet`` names, as a descriptor pool.

A route whose workers send ``binary/protobuf`` payloads names a serialized
``google.protobuf.FileDescriptorSet`` (``buf build -o x.binpb``, ``protoc --include_imports
--descriptor_set_out=x.binpb``), a file in ``API_DESCRIPTOR_SETS_DIR``: in a cluster, a mounted
ConfigMap (its ``binaryData``). The pool it makes decodes those payloads to proto JSON, and
checks the bodies of routes with an ``inputMessage``.

Each file is loaded once per content: a call looks at the file's inode, modification time and
size (a ConfigMap's update swaps a symlink, which changes the inode), and parses the file again
only when they change. The well-known types (``google/protobuf/timestamp.proto``…) are in every
pool, so a set built without ``--include_imports`` still works for them, and a route that names
no set still decodes them (:func:`well_known`).

A missing or invalid file is not a reason to refuse the route table, which serves every other
route and this route's JSON payloads as well: the route's ``binary/protobuf`` payloads are 502
``undecodable-payload`` naming the problem instead, and the problem is logged once per state
of the file.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import structlog
from google.protobuf import (
    any_pb2,
    api_pb2,
    descriptor_pb2,
    duration_pb2,
    empty_pb2,
    field_mask_pb2,
    source_context_pb2,
    struct_pb2,
    timestamp_pb2,
    type_pb2,
    wrappers_pb2,
)
from google.protobuf.descriptor_pool import DescriptorPool
from google.protobuf.message import DecodeError

from gateway_core.errors import GatewayError

log = structlog.get_logger(__name__)

_WELL_KNOWN = {
    module.DESCRIPTOR.name: module.DESCRIPTOR
    for module in (
        any_pb2, api_pb2, descriptor_pb2, duration_pb2, empty_pb2, field_mask_pb2,
        source_context_pb2, struct_pb2, timestamp_pb2, type_pb2, wrappers_pb2,
    )
}  # fmt: skip
"""The well-known types' files, by name, as this process's protobuf runtime has them."""


class DescriptorSetError(GatewayError):
    """A route's descriptor set cannot be used; ``reason`` says why (for the 502's detail)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class _Loaded:
    stamp: tuple[int, int, int]
    digest: str
    pool: DescriptorPool | None
    error: str | None


_loaded: dict[Path, _Loaded] = {}


def for_route(directory: Path | None, name: str | None) -> Callable[[], DescriptorPool] | None:
    """What a route's payloads are decoded with: its descriptor set's pool, loaded when first
    needed; None when the route names no descriptor set."""
    if name is None:
        return None
    return lambda: pool(directory, name)


_well_known: list[DescriptorPool] = []


def well_known() -> DescriptorPool:
    """A pool of the well-known types only (``google.protobuf.Struct``…): what every route
    decodes without a descriptor set of its own."""
    if not _well_known:
        _well_known.append(_pool_of([]))
    return _well_known[0]


def pool(directory: Path | None, name: str) -> DescriptorPool:
    """The pool of descriptor set ``name`` in ``directory``, loaded once per file content.

    Raises:
        DescriptorSetError: no directory is configured, or the file is missing or is not a
            complete FileDescriptorSet.
    """
    if directory is None:
        raise DescriptorSetError(
            f"the route names descriptor set {name!r}, and API_DESCRIPTOR_SETS_DIR is not set"
        )
    path = directory / name
    try:
        stat = os.stat(path)
    except OSError as exc:
        raise DescriptorSetError(
            f"descriptor set {name!r} cannot be read: {exc.strerror}"
        ) from None
    stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
    loaded = _loaded.get(path)
    if loaded is None or loaded.stamp != stamp:
        loaded = _load(path, name, stamp, loaded)
        _loaded[path] = loaded
    if loaded.pool is None:
        raise DescriptorSetError(loaded.error or f"descriptor set {name!r} is unusable")
    return loaded.pool


def _load(path: Path, name: str, stamp: tuple[int, int, int], before: _Loaded | None) -> _Loaded:
    try:
        data = path.read_bytes()
    except OSError as exc:
        return _Loaded(stamp, "", None, f"descriptor set {name!r} cannot be read: {exc.strerror}")
    digest = hashlib.sha256(data).hexdigest()
    if before is not None and before.digest == digest:
        return _Loaded(stamp, digest, before.pool, before.error)  # touched, not changed
    try:
        made: DescriptorPool | None = build_pool(data)
        error = None
    except DescriptorSetError as exc:
        made, error = None, f"descriptor set {name!r}: {exc.reason}"
        log.warning("descriptor set unusable", path=str(path), error=error)
    else:
        log.info("descriptor set loaded", path=str(path), sha256=digest[:12])
    return _Loaded(stamp, digest, made, error)


def build_pool(data: bytes) -> DescriptorPool:
    """A pool of the files in a serialized FileDescriptorSet, and the well-known types.

    Raises:
        DescriptorSetError: ``data`` is not a FileDescriptorSet, or a file imports one the set
            does not hold.
    """
    try:
        files = descriptor_pb2.FileDescriptorSet.FromString(data).file
    except DecodeError:
        raise DescriptorSetError("not a serialized google.protobuf.FileDescriptorSet") from None
    if not files:
        raise DescriptorSetError("the FileDescriptorSet holds no file")
    return _pool_of(files)


def _pool_of(files: Sequence[descriptor_pb2.FileDescriptorProto]) -> DescriptorPool:
    """A pool of ``files`` and the well-known types, each file after its imports.

    Raises:
        DescriptorSetError: a file imports one neither ``files`` nor the well-known types hold.
    """
    by_name: dict[str, descriptor_pb2.FileDescriptorProto] = {}
    for name, known in _WELL_KNOWN.items():
        proto = descriptor_pb2.FileDescriptorProto()
        known.CopyToProto(proto)
        by_name[name] = proto
    by_name.update({f.name: f for f in files})  # the set's own copy wins
    made = DescriptorPool()
    added: set[str] = set()

    def add(name: str, importer: str, chain: tuple[str, ...]) -> None:
        # Dependencies first: the pool refuses a file whose imports it has not seen.
        if name in added:
            return
        proto = by_name.get(name)
        if proto is None:
            raise DescriptorSetError(
                f"{importer} imports {name}, which the set does not hold (build it with "
                "--include_imports, or buf build)"
            )
        if name in chain:
            raise DescriptorSetError(f"{name} imports itself (through {' > '.join(chain)})")
        for dependency in proto.dependency:
            add(dependency, name, (*chain, name))
        try:
            made.Add(proto)
        except (TypeError, ValueError) as exc:  # the runtime's words: a conflict, a bad type
            raise DescriptorSetError(f"{name}: {exc}") from None
        added.add(name)

    for name in (*_WELL_KNOWN, *(proto.name for proto in files)):
        add(name, name, ())
    return made

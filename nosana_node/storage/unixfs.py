"""UnixFS file nodes in dag-pb, as ``ipfs add`` writes them with its CIDv0 defaults.

A leaf is ``PBNode{Data: UnixFS{Type: File, Data: chunk, filesize: len(chunk)}}``; an internal
node is ``PBNode{Links: [{Hash, Name: "", Tsize}...], Data: UnixFS{Type: File, filesize,
blocksizes}}`` with links before data (dag-pb's canonical order). ``Tsize`` is the encoded size of
the child's whole sub-DAG; ``blocksizes`` the file bytes under each child. A leaf's block is
``prefix + chunk + suffix`` (:func:`leaf_frame`), so a chunk is hashed and written without being
copied into a new buffer.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from nosana_node.storage.cid import MULTIHASH_PREFIX, Cid
from nosana_node.storage.errors import CorruptBlockError
from nosana_node.storage.protobuf import (
    LENGTH,
    VARINT,
    ProtobufError,
    bytes_field,
    fields,
    read_varint,
    uint_field,
    varint,
)

CHUNK_SIZE = 262_144
MAX_LINKS = 174
#: the largest block accepted from a store or a peer (bitswap's limit is 2 MiB)
MAX_BLOCK_SIZE = 2 * 1024 * 1024
TYPE_RAW, TYPE_DIRECTORY, TYPE_FILE = 0, 1, 2
_TYPE_NAMES = {1: "directory", 3: "metadata node", 4: "symlink", 5: "HAMT-sharded directory"}
_EMPTY_NAME = bytes_field(2, b"")  # go-merkledag writes the empty link name: kubo's CIDs have it


class Link(NamedTuple):
    """A child of an internal node: its CID, encoded sub-DAG size and file bytes."""

    cid: Cid
    tsize: int
    filesize: int


@lru_cache(maxsize=8)
def leaf_frame(size: int) -> tuple[bytes, bytes]:
    """``(prefix, suffix)`` around a chunk of ``size`` bytes (size > 0) in its leaf block."""
    head = uint_field(1, TYPE_FILE) + varint(2 << 3 | LENGTH) + varint(size)
    tail = uint_field(3, size)
    inner = len(head) + size + len(tail)
    return varint(1 << 3 | LENGTH) + varint(inner) + head, tail


def empty_file_block() -> bytes:
    """The single node of an empty file."""
    return bytes_field(1, uint_field(1, TYPE_FILE) + uint_field(3, 0))


@lru_cache(maxsize=64)
def _link_frame(tsize: int) -> tuple[bytes, bytes]:
    """``(head, tail)`` around a link's 32-byte digest: PBLink{Hash: 0x0a 0x22 0x12 0x20 <digest>,
    Name: "", Tsize: <varint>} as a field 2 of the node (the sizes of a DAG's links repeat)."""
    encoded = varint(tsize)
    head = b"\x12" + varint(39 + len(encoded)) + b"\x0a\x22" + MULTIHASH_PREFIX
    return head, _EMPTY_NAME + b"\x18" + encoded


@lru_cache(maxsize=64)
def _blocksize(filesize: int) -> bytes:
    return b"\x20" + varint(filesize)


def internal_block(links: list[Link]) -> bytes:
    """An internal file node over ``links``."""
    out = bytearray()
    sizes = bytearray()
    for link in links:
        head, tail = _link_frame(link.tsize)
        out += head
        out += link.cid.digest
        out += tail
        sizes += _blocksize(link.filesize)
    data = uint_field(1, TYPE_FILE) + uint_field(3, sum(link.filesize for link in links)) + sizes
    out += bytes_field(1, data)
    return bytes(out)


@dataclass(frozen=True, slots=True)
class FileNode:
    """A decoded UnixFS file node: ``data`` (leaves) or ``links`` with ``blocksizes``."""

    links: tuple[tuple[Cid, int], ...]
    data: memoryview
    filesize: int
    blocksizes: tuple[int, ...]


_FULL_PREFIX, _FULL_SUFFIX = leaf_frame(CHUNK_SIZE)
_FULL_LEAF = len(_FULL_PREFIX) + CHUNK_SIZE + len(_FULL_SUFFIX)


def decode(block: bytes | memoryview, cid: Cid) -> FileNode:
    """Decode a block known to hash to ``cid``; raises :class:`CorruptBlockError` unless it is a
    consistent UnixFS file (or raw) node."""
    if (  # a full leaf, as ipfs add writes it (most blocks): its frame says all, nothing to parse
        len(block) == _FULL_LEAF
        and block[: len(_FULL_PREFIX)] == _FULL_PREFIX
        and block[-len(_FULL_SUFFIX) :] == _FULL_SUFFIX
    ):
        return FileNode((), memoryview(block)[len(_FULL_PREFIX) : -len(_FULL_SUFFIX)], CHUNK_SIZE, ())
    try:
        return _decode(block, cid)
    except ProtobufError as exc:
        raise CorruptBlockError(f"block {cid} is not dag-pb: {exc}") from None


def _decode(block: bytes | memoryview, cid: Cid) -> FileNode:
    links: list[tuple[Cid, int]] = []
    unixfs: memoryview | None = None
    for number, wire, value in fields(block):
        if number == 2 and wire == LENGTH:
            links.append(_link(value, cid))  # type: ignore[arg-type]
        elif number == 1 and wire == LENGTH:
            unixfs = value  # type: ignore[assignment]
    if unixfs is None:
        raise CorruptBlockError(f"block {cid} has no UnixFS data (not a file added with ipfs add)")
    kind, data, filesize, sizes = TYPE_RAW, memoryview(b""), None, []
    for number, wire, value in fields(unixfs):
        if number == 1 and wire == VARINT:
            kind = value  # type: ignore[assignment]
        elif number == 2 and wire == LENGTH:
            data = value  # type: ignore[assignment]
        elif number == 3 and wire == VARINT:
            filesize = value
        elif number == 4 and wire == VARINT:
            sizes.append(value)
        elif number == 4 and wire == LENGTH:  # packed, as some encoders write it
            pos, packed = 0, value
            while pos < len(packed):  # type: ignore[arg-type]
                size, pos = read_varint(packed, pos)  # type: ignore[arg-type]
                sizes.append(size)
    if kind not in (TYPE_FILE, TYPE_RAW):
        what = _TYPE_NAMES.get(kind, f"UnixFS type {kind}")  # type: ignore[call-overload]
        raise CorruptBlockError(f"{cid} is a {what}, not a file")
    if len(sizes) != len(links):
        raise CorruptBlockError(f"block {cid}: {len(links)} links but {len(sizes)} block sizes")
    total = len(data) + sum(sizes)
    if filesize is not None and filesize != total:
        raise CorruptBlockError(f"block {cid}: file size {filesize} but its parts hold {total} bytes")
    return FileNode(tuple(links), data, total, tuple(sizes))


def _link(raw: memoryview, parent: Cid) -> tuple[Cid, int]:
    digest, tsize = None, 0
    for number, wire, value in fields(raw):
        if number == 1 and wire == LENGTH:
            multihash = bytes(value)  # type: ignore[arg-type]
            if len(multihash) != 34 or multihash[:2] != MULTIHASH_PREFIX:
                raise CorruptBlockError(
                    f"block {parent} links to a block that is not CIDv0 (raw leaves or CIDv1): "
                    "only ipfs add's CIDv0 layout is supported"
                )
            digest = multihash[2:]
        elif number == 3 and wire == VARINT:
            tsize = value  # type: ignore[assignment]
    if digest is None:
        raise CorruptBlockError(f"block {parent} has a link without a hash")
    return Cid(digest), tsize

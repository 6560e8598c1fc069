"""The embedded store: IPFS blocks in a directory, the node's default storage.

Layout under the root (``<home>/storage``): ``blocks/<2 hex>/<sha-256 hex>`` holds each block's
bytes, ``pins/<sha-256 hex>`` marks a pinned root, ``tmp/`` holds blocks being written. A block
is written to ``tmp/`` and renamed into place, so a reader (any process) sees a whole block or
none; a put writes every block before the root, so the root of an interrupted put is missing and
``get`` refuses it. Blocks are immutable and named by their hash: concurrent writers of the same
block write the same bytes. Every block read is hashed and checked against its CID, and each
node's sizes against its links, so ``stream`` yields only content that belongs to the CID.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import time
from collections.abc import Iterator
from pathlib import Path

from nosana_node import units
from nosana_node.storage.base import DEFAULT_MAX_SIZE, BaseStorage
from nosana_node.storage.cid import Cid
from nosana_node.storage.dag import Content, DagBuilder, SizeExceeded, pieces
from nosana_node.storage.errors import (
    CorruptBlockError,
    InputTooLargeError,
    NotFoundError,
    StorageError,
    TooLargeError,
)
from nosana_node.storage.unixfs import MAX_BLOCK_SIZE, FileNode, decode

#: deeper than any file a cap allows (174**8 chunks is ~10**12 GiB)
MAX_DEPTH = 8
#: temporary files older than this are leftovers of killed writers
STALE_TMP_SECONDS = 3600.0


class BlockStore:
    """Blocks on disk, by CID; the :class:`~nosana_node.storage.dag.BlockSink` of a put."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.blocks, self.pins, self.tmp = self.root / "blocks", self.root / "pins", self.root / "tmp"
        # plain strings on the hot paths: one block is a few syscalls, pathlib would double them
        self._blocks_dir, self._tmp_dir = str(self.blocks), str(self.tmp)
        self._tmp_pid, self._tmp_tag, self._tmp_seq = 0, "", itertools.count()
        try:
            for d in (self.blocks, self.pins, self.tmp):
                d.mkdir(parents=True, exist_ok=True)
            if not os.path.isdir(os.path.join(self._blocks_dir, "ff")):  # a new store: all shards now
                for shard in range(256):
                    os.makedirs(os.path.join(self._blocks_dir, f"{shard:02x}"), exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create the store at {self.root}: {exc.strerror}") from None

    def _path(self, cid: Cid) -> str:
        digest = cid.digest.hex()
        return f"{self._blocks_dir}/{digest[:2]}/{digest}"

    def path(self, cid: Cid) -> Path:
        """Where the block of ``cid`` lies."""
        return Path(self._path(cid))

    def has_block(self, cid: Cid) -> bool:
        return os.path.isfile(self._path(cid))

    # -- writing (BlockSink) ------------------------------------------------------------------------
    def leaf(self, cid: Cid, prefix: bytes, chunk: memoryview, suffix: bytes) -> None:
        self._write(cid, (prefix, chunk, suffix))

    def block(self, cid: Cid, block: bytes) -> None:
        self._write(cid, (block,))

    def _write(self, cid: Cid, parts: tuple[bytes | memoryview, ...]) -> None:
        target = self._path(cid)
        size = sum(len(p) for p in parts)
        with contextlib.suppress(OSError):
            if os.stat(target).st_size == size:
                return  # already there (same hash, same size)
        tmp = self._tmp_name()
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                written = os.writev(fd, parts)
                while written < size:  # short write (signals, odd filesystems): finish it
                    rest = b"".join(bytes(p) for p in parts)[written:]
                    written += os.write(fd, rest)
            finally:
                os.close(fd)
            try:
                os.replace(tmp, target)
            except FileNotFoundError:  # its shard was removed (by hand): make it again
                os.makedirs(os.path.dirname(target), exist_ok=True)
                os.replace(tmp, target)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise StorageError(f"cannot write block {cid} under {self.root}: {exc.strerror}") from None

    def _tmp_name(self) -> str:
        """A name in ``tmp/`` no other writer uses: pid, a random tag, a counter (new tag on fork)."""
        pid = os.getpid()
        if pid != self._tmp_pid:
            self._tmp_pid, self._tmp_tag, self._tmp_seq = pid, os.urandom(6).hex(), itertools.count()
        return f"{self._tmp_dir}/{pid}-{self._tmp_tag}-{next(self._tmp_seq)}"

    # -- reading ------------------------------------------------------------------------------------
    def read(self, cid: Cid) -> bytes:
        """The block's bytes, checked against its CID."""
        try:
            fd = os.open(self._path(cid), os.O_RDONLY)
            try:  # its size and one byte more (a read of MAX_BLOCK_SIZE would allocate 2 MiB)
                want = min(os.fstat(fd).st_size, MAX_BLOCK_SIZE) + 1
                block = os.read(fd, want)
                while 0 < len(block) < want and (more := os.read(fd, want - len(block))):
                    block += more  # short reads (signals, odd filesystems)
            finally:
                os.close(fd)
        except FileNotFoundError:
            raise NotFoundError(f"{cid}: not in the store at {self.root}") from None
        except OSError as exc:
            raise StorageError(f"cannot read block {cid} under {self.root}: {exc.strerror}") from None
        if len(block) > MAX_BLOCK_SIZE or hashlib.sha256(block).digest() != cid.digest:
            raise CorruptBlockError(
                f"block {cid} under {self.root} is damaged (does not hash to its CID); "
                f"delete {self.path(cid)} and store the content again"
            )
        return block

    # -- pins and housekeeping ----------------------------------------------------------------------
    def add_pin(self, cid: Cid) -> None:
        (self.pins / cid.digest.hex()).touch()

    def is_pinned(self, cid: Cid) -> bool:
        return (self.pins / cid.digest.hex()).exists()

    def sweep(self, now: float | None = None) -> int:
        """Remove temporary files left by writers killed long ago; returns how many."""
        now = time.time() if now is None else now
        removed = 0
        for entry in os.scandir(self.tmp):
            with contextlib.suppress(OSError):
                if now - entry.stat().st_mtime > STALE_TMP_SECONDS:
                    os.unlink(entry.path)
                    removed += 1
        return removed


class EmbeddedStorage(BaseStorage):
    """The default backend: a :class:`BlockStore` under ``<home>/storage``."""

    def __init__(self, root: Path, *, max_size: int = DEFAULT_MAX_SIZE) -> None:
        self.store = BlockStore(root)
        self.store.sweep()
        self.max_size = max_size
        self.name = f"embedded store {self.store.root}"

    def put(self, content: Content, *, max_size: int | None = None) -> Cid:
        cap = self.cap(max_size)
        builder = DagBuilder(self.store, max_size=cap)
        try:
            for piece in pieces(content):
                builder.feed(piece)
        except SizeExceeded:
            raise InputTooLargeError(
                f"content is larger than the storage cap of {units.size(cap)} (:storage :max-size)"
            ) from None
        except OSError as exc:
            raise StorageError(f"cannot read the content to store: {exc.strerror or exc}") from None
        cid = builder.finish()
        self.store.add_pin(cid)
        return cid

    def writer(self, max_size: int | None = None) -> DagBuilder:
        """An incremental put: ``feed`` pieces, ``finish()`` for the CID (raises SizeExceeded past
        the cap). Nothing is retrievable before ``finish``."""
        return DagBuilder(self.store, max_size=self.cap(max_size))

    def stream(self, cid: Cid | str, *, max_size: int | None = None) -> Iterator[bytes]:
        root = Cid.parse(cid)
        cap = self.cap(max_size)
        block = self.store.read(root)
        node = decode(block, root)
        if node.filesize > cap:
            raise TooLargeError(
                f"{root} holds {units.approx_size(node.filesize)}, over the cap of {units.size(cap)}"
            )
        return self._walk(root, node, 0)

    def _walk(self, cid: Cid, node: FileNode, depth: int) -> Iterator[bytes]:
        if node.data:
            yield bytes(node.data)
        if node.links and depth >= MAX_DEPTH:
            raise CorruptBlockError(f"{cid}: the DAG is deeper than {MAX_DEPTH} levels")
        for (child, _tsize), expected in zip(node.links, node.blocksizes, strict=True):
            sub = decode(self.store.read(child), child)
            if sub.filesize != expected:
                raise CorruptBlockError(
                    f"block {cid} says {child} holds {expected} bytes, but it holds {sub.filesize}"
                )
            yield from self._walk(child, sub, depth + 1)

    def pin(self, cid: Cid | str) -> None:
        root = Cid.parse(cid)
        if not self.has(root):
            raise NotFoundError(f"{root}: not in the store at {self.store.root} (nothing to pin)")
        self.store.add_pin(root)

    def has(self, cid: Cid | str) -> bool:
        """Whether every block of ``cid`` is here. Internal nodes are read and checked; leaves
        (all at the depth of the first one, as this store's balanced DAGs have them) are looked up."""
        root = Cid.parse(cid)
        try:
            node = decode(self.store.read(root), root)
            depth, first = 0, node
            while first.links and depth <= MAX_DEPTH:
                child = first.links[0][0]
                first = decode(self.store.read(child), child)
                depth += 1
            return depth <= MAX_DEPTH and self._complete(node, depth)
        except (NotFoundError, CorruptBlockError):
            return False

    def _complete(self, node: FileNode, leaf_depth: int) -> bool:
        for child, _tsize in node.links:
            if leaf_depth == 1:
                if not self.store.has_block(child):
                    return False
            elif not self._complete(decode(self.store.read(child), child), leaf_depth - 1):
                return False
        return True

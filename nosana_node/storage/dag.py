"""Chunking and the balanced layout: bytes in, the CID ``ipfs add`` (CIDv0 defaults) gives out.

:class:`DagBuilder` takes bytes in pieces of any size, cuts 262,144-byte chunks, hashes each leaf
block as ``prefix + chunk + suffix`` without copying the chunk, and groups links 174 to a node,
bottom-up, closing a node as soon as it is full. At the end, partial nodes are closed from the
bottom; a level holding a single link with nothing above it is the root (so a one-chunk file is
its own leaf, and a partial last subtree keeps its depth, as kubo's balanced builder does).
Only the pending links of each level are kept: memory is O(174 * depth) whatever the size.

A :class:`BlockSink` receives every block (leaves in pieces) in an order where children come
before their parents, so a store that writes them in turn holds the root last.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from hashlib import sha256
from typing import BinaryIO, Protocol

from nosana_node.storage.cid import Cid
from nosana_node.storage.unixfs import (
    CHUNK_SIZE,
    MAX_LINKS,
    Link,
    empty_file_block,
    internal_block,
    leaf_frame,
)

#: what ``put`` and the CID functions take: bytes, a binary file, or an iterable of bytes pieces
Content = bytes | bytearray | memoryview | BinaryIO | Iterable[bytes]
READ_SIZE = 16 * CHUNK_SIZE


class BlockSink(Protocol):
    """Where a builder's blocks go (a store); a leaf arrives as its three pieces."""

    def leaf(self, cid: Cid, prefix: bytes, chunk: memoryview, suffix: bytes) -> None: ...

    def block(self, cid: Cid, block: bytes) -> None: ...


class SizeExceeded(Exception):
    """More bytes than the builder's ``max_size`` (callers turn it into their own error)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit} bytes")
        self.limit = limit


class DagBuilder:
    """Incremental CIDv0 of a byte stream; blocks go to ``sink`` when one is given."""

    def __init__(
        self,
        sink: BlockSink | None = None,
        max_size: int | None = None,
        *,
        chunk_size: int = CHUNK_SIZE,
        max_links: int = MAX_LINKS,
    ) -> None:
        self.sink = sink
        self.max_size = max_size
        #: kubo's defaults; other values only to test the layout on small trees
        self.chunk_size, self.max_links = chunk_size, max_links
        self._full_frame = leaf_frame(chunk_size)
        self.size = 0
        #: encoded size of the whole DAG (the root's Tsize), known after :meth:`finish`
        self.dag_size = 0
        self._pending = bytearray()
        self._levels: list[list[Link]] = [[]]
        self._cid: Cid | None = None

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Add bytes. A full chunk in ``data`` is hashed in place; ``data`` may be reused after."""
        if self._cid is not None:
            raise RuntimeError("feed after finish")
        view = memoryview(data).cast("B")
        if not view:
            return
        self.size += len(view)
        if self.max_size is not None and self.size > self.max_size:
            raise SizeExceeded(self.max_size)
        pos = 0
        if self._pending:
            take = min(self.chunk_size - len(self._pending), len(view))
            self._pending += view[:take]
            pos = take
            if len(self._pending) < self.chunk_size:
                return
            self._leaf(memoryview(self._pending))
            self._pending = bytearray()
        end = len(view)
        step = self.chunk_size
        while end - pos >= step:
            self._leaf(view[pos : pos + step])
            pos += step
        if pos < end:
            self._pending += view[pos:]

    def finish(self) -> Cid:
        """Close the DAG and return the root CID (idempotent)."""
        if self._cid is not None:
            return self._cid
        if self._pending:
            self._leaf(memoryview(self._pending))
            self._pending = bytearray()
        if self.size == 0:
            block = empty_file_block()
            root = Link(Cid.of_block(block), len(block), 0)
            if self.sink is not None:
                self.sink.block(root.cid, block)
        else:
            root = self._close_levels()
        self._cid, self.dag_size = root.cid, root.tsize
        return root.cid

    def _leaf(self, chunk: memoryview) -> None:
        size = len(chunk)
        prefix, suffix = self._full_frame if size == self.chunk_size else leaf_frame(size)
        h = sha256(prefix)
        h.update(chunk)
        h.update(suffix)
        cid = Cid.of_digest(h.digest())
        if self.sink is not None:
            self.sink.leaf(cid, prefix, chunk, suffix)
        links = self._levels[0]
        links.append(Link(cid, len(prefix) + size + len(suffix), size))
        if len(links) == self.max_links:
            self._levels[0] = []
            self._push(1, self._node(links))

    def _push(self, level: int, link: Link) -> None:
        if level == len(self._levels):
            self._levels.append([])
        links = self._levels[level]
        links.append(link)
        if len(links) == self.max_links:
            self._levels[level] = []
            self._push(level + 1, self._node(links))

    def _node(self, links: list[Link]) -> Link:
        block = internal_block(links)
        cid = Cid.of_block(block)
        if self.sink is not None:
            self.sink.block(cid, block)
        return Link(cid, len(block) + sum(x.tsize for x in links), sum(x.filesize for x in links))

    def _close_levels(self) -> Link:
        level = 0
        while True:
            links = self._levels[level]
            above = any(self._levels[level + 1 :])
            if links and not above and len(links) == 1:
                return links[0]
            if links:
                self._levels[level] = []
                self._push(level + 1, self._node(links))
            level += 1


def pieces(content: Content) -> Iterator[bytes | memoryview]:
    """``content`` as pieces: bytes-like as one view, a file read into a reused buffer (each piece
    is valid until the next one is taken), any other iterable as it comes."""
    if isinstance(content, bytes | bytearray | memoryview):
        yield memoryview(content)
        return
    readinto = getattr(content, "readinto", None)
    if readinto is not None:
        buffer = bytearray(READ_SIZE)
        view = memoryview(buffer)
        while True:
            n = readinto(buffer)
            if not n:
                return
            yield view[:n]
        return
    read = getattr(content, "read", None)
    if read is not None:
        while piece := read(READ_SIZE):
            yield piece
        return
    for piece in content:  # type: ignore[union-attr]
        if not isinstance(piece, bytes | bytearray | memoryview):
            raise TypeError(f"content pieces must be bytes, not {type(piece).__name__}")
        yield piece


def cid_of(content: Content, *, max_size: int | None = None) -> Cid:
    """The CID ``ipfs add`` (CIDv0 defaults) gives ``content``; nothing is stored."""
    builder = DagBuilder(max_size=max_size)
    for piece in pieces(content):
        builder.feed(piece)
    return builder.finish()

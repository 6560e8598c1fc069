"""The storage interface every backend implements, and what they share.

:class:`Storage` is the seam the node and the job commands use: ``put`` content and get its
CID, ``get``/``stream`` content by CID (always verified against it, never more than a cap),
``pin`` and ``has``. The contract of :meth:`Storage.stream`: bytes come as they are read; the
check against the CID completes when the iterator ends, so nothing is final until it ends
without an error (:func:`save` writes a file that way: a temporary file renamed at the end).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from nosana_node import units
from nosana_node.config.schema import StorageConfig
from nosana_node.storage.cid import Cid
from nosana_node.storage.dag import Content, DagBuilder
from nosana_node.storage.errors import ContentMismatchError, StorageError, TooLargeError

#: default cap on what one put or get moves (``:storage :max-size``)
DEFAULT_MAX_SIZE: int = StorageConfig.max_size


@runtime_checkable
class Storage(Protocol):
    """Content-addressed storage: CIDv0 in, bytes out, verified."""

    #: what this backend is, for messages: ``embedded /home/x/storage``, ``kubo http://…``
    name: str
    #: the cap applied when a call gives none
    max_size: int

    def put(self, content: Content) -> Cid:
        """Store ``content`` (bytes, a binary file or an iterable of bytes); return its CID."""
        ...

    def put_json(self, document: Any) -> Cid:
        """Store a JSON document (compact, key order kept, UTF-8); return its CID."""
        ...

    def stream(self, cid: Cid | str, *, max_size: int | None = None) -> Iterator[bytes]:
        """The content of ``cid`` in pieces; raises a StorageError (mismatch, missing, over the
        cap, backend down) at the latest when the last piece has been taken."""
        ...

    def get(self, cid: Cid | str, *, max_size: int | None = None) -> bytes:
        """The whole content of ``cid``, verified."""
        ...

    def pin(self, cid: Cid | str) -> None:
        """Ask the backend to keep ``cid`` (all of its blocks)."""
        ...

    def has(self, cid: Cid | str) -> bool:
        """Whether the backend keeps ``cid``."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...

    def __enter__(self) -> Storage: ...

    def __exit__(self, *exc: object) -> None: ...


def encode_json(document: Any) -> bytes:
    """A JSON document as stored: compact, keys in their order, UTF-8 (as JSON.stringify)."""
    try:
        return json.dumps(document, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        raise StorageError(f"cannot store the document as JSON: {exc}") from None


class BaseStorage:
    """What backends share: ``get`` over ``stream``, ``put_json`` over ``put``, context manager."""

    name = "storage"
    max_size = DEFAULT_MAX_SIZE

    def put(self, content: Content) -> Cid:  # pragma: no cover - every backend defines it
        raise NotImplementedError

    def stream(self, cid: Cid | str, *, max_size: int | None = None) -> Iterator[bytes]:  # pragma: no cover
        raise NotImplementedError

    def put_json(self, document: Any) -> Cid:
        return self.put(encode_json(document))

    def get(self, cid: Cid | str, *, max_size: int | None = None) -> bytes:
        out = bytearray()
        for piece in self.stream(cid, max_size=max_size):
            out += piece
        return bytes(out)

    def close(self) -> None:
        """Release connections."""

    def cap(self, max_size: int | None) -> int:
        """The cap of one call."""
        return self.max_size if max_size is None else max_size

    def __enter__(self) -> BaseStorage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Verifier:
    """Checks a byte stream against a CID while it passes: size cap on the way, CID at the end."""

    def __init__(self, cid: Cid, max_size: int, source: str) -> None:
        self.cid, self.max_size, self.source = cid, max_size, source
        self._builder = DagBuilder()

    def feed(self, piece: bytes | memoryview) -> None:
        if self._builder.size + len(piece) > self.max_size:
            raise TooLargeError(f"{self.cid} from {self.source} is larger than {units.size(self.max_size)}")
        self._builder.feed(piece)

    def finish(self) -> None:
        got = self._builder.finish()
        if got != self.cid:
            raise ContentMismatchError(
                f"{self.source} sent {units.approx_size(self._builder.size)} for {self.cid} "
                f"that hash to {got}: refused (a CIDv0 must be ipfs add's default chunking of the content)"
            )


def save(storage: Storage, cid: Cid | str, path: Path, *, max_size: int | None = None) -> int:
    """Write the content of ``cid`` to ``path`` (a temporary file in the same directory, renamed
    when complete and verified; nothing is left on failure). Returns the size."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            for piece in storage.stream(cid, max_size=max_size):
                out.write(piece)
                size += len(piece)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return size

"""A content-addressed store of blobs (artifact tars), named by their sha256.

Blobs are written through a :class:`BlobWriter` that hashes and counts while writing (nothing is
read back), then moved into place as ``sha256/<hex>``. Writing the same content twice keeps one
copy. A size cap stops a writer as the bytes arrive: nothing past the cap is ever written, and
:class:`ArtifactTooLargeError` is raised (the reader then drops the stream). A write the disk
refuses raises :class:`ArtifactWriteError` (reason ``storage``: a fault of the node). Either way
the partial blob is removed when the writer's block is left.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from nosana_node.errors import NosanaError
from nosana_node.units import approx_size

PREFIX = "sha256:"


class ArtifactTooLargeError(NosanaError):
    """A blob grew past the configured cap."""

    reason = "artifact"


class ArtifactWriteError(NosanaError):
    """The node's disk refused a blob (full, read-only): a fault of the node, resumable."""

    reason = "storage"


@dataclass(frozen=True)
class Blob:
    """A stored blob: its digest (``sha256:<hex>``), size in bytes and file path."""

    digest: str
    size: int
    path: Path


class BlobWriter:
    """Writes one blob: hash and size are computed on the fly; :meth:`commit` stores it."""

    def __init__(self, store: ArtifactStore, cap: int | None, what: str) -> None:
        self._store = store
        self._cap = cap
        self._what = what
        try:
            fd, name = tempfile.mkstemp(dir=store.tmp_dir, prefix="blob-")
        except OSError as exc:
            raise ArtifactWriteError(
                f"cannot store {what} under {store.root}: {exc.strerror or exc}"
            ) from None
        self._file = os.fdopen(fd, "wb", buffering=0)
        self._tmp = Path(name)
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes | memoryview) -> int:
        """Append ``data``; raises :class:`ArtifactTooLargeError` past the cap (nothing of ``data``
        is written then) and :class:`ArtifactWriteError` when the disk refuses it."""
        if self._cap is not None and self.size + len(data) > self._cap:
            raise ArtifactTooLargeError(f"{self._what} exceeds the artifact cap of {approx_size(self._cap)}")
        try:
            self._file.write(data)
        except OSError as exc:
            raise ArtifactWriteError(
                f"cannot store {self._what} under {self._store.root}: {exc.strerror or exc}"
            ) from None
        self.size += len(data)
        self._hash.update(data)
        return len(data)

    @property
    def tmp_path(self) -> Path:
        """The partial blob's file (complete once :meth:`close` was called)."""
        return self._tmp

    def close(self) -> None:
        """Finish writing (the blob can then be checked at :attr:`tmp_path` before commit)."""
        try:
            self._file.close()
        except OSError as exc:
            raise ArtifactWriteError(
                f"cannot store {self._what} under {self._store.root}: {exc.strerror}"
            ) from None

    def commit(self) -> Blob:
        """Close and move the blob into place; returns it."""
        self._file.close()
        digest = PREFIX + self._hash.hexdigest()
        path = self._store.path(digest)
        if path.exists():
            self._tmp.unlink()
        else:
            os.replace(self._tmp, path)
        return Blob(digest=digest, size=self.size, path=path)

    def abort(self) -> None:
        """Drop the partial blob."""
        with contextlib.suppress(OSError):
            self._file.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if self._tmp.exists():  # not committed
            self.abort()


class ArtifactStore:
    """Blobs under ``root/sha256/``; partial writes under ``root/tmp/``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.blob_dir = root / "sha256"
        self.tmp_dir = root / "tmp"
        try:
            self.blob_dir.mkdir(parents=True, exist_ok=True)
            self.tmp_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ArtifactWriteError(
                f"cannot make the artifact store {root}: {exc.strerror or exc}"
            ) from None

    def writer(self, cap: int | None = None, what: str = "artifact") -> BlobWriter:
        """A new writer; use as a context manager and call :meth:`BlobWriter.commit`."""
        return BlobWriter(self, cap, what)

    def path(self, digest: str) -> Path:
        """Where the blob ``digest`` lives (whether or not it exists)."""
        if not digest.startswith(PREFIX) or len(digest) != len(PREFIX) + 64:
            raise NosanaError(f"invalid artifact digest {digest!r}")
        return self.blob_dir / digest[len(PREFIX) :]

    def has(self, digest: str) -> bool:
        """True when the blob is stored."""
        return self.path(digest).is_file()

    def open(self, digest: str) -> BinaryIO:
        """Open a stored blob for reading."""
        path = self.path(digest)
        if not path.is_file():
            raise NosanaError(f"artifact {digest} is not in the store at {self.root}")
        return path.open("rb")

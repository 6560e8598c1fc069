"""The resource cache under ``<home>/resources``: files by content, directories by content.

Layout::

    blobs/<sha256>          every file fetched, once, read-only, named by its content hash
    trees/<tree id>/...     a resource's directory: hard links to blobs (the tree id hashes the listing)
    index/<key hash>        "this remote version is that blob" (an S3 ETag, a Hugging Face blob id …)
    refs/<key hash>.json    the last tree of a resource spec, to serve it when the source is unreachable
    tmp/                    downloads in progress and trees being built (same filesystem: renames are atomic)
    locks/<key hash>        one fetch of a resource at a time, across threads and processes

Rules: a download lands in ``tmp/`` and becomes a blob only once complete and verified (its size,
and its sha256 or MD5 when the source states one); a tree appears by one ``rename`` once all its
links are in place. So nothing partial is ever visible under ``blobs/`` or ``trees/``, and jobs
sharing a resource share its files.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, ClassVar

from nosana_node.resources.errors import ChecksumMismatch, ResourceError, ResourceTooLarge

CHUNK = 1024 * 1024


def key_hash(key: str) -> str:
    """A file-name-safe digest of any key."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class TreeEntry:
    """One file of a tree: its relative path and content hash."""

    path: str
    sha256: str
    size: int


class HashingWriter:
    """A binary sink that hashes (sha256, md5) and counts what it writes, refusing past ``limit`` bytes."""

    def __init__(self, handle: BinaryIO, limit: int | None, what: str, md5: bool = False) -> None:
        self.handle = handle
        self.limit = limit
        self.what = what
        self.size = 0
        self.want_md5 = md5
        self._sha = hashlib.sha256()
        self._md5 = hashlib.md5(usedforsecurity=False)

    def write(self, data: bytes) -> int:
        """Write ``data``; :class:`ResourceTooLarge` past the limit."""
        self.size += len(data)
        if self.limit is not None and self.size > self.limit:
            raise ResourceTooLarge(f"{self.what}: larger than the limit of {self.limit} bytes")
        self._sha.update(data)
        if self.want_md5:
            self._md5.update(data)
        return self.handle.write(data)

    def tell(self) -> int:
        """Bytes written so far."""
        return self.size

    def seek(self, position: int, whence: int = 0) -> int:
        """Go back to ``position`` (a restarted download); the hashes are rebuilt from the file."""
        if whence != 0:
            raise OSError("only absolute seeks are supported")
        self.handle.flush()
        self.handle.seek(position)
        self.size = position
        self._sha, self._md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
        with open(self.handle.name, "rb") as again:
            remaining = position
            while remaining:
                chunk = again.read(min(CHUNK, remaining))
                if not chunk:
                    break
                self._sha.update(chunk)
                if self.want_md5:
                    self._md5.update(chunk)
                remaining -= len(chunk)
        return position

    def truncate(self, size: int | None = None) -> int:
        """Cut the file at the current position."""
        return self.handle.truncate(self.size if size is None else size)

    def flush(self) -> None:
        """Flush the file."""
        self.handle.flush()

    @property
    def sha256(self) -> str:
        """Hex sha256 of what was written."""
        return self._sha.hexdigest()

    @property
    def md5(self) -> str:
        """Hex MD5 of what was written (S3 single-part ETags); only when asked for at the start."""
        if not self.want_md5:
            raise ValueError("this writer was not asked to compute MD5")
        return self._md5.hexdigest()


class ContentCache:
    """Blobs, trees and the index under one root; safe for concurrent threads and processes."""

    _thread_locks: ClassVar[dict[str, threading.Lock]] = {}
    _guard = threading.Lock()

    def __init__(self, root: Path) -> None:
        self.root = root
        for sub in ("blobs", "trees", "index", "refs", "tmp", "locks"):
            (root / sub).mkdir(parents=True, exist_ok=True)

    # -- blobs -----------------------------------------------------------------------------------

    def blob(self, sha256: str) -> Path | None:
        """The blob with this content hash, if present."""
        path = self.root / "blobs" / sha256
        return path if path.is_file() else None

    @contextlib.contextmanager
    def ingest(self, what: str, limit: int | None = None, md5: bool = False) -> Iterator[HashingWriter]:
        """A writer for one download; the caller verifies, then :meth:`commit` makes the blob.

        Whatever happens, the temporary file is gone when the block ends (a committed blob is a
        link to it, made before).
        """
        tmp = self.root / "tmp" / f"dl-{uuid.uuid4().hex}"
        try:
            with open(tmp, "wb") as handle:
                writer = HashingWriter(handle, limit, what, md5=md5)
                writer.tmp_path = tmp  # type: ignore[attr-defined]
                yield writer
        finally:
            tmp.unlink(missing_ok=True)

    def commit(
        self, writer: HashingWriter, expect_sha256: str | None = None, expect_md5: str | None = None
    ) -> str:
        """Verify ``writer``'s content and link it into ``blobs/``; returns its sha256."""
        writer.flush()
        if expect_sha256 and writer.sha256 != expect_sha256:
            raise ChecksumMismatch(f"{writer.what}: sha256 is {writer.sha256}, expected {expect_sha256}")
        if expect_md5 and writer.md5 != expect_md5:
            raise ChecksumMismatch(f"{writer.what}: MD5 is {writer.md5}, expected {expect_md5} (the ETag)")
        tmp: Path = writer.tmp_path  # type: ignore[attr-defined]
        os.fsync(writer.handle.fileno())
        target = self.root / "blobs" / writer.sha256
        os.chmod(tmp, 0o444)
        with contextlib.suppress(FileExistsError):  # another fetch stored the same content first
            os.link(tmp, target)
        return writer.sha256

    # -- index (remote version → blob) ------------------------------------------------------------

    def lookup(self, version: str) -> str | None:
        """The sha256 recorded for a remote version, if its blob is still here."""
        path = self.root / "index" / key_hash(version)
        try:
            sha = path.read_text().strip()
        except FileNotFoundError:
            return None
        return sha if self.blob(sha) else None

    def remember(self, version: str, sha256: str) -> None:
        """Record that ``version`` has content ``sha256``."""
        self._write_atomic(self.root / "index" / key_hash(version), sha256.encode())

    # -- trees and refs ----------------------------------------------------------------------------

    def tree(self, entries: list[TreeEntry]) -> Path:
        """The directory holding ``entries`` (built once; the id hashes the sorted listing)."""
        listing = sorted(entries, key=lambda e: e.path)
        manifest = json.dumps([[e.path, e.sha256, e.size] for e in listing], separators=(",", ":"))
        tree_id = hashlib.sha256(manifest.encode()).hexdigest()
        final = self.root / "trees" / tree_id
        if final.is_dir():
            return final
        building = self.root / "tmp" / f"tree-{uuid.uuid4().hex}"
        try:
            building.mkdir()
            for entry in listing:
                blob = self.blob(entry.sha256)
                if blob is None:
                    raise ResourceError(f"cache: blob {entry.sha256} for {entry.path!r} is missing")
                dest = building / entry.path
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.link(blob, dest)
            for directory in sorted((p for p in building.rglob("*") if p.is_dir()), reverse=True):
                os.chmod(directory, 0o555)
            os.chmod(building, 0o555)
            try:
                os.rename(building, final)
            except OSError:  # built at the same time by another fetch: theirs is identical
                if not final.is_dir():
                    raise
        finally:
            if building.exists():
                _remove_tree(building)
        return final

    def save_ref(self, key: str, tree: Path, name: str) -> None:
        """Remember ``tree`` as the current content of resource ``key``."""
        body = json.dumps({"name": name, "tree": tree.name, "fetched_at": time.time()})
        self._write_atomic(self.root / "refs" / f"{key_hash(key)}.json", body.encode())

    def ref(self, key: str) -> tuple[Path, float] | None:
        """The last tree of resource ``key`` and when it was fetched, if still present."""
        try:
            data = json.loads((self.root / "refs" / f"{key_hash(key)}.json").read_text())
        except (FileNotFoundError, ValueError):
            return None
        tree = self.root / "trees" / str(data.get("tree", ""))
        return (tree, float(data.get("fetched_at", 0))) if data.get("tree") and tree.is_dir() else None

    # -- locking -----------------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, key: str, timeout: float, what: str) -> Iterator[None]:
        """Hold the fetch lock of ``key`` (threads, then processes); :class:`ResourceError` on timeout."""
        digest = key_hash(key)
        with self._guard:
            thread_lock = self._thread_locks.setdefault(digest, threading.Lock())
        if not thread_lock.acquire(timeout=timeout):
            raise ResourceError(f"{what}: another fetch of it did not finish within {timeout:.0f} s")
        try:
            deadline = time.monotonic() + timeout
            with open(self.root / "locks" / digest, "a+b") as handle:
                delay = 0.01
                while True:
                    try:
                        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if time.monotonic() >= deadline:
                            raise ResourceError(
                                f"{what}: another process's fetch of it did not finish within {timeout:.0f} s"
                            ) from None
                        time.sleep(delay)  # another process holds it: poll with backoff
                        delay = min(delay * 2, 0.5)
                try:
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
        finally:
            thread_lock.release()

    # -- helpers -----------------------------------------------------------------------------------

    def free_bytes(self) -> int:
        """Free space on the cache's filesystem."""
        return shutil.disk_usage(self.root).free

    def _write_atomic(self, path: Path, data: bytes) -> None:
        tmp = self.root / "tmp" / f"w-{uuid.uuid4().hex}"
        tmp.write_bytes(data)
        os.replace(tmp, path)


def _remove_tree(path: Path) -> None:
    for directory in [path, *(p for p in path.rglob("*") if p.is_dir())]:
        with contextlib.suppress(OSError):
            os.chmod(directory, 0o755)
    shutil.rmtree(path, ignore_errors=True)

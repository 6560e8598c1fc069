"""The seam between the cache and where resources come from: a :class:`Source` lists and downloads.

A source (S3, Hugging Face, an Ollama registry) turns one resource spec into a listing of
:class:`RemoteFile` — where each file goes in the resource's directory, what identifies this
version of it at the source, and the size and hash the source states — and downloads one file
into a writer. It maps its client's exceptions to :mod:`nosana_node.resources.errors` in one
place; everything else (caching, verifying, limits, locking) is the store's job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from nosana_node.resources.cache import HashingWriter
from nosana_node.resources.errors import ResourceError


@dataclass(frozen=True)
class RemoteFile:
    """One file of a resource as its source describes it."""

    path: str
    version: str
    size: int | None = None
    sha256: str | None = None
    md5: str | None = None


class Source(Protocol):
    """Where one resource spec's files come from."""

    #: how messages name the resource, e.g. ``S3 resource s3://models/llama``
    name: str
    #: identity of the spec: the same key means the same files (lock, last known tree)
    key: str
    #: whether the key pins the content forever (a commit, a digest): no listing once cached
    immutable: bool

    def listing(self) -> list[RemoteFile]:
        """The files of the resource now; raises a :class:`ResourceError`."""
        ...

    def download(self, file: RemoteFile, out: HashingWriter) -> None:
        """Write ``file``'s content into ``out``; raises a :class:`ResourceError`."""
        ...


def safe_relative(path: str, what: str) -> str:
    """``path`` if it is a plain relative path (no ``..``, no absolute, no empty segment)."""
    parts = path.split("/")
    if not path or path.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\x00" in path:
        raise ResourceError(f"{what}: refusing the file name {path!r} (not a plain relative path)")
    return path

"""Fetching resources into the cache, once, before the container that needs them starts.

:meth:`ResourceStore.fetch` takes one resource spec (S3, HF or Ollama) and returns the host
directory holding its files, ready to be mounted (read-only) at the resource's ``target``:

1. only one fetch of a resource runs at a time (threads and processes); a second job asking for
   it waits, then finds it cached;
2. the source lists the files (a small metadata request) — skipped when the spec pins its content
   (a commit, a digest) and it is cached; when the source is unreachable, the last fetched copy
   serves (``stale``);
3. each file whose remote version is already known is taken from the cache: no bytes fetched;
   the others are downloaded into ``tmp/``, checked (size; sha256 or MD5 when the source states
   one) and stored by content;
4. the directory is assembled from hard links and appears at once.

Limits: files and bytes per resource, free disk space, per-request timeouts. Any failure is a
:class:`ResourceError` whose message starts with the resource's name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nosana_node.jobdef.schema import HFResource, OllamaResource, RemoteResource
from nosana_node.resources.cache import ContentCache, TreeEntry
from nosana_node.resources.errors import ResourceError, ResourceTooLarge, SourceUnreachable
from nosana_node.resources.guard import AddressGuard
from nosana_node.resources.s3 import CredentialSource, S3Source
from nosana_node.resources.settings import ResourceSettings
from nosana_node.resources.source import RemoteFile, Source

#: ``progress(resource name, bytes done, bytes total)`` during downloads
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Fetched:
    """The outcome of one fetch: the directory and what it cost."""

    path: Path
    name: str
    files: int
    size: int
    fetched_files: int
    fetched_bytes: int
    stale: bool = False


class ResourceStore:
    """The node's resource cache (``<home>/resources``) and the sources behind it."""

    def __init__(
        self,
        home: Path,
        settings: ResourceSettings | None = None,
        credentials: CredentialSource | None = None,
        guard: AddressGuard | None = None,
    ) -> None:
        self.settings = settings or ResourceSettings()
        self.cache = ContentCache(home / "resources")
        self.credentials = credentials
        self.guard = guard  # a market job's store: endpoints must be public (see resources.guard)

    def source(self, resource: RemoteResource) -> Source:
        """The :class:`Source` for a validated resource spec."""
        if isinstance(resource, HFResource):
            from nosana_node.resources.hf import HFSource

            return HFSource(resource, self.settings, self.guard)
        if isinstance(resource, OllamaResource):
            from nosana_node.resources.ollama import OllamaSource

            return OllamaSource(resource, self.settings, self.guard)
        return S3Source(resource, self.settings, self.credentials, self.guard)

    def host_dir(self, resource: RemoteResource, progress: Progress | None = None) -> Path:
        """The host directory to mount for ``resource`` (fetched first if needed)."""
        return self.fetch(resource, progress).path

    def fetch(self, resource: RemoteResource, progress: Progress | None = None) -> Fetched:
        """Fetch ``resource`` into the cache (see the module's rules)."""
        return self.fetch_source(self.source(resource), progress)

    def fetch_source(self, source: Source, progress: Progress | None = None) -> Fetched:
        """Fetch whatever ``source`` lists (the core of :meth:`fetch`)."""
        with self.cache.lock(source.key, self.settings.lock_timeout, source.name):
            known = self.cache.ref(source.key)
            if known is not None and source.immutable:
                return self._cached(source, known[0])
            try:
                files = source.listing()
            except SourceUnreachable:
                if known is None:
                    raise
                return self._cached(source, known[0], stale=True)
            return self._fetch_files(source, files, progress)

    def _cached(self, source: Source, tree: Path, stale: bool = False) -> Fetched:
        count = size = 0
        for path in tree.rglob("*"):
            if path.is_file():
                count += 1
                size += path.stat().st_size
        return Fetched(tree, source.name, count, size, 0, 0, stale)

    def _fetch_files(self, source: Source, files: list[RemoteFile], progress: Progress | None) -> Fetched:
        limits = self.settings
        if len(files) > limits.max_files:
            raise ResourceTooLarge(
                f"{source.name}: {len(files)} files, more than the limit of {limits.max_files}"
            )
        total = sum(f.size or 0 for f in files)
        if total > limits.max_bytes:
            raise ResourceTooLarge(f"{source.name}: {total} bytes, more than the limit of {limits.max_bytes}")
        plan: list[tuple[RemoteFile, str | None]] = [(f, self._known(f)) for f in files]
        missing = sum(f.size or 0 for f, sha in plan if sha is None)
        free = self.cache.free_bytes()
        if missing > free:
            raise ResourceTooLarge(
                f"{source.name}: needs {missing} bytes, only {free} free under {self.cache.root}"
            )
        entries: list[TreeEntry] = []
        done = fetched_bytes = fetched_files = 0
        for remote, sha in plan:
            if sha is None:
                sha, size = self._download(source, remote, limits.max_bytes - fetched_bytes)
                fetched_bytes += size
                fetched_files += 1
            else:
                size = (self.cache.blob(sha) or Path()).stat().st_size
            self.cache.remember(remote.version, sha)
            entries.append(TreeEntry(remote.path, sha, size))
            done += size
            if progress is not None:
                progress(source.name, done, max(total, done))
        tree = self.cache.tree(entries)
        self.cache.save_ref(source.key, tree, source.name)
        return Fetched(tree, source.name, len(entries), done, fetched_files, fetched_bytes)

    def _known(self, remote: RemoteFile) -> str | None:
        sha = self.cache.lookup(remote.version)
        if sha is None and remote.sha256 and self.cache.blob(remote.sha256):
            sha = remote.sha256
        return sha

    def _download(self, source: Source, remote: RemoteFile, budget: int) -> tuple[str, int]:
        what = f"{source.name}: {remote.path}"
        limit = min(budget, remote.size) if remote.size is not None else budget
        with self.cache.ingest(what, limit=limit, md5=remote.md5 is not None) as out:
            source.download(remote, out)
            if remote.size is not None and out.size != remote.size:
                raise ResourceError(f"{what}: got {out.size} bytes, expected {remote.size}")
            sha = self.cache.commit(out, expect_sha256=remote.sha256, expect_md5=remote.md5)
            return sha, out.size

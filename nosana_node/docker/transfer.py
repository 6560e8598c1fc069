"""Moving tar archives into and out of a (stopped or not yet started) container.

Out: :func:`collect` streams ``GET /containers/{id}/archive`` straight into a blob writer
(hashed while written, capped, never held in memory); glob paths (or a list of paths, the
pipeline's ``paths:``) keep only the matching members, in one archive (:func:`collect_glob`).
In: :func:`put_blob` streams a stored blob in 1 MiB chunks; :func:`make_dirs` creates missing
directories first (the engine needs the target to exist).

Every transfer runs under the op's guard (:mod:`nosana_node.docker.guard`): when the op is
cancelled or out of time, a transfer coming out is cut at once (its socket shut down, the
engine aborts), one going in stops sending; the guard's error (``Cancelled``, ``JobTimedOut``)
is raised. A writer that refuses more bytes (the artifact cap) closes the stream the same way.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import posixpath
import socket
import tarfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nosana_node.artifacts.store import BlobWriter
from nosana_node.docker.guard import OpGuard

if TYPE_CHECKING:
    import docker
    import requests

CHUNK = 1024 * 1024
GLOB_CHARS = frozenset("*?[{")


def stat_path(api: docker.APIClient, container: str, path: str) -> dict[str, Any] | None:
    """The engine's stat of ``path`` in the container, or None when it does not exist."""
    response = api.head(api._url("/containers/{0}/archive", container), params={"path": path})
    if response.status_code == 404:
        return None
    api._raise_for_status(response)
    header = response.headers.get("X-Docker-Container-Path-Stat")
    return json.loads(base64.b64decode(header)) if header else {}


def make_dirs(api: docker.APIClient, container: str, dirs: Iterable[str]) -> None:
    """Create each missing absolute directory in ``dirs`` (mode 0755, owned by root)."""
    missing = sorted({posixpath.normpath(d) for d in dirs if stat_path(api, container, d) is None})
    if not missing:
        return
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in missing:
            info = tarfile.TarInfo(path.lstrip("/"))
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            info.mtime = int(time.time())
            tar.addfile(info)
    api.put_archive(container, "/", buffer.getvalue())


class _Stopped(Exception):
    """The guard tripped while a blob was being sent."""


def _chunks(path: Path, guard: OpGuard) -> Iterator[bytes]:
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            if guard.tripped:
                raise _Stopped
            yield chunk


def put_blob(api: docker.APIClient, container: str, dest: str, blob: Path, guard: OpGuard) -> None:
    """Extract the stored tar ``blob`` at ``dest`` (an existing directory) in the container;
    sending stops when ``guard`` trips (its error is raised)."""
    with contextlib.suppress(_Stopped):
        guard.call("cannot place a resource", lambda: api.put_archive(container, dest, _chunks(blob, guard)))
    guard.check()


def _shutdown(response: requests.Response) -> None:
    """Shut the response's socket down (from any thread): a read blocked on it returns."""
    raw = response.raw
    sock = getattr(getattr(raw, "_connection", None), "sock", None)
    if sock is None:  # the socket file under http.client
        sock = getattr(getattr(getattr(getattr(raw, "_fp", None), "fp", None), "raw", None), "_sock", None)
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


@contextmanager
def open_archive(
    api: docker.APIClient, container: str, path: str, guard: OpGuard
) -> Iterator[tuple[Iterator[bytes], dict[str, Any]]]:
    """The archive of ``path`` as a stream of chunks, and the engine's stat of ``path``.

    The response is always closed on leaving, also when the reader stops early (a cap, an
    unsafe entry): the engine then aborts the transfer instead of holding the container. When
    ``guard`` trips, the stream is cut at once and its error raised on leaving.
    Raises ``docker.errors.NotFound`` when ``path`` does not exist.
    """
    url = api._url("/containers/{0}/archive", container)
    response = guard.call(
        f"cannot read {path} in the job container",
        lambda: api._get(url, params={"path": path}, stream=True, headers={"Accept-Encoding": "identity"}),
        late=lambda late: late.close(),
    )
    forget = guard.on_trip(lambda: _shutdown(response))
    try:
        api._raise_for_status(response)
        header = response.headers.get("X-Docker-Container-Path-Stat")
        stat = json.loads(base64.b64decode(header)) if header else {}
        try:
            yield response.raw.stream(CHUNK, decode_content=False), stat
        except Exception:
            guard.check()  # the stream was cut by the guard: say why
            raise
        guard.check()
    finally:
        forget()
        response.close()


def collect(
    api: docker.APIClient, container: str, path: str, writer: BlobWriter, guard: OpGuard
) -> dict[str, Any]:
    """Stream the archive of ``path`` into ``writer``; returns the engine's stat of ``path``.

    Raises ``docker.errors.NotFound`` when ``path`` does not exist.
    """
    with open_archive(api, container, path, guard) as (chunks, stat):
        for chunk in chunks:
            writer.write(chunk)
    return stat


def has_glob(path: str) -> bool:
    """True when ``path`` contains glob characters."""
    return any(c in GLOB_CHARS for c in path)


def static_prefix(pattern: str) -> str:
    """The leading components of ``pattern`` without glob characters (``dist/*.whl`` → ``dist``)."""
    parts = []
    for part in posixpath.normpath(pattern).split("/"):
        if has_glob(part):
            break
        parts.append(part)
    return "/".join(parts)


def glob_match(path: str, pattern: str) -> bool:
    """``path`` matches ``pattern``; ``*``/``?``/``[]`` stay within a component, ``**`` spans any."""

    def match(p: list[str], q: list[str]) -> bool:
        if not q:
            return not p
        if q[0] == "**":
            return any(match(p[i:], q[1:]) for i in range(len(p) + 1))
        return bool(p) and fnmatchcase(p[0], q[0]) and match(p[1:], q[1:])

    return match(posixpath.normpath(path).split("/"), posixpath.normpath(pattern).split("/"))


class _IterReader(io.RawIOBase):
    """A read-only file over an iterator of byte chunks."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self._buffer:
            try:
                self._buffer = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size


def expand_braces(pattern: str, limit: int = 64) -> list[str]:
    """``a/*.{wasm,abi}`` → ``[a/*.wasm, a/*.abi]`` (nested braces too; at most ``limit``)."""
    open_at = pattern.find("{")
    if open_at < 0:
        return [pattern]
    depth = 0
    for close_at in range(open_at, len(pattern)):
        depth += {"{": 1, "}": -1}.get(pattern[close_at], 0)
        if depth == 0:
            break
    else:
        return [pattern]  # an unclosed brace is a literal character
    options, depth, start = [], 0, open_at + 1
    for i in range(open_at + 1, close_at):
        depth += {"{": 1, "}": -1}.get(pattern[i], 0)
        if pattern[i] == "," and depth == 0:
            options.append(pattern[start:i])
            start = i + 1
    options.append(pattern[start:close_at])
    head, tail = pattern[:open_at], pattern[close_at + 1 :]
    out: list[str] = []
    for option in options:
        for expanded in expand_braces(head + option + tail, limit):
            if expanded not in out:
                out.append(expanded)
            if len(out) >= limit:
                return out
    return out


def collect_glob(
    api: docker.APIClient,
    container: str,
    work_dir: str,
    patterns: str | list[str],
    writer: BlobWriter,
    guard: OpGuard,
) -> int:
    """Stream the members matching ``patterns`` (relative to ``work_dir``) into ``writer``, as one
    archive.

    Each pattern may use ``*``, ``?``, ``[]``, ``**`` and ``{a,b}``; a pattern without them
    names one path. Member names are kept as the engine gives them for the pattern's static
    prefix (``dist/…`` for ``dist/*.whl``); a matching directory brings everything under it; a
    member matched by two patterns is written once. Returns the number of matching members (0:
    nothing matched; the writer then holds an empty archive). A static prefix that does not
    exist matches nothing.
    """
    from nosana_node.docker.errors import EngineNotFound, engine_call

    groups: dict[str, list[str]] = {}
    for pattern in [patterns] if isinstance(patterns, str) else patterns:
        for expanded in expand_braces(pattern):
            groups.setdefault(static_prefix(expanded), []).append(expanded)
    matched = 0
    written: set[str] = set()
    with tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as out:
        for prefix, group in groups.items():
            try:
                with engine_call(f"cannot read {prefix or '.'} in the container"):
                    matched += _collect_matching(api, container, work_dir, prefix, group, out, written, guard)
            except EngineNotFound:
                continue
    return matched


def _collect_matching(
    api: docker.APIClient,
    container: str,
    work_dir: str,
    prefix: str,
    patterns: list[str],
    out: tarfile.TarFile,
    written: set[str],
    guard: OpGuard,
) -> int:
    source = posixpath.join(work_dir, prefix) if prefix else posixpath.join(work_dir, ".")
    parent = posixpath.dirname(prefix)
    matched = 0
    matched_dirs: list[str] = []
    with (
        open_archive(api, container, source, guard) as (chunks, _),
        tarfile.open(fileobj=io.BufferedReader(_IterReader(chunks), CHUNK), mode="r|") as src,
    ):
        for member in src:
            rel = posixpath.normpath(posixpath.join(parent, member.name))
            inside = any(rel.startswith(d + "/") for d in matched_dirs)
            hit = inside or any(glob_match(rel, pattern) for pattern in patterns)
            if hit and member.isdir() and not inside:
                matched_dirs.append(rel)
            if hit:
                matched += 1
            if (hit or rel == prefix) and member.name not in written:
                written.add(member.name)
                out.addfile(member, src.extractfile(member) if member.isfile() else None)
    return matched

"""Safety checks for tar archives that cross a trust boundary, and a safe extractor.

An artifact is a tar taken from a job's container: its content is chosen by the job, so it is
untrusted. :func:`check_member` rejects what could escape a destination directory or create
something that is not plain data: absolute names, ``..`` components, device files and FIFOs,
symbolic links whose target leaves the destination, hard links to names outside it.
:func:`scan` checks every member of a stored archive (headers only, data is skipped);
:func:`safe_extract` writes an archive into a host directory, re-checking every path against the
real file system as it goes, and never restores ownership or special permission bits.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from nosana_node.errors import NosanaError


class UnsafeArchiveError(NosanaError):
    """An archive member could escape its destination or is not plain data."""

    reason = "artifact"


@dataclass(frozen=True)
class ArchiveSummary:
    """What a checked archive holds."""

    entries: int
    files: int
    bytes: int


def _inside(path: str) -> bool:
    """True when the normalised relative POSIX ``path`` stays inside its root."""
    norm = posixpath.normpath(path)
    return norm != ".." and not norm.startswith("../") and not posixpath.isabs(norm)


def check_member(member: tarfile.TarInfo) -> None:
    """Raise :class:`UnsafeArchiveError` when ``member`` is not safe to extract anywhere."""
    name = member.name
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise UnsafeArchiveError(f"unsafe archive entry {name!r}: absolute path")
    if ".." in name.split("/"):
        raise UnsafeArchiveError(f"unsafe archive entry {name!r}: '..' in path")
    if member.ischr() or member.isblk() or member.isfifo():
        raise UnsafeArchiveError(f"unsafe archive entry {name!r}: device or FIFO")
    if member.issym():
        target = member.linkname
        if posixpath.isabs(target) or not _inside(posixpath.join(posixpath.dirname(name), target)):
            raise UnsafeArchiveError(f"unsafe archive entry {name!r}: link to {target!r} points outside")
    elif member.islnk():
        target = member.linkname
        if posixpath.isabs(target) or not _inside(target):
            raise UnsafeArchiveError(f"unsafe archive entry {name!r}: hard link to {target!r} points outside")
    elif not (member.isfile() or member.isdir()):
        raise UnsafeArchiveError(f"unsafe archive entry {name!r}: unsupported type {member.type!r}")


def _through_link(name: str, links: set[str]) -> str | None:
    """The earlier link entry that ``name`` would be written through, if any."""
    parts = posixpath.normpath(name).split("/")
    for end in range(1, len(parts)):
        prefix = "/".join(parts[:end])
        if prefix in links:
            return prefix
    return None


def scan(path: Path) -> ArchiveSummary:
    """Check every member of the tar at ``path`` (data is skipped, not read).

    Besides :func:`check_member`, no member may be placed through a symbolic link of the same
    archive (``l -> ..`` then ``l/x``): each link is harmless alone, together they could escape.
    """
    entries = files = size = 0
    links: set[str] = set()
    try:
        with tarfile.open(path, mode="r:") as tar:
            for member in tar:
                check_member(member)
                via = _through_link(member.name, links)
                if via is not None:
                    raise UnsafeArchiveError(
                        f"unsafe archive entry {member.name!r}: placed through the link {via!r}"
                    )
                if member.issym():
                    links.add(posixpath.normpath(member.name))
                entries += 1
                if member.isfile():
                    files += 1
                    size += member.size
    except tarfile.TarError as exc:
        raise UnsafeArchiveError(f"not a valid tar archive: {exc}") from exc
    return ArchiveSummary(entries=entries, files=files, bytes=size)


def _within(root: str, path: str) -> bool:
    return path == root or path.startswith(root + os.sep)


def _open(source: Path | BinaryIO) -> tarfile.TarFile:
    if isinstance(source, Path):
        return tarfile.open(source, mode="r:")
    return tarfile.open(fileobj=source, mode="r|")


def safe_extract(source: Path | BinaryIO, dest: Path) -> ArchiveSummary:
    """Extract a tar into ``dest`` (created if missing) after checking each member.

    Each member's parent directory is resolved on the real file system, so a link extracted
    earlier cannot redirect a later member outside ``dest``. Files get mode ``0o644``/``0o755``
    and dirs ``0o755`` (no setuid/setgid/sticky bits); owners are not restored.
    """
    dest.mkdir(parents=True, exist_ok=True)
    root = os.path.realpath(dest)
    entries = files = size = 0
    try:
        tar = _open(source)
    except tarfile.TarError as exc:
        raise UnsafeArchiveError(f"not a valid tar archive: {exc}") from exc
    with tar:
        for member in tar:
            check_member(member)
            name = posixpath.normpath(member.name)
            if name == ".":
                continue
            parent = os.path.realpath(os.path.join(root, posixpath.dirname(name)))
            target = os.path.join(parent, posixpath.basename(name))
            if not _within(root, parent):
                raise UnsafeArchiveError(
                    f"unsafe archive entry {member.name!r}: path leads outside through a link"
                )
            entries += 1
            if member.isdir():
                os.makedirs(target, mode=0o755, exist_ok=True)
                continue
            os.makedirs(parent, mode=0o755, exist_ok=True)
            if os.path.lexists(target) and not os.path.isdir(target):
                os.unlink(target)
            if member.issym():
                resolved = os.path.realpath(os.path.join(parent, member.linkname))
                if not _within(root, resolved):
                    raise UnsafeArchiveError(
                        f"unsafe archive entry {member.name!r}: link to {member.linkname!r} points outside"
                    )
                os.symlink(member.linkname, target)
            elif member.islnk():
                linked = os.path.realpath(os.path.join(root, posixpath.normpath(member.linkname)))
                if not _within(root, linked) or not os.path.isfile(linked):
                    raise UnsafeArchiveError(
                        f"unsafe archive entry {member.name!r}: hard link to {member.linkname!r}"
                        " is not a file inside"
                    )
                os.link(linked, target)
            else:
                data = tar.extractfile(member)
                assert data is not None
                with open(target, "xb") as out:
                    shutil.copyfileobj(data, out, 1024 * 1024)
                os.chmod(target, 0o755 if member.mode & 0o111 else 0o644)
                files += 1
                size += member.size
    return ArchiveSummary(entries=entries, files=files, bytes=size)

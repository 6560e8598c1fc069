"""The content-addressed store and the tar safety checks (crafted hostile archives)."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path

import pytest

from nosana_node.artifacts.store import ArtifactStore, ArtifactTooLargeError
from nosana_node.artifacts.tarcheck import UnsafeArchiveError, check_member, safe_extract, scan


def test_blobs_are_named_by_their_sha256_and_deduplicated(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    with store.writer() as writer:
        writer.write(b"hello ")
        writer.write(b"world")
        blob = writer.commit()
    assert blob.digest == "sha256:" + hashlib.sha256(b"hello world").hexdigest()
    assert blob.size == 11 and blob.path.read_bytes() == b"hello world"
    with store.writer() as writer:
        writer.write(b"hello world")
        again = writer.commit()
    assert again == blob and list((tmp_path / "tmp").iterdir()) == []
    assert store.has(blob.digest) and store.open(blob.digest).read() == b"hello world"


def test_cap_aborts_and_leaves_nothing(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    with (
        pytest.raises(ArtifactTooLargeError, match=r"artifact 'big' exceeds the artifact cap of 1\.0 KiB"),
        store.writer(cap=1024, what="artifact 'big'") as writer,
    ):
        for _ in range(10):
            writer.write(b"x" * 200)
    assert list((tmp_path / "tmp").iterdir()) == [] and list((tmp_path / "sha256").iterdir()) == []


def _tar(tmp_path: Path, *members: tuple[tarfile.TarInfo, bytes | None]) -> Path:
    path = tmp_path / f"t{len(list(tmp_path.glob('t*.tar')))}.tar"
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _file(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


def _special(name: str, kind: bytes) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    return info, None


ATTACKS = {
    "absolute path": [_file("/etc/evil")],
    "dot-dot": [_file("out/../../evil")],
    "symlink to absolute": [_link("out/l", "/etc/passwd")],
    "symlink climbing out": [_link("out/l", "../../etc")],
    "hard link outside": [_link("out/h", "../secret", tarfile.LNKTYPE)],
    "hard link absolute": [_link("out/h", "/etc/shadow", tarfile.LNKTYPE)],
    "character device": [_special("out/null", tarfile.CHRTYPE)],
    "block device": [_special("out/sda", tarfile.BLKTYPE)],
    "fifo": [_special("out/pipe", tarfile.FIFOTYPE)],
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_hostile_archives_are_rejected(tmp_path: Path, attack: str) -> None:
    archive = _tar(tmp_path, _file("out/ok.txt"), *ATTACKS[attack])
    with pytest.raises(UnsafeArchiveError, match="unsafe archive entry"):
        scan(archive)
    dest = tmp_path / "dest"
    with pytest.raises(UnsafeArchiveError):
        safe_extract(archive, dest)
    assert not (tmp_path / "evil").exists() and not (tmp_path.parent / "evil").exists()


def test_link_then_write_through_it_is_rejected(tmp_path: Path) -> None:
    """A link that is harmless by name, then a member written through it, must not escape."""
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "dest"
    dest.mkdir()
    # "a/up" -> ".." is inside (dest), "a/up/up2" -> ".." then lands outside once "a/up" is followed
    archive = _tar(tmp_path, _link("a/up", ".."), _link("a/up/up2", ".."), _file("a/up/up2/outside/pwned"))
    with pytest.raises(UnsafeArchiveError, match="placed through the link 'a/up'"):
        scan(archive)
    with pytest.raises(UnsafeArchiveError, match="points outside"):
        safe_extract(archive, dest)
    assert not (outside / "pwned").exists()


def test_safe_archive_extracts_files_dirs_and_inner_links(tmp_path: Path) -> None:
    exe = tarfile.TarInfo("out/run.sh")
    exe.mode = 0o4755  # setuid is dropped
    archive = _tar(
        tmp_path,
        _file("out/a.txt", b"alpha"),
        (exe, b"#!/bin/sh\n"),
        _link("out/link", "a.txt"),
        _link("out/hard", "out/a.txt", tarfile.LNKTYPE),
    )
    summary = scan(archive)
    assert (summary.entries, summary.files) == (4, 2)
    dest = tmp_path / "dest"
    safe_extract(archive, dest)
    assert (dest / "out" / "a.txt").read_bytes() == b"alpha"
    assert os.readlink(dest / "out" / "link") == "a.txt"
    assert (dest / "out" / "hard").read_bytes() == b"alpha"
    assert (dest / "out" / "run.sh").stat().st_mode & 0o7777 == 0o755


def test_check_member_accepts_plain_names() -> None:
    for name in ("a", "a/b/c.txt", "./x", "."):
        check_member(tarfile.TarInfo(name))


def test_garbage_is_not_an_archive(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"\x01" * 2048)
    with pytest.raises(UnsafeArchiveError, match="not a valid tar archive"):
        scan(junk)

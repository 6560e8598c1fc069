"""The embedded store: round trips, verification, caps, crashes and concurrent processes."""

from __future__ import annotations

import hashlib
import io
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from nosana_node.storage.base import save
from nosana_node.storage.cid import Cid
from nosana_node.storage.dag import cid_of
from nosana_node.storage.embedded import STALE_TMP_SECONDS, EmbeddedStorage
from nosana_node.storage.errors import (
    CorruptBlockError,
    InputTooLargeError,
    NotFoundError,
    TooLargeError,
)
from nosana_node.storage.unixfs import CHUNK_SIZE, leaf_frame
from tests.cli import REPO
from tests.storage.vectors import HELLO, VECTORS, content, vector_content


@pytest.fixture
def store(tmp_path: Path) -> EmbeddedStorage:
    return EmbeddedStorage(tmp_path / "storage")


@pytest.mark.parametrize("name", ["empty", "262143 bytes", "262145 bytes", "175 chunks"])
def test_put_get_round_trip_under_the_vector_cid(store: EmbeddedStorage, name: str) -> None:
    data = vector_content(name)
    cid = store.put(data)
    assert str(cid) == VECTORS[name][1]
    assert store.get(cid) == data
    assert store.has(cid)


def test_put_takes_files_iterables_and_json(store: EmbeddedStorage) -> None:
    assert str(store.put(io.BytesIO(HELLO[0]))) == HELLO[1]
    assert str(store.put(iter([b"hel", b"lo\n"]))) == HELLO[1]
    cid = store.put_json({"type": "Pipeline", "pipeline": "é", "n": [1, 2]})
    assert store.get(cid) == '{"type":"Pipeline","pipeline":"é","n":[1,2]}'.encode()


def test_get_refuses_unknown_cids_and_has_says_no(store: EmbeddedStorage) -> None:
    unknown = cid_of(b"never stored")
    with pytest.raises(NotFoundError, match=f"{unknown}: not in the store"):
        store.get(unknown)
    assert not store.has(unknown)
    with pytest.raises(NotFoundError, match="nothing to pin"):
        store.pin(unknown)


def test_a_missing_leaf_is_found_by_has_and_get(store: EmbeddedStorage) -> None:
    data = vector_content("175 chunks")
    cid = store.put(data)
    leaf = cid_of(data[-CHUNK_SIZE:])
    store.store.path(leaf).unlink()
    assert not store.has(cid)
    with pytest.raises(NotFoundError, match=str(leaf)):
        store.get(cid)


def test_a_damaged_block_is_refused_and_a_new_put_repairs_it(store: EmbeddedStorage) -> None:
    data = vector_content("262145 bytes")
    cid = store.put(data)
    leaf = cid_of(data[:CHUNK_SIZE])
    path = store.store.path(leaf)
    path.write_bytes(path.read_bytes()[:1000])  # a torn write
    with pytest.raises(CorruptBlockError, match=f"block {leaf} .* is damaged"):
        store.get(cid)
    assert not store.has(cid)
    assert store.put(data) == cid
    assert store.get(cid) == data
    flipped = bytearray(path.read_bytes())
    flipped[100] ^= 1  # same size, one bit off
    path.write_bytes(bytes(flipped))
    with pytest.raises(CorruptBlockError):
        store.get(cid)


def test_caps_on_put_and_get(tmp_path: Path) -> None:
    small = EmbeddedStorage(tmp_path / "s", max_size=1000)
    with pytest.raises(InputTooLargeError, match="larger than the storage cap of 1000 bytes") as info:
        small.put(content(1001))
    assert info.value.exit_code == 2
    big = EmbeddedStorage(tmp_path / "s")
    cid = big.put(content(1001))
    with pytest.raises(TooLargeError, match="over the cap of 1000 bytes"):
        small.get(cid)
    assert big.get(cid, max_size=1001) == content(1001)


def test_save_writes_the_file_whole_or_not_at_all(store: EmbeddedStorage, tmp_path: Path) -> None:
    data = vector_content("175 chunks")
    cid = store.put(data)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "out.bin"
    assert save(store, cid, out) == len(data)
    assert out.read_bytes() == data
    store.store.path(cid_of(data[-CHUNK_SIZE:])).unlink()
    with pytest.raises(NotFoundError):
        save(store, cid, out_dir / "again.bin")
    assert [p.name for p in out_dir.iterdir()] == ["out.bin"]


_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from nosana_node.storage.embedded import EmbeddedStorage
    from tests.storage.vectors import content

    data = content(int(sys.argv[2]))
    def pieces():
        yield data[: len(data) // 2]
        print("half", flush=True)
        sys.stdin.readline()  # the test kills us here
        yield data[len(data) // 2 :]
    EmbeddedStorage(Path(sys.argv[1])).put(pieces())
    """
)


def test_a_killed_put_leaves_nothing_get_returns(tmp_path: Path) -> None:
    root = tmp_path / "storage"
    size = 40 * CHUNK_SIZE + 5
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(root), str(size)],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "half"
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
    store = EmbeddedStorage(root)
    cid = cid_of(content(size))
    assert not store.has(cid)
    with pytest.raises(NotFoundError):
        store.get(cid)
    assert store.put(content(size)) == cid
    assert store.get(cid) == content(size)


def test_stale_temporary_files_are_swept(store: EmbeddedStorage) -> None:
    old, fresh = store.store.tmp / "123-old", store.store.tmp / "456-fresh"
    old.write_bytes(b"x")
    fresh.write_bytes(b"y")
    long_ago = os.stat(old).st_mtime - 2 * STALE_TMP_SECONDS
    os.utime(old, (long_ago, long_ago))
    assert store.store.sweep() == 1
    assert not old.exists() and fresh.exists()


_READER = textwrap.dedent(
    """
    import hashlib, sys
    from pathlib import Path
    from nosana_node.storage.embedded import EmbeddedStorage
    from tests.storage.vectors import content

    store = EmbeddedStorage(Path(sys.argv[1]))
    cid = store.put(content(int(sys.argv[2])))
    print(cid, hashlib.sha256(store.get(cid)).hexdigest())
    """
)


def test_many_processes_write_and_read_the_same_store(tmp_path: Path) -> None:
    root = tmp_path / "storage"
    size = 20 * CHUNK_SIZE + 3
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _READER, str(root), str(size)], cwd=REPO, stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    outputs = {p.communicate(timeout=120)[0].strip() for p in procs}
    assert all(p.returncode == 0 for p in procs)
    assert outputs == {f"{cid_of(content(size))} {hashlib.sha256(content(size)).hexdigest()}"}
    assert list((root / "tmp").iterdir()) == []


def test_pins_are_recorded(store: EmbeddedStorage) -> None:
    cid = store.put(b"pinned")
    assert store.store.is_pinned(cid)
    other = Cid.parse(HELLO[1])
    assert leaf_frame(6) == (b"\x0a\x0c\x08\x02\x12\x06", b"\x18\x06")
    store.store.block(other, b"\x0a\x0c\x08\x02\x12\x06hello\n\x18\x06")
    assert not store.store.is_pinned(other)
    store.pin(other)
    assert store.store.is_pinned(other)
    assert store.get(other) == HELLO[0]


def test_a_new_store_has_all_its_shards_and_a_removed_one_is_made_again(tmp_path: Path) -> None:
    root = tmp_path / "storage"
    store = EmbeddedStorage(root)
    assert sorted(p.name for p in (root / "blocks").iterdir()) == [f"{i:02x}" for i in range(256)]
    shard = store.store.path(cid_of(HELLO[0])).parent
    shard.rmdir()  # as a store made before the shards were made up front, or a hand-cleaned one
    assert store.put(HELLO[0]) == cid_of(HELLO[0])
    assert EmbeddedStorage(root).get(cid_of(HELLO[0])) == HELLO[0]
    assert list((root / "tmp").iterdir()) == []

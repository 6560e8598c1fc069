"""CIDs: the vectors, the layout rules behind them, CID text and the digest on chain."""

from __future__ import annotations

import hashlib
import io

import pytest

from nosana_node.storage.cid import Cid
from nosana_node.storage.dag import DagBuilder, cid_of
from nosana_node.storage.errors import CidError, CorruptBlockError
from nosana_node.storage.protobuf import fields
from nosana_node.storage.unixfs import (
    CHUNK_SIZE,
    MAX_LINKS,
    Link,
    _decode,
    decode,
    internal_block,
    leaf_frame,
)
from tests.storage.vectors import HELLO, VECTORS, content, vector_content


@pytest.mark.parametrize("name", list(VECTORS))
def test_vectors(name: str) -> None:
    assert str(cid_of(vector_content(name))) == VECTORS[name][1]


def test_hello() -> None:
    assert str(cid_of(HELLO[0])) == HELLO[1]


@pytest.mark.parametrize("piece", [1, 4097, CHUNK_SIZE - 1, CHUNK_SIZE, 3 * CHUNK_SIZE + 5])
def test_any_piece_size_gives_the_same_cid(piece: int) -> None:
    data = (
        vector_content("175 chunks")[: 2 * CHUNK_SIZE + 1000] if piece < 100 else vector_content("175 chunks")
    )
    builder = DagBuilder()
    for i in range(0, len(data), piece):
        builder.feed(data[i : i + piece])
    assert builder.finish() == cid_of(data)
    assert builder.size == len(data)


def test_files_and_iterables_give_the_same_cid() -> None:
    data = vector_content("262145 bytes")
    assert cid_of(io.BytesIO(data)) == cid_of(data) == cid_of(iter([data[:10], data[10:]]))


class _Blocks:
    def __init__(self) -> None:
        self.blocks: dict[Cid, bytes] = {}

    def leaf(self, cid: Cid, prefix: bytes, chunk: memoryview, suffix: bytes) -> None:
        self.blocks[cid] = prefix + bytes(chunk) + suffix

    def block(self, cid: Cid, block: bytes) -> None:
        self.blocks[cid] = block


def _tree(size: int) -> tuple[Cid, dict[Cid, bytes]]:
    sink = _Blocks()
    builder = DagBuilder(sink)
    builder.feed(content(size))
    return builder.finish(), sink.blocks


def _shape(cid: Cid, blocks: dict[Cid, bytes]) -> object:
    node = decode(blocks[cid], cid)
    if not node.links:
        return len(node.data)
    return [_shape(child, blocks) for child, _ in node.links]


def test_layout_balanced_174_links_partial_subtree_keeps_its_depth() -> None:
    root, blocks = _tree(175 * CHUNK_SIZE)
    shape = _shape(root, blocks)
    assert isinstance(shape, list) and len(shape) == 2
    assert shape[0] == [CHUNK_SIZE] * MAX_LINKS
    assert shape[1] == [CHUNK_SIZE]  # one leaf under its own node, not lifted
    root, blocks = _tree(MAX_LINKS * CHUNK_SIZE)
    assert _shape(root, blocks) == [CHUNK_SIZE] * MAX_LINKS
    root, blocks = _tree(CHUNK_SIZE + 1)
    assert _shape(root, blocks) == [CHUNK_SIZE, 1]


def _kubo_balanced(data: bytes, chunk: int, fanout: int) -> Cid:
    """kubo's balanced builder as it is written (depth first: a new root takes the old one as its
    first child and fills the rest to the same depth), on blocks encoded as ours."""
    pieces = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    if not pieces:
        return cid_of(b"")
    stream = iter(pieces)
    left = [len(pieces)]

    def leaf() -> Link:
        piece = next(stream)
        left[0] -= 1
        prefix, suffix = leaf_frame(len(piece))
        block = prefix + piece + suffix
        return Link(Cid.of_block(block), len(block), len(piece))

    def fill(links: list[Link], depth: int) -> Link:
        while len(links) < fanout and left[0]:
            links.append(leaf() if depth == 1 else fill([], depth - 1))
        block = internal_block(links)
        return Link(
            Cid.of_block(block), len(block) + sum(x.tsize for x in links), sum(x.filesize for x in links)
        )

    root, depth = leaf(), 1
    while left[0]:
        root, depth = fill([root], depth), depth + 1
    return root.cid


def test_layout_is_kubos_balanced_builder_on_small_trees() -> None:
    data = content(400)
    for size in range(0, 400, 3):
        builder = DagBuilder(chunk_size=4, max_links=3)
        builder.feed(data[:size])
        assert builder.finish() == _kubo_balanced(data[:size], 4, 3), size


def test_blocks_hash_to_their_cids_and_tsize_counts_the_subdag() -> None:
    _root, blocks = _tree(175 * CHUNK_SIZE + 7)
    for cid, block in blocks.items():
        assert hashlib.sha256(block).digest() == cid.digest

    def dag_size(cid: Cid) -> int:
        return len(blocks[cid]) + sum(dag_size(c) for c, _ in decode(blocks[cid], cid).links)

    for cid, block in blocks.items():
        for child, tsize in decode(block, cid).links:
            assert tsize == dag_size(child)


def test_leaves_are_dag_pb_unixfs_files_and_links_carry_an_empty_name() -> None:
    root, blocks = _tree(CHUNK_SIZE + 1)
    top = blocks[root]
    link = bytes(next(v for n, _w, v in fields(top) if n == 2))  # type: ignore[arg-type]
    assert [n for n, _w, _v in fields(link)] == [1, 2, 3]  # Hash, Name "", Tsize
    leaf = next(b for c, b in blocks.items() if c != root)
    unixfs = bytes(next(v for n, _w, v in fields(leaf) if n == 1))  # type: ignore[arg-type]
    assert next(fields(unixfs))[:3:2] == (1, 2)  # Type = File, not Raw
    assert [n for n, _w, _v in fields(top)] == [2, 2, 1]  # links before data


def test_a_full_leaf_decodes_by_its_frame_as_by_parsing() -> None:
    root, blocks = _tree(2 * CHUNK_SIZE)
    leaf_cid, leaf = next((c, b) for c, b in blocks.items() if c != root)
    fast, parsed = decode(leaf, leaf_cid), _decode(leaf, leaf_cid)

    def fields_of(node: object) -> tuple[object, ...]:
        return (bytes(node.data), node.filesize, node.links, node.blocksizes)  # type: ignore[attr-defined]

    assert fields_of(fast) == fields_of(parsed) == (content(2 * CHUNK_SIZE)[:CHUNK_SIZE], CHUNK_SIZE, (), ())
    # a frame that only looks right (one byte of the suffix off) is parsed, and refused
    odd = leaf[:-1] + b"\x07"
    with pytest.raises(CorruptBlockError, match="file size"):
        decode(odd, leaf_cid)


def test_cid_text_and_chain_digest_round_trip() -> None:
    cid = Cid.parse(HELLO[1])
    assert str(cid) == HELLO[1]
    assert len(cid.to_chain()) == 32
    assert Cid.from_digest(cid.to_chain()) == cid
    assert Cid.from_digest(list(cid.to_chain())) == cid
    assert Cid.from_chain(bytes(32)) is None
    assert Cid.parse(f"/ipfs/{HELLO[1]}") == Cid.parse(f"ipfs://{HELLO[1]}") == cid
    # the on-chain digest is sha256 of the root block, i.e. the multihash without 0x12 0x20
    assert cid.multihash[:2] == b"\x12\x20"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "empty CID"),
        ("hello", "not a CID"),
        ("QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXE0", "not base58"),
        ("QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXE", "not a CIDv0"),
        # the CIDv1 of hello\n as dag-pb: the message gives its Qm form
        (
            "bafybeiffndsajwhk3lwjewwdxqntmjm4b5wxaaanokonsggenkbw6slwk4",
            "CIDv1 (dag-pb, sha2-256): only CIDv0 (dag-pb, sha2-256, Qm…) addresses fit on chain; "
            "its CIDv0 form is QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN",
        ),
        # hello\n as kubo's --cid-version 1 gives it (a raw leaf)
        ("bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am", "CIDv1 (raw, sha2-256)"),
        ("x" * 300, "too long"),
    ],
)
def test_bad_cids_say_what_they_are(text: str, says: str) -> None:
    with pytest.raises(CidError) as info:
        Cid.parse(text)
    assert says in str(info.value)
    assert info.value.exit_code == 2


def test_from_digest_refuses_other_lengths() -> None:
    with pytest.raises(CidError, match="32 bytes, not 31"):
        Cid.from_digest(bytes(31))

"""The CID vectors against independent implementations: Debian's ipfs_cid and the JS IPFS node.

What Debian's ``ipfs_cid`` (package ipfs-cid, rust ipfs-unixfs) really computes: its "CIDv0" is
``ipfs add``'s CIDv0 (dag-pb leaves, 256 KiB chunks, 174 links); its "CIDv1" is the same DAG
under a CIDv1 (``bafybei…``), not what ``ipfs add --cid-version 1`` gives (raw leaves,
``bafkrei…`` for one chunk). Only its CIDv0 is compared.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from nosana_node.storage.cid import Cid
from nosana_node.storage.dag import cid_of
from nosana_node.storage.kubo import KuboStorage
from tests.storage.jsipfs import JsIpfs
from tests.storage.vectors import HELLO, VECTORS, content, vector_content


@pytest.fixture(scope="module")
def ipfs_cid_tool(jsipfs_dir: Path) -> str:
    tool = shutil.which("ipfs_cid")
    assert tool, "scripts/ensure-ipfs.sh installs Debian's ipfs-cid"
    return tool


def _debian_cid(tool: str, path: Path) -> dict[str, str]:
    done = subprocess.run([tool, str(path)], capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout)


@pytest.mark.parametrize("name", list(VECTORS))
def test_debian_ipfs_cid_agrees(ipfs_cid_tool: str, tmp_path: Path, name: str) -> None:
    path = tmp_path / "content"
    path.write_bytes(vector_content(name))
    answer = _debian_cid(ipfs_cid_tool, path)
    assert answer["CIDv0"] == VECTORS[name][1] == str(cid_of(path.read_bytes()))


def test_debian_ipfs_cid_v1_is_the_same_dag_not_raw_leaves(ipfs_cid_tool: str, tmp_path: Path) -> None:
    path = tmp_path / "hello"
    path.write_bytes(HELLO[0])
    answer = _debian_cid(ipfs_cid_tool, path)
    assert answer["CIDv0"] == HELLO[1]
    assert answer["CIDv1"].startswith("bafybei")  # dag-pb; kubo's --cid-version 1 gives bafkrei…
    with pytest.raises(Exception, match=f"its CIDv0 form is {HELLO[1]}"):
        Cid.parse(answer["CIDv1"])


@pytest.mark.parametrize("name", list(VECTORS))
def test_the_js_ipfs_node_agrees(ipfs_node: JsIpfs, name: str) -> None:
    with KuboStorage(ipfs_node.api_url) as node:
        assert str(node.put(vector_content(name))) == VECTORS[name][1]


def test_odd_sizes_agree_with_the_js_ipfs_node(ipfs_node: JsIpfs) -> None:
    with KuboStorage(ipfs_node.api_url) as node:
        for size in (1, 1000, 3 * 262_144 - 1, 2 * 262_144 + 17):
            data = content(size)[::-1]
            assert node.put(data) == cid_of(data), size

"""The kubo backend and the gateway backend against the real JS IPFS node (same RPC API as kubo)."""

from __future__ import annotations

import httpx
import pytest

from nosana_node.storage.cid import Cid
from nosana_node.storage.dag import cid_of
from nosana_node.storage.errors import BackendUnavailableError, NotFoundError, StorageError
from nosana_node.storage.gateway import GatewayStorage
from nosana_node.storage.http import HttpOptions
from nosana_node.storage.kubo import KuboStorage
from tests.storage.jsipfs import JsIpfs
from tests.storage.vectors import content

NEVER_ADDED = cid_of(b"nobody ever added this")


def test_put_get_pin_has_round_trip(ipfs_node: JsIpfs) -> None:
    data = content(3 * 262_144 + 11)
    with KuboStorage(ipfs_node.api_url) as node:
        cid = node.put(data)
        assert cid == cid_of(data)
        assert node.get(cid) == data
        assert node.has(cid)
        node.pin(cid)
        assert node.put_json({"state": {}, "ops": []}) == cid_of(b'{"state":{},"ops":[]}')


def test_content_added_by_the_node_reads_through_its_gateway_verified(ipfs_node: JsIpfs) -> None:
    data = content(262_145)[::-1]
    # added the way any kubo client adds it: plain multipart, the node's own defaults
    answer = httpx.post(f"{ipfs_node.api_url}/api/v0/add", files={"file": ("x", data)}, timeout=60).json()
    assert answer["Hash"] == str(cid_of(data))
    with GatewayStorage([ipfs_node.gateway_url]) as gateways:
        assert gateways.get(answer["Hash"]) == data
        assert gateways.has(answer["Hash"])


def test_has_is_false_for_what_the_node_does_not_keep(ipfs_node: JsIpfs) -> None:
    with KuboStorage(ipfs_node.api_url) as node:
        assert not node.has(NEVER_ADDED)


def test_a_cid_the_node_cannot_find_fails_within_the_timeout(ipfs_node: JsIpfs) -> None:
    # the offline JS node waits for the block forever: the read timeout ends it
    with (
        KuboStorage(ipfs_node.api_url, HttpOptions(timeout=1.0, retries=0)) as node,
        pytest.raises(StorageError) as info,
    ):
        node.get(NEVER_ADDED)
    assert isinstance(info.value, BackendUnavailableError | NotFoundError)
    assert ipfs_node.api_url in str(info.value)
    assert "1s" in str(info.value), str(info.value)


def test_pin_of_an_unknown_cid_is_refused_within_the_timeout(ipfs_node: JsIpfs) -> None:
    with (
        KuboStorage(ipfs_node.api_url, HttpOptions(timeout=1.0, retries=0)) as node,
        pytest.raises(StorageError),
    ):
        node.pin(NEVER_ADDED)


def test_cid_text_is_checked_before_any_request(ipfs_node: JsIpfs) -> None:
    with KuboStorage(ipfs_node.api_url) as node, pytest.raises(Exception, match="CIDv1"):
        node.get("bafybeiffndsajwhk3lwjewwdxqntmjm4b5wxaaanokonsggenkbw6slwk4")
    assert Cid.parse(str(NEVER_ADDED)) == NEVER_ADDED

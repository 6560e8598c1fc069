"""The local market as its network's IPFS endpoint: kubo's RPC subset and the gateway path, over
an embedded store in the ledger; a client and a node with separate homes exchange through it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from nosana_node.localnet.instance import Localnet
from nosana_node.localnet.ipfs import IpfsEndpoint
from nosana_node.localnet.server import ServerThread
from nosana_node.storage.dag import cid_of
from nosana_node.storage.errors import NotFoundError
from nosana_node.storage.kubo import KuboStorage
from tests.cli import run_cli
from tests.storage.servers import AppThread
from tests.storage.vectors import HELLO, content


class Market:
    def __init__(self, ledger: Path) -> None:
        self.ledger = ledger
        self.net = Localnet.open(ledger)
        self.server = ServerThread(self.net.chain).start()
        self.url = self.server.rpc_url

    def close(self) -> None:
        self.server.stop()
        self.net.close()


@pytest.fixture
def market(tmp_path: Path) -> Iterator[Market]:
    m = Market(tmp_path / "ledger")
    try:
        yield m
    finally:
        m.close()


def test_add_cat_pin_and_gateway_speak_kubos_shapes(market: Market) -> None:
    data = content(262_145)
    add = httpx.post(
        f"{market.url}/api/v0/add",
        params={"cid-version": "0"},
        files={"file": ("doc.json", data)},
        timeout=60,
    )
    assert add.status_code == 200
    answer = json.loads(add.text.strip().splitlines()[-1])
    assert answer["Name"] == "doc.json"
    assert answer["Hash"] == str(cid_of(data))
    assert int(answer["Size"]) > len(data)  # the DAG's encoded size, as kubo reports it
    cid = answer["Hash"]
    assert httpx.post(f"{market.url}/api/v0/cat", params={"arg": cid}, timeout=60).content == data
    assert httpx.post(f"{market.url}/api/v0/pin/add", params={"arg": cid}).json() == {"Pins": [cid]}
    assert httpx.post(f"{market.url}/api/v0/pin/ls", params={"arg": cid, "type": "recursive"}).json() == {
        "Keys": {cid: {"Type": "recursive"}}
    }
    page = httpx.get(f"{market.url}/ipfs/{cid}", timeout=60)
    assert page.status_code == 200 and page.content == data
    head = httpx.head(f"{market.url}/ipfs/{cid}")
    assert head.status_code == 200 and head.content == b""
    assert (market.ledger / "ipfs" / "blocks").is_dir()


def test_errors_answer_as_kubos_do(market: Market) -> None:
    unknown = str(cid_of(b"unknown"))
    for path in ("/api/v0/cat", "/api/v0/pin/add", "/api/v0/pin/ls"):
        r = httpx.post(f"{market.url}{path}", params={"arg": unknown})
        assert r.status_code == 500
        assert r.json()["Type"] == "error" and unknown in r.json()["Message"]
    bad = httpx.post(f"{market.url}/api/v0/cat", params={"arg": "QmNotACid"})
    assert bad.status_code == 400 and "not a CID" in bad.json()["Message"]
    assert httpx.get(f"{market.url}/ipfs/{unknown}").status_code == 404
    assert httpx.get(f"{market.url}/ipfs/QmNotACid").status_code == 400
    for params in ({"cid-version": "1"}, {"raw-leaves": "true"}, {"chunker": "rabin"}):
        r = httpx.post(f"{market.url}/api/v0/add", params=params, files={"file": ("x", b"x")})
        assert r.status_code == 400 and "not supported" in r.json()["Message"], params
    assert httpx.post(f"{market.url}/api/v0/add", content=b"raw").status_code == 400
    # JSON-RPC is still served on the same port
    rpc = httpx.post(market.url, json={"jsonrpc": "2.0", "id": 1, "method": "getHealth"}).json()
    assert rpc["result"] == "ok"


def test_the_kubo_backend_works_against_it_and_content_survives_a_restart(tmp_path: Path) -> None:
    data = content(2 * 262_144 + 5)
    market = Market(tmp_path / "ledger")
    try:
        with KuboStorage(market.url, label="local market IPFS endpoint") as node:
            cid = node.put(data)
            assert node.has(cid) and node.get(cid) == data
            with pytest.raises(NotFoundError, match="not found on this local market"):
                node.get(cid_of(b"other"))
            assert not node.has(cid_of(b"other"))
    finally:
        market.close()
    market = Market(tmp_path / "ledger")
    try:
        with KuboStorage(market.url) as node:
            assert node.get(cid) == data
    finally:
        market.close()


def test_uploads_over_the_cap_are_refused(tmp_path: Path) -> None:
    app = web.Application()
    IpfsEndpoint(tmp_path / "ipfs", max_size=1000).mount(app)
    with AppThread(app) as server:
        r = httpx.post(f"{server.url}/api/v0/add", files={"file": ("x", content(1001))})
        assert r.status_code == 413 and "larger than 1000 bytes" in r.json()["Message"]
        ok = httpx.post(f"{server.url}/api/v0/add", files={"file": ("x", content(1000))})
        assert ok.json()["Hash"] == str(cid_of(content(1000)))


def test_client_and_node_with_separate_homes_exchange_through_the_endpoint(
    market: Market, tmp_path: Path
) -> None:
    client_home, node_home = tmp_path / "client", tmp_path / "node"
    env = {"NOSANA_NETWORK": "localnet", "NOSANA_RPC_URL": market.url}
    document = tmp_path / "job.json"
    document.write_bytes(HELLO[0])
    put = run_cli("storage", "put", str(document), "--home", str(client_home), "--json", env=env)
    assert put.returncode == 0, put.stderr
    shown = json.loads(put.stdout)
    assert shown["cid"] == HELLO[1]
    assert "local market IPFS endpoint" in shown["backend"]
    # the node side names the network with flags instead of the environment
    flags = ("--network", "localnet", "--rpc-url", market.url)
    got = run_cli("storage", "get", HELLO[1], "--home", str(node_home), *flags)
    assert got.returncode == 0, got.stderr
    assert got.stdout == HELLO[0].decode()
    # nothing went through either home: the documents live in the market's ledger
    assert not (client_home / "storage").exists() and not (node_home / "storage").exists()
    assert (market.ledger / "ipfs" / "blocks").is_dir()

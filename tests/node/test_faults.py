"""Nodes in trouble: several nodes on one market, a faulty network between node and market, the
RPC down or failing at start, start-up checks that fail."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from solders.keypair import Keypair

from tests.chain.test_faults import Landed
from tests.corekit import WAIT_FOR_GO, EngineEvents, new_store, no_traceback
from tests.faultproxy import FaultPlan, FaultProxy
from tests.localnet.conftest import Served
from tests.node.conftest import NodeFactory
from tests.node.nodekit import Market, let_job_go, pipeline

QUEUED = r"waiting in the queue of market"


@pytest.fixture
def landed(served: Served) -> Iterator[Landed]:
    watcher = Landed(served)
    yield watcher
    watcher.close()


def test_several_nodes_on_one_market_never_run_a_job_twice(
    market: Market, start_node: NodeFactory, landed: Landed
) -> None:
    nodes = [start_node() for _ in range(3)]
    for node in nodes:
        node.wait_line(QUEUED)
    jobs = [market.post(pipeline(f"echo job {i}")) for i in range(6)]
    for job in jobs:
        market.wait_done(job)
    counts = landed.count()
    for i, job in enumerate(jobs):
        assert counts[("finish", str(job))] == 1
        claims = [node.count(rf"job {job} claimed") for node in nodes]
        assert sorted(claims) == [0, 0, 1], claims
        runner = nodes[claims.index(1)]
        runner.wait_line(rf"job {job} finished")  # logged once the finish is confirmed
        doc = market.result(job)
        assert doc["node"] == str(runner.wallet) and f"job {i}" in doc["jobs"][0]["log"]
        assert market.client.job(job).node == runner.wallet
    assert sum(node.count(r"finished: result") for node in nodes) == len(jobs)


def test_through_a_faulty_network_every_job_finishes_exactly_once(
    served: Served, market: Market, start_node: NodeFactory, landed: Landed
) -> None:
    plan = FaultPlan(drop=0.2, delay=0.2, ws_close=0.2, seed=11)
    with FaultProxy(served.rpc_url, served.ws_url, plan) as proxy:
        storage = {"NOSANA_STORAGE_BACKEND": "kubo", "NOSANA_STORAGE_KUBO_URL": served.rpc_url}
        node = start_node(rpc_url=proxy.rpc_url, ws_url=proxy.ws_url, env=storage)
        node.wait_line(QUEUED, timeout=180)
        jobs = [market.post(pipeline(f"echo faulty {i}")) for i in range(4)]
        for job in jobs:
            market.wait_done(job, timeout=240)
        stats = dict(proxy.stats)
        assert node.stop() == 0
    counts = landed.count()
    for i, job in enumerate(jobs):
        assert counts[("finish", str(job))] == 1
        assert market.result(job)["status"] == "succeeded", market.result(job)
        assert f"faulty {i}" in market.result(job)["jobs"][0]["log"]
    # the faults did happen, on both sides of the chain and on the sockets
    assert stats["dropped-before"] > 0 and stats["dropped-after"] > 0 and stats["ws-closed"] > 0
    assert no_traceback(node.output)


def _dead_url() -> str:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_rpc_down_at_start_retries_then_exits_with_one_line(market: Market, start_node: NodeFactory) -> None:
    url = _dead_url()
    node = start_node(rpc_url=url, ws_url=url.replace("http", "ws"), env={"NOSANA_CHAIN_RETRY_FOR": "3s"})
    assert node.wait() == 1
    out = node.output
    assert "retrying in" in out and no_traceback(out)
    last = out.strip().splitlines()[-1]
    assert last.startswith("error: ") and f"no Solana JSON-RPC endpoint answers at {url}" in last


def test_rpc_answering_errors_at_start_is_waited_for(
    served: Served, market: Market, start_node: NodeFactory
) -> None:
    answers = ["http-503", "node-behind", "http-503"]  # then the real answers

    def rule(method: str, params: list[Any]) -> str | None:
        return answers.pop(0) if answers else None

    with FaultProxy(served.rpc_url, served.ws_url, FaultPlan(), rule) as proxy:
        storage = {"NOSANA_STORAGE_BACKEND": "kubo", "NOSANA_STORAGE_KUBO_URL": served.rpc_url}
        node = start_node(rpc_url=proxy.rpc_url, ws_url=proxy.ws_url, env=storage)
        node.wait_line(QUEUED, timeout=180)
        job = market.post(pipeline("echo patience"))
        market.wait_done(job)
        assert proxy.stats["http-503"] == 2 and proxy.stats["node-behind"] == 1
        assert node.stop() == 0
    assert "answered HTTP 503; retrying" in node.output and "Node is behind" in node.output
    assert no_traceback(node.output)


def test_failed_start_up_checks_stop_the_node_before_it_joins(
    served: Served, market: Market, start_node: NodeFactory, tmp_path: Path
) -> None:
    broke = tmp_path / "broke.json"  # no SOL, no stake
    broke.write_text(json.dumps(list(bytes(Keypair()))))
    broke.chmod(0o600)
    node = start_node(keypair=broke)
    assert node.wait() == 2
    out = node.output
    assert "FAIL  SOL" in out and "localnet airdrop" in out and "FAIL  stake" in out
    assert "start-up check(s) failed (SOL, stake)" in out and no_traceback(out)
    assert "warn  NOS account  none yet" in out  # made when the node joins: a warning, not a failure

    node = start_node(env={"NOSANA_DOCKER_URL": f"unix://{tmp_path}/no-engine.sock"})
    assert node.wait() == 2
    assert "FAIL  Docker" in node.output and "ok    SOL" in node.output

    demanding = Market(served, market.endpoint, minimum=10**13)
    try:
        node = start_node(market_address=demanding.address)
        assert node.wait() == 2
        assert "FAIL  stake" in node.output and "xNOS more, or join another market" in node.output
        assert not demanding.client.market(demanding.address).queue  # nothing was joined
    finally:
        demanding.close()
    assert not market.client.market(market.address).queue


def test_a_key_gated_market_and_too_little_disk_fail_their_checks(
    served: Served, market: Market, start_node: NodeFactory
) -> None:
    collection = Keypair().pubkey()  # no wallet holds an NFT of this collection
    gated = Market(served, market.endpoint, access_key=collection)
    try:
        node = start_node(market_address=gated.address)
        assert node.wait() == 2
        out = node.output
        verdict = f"the market admits holders of an NFT of collection {collection} only"
        assert f"FAIL  access key   {verdict}" in out
        assert f"get one into {node.wallet}, or join an open market" in out
        assert "start-up check(s) failed (access key)" in out and no_traceback(out)
        assert not gated.client.market(gated.address).queue  # nothing was joined
    finally:
        gated.close()

    node = start_node(env={"NOSANA_NODE_MIN_FREE_DISK": "1000000t"})  # more than any disk holds
    assert node.wait() == 2
    out = node.output
    assert "FAIL  disk         " in out and f"free under {node.home} (at least" in out
    assert "free some space, or set :home elsewhere" in out and "ok    access key   open market" in out
    assert "start-up check(s) failed (disk)" in out and no_traceback(out)
    assert not market.client.market(market.address).queue


class EngineRelay:
    """The engine's API socket relayed byte for byte on a TCP port the test can cut and restore
    (the node sees an engine that stops answering, then comes back)."""

    def __init__(self, path: str = "/var/run/docker.sock") -> None:
        self.path = path
        self.port = 0
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._server: socket.socket | None = None
        self.restore()

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def restore(self) -> None:
        server = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        self.port = server.getsockname()[1]
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def cut(self) -> None:
        """Refuse new connections and break the open ones."""
        server, self._server = self._server, None
        if server is not None:
            with contextlib.suppress(OSError):
                server.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread: no new connection
            server.close()
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX)
            upstream.connect(self.path)
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


def test_an_engine_that_stops_answering_mid_run_is_waited_for_and_the_flow_resumes(
    tmp_path: Path, market: Market, start_node: NodeFactory, landed: Landed
) -> None:
    relay = EngineRelay()
    home = tmp_path / "node"
    try:
        with EngineEvents(new_store(home)) as events:
            node = start_node(home=home, env={"NOSANA_DOCKER_URL": relay.url})
            node.wait_line(QUEUED)
            job = market.post(pipeline(WAIT_FOR_GO, "echo after the outage"))
            events.wait("start")
            mark = node.mark()
            relay.cut()
            node.wait_line(rf"job {job}: its flow stopped, resumable: .*; trying again in", since=mark)
            relay.restore()
            (_, second) = events.wait("start", count=2)
            let_job_go(second["id"])
            market.wait_done(job)
            node.wait_line(rf"job {job} finished")
        assert landed.count()[("finish", str(job))] == 1
        doc = market.result(job)
        assert doc["status"] == "succeeded" and doc["jobs"][0]["attempts"] == 2
        assert "after the outage" in doc["jobs"][0]["log"]
        assert f"job {job} quit" not in node.output
        assert node.stop() == 0
    finally:
        relay.cut()

"""One client cannot hurt the others: body and batch caps, read timeouts, a connection cap, a
subscriber that never reads, heavy reads beside light ones. The market runs in its own process
with a small connection cap and a one-second read timeout."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import socket
import struct
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.transaction import Transaction

from nosana_node.chain.addresses import MAINNET
from nosana_node.chain.transactions import finish, list_job, open_market, work
from tests.localnet.process import Market, market_process, rss_mib

CAP = 24
CONFIRMED = {"commitment": "confirmed"}


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Market]:
    ledger = tmp_path_factory.mktemp("guarded") / "ledger"
    with market_process(ledger, "--max-connections", str(CAP), "--read-timeout", "1") as market:
        yield market


def _request(method: str, *params: object, rid: int = 1) -> dict:
    return {"jsonrpc": "2.0", "id": rid, "method": method, "params": list(params)}


def _read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (10 s at most)."""
    sock.settimeout(10)
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_bodies_and_batches_are_capped(guarded: Market) -> None:
    with httpx.Client() as http:
        big = json.dumps(_request("getSlot")).encode() + b" " * (51 * 1024)
        answer = http.post(guarded.rpc_url, content=big, headers={"content-type": "application/json"})
        assert answer.status_code == 413
        chunked = http.post(guarded.rpc_url, content=iter([big[:30_000], big[30_000:]]))  # no length
        assert chunked.status_code == 413
        padded = json.dumps(_request("getSlot")).encode()
        padded += b" " * (50 * 1024 - len(padded))  # exactly at the cap
        assert "result" in http.post(guarded.rpc_url, content=padded).json()
        batch = [_request("getHealth", rid=i) for i in range(101)]
        assert http.post(guarded.rpc_url, json=batch).json()["error"]["code"] == -32600
        assert len(http.post(guarded.rpc_url, json=batch[:100]).json()) == 100


def test_slow_requests_are_cut_off(guarded: Market) -> None:
    with socket.create_connection(("127.0.0.1", guarded.port)) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: appl")  # headers never finish
        assert _read_all(sock) == b""  # closed by the server
    with socket.create_connection(("127.0.0.1", guarded.port)) as sock:
        sock.sendall(b'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"jsonrpc"')
        assert _read_all(sock).startswith(b"HTTP/1.1 408")  # the body never comes


def test_connections_past_the_cap_are_refused_and_logged_once(guarded: Market) -> None:
    sockets = [socket.create_connection(("127.0.0.1", guarded.port)) for _ in range(CAP + 6)]
    try:
        answers = [_read_all(s) for s in sockets]  # refused at once, or closed when idle
    finally:
        for s in sockets:
            s.close()
    refused = [a for a in answers if a.startswith(b"HTTP/1.1 503")]
    assert len(refused) >= 6 and len(answers) - len(refused) <= CAP
    assert set(answers) - set(refused) == {b""}  # the accepted ones: closed after a second idle
    with httpx.Client() as http:  # and the market serves again
        assert http.post(guarded.rpc_url, json=_request("getHealth")).json()["result"] == "ok"
    log = guarded.log()
    assert log.count("connections open, the limit") == 1, log
    assert log.count("accepting new ones again") == 1
    assert "Traceback" not in log


def _cycle(market: Market, which: int, blockhash: Hash) -> list[Transaction]:
    """list → work → finish on genesis market ``which`` (0 default, 1 priced) by the client and
    node of the same number: the market account changes twice."""
    info = market.summary["markets"][which]
    wallets = {w["name"]: w for w in market.summary["wallets"]}
    client, node = wallets[f"client-{which + 1}"], wallets[f"node-{which + 1}"]
    c, n = market.keypair(client["name"]), market.keypair(node["name"])
    address, vault = Pubkey.from_string(info["address"]), Pubkey.from_string(info["vault"])
    job, run = Keypair(), Keypair()
    listed = list_job(
        MAINNET, address, vault, c.pubkey(), Pubkey.from_string(client["nos_account"]),
        job=job.pubkey(), run=run.pubkey(), ipfs_job=bytes(range(32)), timeout=600,
    )  # fmt: skip
    worked = work(MAINNET, address, n.pubkey(), Pubkey.from_string(node["stake"]), run=run.pubkey())
    done = finish(
        MAINNET, job=job.pubkey(), run=run.pubkey(), market=address, vault=vault,
        deposit=Pubkey.from_string(client["nos_account"]), node=n.pubkey(),
        node_nos=Pubkey.from_string(node["nos_account"]), payer_run=n.pubkey(), payer_job=c.pubkey(),
        ipfs_result=bytes(range(1, 33)),
    )  # fmt: skip
    return [
        Transaction([c, job, run], Message([listed], c.pubkey()), blockhash),
        Transaction([n, run], Message([worked], n.pubkey()), blockhash),
        Transaction([n], Message([done], n.pubkey()), blockhash),
    ]


def _busy(market: Market, which: int, stop: threading.Event, sent: list[str]) -> None:
    """A client and a node running jobs on one market until told to stop."""
    with httpx.Client() as http:
        while not stop.is_set():
            latest = http.post(market.rpc_url, json=_request("getLatestBlockhash", CONFIRMED)).json()
            for tx in _cycle(market, which, Hash.from_string(latest["result"]["value"]["blockhash"])):
                encoded = base64.b64encode(bytes(tx)).decode()
                answer = http.post(
                    market.rpc_url, json=_request("sendTransaction", encoded, {"encoding": "base64"})
                )
                sent.append(answer.json()["result"])


def _frame(text: str) -> bytes:
    """A masked WebSocket text frame, as a client sends it."""
    payload, mask = text.encode(), os.urandom(4)
    size = len(payload)
    header = bytes([0x81]) + (
        bytes([0x80 | size]) if size < 126 else bytes([0x80 | 126]) + struct.pack(">H", size)
    )
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def _never_reading_subscriber(market: Market, requests: list[dict]) -> socket.socket:
    """A WebSocket client (a bare socket with a small receive window) that subscribes, then
    never reads again."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", int(market.ws_url.rsplit(":", 1)[1])))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    handshake = b""
    while b"\r\n\r\n" not in handshake:
        handshake += sock.recv(1)
    assert handshake.startswith(b"HTTP/1.1 101")
    sock.sendall(b"".join(_frame(json.dumps(r)) for r in requests))
    return sock


def test_a_subscriber_that_never_reads_is_disconnected_and_memory_stays_bounded(guarded: Market) -> None:
    before = rss_mib(guarded.proc.pid)
    stop, sent = threading.Event(), []
    busy = [threading.Thread(target=_busy, args=(guarded, i, stop, sent), daemon=True) for i in (0, 1)]
    markets = [m["address"] for m in guarded.summary["markets"][:2]]
    config = {"encoding": "base64", **CONFIRMED}
    # each change of a market: 100 notifications of ~14 KB for this subscriber
    subscriptions = [_request("accountSubscribe", markets[i % 2], config, rid=i) for i in range(200)]
    sock = _never_reading_subscriber(guarded, subscriptions)
    try:
        for thread in busy:
            thread.start()
        deadline = time.monotonic() + 60
        while "behind: disconnected" not in guarded.log():
            assert time.monotonic() < deadline, "the subscriber was never disconnected"
            select.select([], [], [], 0.05)
        after = rss_mib(guarded.proc.pid)
        sock.settimeout(10)
        with contextlib.suppress(ConnectionError):  # what had reached this end, then the end
            while sock.recv(1 << 20):
                pass
    finally:
        stop.set()
        for thread in busy:
            thread.join(timeout=30)
        sock.close()
    assert after - before < 100, (before, after)  # it was gigabytes
    assert len(sent) > 3 and guarded.log().count("behind: disconnected") == 1


def _open_markets(market: Market, count: int) -> None:
    admin = market.keypair("admin")
    with httpx.Client() as http:
        blockhash = Hash.from_string(
            http.post(market.rpc_url, json=_request("getLatestBlockhash", CONFIRMED)).json()["result"][
                "value"
            ]["blockhash"]
        )
        for start in range(0, count, 40):
            batch = []
            for i in range(start, min(count, start + 40)):
                keypair = Keypair()
                ix, _ = open_market(MAINNET, admin.pubkey(), keypair.pubkey())
                tx = Transaction([admin, keypair], Message([ix], admin.pubkey()), blockhash)
                encoded = base64.b64encode(bytes(tx)).decode()
                batch.append(_request("sendTransaction", encoded, {"encoding": "base64"}, rid=i))
            answers = http.post(market.rpc_url, json=batch, timeout=60).json()
            assert all("result" in a for a in answers), answers[:2]


def test_heavy_reads_do_not_stall_light_ones(guarded: Market) -> None:
    _open_markets(guarded, 160)  # ~10 KiB each: a scan of the program returns ~2 MiB
    config = {"encoding": "base64", **CONFIRMED}
    scan = [_request("getProgramAccounts", str(MAINNET.jobs_program), config, rid=i) for i in range(12)]
    body = json.dumps(scan).encode()
    heavy = socket.create_connection(("127.0.0.1", guarded.port))
    heavy.sendall(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    answered_meanwhile = 0
    with httpx.Client() as http:
        while not select.select([heavy], [], [], 0)[0]:  # the batch's answer has not started
            assert http.post(guarded.rpc_url, json=_request("getSlot", CONFIRMED)).json()["result"] > 0
            answered_meanwhile += 1
    started = time.monotonic()
    raw = _read_all(heavy)
    heavy.close()
    results = json.loads(raw.split(b"\r\n\r\n", 1)[1])
    assert len(results) == 12 and all(len(r["result"]) >= 160 for r in results)
    assert answered_meanwhile >= 3, answered_meanwhile  # on the event loop it would have been 0 or 1
    assert time.monotonic() - started < 60

"""Benchmark: the local market under load, over JSON-RPC, as clients meet it.

Phases (each on a fresh ``nosana-node localnet start`` process and ledger):

* **throughput** — 16 clients, each on its own market, send list → work → finish cycles with
  ``sendTransaction`` (preflight on) over their own HTTP connection; prints transactions per
  second, the p50/p99 latency of ``sendTransaction``, and the ratio to plain LiteSVM running the
  same cycles in this process (the baseline). Then the time from ``sendTransaction`` to the
  ``finalized`` signature notification, for 100 transactions sent one at a time.
* **memory** — the server's RSS after N job cycles (default 50,000) sent by 16 clients.
* **subscriber** — the server's RSS while a WebSocket subscriber that never reads sits for 60 s
  beside 2 busy clients (it should be disconnected, the RSS should stay flat).

The client side speaks only JSON-RPC and PubSub, so the same script measures any version of the
market (``--market-from DIR`` runs the market of another checkout, e.g. before a change).

usage: python bench/localnet_load.py [--phase throughput|memory|subscriber|all] [--cycles N]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from localnet_tps import cycle, plain
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction

from nosana_node.chain.addresses import MAINNET
from nosana_node.chain.keyfile import read_keypair
from nosana_node.chain.transactions import open_market
from nosana_node.localnet.genesis import Wallet

ROOT = Path(__file__).resolve().parent.parent


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@contextmanager
def market(ledger: Path, source: Path) -> Iterator[tuple[subprocess.Popen[str], dict[str, Any]]]:
    """``localnet start`` from the checkout at ``source`` on free ports."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("NOSANA_")}, "PYTHONPATH": str(source)}
    cmd = [sys.executable, "-m", "nosana_node", "localnet", "start", "--ledger", str(ledger), "--json"]
    cmd += ["--rpc-port", "0", "--ws-port", "0"]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=source
    )
    errors: list[str] = []
    reader = threading.Thread(target=lambda: errors.extend(iter(proc.stderr.readline, "")), daemon=True)
    reader.start()
    line = proc.stdout.readline() if proc.stdout else ""
    if not line:
        proc.wait(timeout=60)
        raise SystemExit("localnet start failed: " + "".join(errors)[-2000:])
    try:
        summary = json.loads(line)
        summary["log"] = errors
        yield proc, summary
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def _rpc(http: httpx.Client, url: str, method: str, *params: Any) -> Any:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
    answer = http.post(url, json=body, timeout=60).json()
    if "error" in answer:
        raise RuntimeError(f"{method}: {answer['error']}")
    return answer["result"]


def _wallets(summary: dict[str, Any]) -> dict[str, Wallet]:
    found = {}
    for w in summary["wallets"]:
        stake = Pubkey.from_string(w["stake"]) if w["stake"] else None
        found[w["name"]] = Wallet(
            read_keypair(Path(w["keypair_path"])), Pubkey.from_string(w["nos_account"]), bool(stake), stake
        )
    return found


def _markets(summary: dict[str, Any], ledger: Path, count: int) -> list[tuple[Pubkey, Pubkey]]:
    admin = read_keypair(ledger / "keys" / "admin.json")
    markets = []
    with httpx.Client() as http:
        blockhash = Hash.from_string(
            _rpc(http, summary["rpc_url"], "getLatestBlockhash", {"commitment": "confirmed"})["value"][
                "blockhash"
            ]
        )
        for _ in range(count):
            keypair = Keypair()
            ix, vault = open_market(MAINNET, admin.pubkey(), keypair.pubkey())
            tx = Transaction([admin, keypair], Message([ix], admin.pubkey()), blockhash)
            _rpc(
                http,
                summary["rpc_url"],
                "sendTransaction",
                base64.b64encode(bytes(tx)).decode(),
                {"encoding": "base64"},
            )
            markets.append((keypair.pubkey(), vault))
    return markets


async def _clients(
    summary: dict[str, Any], ledger: Path, workers: int, cycles: int
) -> tuple[float, list[float]]:
    """``workers`` clients, ``cycles`` cycles in all: (transactions per second, latencies in s)."""
    markets = _markets(summary, ledger, workers)
    wallets = _wallets(summary)
    latencies: list[float] = []
    url = summary["rpc_url"]

    async def worker(i: int) -> None:
        market, vault = markets[i]
        client, node = wallets[f"client-{i % 2 + 1}"], wallets[f"node-{i % 2 + 1}"]
        async with httpx.AsyncClient(timeout=120) as http:

            async def call(method: str, *params: Any) -> Any:
                body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
                answer = (await http.post(url, json=body)).json()
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer["result"]

            blockhash = None
            for n in range(cycles // workers):
                if n % 10 == 0:  # a blockhash lives 150 slots (60 s)
                    latest = await call("getLatestBlockhash", {"commitment": "confirmed"})
                    blockhash = Hash.from_string(latest["value"]["blockhash"])
                for tx in cycle(market, vault, client, node, blockhash):
                    started = time.perf_counter()
                    await call(
                        "sendTransaction", base64.b64encode(bytes(tx)).decode(), {"encoding": "base64"}
                    )
                    latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(workers)))
    return len(latencies) / (time.perf_counter() - started), latencies


async def _to_finalized(summary: dict[str, Any], count: int) -> list[float]:
    """Seconds from sendTransaction to the finalized signature notification."""
    import websockets

    payer = _wallets(summary)["client-2"].keypair
    found = []
    async with httpx.AsyncClient() as http, websockets.connect(summary["ws_url"]) as ws:
        url = summary["rpc_url"]
        for i in range(count):
            body = {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "getLatestBlockhash",
                "params": [{"commitment": "confirmed"}],
            }
            blockhash = Hash.from_string(
                (await http.post(url, json=body)).json()["result"]["value"]["blockhash"]
            )
            ix = transfer(
                TransferParams(from_pubkey=payer.pubkey(), to_pubkey=Keypair().pubkey(), lamports=10**6 + i)
            )
            tx = Transaction([payer], Message([ix], payer.pubkey()), blockhash)
            subscribe = {
                "jsonrpc": "2.0", "id": 1, "method": "signatureSubscribe",
                "params": [str(tx.signatures[0]), {"commitment": "finalized"}],
            }  # fmt: skip
            await ws.send(json.dumps(subscribe))
            json.loads(await ws.recv())
            started = time.perf_counter()
            send = [base64.b64encode(bytes(tx)).decode(), {"encoding": "base64"}]
            await http.post(
                url, json={"jsonrpc": "2.0", "id": 2, "method": "sendTransaction", "params": send}
            )
            while json.loads(await ws.recv()).get("method") != "signatureNotification":
                pass
            found.append(time.perf_counter() - started)
    return found


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def phase_throughput(source: Path, cycles: int) -> None:
    base = plain(min(cycles, 1000))
    with tempfile.TemporaryDirectory() as tmp, market(Path(tmp) / "ledger", source) as (proc, summary):
        cpu = cpu_seconds(proc.pid)
        tps, latencies = asyncio.run(_clients(summary, Path(tmp) / "ledger", 16, cycles))
        cpu = (cpu_seconds(proc.pid) - cpu) / len(latencies)
        finalized = asyncio.run(_to_finalized(summary, 100))
        print(f"throughput: {cycles} list → work → finish cycles by 16 clients over JSON-RPC ({source})")
        print(f"  plain LiteSVM in process (baseline)  {base:8.0f} tx/s")
        print(f"  16 clients over RPC                  {tps:8.0f} tx/s   ratio {tps / base:.2f}")
        print(f"  server CPU per transaction           {cpu * 1e6:8.0f} µs (load-independent)")
        print(
            f"  sendTransaction latency              p50 {statistics.median(latencies) * 1000:.1f} ms"
            f"   p99 {_pct(latencies, 99) * 1000:.1f} ms"
        )
        print(
            f"  send → finalized notification        p50 {statistics.median(finalized) * 1000:.0f} ms"
            f"   p99 {_pct(finalized, 99) * 1000:.0f} ms   max {max(finalized) * 1000:.0f} ms"
        )


def phase_memory(source: Path, cycles: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, market(Path(tmp) / "ledger", source) as (proc, summary):
        start = rss_mib(proc.pid)
        done = 0
        marks = []
        while done < cycles:
            step = min(10_000, cycles - done)
            asyncio.run(_clients(summary, Path(tmp) / "ledger", 16, step))
            done += step
            marks.append(f"{done}: {rss_mib(proc.pid):.0f}")
        end = rss_mib(proc.pid)
        print(f"memory: server RSS over {cycles} job cycles by 16 clients ({source})")
        per_cycle = (end - start) * 1024 / cycles
        print(f"  at start {start:.0f} MiB, after {end:.0f} MiB: {per_cycle:.2f} KiB per cycle")
        print(f"  RSS (MiB) after cycles: {', '.join(marks)}")


def _frame(text: str) -> bytes:
    payload, mask = text.encode(), os.urandom(4)
    size = len(payload)
    header = bytes([0x81]) + (bytes([0x80 | size]) if size < 126 else bytes([0xFE]) + size.to_bytes(2, "big"))
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def phase_subscriber(source: Path, seconds: float = 60) -> None:
    with tempfile.TemporaryDirectory() as tmp, market(Path(tmp) / "ledger", source) as (proc, summary):
        ledger = Path(tmp) / "ledger"
        start = rss_mib(proc.pid)
        host, port = summary["ws_url"].removeprefix("ws://").split(":")
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect((host, int(port)))
        sock.sendall(
            b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + b"Sec-WebSocket-Key: "
            + base64.b64encode(os.urandom(16))
            + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        handshake = b""
        while not handshake.endswith(b"\r\n\r\n"):
            handshake += sock.recv(1)
        jobs = str(MAINNET.jobs_program)
        for i in range(200):
            request = {
                "jsonrpc": "2.0", "id": i, "method": "programSubscribe",
                "params": [jobs, {"encoding": "base64", "commitment": "confirmed"}],
            }  # fmt: skip
            sock.sendall(_frame(json.dumps(request)))
        stop = threading.Event()
        peak = [start]

        def busy() -> None:  # 2 clients, each on its own market
            while not stop.is_set():
                asyncio.run(_clients(summary, ledger, 2, 40))

        threads = [threading.Thread(target=busy, daemon=True)]
        for thread in threads:
            thread.start()
        ends = time.monotonic() + seconds
        while time.monotonic() < ends:
            peak[0] = max(peak[0], rss_mib(proc.pid))
            time.sleep(0.5)
        stop.set()
        for thread in threads:
            thread.join(timeout=120)
        end = rss_mib(proc.pid)
        sock.close()
        dropped = any("behind: disconnected" in line for line in summary["log"])
        print(f"subscriber: a never-reading subscriber for {seconds:.0f} s beside 2 busy clients ({source})")
        print(f"  server RSS at start {start:.0f} MiB, peak {peak[0]:.0f} MiB, at the end {end:.0f} MiB")
        print(f"  the subscriber was {'disconnected' if dropped else 'NOT disconnected'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--phase", choices=("throughput", "memory", "subscriber", "all"), default="all")
    parser.add_argument(
        "--cycles", type=int, default=None, help="job cycles (throughput 2,000; memory 50,000)"
    )
    parser.add_argument(
        "--market-from",
        type=Path,
        default=ROOT,
        help="the checkout whose market is measured (default: this one)",
    )
    args = parser.parse_args()
    source = args.market_from.resolve()
    if args.phase in ("throughput", "all"):
        phase_throughput(source, args.cycles or 2_000)
    if args.phase in ("subscriber", "all"):
        phase_subscriber(source)
    if args.phase in ("memory", "all"):
        phase_memory(source, args.cycles or 50_000)


if __name__ == "__main__":
    main()

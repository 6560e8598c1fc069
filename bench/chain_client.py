"""Benchmark: what the chain client costs per job, on the local market, against a bare sender.

``nosana-node localnet start`` runs in its own process. The same list → work → finish cycles run:

* **bare** (the baseline) — instructions built once from the protocol table, signed with one
  blockhash and sent with ``sendTransaction`` (preflight), nothing else: no IDL, no fee query,
  no confirmation, no retries;
* **client** — :class:`~nosana_node.chain.client.ChainClient` as the node and the CLI use it:
  accounts read from chain, the IDL's account lists, a priority fee query, a fresh blockhash,
  confirmation by ``signatureSubscribe``, the node's token account checked before ``finish``;
* **client through faults** (``--faults``) — the same through the test fault proxy dropping and
  delaying a fifth of the requests and closing sockets at random.

Prints per-cycle latency (p50, p95), the ratio to the bare sender, RPC requests per cycle, and
the idle load of a node waiting for work (a run watch on its socket) in requests per minute.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from solders.keypair import Keypair
from solders.message import Message
from solders.transaction import Transaction

from nosana_node.chain import pda, transactions
from nosana_node.chain.client import ChainClient, ClientOptions
from nosana_node.chain.endpoint import Endpoint, localnet_endpoint
from nosana_node.chain.retry import Backoff
from nosana_node.chain.rpc import RpcClient

JOB = hashlib.sha256(b"bench job").digest()
RESULT = hashlib.sha256(b"bench result").digest()


def start_market(ledger: Path) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    cmd = [sys.executable, "-m", "nosana_node", "localnet", "start", "--ledger", str(ledger)]
    proc = subprocess.Popen(
        [*cmd, "--rpc-port", "0", "--ws-port", "0", "--json"], stdout=subprocess.PIPE, text=True
    )
    line = proc.stdout.readline() if proc.stdout else ""
    if not line:
        proc.kill()
        raise SystemExit("localnet start did not come up")
    return proc, json.loads(line)


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def bare(endpoint: Endpoint, cycles: int) -> list[float]:
    """Sign and send only: the least any sender does."""
    net = endpoint.addresses
    client, node = endpoint.local_keypair("client-1"), endpoint.local_keypair("node-1")
    market = endpoint.market("default")
    with RpcClient(endpoint.rpc_url) as rpc:
        vault = pda.market_vault(market, net.nos_mint, net.jobs_program)[0]
        stake = pda.stake(node.pubkey(), net.nos_mint, net.staking_program)[0]
        times = []
        for _ in range(cycles):
            start = time.perf_counter()
            blockhash, _ = rpc.latest_blockhash()
            job, run_list, run_work = Keypair(), Keypair(), Keypair()
            client_nos = pda.associated_token(client.pubkey(), net.nos_mint)
            listed = transactions.list_job(
                net,
                market,
                vault,
                client.pubkey(),
                client_nos,
                job=job.pubkey(),
                run=run_list.pubkey(),
                ipfs_job=JOB,
            )
            worked = transactions.work(net, market, node.pubkey(), stake, run=run_work.pubkey())
            finished = transactions.finish(
                net, job=job.pubkey(), run=run_work.pubkey(), market=market, vault=vault, deposit=client_nos,
                node=node.pubkey(), node_nos=pda.associated_token(node.pubkey(), net.nos_mint),
                payer_run=node.pubkey(), payer_job=client.pubkey(), ipfs_result=RESULT,
            )  # fmt: skip
            for ix, signers in (
                (listed, [client, job, run_list]),
                (worked, [node, run_work]),
                (finished, [node]),
            ):
                tx = Transaction(signers, Message([ix], signers[0].pubkey()), blockhash)
                rpc.send_raw(bytes(tx))
            times.append(time.perf_counter() - start)
    return times


def with_client(endpoint: Endpoint, cycles: int, options: ClientOptions) -> tuple[list[float], float]:
    """The chain client; (cycle times, RPC requests per cycle)."""
    client = ChainClient.connect(endpoint, endpoint.local_keypair("client-1"), options)
    node = ChainClient.connect(endpoint, endpoint.local_keypair("node-1"), options)
    market = endpoint.market("default")
    try:
        client.program, node.program  # noqa: B018 - the IDL is read once, before timing
        before = client.rpc.requests + node.rpc.requests
        times = []
        for _ in range(cycles):
            start = time.perf_counter()
            posted = client.list_job(market, JOB, 600)
            node.work(market)
            node.finish(posted.job, RESULT)
            times.append(time.perf_counter() - start)
        requests = (client.rpc.requests + node.rpc.requests - before) / cycles
    finally:
        client.close()
        node.close()
    return times, requests


def idle(endpoint: Endpoint, seconds: float) -> tuple[float, int]:
    """RPC requests per minute of a node waiting in a queue (run watch on its socket)."""
    node = ChainClient.connect(endpoint, endpoint.local_keypair("node-2"), ClientOptions())
    try:
        node.work(endpoint.market("priced"))
        watch = node.watch_runs(lambda _address, _run: None)
        deadline = time.monotonic() + 5
        while not (watch.subscribed and watch.polls >= 2) and time.monotonic() < deadline:  # start-up reads
            time.sleep(0.05)
        before = node.rpc.requests
        time.sleep(seconds)
        used = node.rpc.requests - before
        watch.close()
        node.stop(endpoint.market("priced"))
    finally:
        node.close()
    return used * 60 / seconds, used


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cycles", type=int, default=50, help="list → work → finish cycles per run")
    parser.add_argument("--idle", type=float, default=60.0, help="seconds of idle load measured")
    parser.add_argument("--faults", action="store_true", help="also run the client through the fault proxy")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        proc, summary = start_market(Path(tmp) / "ledger")
        try:
            endpoint = localnet_endpoint(Path(tmp) / "ledger", summary["rpc_url"], summary["ws_url"])
            base = bare(endpoint, args.cycles)
            ours, requests = with_client(endpoint, args.cycles, ClientOptions())
            faulty = None
            if args.faults:
                from tests.faultproxy import FaultPlan, FaultProxy

                plan = FaultPlan(drop=0.2, delay=0.2, ws_close=0.2, seed=11)
                with FaultProxy(endpoint.rpc_url, endpoint.ws_url, plan) as proxy:
                    quick = ClientOptions(backoff=Backoff(first=0.05, cap=0.5, budget=60))
                    faulty = with_client(
                        replace(endpoint, rpc_url=proxy.rpc_url, ws_url=proxy.ws_url), args.cycles, quick
                    )
            per_minute, used = idle(endpoint, args.idle)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    b50, b95 = percentiles(base)
    c50, c95 = percentiles(ours)
    print(f"chain client: {args.cycles} list → work → finish cycles against `localnet start` (one process)")
    print(f"  bare sender (baseline)   p50 {b50 * 1000:7.1f} ms   p95 {b95 * 1000:7.1f} ms")
    print(f"  chain client             p50 {c50 * 1000:7.1f} ms   p95 {c95 * 1000:7.1f} ms   "
          f"ratio {c50 / b50:.2f}   {requests:.1f} requests/cycle")  # fmt: skip
    if faulty is not None:
        f50, f95 = percentiles(faulty[0])
        print(f"  through the fault proxy  p50 {f50 * 1000:7.1f} ms   p95 {f95 * 1000:7.1f} ms   "
              f"ratio {f50 / b50:.2f}   {faulty[1]:.1f} requests/cycle")  # fmt: skip
    idle_line = f"{per_minute:.2f} requests/minute ({used} in {args.idle:g} s)"
    print(f"  idle node in a queue     {idle_line}   target ≤ 1")


if __name__ == "__main__":
    main()

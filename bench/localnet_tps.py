"""Benchmark: list → work → finish cycles on the local market.

Three runs of the same cycles, measured in the same process:

* **plain** — a bare ``solders.litesvm.LiteSVM`` with the jobs program and genesis (the baseline:
  what the VM alone costs, including building and signing each transaction);
* **in process** — the same through :class:`LocalChain` (slots, blockhash checks, history,
  account index, persistence to a ledger, flushed as the server does);
* **over RPC** — ``nosana-node localnet start`` in its own process, driven by the plain Solana
  Python client (``AsyncClient.send_transaction`` with preflight) from several concurrent workers,
  each on its own market.

Prints transactions per second for each and the ratios to the plain baseline.
Targets on a 2-core machine: ≥ 1,000 tx/s in process, ≥ 300 tx/s over RPC.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from solders.hash import Hash
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.message import Message
from solders.pubkey import Pubkey
from solders.transaction import Transaction

from nosana_node.chain.addresses import MAINNET
from nosana_node.chain.keyfile import read_keypair
from nosana_node.chain.transactions import finish, list_job, open_market, work
from nosana_node.localnet.chain import LocalChain
from nosana_node.localnet.genesis import Genesis, MarketInfo, Wallet, apply_genesis
from nosana_node.localnet.ledger import Ledger
from nosana_node.localnet.program import program_bytes

JOB = hashlib.sha256(b"bench job").digest()
RESULT = hashlib.sha256(b"bench result").digest()


def cycle(market: Pubkey, vault: Pubkey, client: Wallet, node: Wallet, blockhash: Hash) -> list[Transaction]:
    """The three signed transactions of one cycle."""
    job, run = Keypair(), Keypair()
    c, n = client.keypair, node.keypair
    listed = list_job(
        MAINNET,
        market,
        vault,
        c.pubkey(),
        client.nos_account,
        job=job.pubkey(),
        run=run.pubkey(),
        ipfs_job=JOB,
    )
    worked = work(MAINNET, market, n.pubkey(), node.stake, run=run.pubkey())
    done = finish(
        MAINNET,
        job=job.pubkey(),
        run=run.pubkey(),
        market=market,
        vault=vault,
        deposit=client.nos_account,
        node=n.pubkey(),
        node_nos=node.nos_account,
        payer_run=n.pubkey(),
        payer_job=c.pubkey(),
        ipfs_result=RESULT,
    )
    return [
        Transaction([c, job, run], Message([listed], c.pubkey()), blockhash),
        Transaction([n, run], Message([worked], n.pubkey()), blockhash),
        Transaction([n], Message([done], n.pubkey()), blockhash),
    ]


def _genesis(chain: Any, admin: Keypair) -> Genesis:
    return apply_genesis(
        chain, program_id=MAINNET.jobs_program, admin=admin, clients=[Keypair()], nodes=[Keypair()]
    )


def run_cycles(
    send: Callable[[Transaction], bool], blockhash: Callable[[], Hash], genesis: Genesis, cycles: int
) -> float:
    market: MarketInfo = genesis.markets["default"]
    start = time.perf_counter()
    for i in range(cycles):
        for tx in cycle(market.address, market.vault, genesis.clients[0], genesis.nodes[0], blockhash()):
            if not send(tx):
                raise SystemExit(f"cycle {i}: a transaction failed")
    return 3 * cycles / (time.perf_counter() - start)


def plain(cycles: int) -> float:
    svm = LiteSVM()
    admin = Keypair()
    svm.add_program(MAINNET.jobs_program, program_bytes(market_admin=admin.pubkey()))
    genesis = _genesis(svm, admin)

    def send(tx: Transaction) -> bool:
        result = svm.send_transaction(tx)
        if callable(getattr(result, "err", None)):
            print(result.err(), result.meta().logs()[-2:], file=sys.stderr)
            return False
        return True

    return run_cycles(send, svm.latest_blockhash, genesis, cycles)


def in_process(cycles: int, ledger_dir: Path) -> float:
    admin = Keypair()
    with Ledger(ledger_dir) as ledger:
        chain = LocalChain(MAINNET.jobs_program, program_bytes(market_admin=admin.pubkey()), ledger=ledger)
        genesis = _genesis(chain, admin)
        chain.flush()
        last_flush = [time.monotonic()]

        def send(tx: Transaction) -> bool:
            receipt = chain.send_transaction(tx)
            if not receipt.ok:
                print(receipt.err, receipt.logs[-2:], file=sys.stderr)
            ok = receipt.ok
            if time.monotonic() - last_flush[0] > 0.4:  # as the server does, every slot
                chain.flush()
                last_flush[0] = time.monotonic()
            return ok

        tps = run_cycles(send, chain.latest_blockhash, genesis, cycles)
        chain.flush()
        return tps


# -- over RPC --------------------------------------------------------------------------------------
def _start_server(ledger_dir: Path) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    cmd = [sys.executable, "-m", "nosana_node", "localnet", "start", "--ledger", str(ledger_dir)]
    cmd += ["--rpc-port", "0", "--ws-port", "0", "--json"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline() if proc.stdout else ""
    if not line:
        proc.kill()
        raise SystemExit("localnet start did not come up")
    return proc, json.loads(line)


async def _rpc_workers(summary: dict[str, Any], ledger_dir: Path, cycles: int, workers: int) -> float:
    from solana.rpc.async_api import AsyncClient

    from nosana_node.chain.provider import Provider
    from nosana_node.chain.rpc import RpcClient

    admin = read_keypair(ledger_dir / "keys" / "admin.json")
    wallets = {w["name"]: w for w in summary["wallets"]}

    def wallet(name: str) -> Wallet:
        w = wallets[name]
        stake = Pubkey.from_string(w["stake"]) if w["stake"] else None
        return Wallet(
            read_keypair(Path(w["keypair_path"])), Pubkey.from_string(w["nos_account"]), bool(stake), stake
        )

    markets = []
    with RpcClient(summary["rpc_url"]) as rpc:
        for _ in range(workers):
            market = Keypair()
            ix, vault = open_market(MAINNET, admin.pubkey(), market.pubkey())
            Provider(rpc, admin).send([ix], [market], action="open market")
            markets.append((market.pubkey(), vault))
    client = AsyncClient(summary["rpc_url"])
    blockhash = (await client.get_latest_blockhash()).value.blockhash

    async def worker(i: int) -> None:
        market, vault = markets[i]
        c, n = wallet(f"client-{i % 2 + 1}"), wallet(f"node-{i % 2 + 1}")
        for _ in range(cycles // workers):
            for tx in cycle(market, vault, c, n, blockhash):
                await client.send_transaction(tx)

    start = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(workers)))
    elapsed = time.perf_counter() - start
    await client.close()
    return 3 * (cycles // workers) * workers / elapsed


def over_rpc(cycles: int, ledger_dir: Path, workers: int) -> float:
    proc, summary = _start_server(ledger_dir)
    try:
        return asyncio.run(_rpc_workers(summary, ledger_dir, cycles, workers))
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cycles", type=int, default=1000, help="list → work → finish cycles per run")
    parser.add_argument("--workers", type=int, default=4, help="concurrent RPC clients")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = plain(args.cycles)
        local = in_process(args.cycles, Path(tmp) / "in-process")
        rpc = over_rpc(args.cycles, Path(tmp) / "rpc", args.workers)
    print(f"localnet tps: {args.cycles} list → work → finish cycles ({3 * args.cycles} transactions) per run")
    print(f"  plain LiteSVM (baseline)        {base:8.0f} tx/s")
    print(f"  LocalChain in process           {local:8.0f} tx/s   ratio {local / base:.2f}   target ≥ 1000")
    label = f"JSON-RPC, {args.workers} solana-py clients"
    print(f"  {label:<31} {rpc:8.0f} tx/s   ratio {rpc / base:.2f}   target ≥ 300")


if __name__ == "__main__":
    main()

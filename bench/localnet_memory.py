"""Benchmark: where the local market's memory goes per job cycle — ours, or LiteSVM's.

Each run does the same list → work → finish cycles in this process after a warm-up, and
measures the growth per cycle of:

* **RSS** — the whole process (Python heap, SQLite's page cache, LiteSVM's Rust heap);
* **ours** — the Python heap as ``tracemalloc`` sees it: the history records until their commit,
  the recent statuses, the replay window, the owner index (LiteSVM's Rust allocations are not
  traced, so this is exactly what the project's code holds);
* **LiteSVM** — the rest (RSS growth minus the traced growth): its accounts database and runtime caches.

Runs: **plain** LiteSVM (the baseline: no ledger, no index; its own transaction history off, as
:class:`LocalChain` runs it); :class:`LocalChain` with a ledger
and a commit every slot as the server does, once where each job stays on chain (as ``finish``
leaves it until ``clean``) and once where the market admin closes it (``clean_admin``), so the
set of live accounts stays the same.

Our part grows only until its bounds are full (recent statuses: 20,000 by default, ~330 bytes
each); ``--statuses`` lowers that bound so that a short warm-up fills it.

usage: python bench/localnet_memory.py [--cycles N] [--warmup N] [--statuses N]
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from localnet_tps import _genesis, cycle
from solders.hash import Hash
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.message import Message
from solders.transaction import Transaction

from nosana_node.chain.addresses import MAINNET
from nosana_node.chain.instructions import INSTRUCTIONS
from nosana_node.localnet import chain as chain_module
from nosana_node.localnet.chain import LocalChain
from nosana_node.localnet.genesis import Genesis
from nosana_node.localnet.ledger import Ledger
from nosana_node.localnet.program import program_bytes


def rss_kib() -> int:
    """Resident set size of this process, in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise SystemExit("no VmRSS in /proc/self/status")


Setup = Callable[[], tuple[Any, Genesis, Callable[[], None]]]


def _cycles(
    send: Callable[[Transaction], None],
    blockhash: Callable[[], Hash],
    genesis: Genesis,
    count: int,
    clean: bool,
) -> None:
    market = genesis.markets["default"]
    client, node, admin = genesis.clients[0], genesis.nodes[0], genesis.admin
    for _ in range(count):
        recent = blockhash()
        txs = cycle(market.address, market.vault, client, node, recent)
        for tx in txs:
            send(tx)
        if clean:
            listed = txs[0].message
            job = listed.account_keys[listed.instructions[0].accounts[0]]  # list's first account
            ix = INSTRUCTIONS["clean_admin"].build(
                MAINNET.jobs_program,
                {"job": job, "payer": client.keypair.pubkey(), "authority": admin.pubkey()},
            )
            send(Transaction([admin], Message([ix], admin.pubkey()), recent))


def measure(label: str, setup: Setup, args: Any, clean: bool) -> None:
    """Warm up, then run ``args.cycles`` cycles and print the growth per cycle."""
    chain, genesis, after = setup()

    def send(tx: Transaction) -> None:
        result = chain.send_transaction(tx)
        ok = result.ok if hasattr(result, "ok") else not callable(getattr(result, "err", None))
        if not ok:
            raise SystemExit(f"{label}: a transaction failed: {result}")
        after()

    gc.collect()
    tracemalloc.start()  # from the start: entries made before tracing and freed later would hide growth
    _cycles(send, chain.latest_blockhash, genesis, args.warmup, clean)
    gc.collect()
    traced0, rss0, start = tracemalloc.get_traced_memory()[0], rss_kib(), time.perf_counter()
    _cycles(send, chain.latest_blockhash, genesis, args.cycles, clean)
    gc.collect()
    traced1, rss1 = tracemalloc.get_traced_memory()[0], rss_kib()
    tracemalloc.stop()
    elapsed = time.perf_counter() - start
    ours = (traced1 - traced0) / 1024 / args.cycles
    total = (rss1 - rss0) / args.cycles
    print(
        f"  {label:<34} RSS {total:6.2f} KiB/cycle   ours (Python heap) {ours:6.2f}"
        f"   LiteSVM and the rest {total - ours:6.2f}   ({args.cycles / elapsed:.0f} cycles/s traced)"
    )


def plain_setup() -> tuple[Any, Genesis, Callable[[], None]]:
    svm, admin = LiteSVM().with_transaction_history(0), Keypair()  # as LocalChain runs it
    svm.add_program(MAINNET.jobs_program, program_bytes(market_admin=admin.pubkey()))
    return svm, _genesis(svm, admin), lambda: None


def chain_setup(ledger_dir: Path) -> Setup:
    def setup() -> tuple[Any, Genesis, Callable[[], None]]:
        admin = Keypair()
        ledger = Ledger(ledger_dir)
        ledger.__enter__()
        chain = LocalChain(MAINNET.jobs_program, program_bytes(market_admin=admin.pubkey()), ledger=ledger)
        genesis = _genesis(chain, admin)
        chain.flush()
        last = [time.monotonic()]

        def every_slot() -> None:  # the server commits once per 400 ms slot
            if time.monotonic() - last[0] > 0.4:
                chain.flush()
                last[0] = time.monotonic()

        return chain, genesis, every_slot

    return setup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cycles", type=int, default=10_000, help="measured cycles per run (default 10,000)")
    parser.add_argument("--warmup", type=int, default=2_000, help="cycles before measuring (default 2,000)")
    parser.add_argument(
        "--statuses",
        type=int,
        default=chain_module.RECENT_STATUSES,
        help=f"recent statuses kept (default {chain_module.RECENT_STATUSES:,}; fewer fill up sooner)",
    )
    args = parser.parse_args()
    chain_module.RECENT_STATUSES = args.statuses
    print(
        f"memory per job cycle (list → work → finish), {args.cycles} cycles after {args.warmup}, "
        f"recent statuses kept: {args.statuses}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        runs = [
            ("plain LiteSVM, job left on chain", plain_setup, False),
            ("plain LiteSVM, job cleaned", plain_setup, True),
            ("LocalChain + ledger, job on chain", chain_setup(Path(tmp) / "kept"), False),
            ("LocalChain + ledger, job cleaned", chain_setup(Path(tmp) / "cleaned"), True),
        ]
        for label, setup, clean in runs:
            pid = os.fork()  # each run in its own process: one run's heap does not skew the next
            if pid == 0:
                code = 0
                try:
                    measure(label, setup, args, clean)
                except SystemExit as failed:
                    print(failed, file=sys.stderr)
                    code = 1
                sys.stdout.flush()
                os._exit(code)
            if os.waitpid(pid, 0)[1] != 0:
                raise SystemExit(f"{label}: failed")


if __name__ == "__main__":
    main()

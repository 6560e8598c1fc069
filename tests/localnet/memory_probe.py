"""Run job cycles on the local market's chain in this process and print, as one JSON line, what
its own structures hold and how much its Python heap grew per cycle once they are full.

    python -m tests.localnet.memory_probe LEDGER_DIR --warmup N --cycles N --statuses N

The chain is :class:`LocalChain` over a :class:`Ledger` (what ``localnet start`` serves) on a
manual clock: every cycle (list → work → finish → clean_admin) moves it one slot; every fifth
commits (the server commits each slot; fewer fsyncs keep the test short). ``--statuses`` lowers
the bound on recent statuses so that a short run fills it. The heap is measured with
``tracemalloc`` from the start (an entry allocated before tracing and freed later would hide
growth); it sees Python's allocations only, not LiteSVM's: exactly what the project's code holds.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import tracemalloc
from pathlib import Path

from solders.keypair import Keypair
from solders.message import Message
from solders.transaction import Transaction

from nosana_node.chain.addresses import MAINNET
from nosana_node.chain.instructions import INSTRUCTIONS
from nosana_node.chain.transactions import finish, list_job, work
from nosana_node.localnet import chain as chain_module
from nosana_node.localnet.chain import LocalChain
from nosana_node.localnet.clock import ManualClock, SlotClock
from nosana_node.localnet.genesis import Genesis, apply_genesis
from nosana_node.localnet.ledger import Ledger
from nosana_node.localnet.program import program_bytes

DIGEST = hashlib.sha256(b"memory probe").digest()


def one_cycle(chain: LocalChain, genesis: Genesis, clock: ManualClock, commit: bool) -> None:
    """list → work → finish → clean_admin on the default market in one slot; then the clock
    moves a slot on, and with ``commit`` the sealed slots are written to the ledger."""
    market, client, node, admin = (
        genesis.markets["default"],
        genesis.clients[0],
        genesis.nodes[0],
        genesis.admin,
    )
    job, run = Keypair(), Keypair()
    c, n = client.keypair, node.keypair
    listed = list_job(
        MAINNET, market.address, market.vault, c.pubkey(), client.nos_account,
        job=job.pubkey(), run=run.pubkey(), ipfs_job=DIGEST,
    )  # fmt: skip
    worked = work(MAINNET, market.address, n.pubkey(), node.stake, run=run.pubkey())
    done = finish(
        MAINNET, job=job.pubkey(), run=run.pubkey(), market=market.address, vault=market.vault,
        deposit=client.nos_account, node=n.pubkey(), node_nos=node.nos_account,
        payer_run=n.pubkey(), payer_job=c.pubkey(), ipfs_result=DIGEST,
    )  # fmt: skip
    cleaned = INSTRUCTIONS["clean_admin"].build(
        MAINNET.jobs_program, {"job": job.pubkey(), "payer": c.pubkey(), "authority": admin.pubkey()}
    )
    blockhash = chain.latest_blockhash()
    for tx in (
        Transaction([c, job, run], Message([listed], c.pubkey()), blockhash),
        Transaction([n, run], Message([worked], n.pubkey()), blockhash),
        Transaction([n], Message([done], n.pubkey()), blockhash),
        Transaction([admin], Message([cleaned], admin.pubkey()), blockhash),
    ):
        receipt = chain.send_transaction(tx)
        if not receipt.ok:
            raise SystemExit(f"a transaction failed: {receipt.err} {receipt.logs[-2:]}")
    clock.advance(0.4)
    if commit:
        chain.flush()


def sizes(chain: LocalChain) -> dict[str, int]:
    """How many entries each of the chain's own structures holds."""
    return {
        "statuses": len(chain._statuses),
        "records": len(chain._records),
        "seen": len(chain._seen),
        "blockhashes": len(chain._blockhashes),
        "slot_hashes": len(chain._slot_hashes),
        "indexed": len(chain._owner_of),
        "by_owner": sum(len(keys) for keys in chain._by_owner.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("ledger", type=Path)
    parser.add_argument("--warmup", type=int, required=True)
    parser.add_argument("--cycles", type=int, required=True)
    parser.add_argument("--statuses", type=int, required=True)
    args = parser.parse_args()
    chain_module.RECENT_STATUSES = args.statuses
    clock, admin = ManualClock(), Keypair()
    with Ledger(args.ledger) as ledger:
        chain = LocalChain(
            MAINNET.jobs_program,
            program_bytes(market_admin=admin.pubkey()),
            ledger=ledger,
            clock=lambda start: SlotClock(start, monotonic=clock, wall=clock),
        )
        genesis = apply_genesis(
            chain, program_id=MAINNET.jobs_program, admin=admin, clients=[Keypair()], nodes=[Keypair()]
        )
        chain.flush()
        gc.collect()
        tracemalloc.start()
        for i in range(args.warmup):
            one_cycle(chain, genesis, clock, commit=i % 5 == 4)
        chain.flush()
        warm = sizes(chain)
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        for i in range(args.cycles):
            one_cycle(chain, genesis, clock, commit=i % 5 == 4)
        chain.flush()
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        print(json.dumps({"warm": warm, "after": sizes(chain), "bytes_per_cycle": grown / args.cycles}))


if __name__ == "__main__":
    main()

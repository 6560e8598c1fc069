"""``node status``: what a node home and the chain say about a node, read from outside it.

:func:`node_status` reads the home (is a node serving it - the lock -, its run records) and the
chain (the market's queue and the node's place in it, SOL and NOS balances, stake, the runs the
chain gives this node) and returns one JSON-ready document; :func:`describe` prints it for people.
It sends nothing and needs no running node.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from solders.pubkey import Pubkey

from nosana_node.chain.accounts import QueueType
from nosana_node.errors import ChainError
from nosana_node.node.state import NodeDb, running_node
from nosana_node.units import duration, nos, sol, xnos


def node_status(chain: Any, home: Path, market: Pubkey | None) -> dict[str, Any]:
    """The status document of the node signing as ``chain.wallet`` with home ``home``."""
    wallet = chain.wallet
    lock = running_node(home)
    if lock is not None and market is None:
        market = Pubkey.from_string(lock.market)
    records: list[Any] = []
    unfinished: list[Any] = []
    counts: dict[str, int] = {}
    if (home / "node.db").exists():
        db = NodeDb(home)
        try:
            records, unfinished, counts = db.recent(5), db.unfinished(), db.counts()
        finally:
            db.close()
    queue: dict[str, Any] = {"market": str(market) if market else None, "queued": False, "position": None}
    minimum = None
    if market is not None:
        try:
            account = chain.market(market)
        except ChainError as exc:
            queue["error"] = str(exc)
        else:
            minimum = account.node_xnos_minimum
            kind = QueueType.read(account.queue_type)
            queue.update(
                market_name=chain.endpoint.market_name(market),
                length=len(account.queue),
                kind=kind.name.lower(),
                queued=kind == QueueType.NODE and wallet in account.queue,
            )
            if queue["queued"]:
                queue["position"] = account.queue.index(wallet) + 1
    stake = chain.stake()
    runs = chain.runs(node=wallet)
    return {
        "wallet": str(wallet),
        "network": chain.endpoint.network,
        "rpc_url": chain.endpoint.rpc_url,
        "home": str(home),
        "running": lock is not None,
        "pid": lock.pid if lock else None,
        "since": lock.started_at if lock else None,
        "queue": queue,
        "balances": {"sol": chain.sol_balance(), "nos": chain.nos_balance()},
        "stake": {"xnos": stake.xnos if stake else None, "minimum": minimum},
        "current": unfinished[0].to_json() if unfinished else None,
        "runs_on_chain": [{"run": str(k), "job": str(r.job), "started": r.time} for k, r in runs.items()],
        "recent": [r.to_json() for r in records],
        "counts": counts,
    }


def describe(status: dict[str, Any]) -> str:
    """The status for people: a few aligned lines."""
    q = status["queue"]
    if status["running"]:
        state = f"running (pid {status['pid']}, up {_ago(status['since'])})"
    else:
        state = "not running"
    if q.get("error"):
        place = f"market {q['market']}: {q['error']}"
    elif q["market"] is None:
        place = "no market (--market, :market)"
    else:
        name = f" ({q['market_name']})" if q.get("market_name") else ""
        where = f"queued, position {q['position']} of {q['length']}" if q["queued"] else "not queued"
        place = f"{q['market']}{name}: {where}"
    stake = status["stake"]
    stake_text = "none" if stake["xnos"] is None else f"{xnos(stake['xnos'])}"
    if stake["minimum"] is not None:
        stake_text += f" (market minimum {xnos(stake['minimum'])})"
    lines = [
        f"node {status['wallet']} on {status['network']} ({status['rpc_url']})",
        f"  process    {state}, home {status['home']}",
        f"  market     {place}",
        f"  balances   {sol(status['balances']['sol'])}, {nos(status['balances']['nos'])}",
        f"  stake      {stake_text}",
    ]
    current = status["current"]
    if current:
        lines.append(
            f"  current    job {current['job']} (run {current['run']}): {current['step']}"
            + (f", claimed {_ago(current['claimed_at'])} ago" if current.get("claimed_at") else "")
        )
    else:
        lines.append("  current    no job")
    counts = status["counts"]
    if counts:
        lines.append("  jobs       " + ", ".join(f"{n} {step}" for step, n in sorted(counts.items())))
    for record in status["recent"]:
        tail = record.get("result_cid") or record.get("error") or ""
        lines.append(f"    {record['job']}  {record['step']:<13} {record.get('status') or '':<9} {tail}")
    return "\n".join(lines)


def _ago(unix: float | None) -> str:
    return "-" if unix is None else duration(max(0, int(time.time() - unix)))

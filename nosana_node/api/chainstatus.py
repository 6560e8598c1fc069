"""What ``GET /status`` reads from the chain: the market and the node's place in its queue, the
node's SOL and NOS balances and stake, and what each finished job paid.

Reads go through the :class:`~nosana_node.chain.interface.Chain` seam and are blocking: the
server calls them in a thread behind :class:`~nosana_node.api.refresh.Refreshed` (one read per
``ttl``, however many ask). A job's payment is read once it is done and kept (it never
changes): ``price * min(time_end - time_start, timeout)`` NOS base units (the jobs program's
rule, ``/work/shared/spec/jobs-program.md``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from solders.pubkey import Pubkey

from nosana_node.chain.accounts import JobAccount, JobState, QueueType
from nosana_node.chain.interface import Chain
from nosana_node.errors import ChainError


def payment(job: JobAccount) -> int:
    """NOS base units the node of a done job was paid."""
    return job.price * max(0, min(job.time_end - job.time_start, job.timeout))


class ChainStatus:
    """The chain's side of the status, and payments of finished jobs (remembered, bounded)."""

    def __init__(self, chain: Chain, market: Pubkey, *, market_name: str = "", remember: int = 4096) -> None:
        self.chain = chain
        self.market = market
        self.market_name = market_name
        self._paid: OrderedDict[str, int] = OrderedDict()
        self._remember = remember
        self._lock = threading.Lock()

    def read(self) -> dict[str, Any]:
        """Market, queue, balances, stake (a part that cannot be read says why in ``error``)."""
        wallet = self.chain.wallet
        market: dict[str, Any] = {"address": str(self.market), "name": self.market_name or None}
        try:
            account = self.chain.market(self.market)
        except ChainError as exc:
            market["error"] = str(exc)
            minimum = None
        else:
            kind = QueueType.read(account.queue_type)
            queued = kind == QueueType.NODE and wallet in account.queue
            market.update(
                price=account.job_price,
                timeout=account.job_timeout,
                queue_kind=kind.name.lower(),
                queue_length=len(account.queue),
                queued=queued,
                position=account.queue.index(wallet) + 1 if queued else None,
            )
            minimum = account.node_xnos_minimum
        stake = self.chain.stake()
        return {
            "market": market,
            "balances": {"sol": self.chain.sol_balance(), "nos": self.chain.nos_balance()},
            "stake": {"xnos": stake.xnos if stake else None, "minimum": minimum},
        }

    def paid(self, jobs: list[str]) -> dict[str, int]:
        """What each of ``jobs`` (finished by this node) paid; jobs not done or gone are left out."""
        out: dict[str, int] = {}
        for job in jobs:
            with self._lock:
                known = self._paid.get(job)
            if known is not None:
                out[job] = known
                continue
            try:
                account = self.chain.job(Pubkey.from_string(job))
            except (ChainError, ValueError):
                continue
            if account is None or account.state != JobState.DONE or account.node != self.chain.wallet:
                continue
            out[job] = payment(account)
            with self._lock:
                self._paid[job] = out[job]
                while len(self._paid) > self._remember:
                    self._paid.popitem(last=False)
        return out

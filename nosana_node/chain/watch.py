"""Watching the chain: subscriptions that fall back to a slow poll while the socket is down.

A watch subscribes through :class:`~.pubsub.PubSub` and, on its own thread, reads the current
state once at start, once after every reconnect (notifications sent while the socket was down
are lost), and every ``slow_poll`` seconds while the socket is down. While it is up nothing is
polled: an idle node costs no RPC requests. Callbacks are called from the watch's threads, one
at a time, and must return quickly.

* :class:`RunWatch` - the run accounts of one node or one job (``programSubscribe`` on the jobs
  program: RunAccount discriminator at 0, the node at offset 40, the job at 8):
  ``on_run(address, run)`` once per run address.
* :class:`AccountWatch` - one account (``accountSubscribe``): ``on_change(account_or_None)``
  whenever its lamports, owner or data change; None once it is closed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from solders.pubkey import Pubkey

from nosana_node.chain.accounts import DecodeError, RunAccount
from nosana_node.chain.rpc import AccountData, Memcmp, RpcClient, parse_account
from nosana_node.errors import ChainError

log = logging.getLogger("nosana_node.chain")


class _Watch:
    """The poll thread and the subscription state shared by the watches."""

    name = "watch"

    def __init__(self, rpc: RpcClient, pubsub: Any, slow_poll: float) -> None:
        self.rpc, self.pubsub, self.slow_poll = rpc, pubsub, slow_poll
        self._lock = threading.Lock()  # one callback at a time
        self._wake = threading.Event()
        self._resync = True
        self._up = False
        self._closed = False
        self._sub: Any = None
        self._thread = threading.Thread(target=self._loop, name=f"chain-{self.name}", daemon=True)
        #: polls made so far (tests and benchmarks read it)
        self.polls = 0

    def _start(self, method: str, params: list[Any]) -> None:
        if self.pubsub is not None:
            self._sub = self.pubsub.subscribe(method, params, self._notified, self._state)
        self._thread.start()

    @property
    def subscribed(self) -> bool:
        """The subscription is acknowledged on a live socket."""
        return self._up

    def _state(self, up: bool) -> None:
        self._up = up
        self._resync = True  # after a drop, and once it is back: read the current state
        self._wake.set()

    def _loop(self) -> None:
        while not self._closed:
            if self._resync or not self._up:
                self._resync = False
                try:
                    self.polls += 1
                    self._poll()
                except ChainError as exc:
                    log.warning("%s poll failed: %s", self.name, exc)
                except Exception:
                    log.exception("%s poll failed", self.name)
            self._wake.wait(None if self._up and not self._resync else self.slow_poll)
            self._wake.clear()

    def _poll(self) -> None:
        raise NotImplementedError

    def _notified(self, value: Any) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Unsubscribe and stop polling."""
        self._closed = True
        if self._sub is not None:
            self._sub.close()
        self._wake.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=10)

    def __enter__(self) -> _Watch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RunWatch(_Watch):
    """Runs of ``node`` and/or of ``job`` on ``program``: ``on_run(address, run)`` once per run."""

    name = "run-watch"

    def __init__(
        self,
        rpc: RpcClient,
        pubsub: Any,
        program: Pubkey,
        on_run: Callable[[Pubkey, RunAccount], None],
        *,
        node: Pubkey | None = None,
        job: Pubkey | None = None,
        slow_poll: float = 30.0,
    ) -> None:
        super().__init__(rpc, pubsub, slow_poll)
        if node is None and job is None:
            raise ValueError("watch the runs of a node, of a job, or both")
        self.program, self.node, self.job, self.on_run = program, node, job, on_run
        self.filters = [Memcmp(0, RunAccount.DISCRIMINATOR)]
        if job is not None:
            self.filters.append(Memcmp(8, bytes(job)))
        if node is not None:
            self.filters.append(Memcmp(40, bytes(node)))
        self._seen: set[Pubkey] = set()
        config = {
            "encoding": "base64",
            "commitment": rpc.commitment,
            "filters": [f.to_json() for f in self.filters],
        }
        self._start("programSubscribe", [str(program), config])

    def forget(self, run: Pubkey) -> None:
        """Stop remembering a run that is over (its address never comes back)."""
        with self._lock:
            self._seen.discard(run)

    def _poll(self) -> None:
        found = self.rpc.program_accounts(self.program, self.filters)
        with self._lock:
            current = set()
            for address, account in found:
                current.add(address)
                self._report(address, account)
            self._seen &= current  # closed runs never come back

    def _notified(self, value: Any) -> None:
        try:
            address = Pubkey.from_string(value["pubkey"])
            account = parse_account(value["account"])
        except (KeyError, TypeError, ValueError):
            return
        with self._lock:
            self._report(address, account)

    def _report(self, address: Pubkey, account: AccountData | None) -> None:
        if account is None or address in self._seen:
            return
        try:
            run = RunAccount.decode(account.data)
        except DecodeError:
            return
        if (self.node is not None and run.node != self.node) or (
            self.job is not None and run.job != self.job
        ):
            return
        self._seen.add(address)
        try:
            self.on_run(address, run)
        except Exception:
            log.exception("run watch callback failed")


class AccountWatch(_Watch):
    """One account: ``on_change(AccountData | None)`` on every change (None: closed)."""

    name = "account-watch"

    def __init__(
        self,
        rpc: RpcClient,
        pubsub: Any,
        address: Pubkey,
        on_change: Callable[[AccountData | None], None],
        *,
        slow_poll: float = 30.0,
    ) -> None:
        super().__init__(rpc, pubsub, slow_poll)
        self.address, self.on_change = address, on_change
        self._last: Any = ()  # nothing reported yet
        self._start("accountSubscribe", [str(address), {"encoding": "base64", "commitment": rpc.commitment}])

    def _poll(self) -> None:
        account = self.rpc.account(self.address)
        with self._lock:
            self._report(account)

    def _notified(self, value: Any) -> None:
        try:
            account = parse_account(value)
        except (KeyError, TypeError, ValueError):
            return
        with self._lock:
            self._report(account)

    def _report(self, account: AccountData | None) -> None:
        if account is not None and account.lamports == 0:
            account = None  # closed: Solana notifies a zero-lamport, system-owned account
        key = None if account is None else (account.lamports, account.owner, account.data)
        if key == self._last:
            return
        self._last = key
        try:
            self.on_change(account)
        except Exception:
            log.exception("account watch callback failed")

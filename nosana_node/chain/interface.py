"""The chain seam: what the node and the CLI need from a Nosana market, whatever the endpoint.

:class:`Chain` is implemented by :class:`~nosana_node.chain.client.ChainClient` (any Solana
JSON-RPC endpoint). Failures are :class:`~nosana_node.errors.ChainError` subclasses from
:mod:`~nosana_node.chain.failures` (``transient`` says whether trying again may help);
instructions refused by the program raise :class:`~.failures.TransactionFailed` with the
program error's name (``program_error``) and number (``code``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from solders.pubkey import Pubkey

from nosana_node.chain.accounts import JobAccount, JobState, MarketAccount, RunAccount, StakeAccount
from nosana_node.chain.provider import SignedTransaction

#: How clients show job states.
STATE_NAMES = {
    JobState.QUEUED: "QUEUED",
    JobState.RUNNING: "RUNNING",
    JobState.DONE: "COMPLETED",
    JobState.STOPPED: "STOPPED",
}
STATE_BY_NAME = {name: state for state, name in STATE_NAMES.items()} | {"DONE": JobState.DONE}


def job_state(job: JobAccount, has_run: bool) -> str:
    """QUEUED, RUNNING (stored as queued - or stopped, once claimed again - with a run),
    COMPLETED or STOPPED."""
    if job.state in (JobState.QUEUED, JobState.STOPPED) and has_run:
        return STATE_NAMES[JobState.RUNNING]
    try:
        return STATE_NAMES[JobState(job.state)]
    except ValueError:
        return f"UNKNOWN({job.state})"


@dataclass(frozen=True)
class Posted:
    """A job just listed: its address, the run address handed to ``list`` (it exists when a
    waiting node took the job at once) and the signature."""

    job: Pubkey
    run: Pubkey
    signature: str


@dataclass(frozen=True)
class Worked:
    """A ``work`` or ``claim``: the run address, the signature, and the job taken (None: the
    node is now waiting in the market's queue)."""

    run: Pubkey
    signature: str
    job: Pubkey | None


@dataclass(frozen=True)
class JobView:
    """A job, its runs, and its state as clients show it."""

    address: Pubkey
    job: JobAccount
    runs: dict[Pubkey, RunAccount] = field(default_factory=dict)
    state: str = "QUEUED"


class Watch(Protocol):
    """A running subscription (with its poll fallback)."""

    def close(self) -> None: ...


@runtime_checkable
class Chain(Protocol):
    """The jobs program on one cluster, signing as :attr:`wallet`."""

    @property
    def wallet(self) -> Pubkey: ...

    # reads
    def market(self, address: Pubkey) -> MarketAccount: ...
    def markets(self) -> dict[Pubkey, MarketAccount]: ...
    def job(self, address: Pubkey) -> JobAccount | None: ...
    def jobs(
        self,
        *,
        market: Pubkey | None = None,
        state: int | None = None,
        project: Pubkey | None = None,
        node: Pubkey | None = None,
    ) -> dict[Pubkey, JobAccount]: ...
    def job_view(self, address: Pubkey) -> JobView | None: ...
    def run(self, address: Pubkey) -> RunAccount | None: ...
    def runs(self, *, node: Pubkey | None = None, job: Pubkey | None = None) -> dict[Pubkey, RunAccount]: ...
    def stake(self, node: Pubkey | None = None) -> StakeAccount | None: ...
    def sol_balance(self, owner: Pubkey | None = None) -> int: ...
    def nos_balance(self, owner: Pubkey | None = None) -> int | None: ...

    # the project's side
    def list_job(self, market: Pubkey, ipfs_job: bytes, timeout: int) -> Posted: ...
    def delist(self, job: Pubkey) -> str: ...
    def end(self, job: Pubkey) -> str: ...
    def extend(self, job: Pubkey, timeout: int) -> str: ...
    def recover(self, job: Pubkey) -> str: ...

    # the node's side
    def work(self, market: Pubkey) -> Worked: ...
    def stop(self, market: Pubkey) -> str: ...
    def claim(self, job: Pubkey) -> Worked: ...
    def finish(
        self,
        job: Pubkey,
        ipfs_result: bytes,
        *,
        run: Pubkey | None = None,
        on_signed: Callable[[SignedTransaction], None] | None = None,
    ) -> str: ...
    def quit(
        self,
        job: Pubkey,
        *,
        run: Pubkey | None = None,
        on_signed: Callable[[SignedTransaction], None] | None = None,
    ) -> str: ...
    def resume(self, signed: SignedTransaction, *, action: str) -> bool: ...
    def signature_status(self, signature: str) -> dict[str, Any] | None: ...

    # watching
    def watch_runs(
        self,
        on_run: Callable[[Pubkey, RunAccount], None],
        *,
        node: Pubkey | None = None,
        job: Pubkey | None = None,
    ) -> Watch: ...
    def watch_job(self, job: Pubkey, on_change: Callable[[JobAccount | None], None]) -> Watch: ...

    def close(self) -> None: ...

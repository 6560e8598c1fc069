"""The chain client: reads and instructions of the jobs program, for any endpoint.

:class:`ChainClient` implements :class:`~.interface.Chain` over one :class:`~.provider.Provider`
(the connection, the wallet that signs and pays, and the sending options), the jobs program's
IDL (:class:`~.program.JobsProgram`, read from chain on first use) and a PubSub connection for
confirmations and watches. Every instruction fills its accounts from the chain's own state (the
market's vault, the job's payer and project, the run's payer), so callers pass addresses only.

    client = ChainClient.connect(endpoint, wallet)
    posted = client.list_job(market, digest, timeout=1800)
    client.finish(posted.job, result_digest)      # as the node that runs it
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from spl.token.instructions import create_idempotent_associated_token_account

from nosana_node.chain import pda
from nosana_node.chain.access import AccessNft, find_access_nft
from nosana_node.chain.accounts import (
    DecodeError,
    JobAccount,
    JobState,
    MarketAccount,
    RunAccount,
    StakeAccount,
)
from nosana_node.chain.addresses import OPEN_ACCESS_KEY, SYSTEM_PROGRAM, TOKEN_PROGRAM
from nosana_node.chain.endpoint import Endpoint
from nosana_node.chain.interface import JobView, Posted, Worked, job_state
from nosana_node.chain.program import JobsProgram
from nosana_node.chain.provider import OnSigned, Provider, SendOptions, SignedTransaction
from nosana_node.chain.pubsub import PubSub
from nosana_node.chain.retry import Backoff
from nosana_node.chain.rpc import AccountData, Memcmp, RpcClient
from nosana_node.chain.transactions import rewards_accounts
from nosana_node.chain.watch import AccountWatch, RunWatch
from nosana_node.errors import ChainError, UserInputError

log = logging.getLogger("nosana_node.chain")


@dataclass(frozen=True)
class ClientOptions:
    """Connection and sending settings (``:chain`` in the configuration)."""

    send: SendOptions = field(default_factory=SendOptions)
    #: seconds of retrying transient RPC failures before giving up
    retry_for: float = 300.0
    #: the retry delays (default: 1 s doubling to 30 s, jittered, for ``retry_for`` seconds)
    backoff: Backoff | None = None
    rpc_timeout: float = 30.0
    commitment: str = "confirmed"
    #: seconds between polls of a watch while its socket is down
    slow_poll: float = 30.0
    #: confirm and watch through PubSub (False: polling only)
    pubsub: bool = True

    @classmethod
    def from_config(cls, config: Any) -> ClientOptions:
        """The options of a configuration's ``:chain`` section."""
        chain = config.chain
        return cls(
            send=SendOptions(priority_fee_cap=chain.priority_fee_cap),
            retry_for=chain.retry_for,
            commitment=chain.commitment,
            slow_poll=chain.slow_poll,
        )


class ChainClient:
    """Reads and writes of the jobs program for the provider's wallet."""

    def __init__(
        self,
        endpoint: Endpoint,
        provider: Provider,
        *,
        pubsub: PubSub | None = None,
        program: JobsProgram | None = None,
        slow_poll: float = 30.0,
    ) -> None:
        self.endpoint, self.provider, self.pubsub = endpoint, provider, pubsub
        self.addresses = endpoint.addresses
        self.rpc = provider.connection
        self.slow_poll = slow_poll
        self._program = program
        self._token_accounts: set[Pubkey] = set()  # NOS accounts seen to exist (they stay)

    @classmethod
    def connect(
        cls, endpoint: Endpoint, wallet: Keypair, options: ClientOptions | None = None, **rpc: Any
    ) -> ChainClient:
        """A client for ``endpoint`` signing with ``wallet`` (``rpc``: extra RpcClient arguments,
        e.g. a test clock)."""
        options = options or ClientOptions()
        connection = RpcClient(
            endpoint.rpc_url,
            options.rpc_timeout,
            backoff=options.backoff or Backoff(budget=options.retry_for),
            commitment=options.commitment,
            **rpc,
        )
        pubsub = PubSub(endpoint.ws_url) if options.pubsub else None
        provider = Provider(connection, wallet, options.send, pubsub=pubsub)
        client = cls(endpoint, provider, pubsub=pubsub, slow_poll=options.slow_poll)
        return client

    # -- basics -----------------------------------------------------------------------------------
    @property
    def wallet(self) -> Pubkey:
        return self.provider.pubkey

    @property
    def program(self) -> JobsProgram:
        """The jobs program with the IDL the chain publishes (read once)."""
        if self._program is None:
            self._program = JobsProgram.load(self.rpc, self.addresses.jobs_program)
            self.provider.errors = self._program
        return self._program

    def vault(self, market: Pubkey) -> Pubkey:
        """The market's NOS vault (a PDA of the market: no read needed)."""
        return pda.market_vault(market, self.addresses.nos_mint, self.addresses.jobs_program)[0]

    def nos_account(self, owner: Pubkey | None = None) -> Pubkey:
        """The NOS associated token account of ``owner`` (default: the wallet)."""
        return pda.associated_token(owner or self.wallet, self.addresses.nos_mint)

    def close(self) -> None:
        if self.pubsub is not None:
            self.pubsub.close()
        self.rpc.close()

    def __enter__(self) -> ChainClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reads ------------------------------------------------------------------------------------
    def _program_accounts(self, filters: Sequence[Memcmp]) -> list[tuple[Pubkey, AccountData]]:
        return self.rpc.program_accounts(self.addresses.jobs_program, filters)

    def market(self, address: Pubkey) -> MarketAccount:
        """The market at ``address`` (ChainError when there is none)."""
        account = self.rpc.account(address)
        if account is None:
            raise ChainError(f"market {address} not found on {self.endpoint.network}")
        try:
            return MarketAccount.decode(account.data)
        except DecodeError:
            raise ChainError(f"{address} is not a market of the jobs program") from None

    def markets(self) -> dict[Pubkey, MarketAccount]:
        """Every market of the jobs program."""
        found = self._program_accounts([Memcmp(0, MarketAccount.DISCRIMINATOR)])
        return {key: MarketAccount.decode(a.data) for key, a in found}

    def job(self, address: Pubkey) -> JobAccount | None:
        """The job at ``address``, or None (never listed, or closed)."""
        account = self.rpc.account(address)
        if account is None or account.lamports == 0:
            return None
        try:
            return JobAccount.decode(account.data)
        except DecodeError:
            raise ChainError(f"{address} is not a job of the jobs program") from None

    def jobs(
        self,
        *,
        market: Pubkey | None = None,
        state: int | None = None,
        project: Pubkey | None = None,
        node: Pubkey | None = None,
    ) -> dict[Pubkey, JobAccount]:
        """Jobs matching every filter given (stored state: QUEUED covers running jobs too)."""
        filters = [Memcmp(0, JobAccount.DISCRIMINATOR)]
        if market is not None:
            filters.append(Memcmp(72, bytes(market)))
        if node is not None:
            filters.append(Memcmp(104, bytes(node)))
        if project is not None:
            filters.append(Memcmp(176, bytes(project)))
        if state is not None:
            filters.append(Memcmp(208, bytes([state])))
        return {key: JobAccount.decode(a.data) for key, a in self._program_accounts(filters)}

    def run(self, address: Pubkey) -> RunAccount | None:
        """The run at ``address``, or None (closed, or not yet created)."""
        account = self.rpc.account(address)
        if account is None or account.lamports == 0 or account.owner != self.addresses.jobs_program:
            return None
        try:
            return RunAccount.decode(account.data)
        except DecodeError:
            return None

    def runs(self, *, node: Pubkey | None = None, job: Pubkey | None = None) -> dict[Pubkey, RunAccount]:
        """Runs of a node (offset 40) and/or of a job (offset 8)."""
        filters = [Memcmp(0, RunAccount.DISCRIMINATOR)]
        if job is not None:
            filters.append(Memcmp(8, bytes(job)))
        if node is not None:
            filters.append(Memcmp(40, bytes(node)))
        return {key: RunAccount.decode(a.data) for key, a in self._program_accounts(filters)}

    def job_view(self, address: Pubkey) -> JobView | None:
        """A job with its runs and its state as clients show it (RUNNING when a run exists)."""
        job = self.job(address)
        if job is None:
            return None
        runs = self.runs(job=address) if job.state != JobState.DONE else {}
        return JobView(address, job, runs, job_state(job, bool(runs)))

    def stake_address(self, node: Pubkey | None = None) -> Pubkey:
        return pda.stake(node or self.wallet, self.addresses.nos_mint, self.addresses.staking_program)[0]

    def stake(self, node: Pubkey | None = None) -> StakeAccount | None:
        """The node's stake (default: the wallet's), or None."""
        account = self.rpc.account(self.stake_address(node))
        if account is None or account.owner != self.addresses.staking_program:
            return None
        try:
            return StakeAccount.decode(account.data)
        except DecodeError:
            return None

    def sol_balance(self, owner: Pubkey | None = None) -> int:
        """Lamports of ``owner`` (default: the wallet)."""
        return self.rpc.balance(owner or self.wallet)

    def nos_balance(self, owner: Pubkey | None = None) -> int | None:
        """NOS base units in the associated token account, None when there is none."""
        return self.rpc.token_balance(self.nos_account(owner))

    # -- sending ----------------------------------------------------------------------------------
    def _send(
        self,
        action: str,
        instructions: list[Instruction],
        signers: Sequence[Keypair] = (),
        on_signed: OnSigned | None = None,
    ) -> str:
        self.program  # noqa: B018 - error names come from the IDL
        return self.provider.send(instructions, signers, action=action, on_signed=on_signed)

    def resume(self, signed: SignedTransaction, *, action: str) -> bool:
        """Whether a transaction signed earlier (its bytes saved) landed: sent again while its
        blockhash is valid; False once it expired without landing (see ``Provider.resume``)."""
        self.program  # noqa: B018 - error names come from the IDL
        return self.provider.resume(signed, action=action)

    def signature_status(self, signature: str) -> dict[str, Any] | None:
        """``{"err": None | error, "slot": ...}`` of a transaction, None when never seen."""
        return self.provider.status(signature)

    def access_nft(self, market: MarketAccount) -> AccessNft | None:
        """The wallet's NFT admitting it to a key-gated market (None: none held, or the market
        is open - check ``market.node_access_key`` first)."""
        if market.node_access_key == OPEN_ACCESS_KEY:
            return None
        return find_access_nft(self.rpc, self.wallet, market.node_access_key)

    def _ensure_token_accounts(self, owners: Sequence[Pubkey]) -> list[Instruction]:
        """Create-if-missing instructions for the NOS accounts of ``owners`` (paid by the wallet)."""
        owners = [o for o in dict.fromkeys(owners) if self.nos_account(o) not in self._token_accounts]
        if not owners:
            return []
        found = self.rpc.accounts([self.nos_account(o) for o in owners])
        missing = []
        for owner, account in zip(owners, found, strict=True):
            if account is None:
                missing.append(
                    create_idempotent_associated_token_account(self.wallet, owner, self.addresses.nos_mint)
                )
            else:
                self._token_accounts.add(self.nos_account(owner))
        return missing

    def _require_job(self, address: Pubkey) -> JobAccount:
        job = self.job(address)
        if job is None:
            raise UserInputError(
                f"job {address} not found on {self.endpoint.network} (never listed, or closed)"
            )
        return job

    def _my_run(self, job: Pubkey, run: Pubkey | None) -> tuple[Pubkey, RunAccount]:
        if run is not None:
            account = self.run(run)
            if account is None:
                raise ChainError(f"run {run} of job {job} not found (finished, quit or never created)")
            return run, account
        mine = {k: r for k, r in self.runs(job=job).items() if r.node == self.wallet}
        if not mine:
            raise ChainError(f"job {job} has no run of node {self.wallet}")
        return next(iter(mine.items()))

    def _eligibility(self, market: Pubkey, account: MarketAccount) -> dict[str, Pubkey]:
        """``stake``, ``nft``, ``metadata`` for ``work`` and ``claim``."""
        if account.node_access_key == OPEN_ACCESS_KEY:
            # any token account and any account will do: the node's NOS account and itself
            return {"stake": self.stake_address(), "nft": self.nos_account(), "metadata": self.wallet}
        nft = self.access_nft(account)
        if nft is None:
            raise UserInputError(
                f"market {market} admits holders of the access key {account.node_access_key} only; "
                f"node {self.wallet} holds no NFT of that collection"
            )
        return {"stake": self.stake_address(), "nft": nft.token_account, "metadata": nft.metadata}

    # -- the project's side -----------------------------------------------------------------------
    def list_job(self, market: Pubkey, ipfs_job: bytes, timeout: int) -> Posted:
        """Post a job (its document's 32-byte digest) with ``timeout`` seconds; a waiting node
        gets it at once (``Posted.run`` then exists)."""
        if len(ipfs_job) != 32:
            raise UserInputError("the job document digest must be 32 bytes")
        if timeout <= 0:
            raise UserInputError("the job timeout must be positive")
        account = self.market(market)
        job, run = Keypair(), Keypair()
        reflection, rewards_vault = rewards_accounts(self.addresses)
        accounts = {
            "job": job.pubkey(),
            "market": market,
            "run": run.pubkey(),
            "user": self.nos_account(),
            "vault": account.vault,
            "payer": self.wallet,
            "rewards_reflection": reflection,
            "rewards_vault": rewards_vault,
            "authority": self.wallet,
            "rewards_program": self.addresses.rewards_program,
            "token_program": TOKEN_PROGRAM,
            "system_program": SYSTEM_PROGRAM,
        }
        ix = self.program.instruction("list", accounts, ipfs_job=ipfs_job, timeout=timeout)
        signature = self._send("list", [ix], [job, run])
        return Posted(job.pubkey(), run.pubkey(), signature)

    def delist(self, job: Pubkey) -> str:
        """Take a queued job off its market and get its deposit back."""
        account = self._require_job(job)
        accounts = {
            "job": job,
            "market": account.market,
            "deposit": self.nos_account(account.payer),
            "payer": account.payer,
            "vault": self.vault(account.market),
            "token_program": TOKEN_PROGRAM,
            "authority": self.wallet,
        }
        return self._send("delist", [self.program.instruction("delist", accounts)])

    def end(self, job: Pubkey) -> str:
        """End a running job: the node is paid for the time used, the rest is refunded."""
        account = self._require_job(job)
        runs = self.runs(job=job)
        if not runs:
            raise ChainError(f"job {job} is not running (no run account)")
        run, run_account = next(iter(runs.items()))
        pre = self._ensure_token_accounts([run_account.node]) if account.price > 0 else []
        accounts = {
            "job": job,
            "market": account.market,
            "run": run,
            "deposit": self.nos_account(account.payer),
            "user": self.nos_account(run_account.node),
            "vault": self.vault(account.market),
            "payer": run_account.payer,
            "authority": self.wallet,
            "token_program": TOKEN_PROGRAM,
        }
        return self._send("end", [*pre, self.program.instruction("end", accounts)])

    def extend(self, job: Pubkey, timeout: int) -> str:
        """Set a queued or running job's timeout to ``timeout`` seconds (more than now); the
        extra time is deposited."""
        account = self._require_job(job)
        reflection, rewards_vault = rewards_accounts(self.addresses)
        accounts = {
            "job": job,
            "market": account.market,
            "user": self.nos_account(),
            "vault": self.vault(account.market),
            "rewards_reflection": reflection,
            "rewards_vault": rewards_vault,
            "authority": self.wallet,
            "payer": self.wallet,
            "rewards_program": self.addresses.rewards_program,
            "token_program": TOKEN_PROGRAM,
        }
        return self._send("extend", [self.program.instruction("extend", accounts, timeout=timeout)])

    def recover(self, job: Pubkey) -> str:
        """Get the deposit of a stopped job (its node quit) back and close it."""
        account = self._require_job(job)
        accounts = {
            "job": job,
            "market": account.market,
            "vault": self.vault(account.market),
            "user": self.nos_account(),
            "payer": account.payer,
            "authority": self.wallet,
            "token_program": TOKEN_PROGRAM,
        }
        return self._send("recover", [self.program.instruction("recover", accounts)])

    # -- the node's side --------------------------------------------------------------------------
    def work(self, market: Pubkey) -> Worked:
        """Take the market's oldest job, or join its queue (``Worked.job`` None)."""
        account = self.market(market)
        run = Keypair()
        accounts = {
            "run": run.pubkey(),
            "market": market,
            "payer": self.wallet,
            "authority": self.wallet,
            "system_program": SYSTEM_PROGRAM,
            **self._eligibility(market, account),
        }
        pre = self._ensure_token_accounts([self.wallet])
        signature = self._send("work", [*pre, self.program.instruction("work", accounts)], [run])
        taken = self.run(run.pubkey())
        return Worked(run.pubkey(), signature, taken.job if taken else None)

    def stop(self, market: Pubkey) -> str:
        """Leave the market's queue."""
        accounts = {"market": market, "node": self.wallet, "authority": self.wallet}
        return self._send("stop", [self.program.instruction("stop", accounts)])

    def claim(self, job: Pubkey) -> Worked:
        """Take a stopped job (its node quit) with a new run."""
        account = self._require_job(job)
        market = self.market(account.market)
        run = Keypair()
        accounts = {
            "job": job,
            "run": run.pubkey(),
            "market": account.market,
            "payer": self.wallet,
            "authority": self.wallet,
            "system_program": SYSTEM_PROGRAM,
            **self._eligibility(account.market, market),
        }
        pre = self._ensure_token_accounts([self.wallet])
        signature = self._send("claim", [*pre, self.program.instruction("claim", accounts)], [run])
        return Worked(run.pubkey(), signature, job)

    def finish(
        self,
        job: Pubkey,
        ipfs_result: bytes,
        *,
        run: Pubkey | None = None,
        on_signed: OnSigned | None = None,
    ) -> str:
        """Post the result digest of a job this node runs; the node is paid into its NOS
        account (created first when missing). The account list is the chain IDL's (10 or 11).
        ``on_signed`` sees each transaction signed before it is sent (to save it: a node that
        dies after sending can tell on restart whether it landed, :meth:`resume`)."""
        if len(ipfs_result) != 32 or not any(ipfs_result):
            raise UserInputError("the result digest must be 32 bytes, not all zero")
        account = self._require_job(job)
        run, run_account = self._my_run(job, run)
        owners = [self.wallet] + ([account.payer] if account.price > 0 else [])
        pre = self._ensure_token_accounts(owners)
        accounts = {
            "job": job,
            "run": run,
            "market": account.market,
            "vault": self.vault(account.market),
            "deposit": self.nos_account(account.payer),
            "user": self.nos_account(),
            "payer_run": run_account.payer,
            "payer_job": account.payer,
            "project": account.project,
            "authority": self.wallet,
            "token_program": TOKEN_PROGRAM,
        }
        ix = self.program.instruction("finish", accounts, ipfs_result=ipfs_result)
        return self._send("finish", [*pre, ix], on_signed=on_signed)

    def quit(self, job: Pubkey, *, run: Pubkey | None = None, on_signed: OnSigned | None = None) -> str:
        """Give a running job up: it is Stopped and another node may claim it."""
        run, run_account = self._my_run(job, run)
        accounts = {"job": job, "run": run, "payer": run_account.payer, "authority": self.wallet}
        return self._send("quit", [self.program.instruction("quit", accounts)], on_signed=on_signed)

    # -- watching ---------------------------------------------------------------------------------
    def watch_runs(
        self,
        on_run: Callable[[Pubkey, RunAccount], None],
        *,
        node: Pubkey | None = None,
        job: Pubkey | None = None,
    ) -> RunWatch:
        """Call ``on_run(run_address, run)`` for each run of ``node`` (default: the wallet, unless
        ``job`` is given) and/or of ``job``: those that exist now, then each new one
        (``programSubscribe``, slow poll as fallback)."""
        if node is None and job is None:
            node = self.wallet
        program = self.addresses.jobs_program
        return RunWatch(self.rpc, self.pubsub, program, on_run, node=node, job=job, slow_poll=self.slow_poll)

    def watch_job(self, job: Pubkey, on_change: Callable[[JobAccount | None], None]) -> AccountWatch:
        """Call ``on_change(job)`` now and whenever the job account changes (None: closed)."""

        def decoded(account: AccountData | None) -> None:
            if account is None:
                on_change(None)
                return
            try:
                on_change(JobAccount.decode(account.data))
            except DecodeError:
                on_change(None)

        return self.watch_account(job, decoded)

    def watch_account(self, address: Pubkey, on_change: Callable[[AccountData | None], None]) -> AccountWatch:
        """Call ``on_change(account)`` now and whenever the account changes (None: closed)."""
        return AccountWatch(self.rpc, self.pubsub, address, on_change, slow_poll=self.slow_poll)

"""A local market in the real Solana VM (solders.litesvm) for the program's tests.

Every test gets a fresh LiteSVM (about 25 ms) with the committed jobs program loaded at the
mainnet program id (configured with a local market admin), genesis applied (NOS mint, two
clients, three nodes with stakes, the default and the priced market) and the clock at a fixed
time. :class:`Local` builds each instruction with sensible accounts that a test overrides by
name, sends it, and reports the outcome in the JSON-RPC shape of errors.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass, field
from typing import Any

import pytest
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.message import Message
from solders.pubkey import Pubkey
from solders.transaction import Transaction

from nosana_node.chain import pda
from nosana_node.chain.accounts import JobAccount, MarketAccount, RunAccount
from nosana_node.chain.addresses import (
    MAINNET,
    METAPLEX_METADATA_PROGRAM,
    RENT_SYSVAR,
    SYSTEM_PROGRAM,
    TOKEN_PROGRAM,
)
from nosana_node.chain.instructions import INSTRUCTIONS
from nosana_node.localnet import raw_accounts
from nosana_node.localnet.genesis import (
    Genesis,
    MarketInfo,
    MarketSettings,
    Wallet,
    apply_genesis,
    open_market,
)
from nosana_node.localnet.program import program_bytes

START_TIME = 1_750_000_000
JOB_DIGEST = hashlib.sha256(b"job document").digest()
RESULT_DIGEST = hashlib.sha256(b"result document").digest()


def custom(code: int, index: int = 0) -> dict[str, Any]:
    """The JSON-RPC shape of a custom program error."""
    return {"InstructionError": [index, {"Custom": int(code)}]}


def builtin(name: str, index: int = 0) -> dict[str, Any]:
    """The JSON-RPC shape of a builtin instruction error, e.g. ``"MissingRequiredSignature"``."""
    return {"InstructionError": [index, name]}


@dataclass
class Outcome:
    """The result of one transaction."""

    ok: bool
    error: dict[str, Any] | None
    logs: list[str]
    compute_units: int

    def expect_ok(self) -> Outcome:
        assert self.ok, f"transaction failed: {self.error}\n" + "\n".join(self.logs)
        return self


@dataclass
class Tx:
    """An instruction of the jobs program with its accounts, arguments and signers."""

    name: str
    accounts: dict[str, Pubkey]
    args: dict[str, Any]
    signers: list[Keypair]
    keys: dict[str, Keypair] = field(default_factory=dict)  # fresh keypairs (job, run, market)

    def instruction(self, program_id: Pubkey) -> Any:
        return INSTRUCTIONS[self.name].build(program_id, self.accounts, **self.args)


class Local:
    """One local chain with genesis applied, and builders for every instruction."""

    def __init__(self) -> None:
        self.svm = LiteSVM()
        self.program_id = MAINNET.jobs_program
        self.admin = Keypair()
        self.svm.add_program(self.program_id, program_bytes("mainnet", market_admin=self.admin.pubkey()))
        self.set_time(START_TIME)
        self.genesis: Genesis = apply_genesis(
            self.svm,
            program_id=self.program_id,
            admin=self.admin,
            clients=[Keypair(), Keypair()],
            nodes=[Keypair(), Keypair(), Keypair()],
        )
        self.mint = MAINNET.nos_mint

    # -- genesis shortcuts ----------------------------------------------------------------------
    @property
    def default(self) -> MarketInfo:
        return self.genesis.markets["default"]

    @property
    def priced(self) -> MarketInfo:
        return self.genesis.markets["priced"]

    @property
    def clients(self) -> list[Wallet]:
        return self.genesis.clients

    @property
    def nodes(self) -> list[Wallet]:
        return self.genesis.nodes

    # -- clock ------------------------------------------------------------------------------------
    def now(self) -> int:
        return self.svm.get_clock().unix_timestamp

    def set_time(self, unix: int) -> None:
        clock = self.svm.get_clock()
        clock.unix_timestamp = unix
        self.svm.set_clock(clock)

    def warp(self, seconds: int) -> None:
        self.set_time(self.now() + seconds)

    # -- sending ----------------------------------------------------------------------------------
    def send(self, tx: Tx | list[Tx], *extra_signers: Keypair, payer: Keypair | None = None) -> Outcome:
        txs = tx if isinstance(tx, list) else [tx]
        ixs = [t.instruction(self.program_id) for t in txs]
        candidates = [*([payer] if payer else []), *(k for t in txs for k in t.signers), *extra_signers]
        fee_payer = candidates[0]
        message = Message(ixs, fee_payer.pubkey())
        required = set(message.account_keys[: message.header.num_required_signatures])
        signers: dict[Pubkey, Keypair] = {}
        for k in candidates:
            if k.pubkey() in required:
                signers.setdefault(k.pubkey(), k)
        result = self.svm.send_transaction(
            Transaction(list(signers.values()), message, self.svm.latest_blockhash())
        )
        self.svm.expire_blockhash()
        if hasattr(result, "err") and callable(result.err):
            meta = result.meta()
            err = result.err()
            error = (
                {"InstructionError": json.loads(err.to_json())}
                if hasattr(err, "index")
                else {"other": str(err)}
            )
            return Outcome(False, error, list(meta.logs()), meta.compute_units_consumed())
        return Outcome(True, None, list(result.logs()), result.compute_units_consumed())

    # -- reading ----------------------------------------------------------------------------------
    def data(self, address: Pubkey) -> bytes:
        account = self.svm.get_account(address)
        return bytes(account.data) if account is not None else b""

    def exists(self, address: Pubkey) -> bool:
        account = self.svm.get_account(address)
        return account is not None and account.lamports > 0

    def lamports(self, address: Pubkey) -> int:
        account = self.svm.get_account(address)
        return account.lamports if account is not None else 0

    def market(self, address: Pubkey | MarketInfo) -> MarketAccount:
        return MarketAccount.decode(
            self.data(address.address if isinstance(address, MarketInfo) else address)
        )

    def job(self, address: Pubkey) -> JobAccount:
        return JobAccount.decode(self.data(address))

    def run(self, address: Pubkey) -> RunAccount:
        return RunAccount.decode(self.data(address))

    def nos(self, token_account: Pubkey) -> int:
        return struct.unpack_from("<Q", self.data(token_account), 64)[0]

    # -- setup helpers ----------------------------------------------------------------------------
    def open(self, settings: MarketSettings, authority: Keypair | None = None) -> MarketInfo:
        """Open another market (authority: the admin unless given)."""
        market = Keypair()
        vault = open_market(self.svm, self.program_id, authority or self.admin, market, settings)
        self.svm.expire_blockhash()
        return MarketInfo("test", market.pubkey(), vault, settings)

    def token_account(self, owner: Pubkey, amount: int, mint: Pubkey | None = None) -> Pubkey:
        """A fresh token account (of NOS unless ``mint``) written directly."""
        address = Pubkey.new_unique()
        data = raw_accounts.token_account_data(mint or self.mint, owner, amount)
        self.svm.set_account(address, raw_accounts.rent_exempt(self.svm, data, TOKEN_PROGRAM))
        return address

    def access_nft(
        self,
        node: Wallet,
        collection: Pubkey,
        *,
        verified: bool = True,
        amount: int = 1,
        holder: Pubkey | None = None,
        with_collection: bool = True,
    ) -> tuple[Pubkey, Pubkey]:
        """An access-key NFT for ``node``: (its token account, its Metaplex metadata)."""
        nft_mint = Pubkey.new_unique()
        self.svm.set_account(
            nft_mint,
            raw_accounts.rent_exempt(self.svm, raw_accounts.mint_data(None, 1, decimals=0), TOKEN_PROGRAM),
        )
        token = self.token_account(holder or node.pubkey, amount, mint=nft_mint)
        metadata, _ = pda.metadata(nft_mint)
        data = raw_accounts.metadata_data(
            nft_mint, collection=collection if with_collection else None, verified=verified
        )
        self.svm.set_account(metadata, raw_accounts.rent_exempt(self.svm, data, METAPLEX_METADATA_PROGRAM))
        return token, metadata

    # -- instruction builders (accounts overridable by name) --------------------------------------
    def _tx(
        self,
        name: str,
        accounts: dict[str, Pubkey],
        overrides: dict[str, Pubkey],
        signers: list[Keypair],
        keys: dict[str, Keypair] | None = None,
        **args: Any,
    ) -> Tx:
        return Tx(name, {**accounts, **overrides}, args, signers, keys or {})

    def tx_open(self, settings: MarketSettings, authority: Keypair, /, **over: Pubkey) -> Tx:
        market = Keypair()
        vault, _ = pda.market_vault(market.pubkey(), self.mint, self.program_id)
        accounts = dict(
            mint=self.mint,
            market=market.pubkey(),
            vault=vault,
            authority=authority.pubkey(),
            access_key=settings.access_key,
            rent=RENT_SYSVAR,
            system_program=SYSTEM_PROGRAM,
            token_program=TOKEN_PROGRAM,
        )
        args = dict(
            job_expiration=settings.job_expiration,
            job_price=settings.job_price,
            job_timeout=settings.job_timeout,
            job_type=settings.job_type,
            node_xnos_minimum=settings.node_xnos_minimum,
        )
        return self._tx("open", accounts, over, [authority, market], {"market": market}, **args)

    def tx_list(self, market: MarketInfo, client: Wallet, /, *, timeout: int = 600, **over: Pubkey) -> Tx:
        job, run = Keypair(), Keypair()
        accounts = dict(
            job=job.pubkey(),
            market=market.address,
            run=run.pubkey(),
            user=client.nos_account,
            vault=market.vault,
            payer=client.pubkey,
            rewards_reflection=Pubkey.new_unique(),
            rewards_vault=Pubkey.new_unique(),
            authority=client.pubkey,
            rewards_program=MAINNET.rewards_program,
            token_program=TOKEN_PROGRAM,
            system_program=SYSTEM_PROGRAM,
        )
        return self._tx(
            "list",
            accounts,
            over,
            [client.keypair, job, run],
            {"job": job, "run": run},
            ipfs_job=JOB_DIGEST,
            timeout=timeout,
        )

    def tx_assign(
        self, market: MarketInfo, client: Wallet, node: Pubkey, /, *, timeout: int = 600, **over: Pubkey
    ) -> Tx:
        tx = self.tx_list(market, client, timeout=timeout)
        accounts = {**tx.accounts, "node": node}
        return self._tx("assign", accounts, over, tx.signers, tx.keys, ipfs_job=JOB_DIGEST, timeout=timeout)

    def tx_work(self, market: MarketInfo, node: Wallet, /, **over: Pubkey) -> Tx:
        run = Keypair()
        accounts = dict(
            run=run.pubkey(),
            market=market.address,
            payer=node.pubkey,
            stake=node.stake,
            nft=node.nos_account,
            metadata=Pubkey.new_unique(),
            authority=node.pubkey,
            system_program=SYSTEM_PROGRAM,
        )
        return self._tx("work", accounts, over, [node.keypair, run], {"run": run})

    def tx_finish(self, job: Pubkey, run: Pubkey, node: Wallet, client: Wallet, /, **over: Pubkey) -> Tx:
        j = self.job(job)
        market = self.market(j.market)
        accounts = dict(
            job=job,
            run=run,
            market=j.market,
            vault=market.vault,
            deposit=client.nos_account,
            user=node.nos_account,
            payer_run=self.run(run).payer,
            payer_job=j.payer,
            authority=node.pubkey,
            token_program=TOKEN_PROGRAM,
        )
        return self._tx("finish", accounts, over, [node.keypair], ipfs_result=RESULT_DIGEST)

    def tx_end(self, job: Pubkey, run: Pubkey, client: Wallet, node: Wallet, /, **over: Pubkey) -> Tx:
        j = self.job(job)
        market = self.market(j.market)
        accounts = dict(
            job=job,
            market=j.market,
            run=run,
            deposit=client.nos_account,
            user=node.nos_account,
            vault=market.vault,
            payer=self.run(run).payer,
            authority=client.pubkey,
            token_program=TOKEN_PROGRAM,
        )
        return self._tx("end", accounts, over, [client.keypair])

    def tx_delist(self, job: Pubkey, client: Wallet, /, **over: Pubkey) -> Tx:
        j = self.job(job)
        accounts = dict(
            job=job,
            market=j.market,
            deposit=client.nos_account,
            payer=j.payer,
            vault=self.market(j.market).vault,
            token_program=TOKEN_PROGRAM,
            authority=client.pubkey,
        )
        return self._tx("delist", accounts, over, [client.keypair])

    def tx_recover(self, job: Pubkey, client: Wallet, /, **over: Pubkey) -> Tx:
        j = self.job(job)
        accounts = dict(
            job=job,
            market=j.market,
            vault=self.market(j.market).vault,
            user=client.nos_account,
            payer=j.payer,
            authority=client.pubkey,
            token_program=TOKEN_PROGRAM,
        )
        return self._tx("recover", accounts, over, [client.keypair])

    def tx_extend(self, job: Pubkey, client: Wallet, timeout: int, /, **over: Pubkey) -> Tx:
        j = self.job(job)
        accounts = dict(
            job=job,
            market=j.market,
            user=client.nos_account,
            vault=self.market(j.market).vault,
            rewards_reflection=Pubkey.new_unique(),
            rewards_vault=Pubkey.new_unique(),
            authority=client.pubkey,
            payer=client.pubkey,
            rewards_program=MAINNET.rewards_program,
            token_program=TOKEN_PROGRAM,
        )
        return self._tx("extend", accounts, over, [client.keypair], timeout=timeout)

    def tx_stop(self, market: MarketInfo, node: Pubkey, authority: Keypair, /, **over: Pubkey) -> Tx:
        accounts = dict(market=market.address, node=node, authority=authority.pubkey())
        return self._tx("stop", accounts, over, [authority])

    def tx_claim(self, job: Pubkey, node: Wallet, /, **over: Pubkey) -> Tx:
        run = Keypair()
        accounts = dict(
            job=job,
            run=run.pubkey(),
            market=self.job(job).market,
            stake=node.stake,
            nft=node.nos_account,
            metadata=Pubkey.new_unique(),
            payer=node.pubkey,
            authority=node.pubkey,
            system_program=SYSTEM_PROGRAM,
        )
        return self._tx("claim", accounts, over, [node.keypair, run], {"run": run})

    def tx_complete(self, job: Pubkey, node: Wallet, result: bytes = RESULT_DIGEST, /, **over: Pubkey) -> Tx:
        return self._tx(
            "complete", dict(job=job, authority=node.pubkey), over, [node.keypair], ipfs_result=result
        )

    def tx_quit(self, job: Pubkey, run: Pubkey, node: Wallet, /, **over: Pubkey) -> Tx:
        accounts = dict(job=job, run=run, payer=self.run(run).payer, authority=node.pubkey)
        return self._tx("quit", accounts, over, [node.keypair])

    def tx_quit_admin(self, run: Pubkey, authority: Keypair | None = None, /, **over: Pubkey) -> Tx:
        authority = authority or self.admin
        accounts = dict(run=run, payer=self.run(run).payer, authority=authority.pubkey())
        return self._tx("quit_admin", accounts, over, [authority])

    def tx_clean(self, job: Pubkey, signer: Keypair, /, **over: Pubkey) -> Tx:
        j = self.job(job)
        return self._tx("clean", dict(job=job, market=j.market, payer=j.payer), over, [signer])

    def tx_clean_admin(self, job: Pubkey, authority: Keypair | None = None, /, **over: Pubkey) -> Tx:
        authority = authority or self.admin
        accounts = dict(job=job, payer=self.job(job).payer, authority=authority.pubkey())
        return self._tx("clean_admin", accounts, over, [authority])

    def tx_update(
        self, market: MarketInfo, authority: Keypair, /, *, access_key: Pubkey = SYSTEM_PROGRAM, **args: Any
    ) -> Tx:
        m = self.market(market)
        values = dict(
            job_expiration=m.job_expiration,
            job_price=m.job_price,
            job_type=m.job_type,
            node_stake_minimum=m.node_xnos_minimum,
            job_timeout=m.job_timeout,
        )
        values.update(args)
        accounts = dict(market=market.address, access_key=access_key, authority=authority.pubkey())
        return self._tx("update", accounts, {}, [authority], **values)

    def tx_close(
        self, market: MarketInfo, authority: Keypair, user: Pubkey, /, *, admin: bool = False, **over: Pubkey
    ) -> Tx:
        accounts = dict(
            market=market.address,
            vault=market.vault,
            user=user,
            authority=authority.pubkey(),
            token_program=TOKEN_PROGRAM,
        )
        return self._tx("close_admin" if admin else "close", accounts, over, [authority])

    # -- common flows -----------------------------------------------------------------------------
    def list_job(self, market: MarketInfo, client: Wallet, timeout: int = 600) -> Tx:
        tx = self.tx_list(market, client, timeout=timeout)
        self.send(tx).expect_ok()
        return tx

    def work(self, market: MarketInfo, node: Wallet) -> Tx:
        tx = self.tx_work(market, node)
        self.send(tx).expect_ok()
        return tx

    def running_job(
        self, market: MarketInfo, client: Wallet, node: Wallet, timeout: int = 600
    ) -> tuple[Pubkey, Pubkey]:
        """A job listed by ``client`` and taken by ``node``: (job, run)."""
        listed = self.list_job(market, client, timeout)
        worked = self.work(market, node)
        return listed.keys["job"].pubkey(), worked.keys["run"].pubkey()


@pytest.fixture
def local() -> Local:
    return Local()

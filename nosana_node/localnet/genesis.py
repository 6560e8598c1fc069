"""Genesis of the local market: NOS mint, funded wallets, node stakes, two markets, the IDL.

Works on any chain object with LiteSVM's method names (:class:`ChainLike`): a plain
``solders.litesvm.LiteSVM`` or the local chain that wraps it. The jobs program must already be
loaded at ``program_id`` with a configuration whose market admin is ``admin`` and whose NOS mint
and staking program are the network's (see :mod:`.program`).

What genesis writes:

* the NOS mint (6 decimals) at the network's mint address, mint authority ``admin``;
* SOL (airdrop) and NOS (an associated token account) for every client and node wallet;
* a stake for every node wallet, as the staking program writes it: the stake account (xNOS
  from amount and duration by the program's formula) and its vault, the token account at the
  PDA ``["vault", mint, node]`` holding the staked NOS;
* the markets, opened with real ``open`` transactions signed by ``admin``: ``default`` (open,
  price 0) and ``priced`` (open, a price per second);
* the Anchor IDL accounts of the jobs program and of the staking, rewards, pools and nodes
  programs (:mod:`.idls`), so that Anchor clients (the official SDK) can fetch them.

Keypairs are the caller's: it generates them, saves them, and passes them in.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from solders.account import Account
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.transaction import Transaction
from spl.token.instructions import (
    MintToParams,
    create_idempotent_associated_token_account,
    mint_to,
)

from nosana_node.chain import pda, transactions
from nosana_node.chain.accounts import JobType
from nosana_node.chain.addresses import (
    MAINNET,
    OPEN_ACCESS_KEY,
    TOKEN_PROGRAM,
    Network,
)
from nosana_node.chain.idl import idl_account_data, idl_json
from nosana_node.errors import ChainError
from nosana_node.localnet import idls, raw_accounts

NOS_DECIMALS = 6
NOS = 10**NOS_DECIMALS  # base units per NOS
SOL = 10**9  # lamports per SOL


class ChainLike(Protocol):
    """The LiteSVM methods genesis uses (the local chain exposes the same names)."""

    def set_account(self, pubkey: Pubkey, account: Account) -> Any: ...
    def get_account(self, pubkey: Pubkey) -> Account | None: ...
    def send_transaction(self, tx: Transaction) -> Any: ...
    def latest_blockhash(self) -> Hash: ...
    def airdrop(self, pubkey: Pubkey, lamports: int) -> Any: ...
    def minimum_balance_for_rent_exemption(self, data_len: int) -> int: ...


@dataclass(frozen=True)
class MarketSettings:
    """Arguments of ``open`` for one genesis market."""

    job_price: int  # NOS base units per second
    job_timeout: int = 3600
    job_expiration: int = 86400
    job_type: int = JobType.DEFAULT
    node_xnos_minimum: int = 0
    access_key: Pubkey = OPEN_ACCESS_KEY


@dataclass(frozen=True)
class GenesisOptions:
    """Amounts and market settings (defaults suit tests, demos and benchmarks)."""

    sol_per_wallet: int = 100 * SOL
    nos_per_wallet: int = 1_000_000 * NOS
    node_stake: int = 10_000 * NOS  # NOS each node wallet has staked (on top of its wallet)
    node_stake_days: int = 365  # a year: its xNOS is 4 x the amount
    default_market: MarketSettings = MarketSettings(job_price=0)
    priced_market: MarketSettings = MarketSettings(job_price=1_000, node_xnos_minimum=1)


@dataclass(frozen=True)
class Wallet:
    """A funded wallet: its keypair and its NOS associated token account."""

    keypair: Keypair
    nos_account: Pubkey
    is_node: bool
    stake: Pubkey | None = None

    @property
    def pubkey(self) -> Pubkey:
        return self.keypair.pubkey()


@dataclass(frozen=True)
class MarketInfo:
    """A market opened at genesis."""

    name: str
    address: Pubkey
    vault: Pubkey
    settings: MarketSettings


@dataclass
class Genesis:
    """What genesis created, for the caller to print, save and use."""

    program_id: Pubkey
    network: Network
    nos_mint: Pubkey
    admin: Keypair
    clients: list[Wallet] = field(default_factory=list)
    nodes: list[Wallet] = field(default_factory=list)
    markets: dict[str, MarketInfo] = field(default_factory=dict)
    idl_address: Pubkey = field(default_factory=Pubkey.default)
    program_idls: dict[Pubkey, Pubkey] = field(default_factory=dict)  # program -> its IDL account


def send(chain: ChainLike, instructions: Sequence[Any], signers: Sequence[Keypair]) -> Any:
    """Sign and send one transaction (fee payer: the first signer); ChainError if it fails."""
    message = Message(list(instructions), signers[0].pubkey())
    tx = Transaction(list(signers), message, chain.latest_blockhash())
    result = chain.send_transaction(tx)
    err = getattr(result, "err", None)  # None on LiteSVM's success and on a good Receipt
    if err is None:
        return result
    if callable(err):  # LiteSVM's FailedTransactionMetadata
        err, logs = err(), list(result.meta().logs())
    else:  # the local chain's Receipt
        logs = list(result.logs)
    raise ChainError(f"genesis transaction failed: {err} ({'; '.join(logs[-3:])})")


def write_mint(chain: ChainLike, mint: Pubkey, authority: Pubkey, supply: int = 0) -> None:
    """Create (or reset) the NOS mint with ``authority`` as mint authority."""
    data = raw_accounts.mint_data(authority, supply, NOS_DECIMALS)
    chain.set_account(mint, raw_accounts.rent_exempt(chain, data, TOKEN_PROGRAM))


def mint_nos(chain: ChainLike, authority: Keypair, mint: Pubkey, owner: Pubkey, amount: int) -> Pubkey:
    """Mint ``amount`` NOS base units to ``owner``'s associated token account (created if
    missing) with real transactions signed by the mint authority; returns that account."""
    ata = pda.associated_token(owner, mint)
    ixs = [create_idempotent_associated_token_account(authority.pubkey(), owner, mint)]
    if amount:
        ixs.append(mint_to(MintToParams(TOKEN_PROGRAM, mint, ata, authority.pubkey(), amount)))
    send(chain, ixs, [authority])
    return ata


def write_stake(chain: ChainLike, node: Pubkey, network: Network, amount: int, days: int = 365) -> Pubkey:
    """Write a node's stake as the staking program would after ``stake(amount, days)`` (the
    program does not run locally): the stake account and its vault holding ``amount`` NOS,
    which the mint's supply counts. Returns the stake account's address."""
    duration = days * 86_400
    address, _ = pda.stake(node, network.nos_mint, network.staking_program)
    vault, vault_bump = Pubkey.find_program_address(
        [b"vault", bytes(network.nos_mint), bytes(node)], network.staking_program
    )
    data = raw_accounts.stake_data(
        node,
        xnos=raw_accounts.staked_xnos(amount, duration),
        amount=amount,
        duration=duration,
        vault=vault,
        vault_bump=vault_bump,
    )
    chain.set_account(address, raw_accounts.rent_exempt(chain, data, network.staking_program))
    holding = raw_accounts.token_account_data(network.nos_mint, vault, amount)
    chain.set_account(vault, raw_accounts.rent_exempt(chain, holding, TOKEN_PROGRAM))
    mint = chain.get_account(network.nos_mint)
    if mint is not None:
        minted = bytearray(bytes(mint.data))
        supply = int.from_bytes(minted[36:44], "little") + amount
        minted[36:44] = supply.to_bytes(8, "little")
        chain.set_account(network.nos_mint, raw_accounts.account(bytes(minted), mint.owner, mint.lamports))
    return address


def open_market(
    chain: ChainLike,
    program_id: Pubkey,
    authority: Keypair,
    market: Keypair,
    settings: MarketSettings,
    network: Network = MAINNET,
) -> Pubkey:
    """Open a market with a real ``open`` transaction; returns its vault."""
    ix, vault = transactions.open_market(
        network,
        authority.pubkey(),
        market.pubkey(),
        job_price=settings.job_price,
        job_timeout=settings.job_timeout,
        job_expiration=settings.job_expiration,
        job_type=settings.job_type,
        node_xnos_minimum=settings.node_xnos_minimum,
        access_key=settings.access_key,
        program_id=program_id,
    )
    send(chain, [ix], [authority, market])
    return vault


def write_idl(chain: ChainLike, program_id: Pubkey, authority: Pubkey, idl: str | None = None) -> Pubkey:
    """Write the Anchor IDL account of a program (by default the jobs program's IDL); returns
    its address."""
    address = pda.idl_address(program_id)
    data = idl_account_data(idl if idl is not None else idl_json(program_id), authority)
    chain.set_account(address, raw_accounts.rent_exempt(chain, data, program_id))
    return address


def apply_genesis(
    chain: ChainLike,
    *,
    program_id: Pubkey,
    admin: Keypair,
    clients: Sequence[Keypair] = (),
    nodes: Sequence[Keypair] = (),
    markets: dict[str, Keypair] | None = None,
    network: Network = MAINNET,
    options: GenesisOptions | None = None,
) -> Genesis:
    """Create the genesis state on ``chain`` (see the module docstring).

    ``markets`` maps ``"default"`` and ``"priced"`` to the market keypairs (fresh ones when
    omitted: a market's address is its keypair's). Returns what was created.
    """
    options = options or GenesisOptions()
    markets = dict(markets or {})
    for name in ("default", "priced"):
        markets.setdefault(name, Keypair())
    chain.airdrop(admin.pubkey(), 1_000 * SOL)
    write_mint(chain, network.nos_mint, admin.pubkey())
    genesis = Genesis(program_id, network, network.nos_mint, admin)
    for keypair, is_node in [*((k, False) for k in clients), *((k, True) for k in nodes)]:
        chain.airdrop(keypair.pubkey(), options.sol_per_wallet)
        ata = mint_nos(chain, admin, network.nos_mint, keypair.pubkey(), options.nos_per_wallet)
        stake = None
        if is_node:
            stake = write_stake(chain, keypair.pubkey(), network, options.node_stake, options.node_stake_days)
        wallet = Wallet(keypair, ata, is_node, stake)
        (genesis.nodes if is_node else genesis.clients).append(wallet)
    settings = {"default": options.default_market, "priced": options.priced_market}
    for name, keypair in markets.items():
        if name not in settings:
            raise ValueError(f"unknown genesis market {name!r} (expected 'default' and 'priced')")
        vault = open_market(chain, program_id, admin, keypair, settings[name], network)
        genesis.markets[name] = MarketInfo(name, keypair.pubkey(), vault, settings[name])
    genesis.idl_address = write_idl(chain, program_id, admin.pubkey())
    pools = idls.POOLS_PROGRAM
    for program, idl in idls.program_idls(
        network.staking_program, network.rewards_program, pools, network.nodes_program
    ).items():
        genesis.program_idls[program] = write_idl(
            chain, program, admin.pubkey(), json.dumps(idl, separators=(",", ":"))
        )
    return genesis

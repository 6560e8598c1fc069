"""Genesis of the local market: NOS mint, funded wallets, node stakes, two markets, the IDL.

Works on any chain object with LiteSVM's method names (:class:`ChainLike`): a plain
``solders.litesvm.LiteSVM`` or the local chain that wraps it. The jobs program must already be
loaded at ``program_id`` with a configuration whose market admin is ``admin`` and whose NOS mint
and staking program are the network's (see :mod:`.program`).

What genesis writes:

* the NOS mint (6 decimals) at the network's mint address, mint authority ``admin``;
* SOL (airdrop) and NOS (an associated token account) for every client and node wallet;
* a stake account for every node wallet, owned by the staking program;
* the markets, opened with real ``open`` transactions signed by ``admin``: ``default`` (open,
  price 0) and ``priced`` (open, a price per second);
* the Anchor IDL account, so that Anchor clients can fetch the IDL from the chain.

Keypairs are the caller's: it generates them, saves them, and passes them in.
"""

from __future__ import annotations

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
from nosana_node.localnet import raw_accounts

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
    node_xnos: int = 10_000 * NOS
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


def write_stake(chain: ChainLike, node: Pubkey, network: Network, xnos: int) -> Pubkey:
    """Write the node's stake account (the staking program does not run locally)."""
    address, _ = pda.stake(node, network.nos_mint, network.staking_program)
    data = raw_accounts.stake_data(node, xnos=xnos, amount=xnos, duration=365 * 86400)
    chain.set_account(address, raw_accounts.rent_exempt(chain, data, network.staking_program))
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


def write_idl(chain: ChainLike, program_id: Pubkey, authority: Pubkey) -> Pubkey:
    """Write the Anchor IDL account of the program; returns its address."""
    address = pda.idl_address(program_id)
    data = idl_account_data(idl_json(program_id), authority)
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
        stake = write_stake(chain, keypair.pubkey(), network, options.node_xnos) if is_node else None
        wallet = Wallet(keypair, ata, is_node, stake)
        (genesis.nodes if is_node else genesis.clients).append(wallet)
    settings = {"default": options.default_market, "priced": options.priced_market}
    for name, keypair in markets.items():
        if name not in settings:
            raise ValueError(f"unknown genesis market {name!r} (expected 'default' and 'priced')")
        vault = open_market(chain, program_id, admin, keypair, settings[name], network)
        genesis.markets[name] = MarketInfo(name, keypair.pubkey(), vault, settings[name])
    genesis.idl_address = write_idl(chain, program_id, admin.pubkey())
    return genesis

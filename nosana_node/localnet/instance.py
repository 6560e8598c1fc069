"""A local market on disk: the ledger, the chain loaded from it, and its genesis the first time.

    with Localnet.open(Path("~/.nosana-node/localnet")) as net:
        print(net.program_id, net.markets["default"].address)

The jobs program is loaded at the mainnet program id (or ``program_id``) and uses mainnet's NOS
mint and staking program addresses, with the ledger's own admin keypair as market admin.
Genesis funds two client and two node wallets whose keypairs are kept in ``keys/``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from solders.keypair import Keypair
from solders.pubkey import Pubkey

from nosana_node.chain.accounts import MarketAccount
from nosana_node.chain.addresses import MAINNET
from nosana_node.errors import UserInputError
from nosana_node.localnet.chain import LocalChain
from nosana_node.localnet.clock import SlotClock
from nosana_node.localnet.genesis import apply_genesis
from nosana_node.localnet.ledger import Ledger
from nosana_node.localnet.program import program_bytes

DEFAULT_LEDGER = Path("~/.nosana-node/localnet")
CLIENTS, NODES = ("client-1", "client-2"), ("node-1", "node-2")


@dataclass(frozen=True)
class WalletInfo:
    """A funded test wallet."""

    name: str
    pubkey: str
    keypair_path: str
    nos_account: str
    stake: str | None


@dataclass(frozen=True)
class MarketSummary:
    """A market on the local chain, as listed at start."""

    name: str  # "default", "priced", or "" for markets opened later
    address: str
    vault: str
    job_price: int
    job_timeout: int
    job_type: int
    node_xnos_minimum: int
    access_key: str
    queued: str  # "3 jobs", "1 node", "empty"


class Localnet:
    """An open local market: :attr:`chain` over :attr:`ledger`."""

    def __init__(self, ledger: Ledger, chain: LocalChain, admin: Keypair, genesis: dict[str, Any]) -> None:
        self.ledger, self.chain, self.admin = ledger, chain, admin
        self.genesis = genesis
        self.program_id = chain.program_id
        self.nos_mint = Pubkey.from_string(genesis["nos_mint"])
        self.wallets = [WalletInfo(**w) for w in genesis["wallets"]]

    @classmethod
    def open(
        cls,
        path: Path = DEFAULT_LEDGER,
        *,
        program_id: Pubkey | None = None,
        reset: bool = False,
        clock: Callable[[int], SlotClock] | None = None,
    ) -> Localnet:
        """Open (or create, with genesis) the local market in ``path``; ``clock`` makes the
        chain's slot clock (tests pass one on a :class:`~.clock.ManualClock`)."""
        if reset:
            Ledger.reset(path)
        ledger = Ledger(path)
        try:
            return cls._load(ledger, program_id, clock)
        except BaseException:
            ledger.close()
            raise

    @classmethod
    def _load(
        cls, ledger: Ledger, program_id: Pubkey | None, clock: Callable[[int], SlotClock] | None
    ) -> Localnet:
        admin = ledger.keypair("admin")
        faucet = ledger.keypair("faucet")
        stored = ledger.meta("genesis")
        if stored is not None:
            genesis = json.loads(stored)
            created_with = Pubkey.from_string(genesis["program_id"])
            if program_id is not None and program_id != created_with:
                raise UserInputError(
                    f"ledger {ledger.path} holds the jobs program at {created_with}, not {program_id}: "
                    "drop --program-id, or start over with --reset"
                )
            program_id = created_with
        program_id = program_id or MAINNET.jobs_program
        program = program_bytes("mainnet", market_admin=admin.pubkey())
        chain = LocalChain(program_id, program, ledger=ledger, faucet=faucet, clock=clock)
        if stored is None:  # genesis is committed at once, in one commit with its record
            genesis = _genesis(ledger, chain, admin)
            chain.flush(extra_meta={"genesis": json.dumps(genesis)})
            (ledger.path / "genesis.json").write_text(json.dumps(genesis, indent=2) + "\n")
        return cls(ledger, chain, admin, genesis)

    # -- reading ----------------------------------------------------------------------------------
    @property
    def markets(self) -> list[MarketSummary]:
        """Every market of the jobs program, genesis markets first."""
        names = {m["address"]: name for name, m in self.genesis["markets"].items()}
        found = []
        for key, account in self.chain.program_accounts(self.program_id):
            data = bytes(account.data)
            if len(data) != MarketAccount.SIZE or data[:8] != MarketAccount.DISCRIMINATOR:
                continue
            market = MarketAccount.decode(data)
            queue = market.queue
            kind = "job" if market.queue_type == 0 else "node"
            queued = f"{len(queue)} {kind}{'s' if len(queue) != 1 else ''}" if queue else "empty"
            found.append(
                MarketSummary(
                    names.get(str(key), ""),
                    str(key),
                    str(market.vault),
                    market.job_price,
                    market.job_timeout,
                    int(market.job_type),
                    market.node_xnos_minimum,
                    str(market.node_access_key),
                    queued,
                )
            )
        order = {"default": 0, "priced": 1}
        return sorted(found, key=lambda m: (order.get(m.name, 2), m.address))

    def summary(self, rpc_url: str, ws_url: str) -> dict[str, Any]:
        """What ``localnet start`` prints (and ``--json`` emits)."""
        return {
            "rpc_url": rpc_url,
            "ws_url": ws_url,
            "ledger": str(self.ledger.path),
            "program_id": str(self.program_id),
            "nos_mint": str(self.nos_mint),
            "market_admin": {
                "pubkey": str(self.admin.pubkey()),
                "keypair": str(self.ledger.keypair_path("admin")),
            },
            "markets": [asdict(m) for m in self.markets],
            "wallets": [asdict(w) for w in self.wallets],
        }

    # -- lifecycle --------------------------------------------------------------------------------
    def close(self) -> None:
        """Flush the chain and release the ledger."""
        try:
            self.chain.close()
        finally:
            self.ledger.close()

    def __enter__(self) -> Localnet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _genesis(ledger: Ledger, chain: LocalChain, admin: Keypair) -> dict[str, Any]:
    clients = [ledger.keypair(name) for name in CLIENTS]
    nodes = [ledger.keypair(name) for name in NODES]
    created = apply_genesis(chain, program_id=chain.program_id, admin=admin, clients=clients, nodes=nodes)
    wallets = [
        WalletInfo(
            name,
            str(wallet.pubkey),
            str(ledger.keypair_path(name)),
            str(wallet.nos_account),
            str(wallet.stake) if wallet.stake else None,
        )
        for name, wallet in zip((*CLIENTS, *NODES), (*created.clients, *created.nodes), strict=True)
    ]
    return {
        "program_id": str(chain.program_id),
        "nos_mint": str(created.nos_mint),
        "admin": str(admin.pubkey()),
        "idl": str(created.idl_address),
        "program_idls": {str(program): str(idl) for program, idl in created.program_idls.items()},
        "markets": {
            name: {"address": str(m.address), "vault": str(m.vault)} for name, m in created.markets.items()
        },
        "wallets": [asdict(w) for w in wallets],
    }

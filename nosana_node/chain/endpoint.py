"""Which cluster, where, and with which keys: the :class:`Endpoint` a configuration names.

* ``:network`` picks the program addresses (mainnet, devnet) or the local market (localnet);
* ``:rpc-url`` / ``:ws-url`` the endpoints (defaults: the network's public RPC; the PubSub URL
  is derived from the RPC URL the way Solana clients do: ws(s)://, port + 1 when one is given);
* ``:markets`` names markets (``{"gpu" "7AtiX..."}``); for localnet the local market's own names
  (``default``, ``priced``) come first;
* ``:keypair`` the wallet; for localnet, without one, a test wallet of the local market.

For localnet everything is read from the ledger directory ``<home>/localnet``: ``genesis.json``
(program id, admin, markets, wallets) and ``keys/``; the URLs default (in the configuration
loader) to those in ``endpoint.json``, which a serving local market writes, else to ``:ports``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from solders.keypair import Keypair
from solders.pubkey import Pubkey

from nosana_node.chain.addresses import MAINNET, NETWORKS, RPC_URLS, Network
from nosana_node.chain.keyfile import read_keypair
from nosana_node.errors import ConfigError, UserInputError

#: Test wallets of the local market used when no :keypair is configured, by role.
LOCAL_WALLETS = {"client": "client-1", "node": "node-1"}


def ws_url_for(rpc_url: str) -> str:
    """The PubSub URL next to a JSON-RPC URL: ``http`` -> ``ws``, ``https`` -> ``wss``, and the
    port + 1 when the URL names one (``:8899`` -> ``:8900``)."""
    parts = urlsplit(rpc_url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    netloc = parts.netloc
    if parts.port is not None:
        host = netloc.rsplit(":", 1)[0]
        netloc = f"{host}:{parts.port + 1}"
    return urlunsplit((scheme, netloc, parts.path, parts.query, parts.fragment))


def parse_pubkey(text: str, what: str) -> Pubkey:
    """A base58 public key, or a one-line UserInputError naming ``what``."""
    try:
        key = Pubkey.from_string(text.strip())
    except (ValueError, TypeError):
        raise UserInputError(f"{what}: {text!r} is not a base58 address") from None
    return key


@dataclass(frozen=True)
class Endpoint:
    """A cluster and what the client needs to know about it."""

    network: str  # mainnet, devnet, localnet
    rpc_url: str
    ws_url: str
    addresses: Network
    markets: dict[str, str] = field(default_factory=dict)  # name -> base58 address
    ledger: Path | None = None  # localnet only

    def market(self, name_or_address: str | None) -> Pubkey:
        """A market by name (``:markets``, or the local market's) or by address."""
        if not name_or_address:
            names = ", ".join(self.markets) or "none configured in :markets"
            raise UserInputError(f"no market given: pass --market NAME|ADDRESS (names: {names})")
        if name_or_address in self.markets:
            return parse_pubkey(self.markets[name_or_address], f"market {name_or_address!r}")
        try:
            return Pubkey.from_string(name_or_address)
        except ValueError:
            known = ", ".join(self.markets) or "none"
            raise UserInputError(
                f"unknown market {name_or_address!r}: give a base58 address or one of the names "
                f"({known}; add more under :markets)"
            ) from None

    def market_name(self, address: Pubkey | str) -> str:
        """The name of a market address ("" when it has none)."""
        text = str(address)
        return next((name for name, addr in self.markets.items() if addr == text), "")

    def local_keypair(self, name: str) -> Keypair:
        """A keypair of the local market's ledger (``keys/<name>.json``)."""
        if self.ledger is None:
            raise UserInputError(f"keypair {name!r}: only the local market has test wallets")
        path = self.ledger / "keys" / f"{name}.json"
        if not path.exists():
            raise UserInputError(f"no keypair {path}: is {self.ledger} a local market ledger?")
        return read_keypair(path)


def endpoint_for(config: Any) -> Endpoint:
    """The endpoint a :class:`~nosana_node.config.schema.NodeConfig` names."""
    network = config.network
    configured = dict(getattr(config, "markets", None) or {})
    rpc = getattr(config, "rpc_url", None)
    ws = getattr(config, "ws_url", None)
    if network == "localnet":
        return _localnet(config, rpc, ws, configured)
    if network not in NETWORKS:
        raise ConfigError(f":network {network!r}: expected mainnet, devnet or localnet")
    rpc = rpc or RPC_URLS[network]
    return Endpoint(network, rpc, ws or ws_url_for(rpc), NETWORKS[network], configured)


#: The addresses of a local market whose ledger is elsewhere: its genesis defaults (the program
#: and the NOS mint at their mainnet addresses).
LOCALNET_DEFAULTS = replace(MAINNET, name="localnet")


def _localnet(config: Any, rpc: str | None, ws: str | None, configured: dict[str, str]) -> Endpoint:
    """The local market under ``<home>/localnet``; its URLs are the configuration's (which
    default to those of the local market serving that ledger, see ``config.load``). With an
    ``:rpc-url`` and no ledger under the home (a node on another host, or with another home),
    the local market's default addresses and the ``:markets`` names."""
    ledger = Path(config.home).expanduser() / "localnet"
    if rpc and not (ledger / "genesis.json").exists():
        return Endpoint("localnet", rpc, ws or ws_url_for(rpc), LOCALNET_DEFAULTS, configured)
    rpc = rpc or f"http://127.0.0.1:{config.ports.rpc}"
    return localnet_endpoint(ledger, rpc, ws or ws_url_for(rpc), configured)


def localnet_endpoint(
    ledger: Path, rpc_url: str, ws_url: str, markets: dict[str, str] | None = None
) -> Endpoint:
    """The endpoint of the local market whose ledger is ``ledger``, served at these URLs."""
    genesis = read_genesis(ledger)
    addresses = replace(
        MAINNET,
        name="localnet",
        jobs_program=Pubkey.from_string(genesis["program_id"]),
        nos_mint=Pubkey.from_string(genesis.get("nos_mint", str(MAINNET.nos_mint))),
        market_admin=Pubkey.from_string(genesis["admin"]),
    )
    names = {name: m["address"] for name, m in genesis.get("markets", {}).items()}
    names.update(markets or {})
    return Endpoint("localnet", rpc_url, ws_url, addresses, names, ledger)


def read_genesis(ledger: Path) -> dict[str, Any]:
    """``genesis.json`` of a local market ledger (UserInputError when there is none)."""
    path = ledger / "genesis.json"
    try:
        genesis = json.loads(path.read_text())
    except FileNotFoundError:
        raise UserInputError(
            f"no local market at {ledger} (no genesis.json): start one with `nosana-node localnet start`"
        ) from None
    except (OSError, ValueError) as exc:
        raise UserInputError(f"cannot read {path}: {exc}") from None
    if not isinstance(genesis, dict) or "program_id" not in genesis:
        raise UserInputError(f"{path} is not a local market genesis file")
    return genesis


def served_urls(ledger: Path) -> dict[str, str]:
    """The URLs a running local market wrote to ``endpoint.json`` (empty when none is serving)."""
    try:
        info = json.loads((ledger / "endpoint.json").read_text())
        pid = int(info["pid"])
        os.kill(pid, 0)  # still alive?
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return {k: str(info[k]) for k in ("rpc_url", "ws_url") if isinstance(info.get(k), str)}


def wallet_for(config: Any, endpoint: Endpoint, role: str = "client") -> Keypair:
    """The configured ``:keypair``; for localnet without one, its test wallet for ``role``
    (``client`` posts jobs, ``node`` runs them)."""
    secret = getattr(config, "keypair", None)
    if secret:
        try:
            return Keypair.from_bytes(bytes(json.loads(secret.reveal())))
        except (ValueError, TypeError):
            raise ConfigError(":keypair is not a Solana keypair (a JSON array of 64 numbers)") from None
    if endpoint.network == "localnet":
        return endpoint.local_keypair(LOCAL_WALLETS.get(role, role))
    raise ConfigError(
        f"no :keypair configured for {endpoint.network}: set :keypair in config.edn "
        '(#file "~/.config/solana/id.json") or NOSANA_KEYPAIR'
    )

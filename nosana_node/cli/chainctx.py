"""What the chain commands (`job`, `market`) share: network flags, the client, amounts in words.

``--network`` and ``--rpc-url`` override ``:network`` / ``:rpc-url``; with ``--network localnet``
the local market under ``<home>/localnet`` is found (its URLs, market names and test wallets).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer

NETWORK = typer.Option(None, "--network", help="mainnet, devnet or localnet [:network].")
RPC_URL = typer.Option(None, "--rpc-url", help="Solana JSON-RPC URL [:rpc-url].")
JSON = typer.Option(False, "--json", help="Print JSON (one document on stdout).")

NOS_DECIMALS = 6
SOL_DECIMALS = 9


def load(network: str | None, rpc_url: str | None) -> Any:
    """The configuration of this command, with ``--network`` / ``--rpc-url`` applied."""
    from nosana_node.config.load import Flag, load_config
    from nosana_node.config.logs import setup_logging
    from nosana_node.config.options import current

    flags: dict[str, Flag] = {}
    if network is not None:
        flags["network"] = Flag(network, "--network")
    if rpc_url is not None:
        flags["rpc-url"] = Flag(rpc_url, "--rpc-url")
    loaded = load_config(current(), flags)
    setup_logging(loaded.config.log)
    return loaded.config


@contextmanager
def chain(config: Any, *, role: str = "client", readonly: bool = False) -> Iterator[Any]:
    """A chain client for the command, closed (sockets, threads) when it ends."""
    from nosana_node.chain.connect import chain_for, readonly_chain_for

    client = readonly_chain_for(config) if readonly else chain_for(config, role=role)
    try:
        yield client
    finally:
        client.close()


def amount(base_units: int, decimals: int, unit: str) -> str:
    """``1500000`` (6 decimals) -> ``1.5 NOS``."""
    whole, frac = divmod(abs(base_units), 10**decimals)
    text = f"{whole:,}" + (f".{frac:0{decimals}d}".rstrip("0") if frac else "")
    return f"{'-' if base_units < 0 else ''}{text} {unit}"


def nos(base_units: int | None) -> str:
    return "-" if base_units is None else amount(base_units, NOS_DECIMALS, "NOS")


def sol(lamports: int) -> str:
    return amount(lamports, SOL_DECIMALS, "SOL")


def seconds(value: float) -> str:
    """``1800`` -> ``30m`` (the configuration's duration words)."""
    from nosana_node.config.kinds import Duration

    return Duration().show(float(value))


def emit(document: Any) -> None:
    """One JSON document on stdout."""
    sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")
    sys.stdout.flush()


def table(rows: list[list[str]], header: list[str]) -> str:
    """Left-aligned columns (addresses are never cut)."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    return "\n".join(lines)

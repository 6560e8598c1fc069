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

from nosana_node.cli import options


def setting(flag: str, key: str, metavar: str) -> Any:
    """An option standing for configuration key ``key``: its meaning and default from the schema."""
    from nosana_node.config.schema import BY_KEY

    entry = BY_KEY[key]
    help_text = f"{entry.doc} [default: {entry.default_text}; config: {key}]"
    return typer.Option(None, flag, metavar=metavar, help=help_text, show_default=False)


def option(flag: str, metavar: str, help_text: str, default: str) -> Any:
    """An optional value with no default value of its own; ``default`` says what happens."""
    return typer.Option(
        None, flag, metavar=metavar, help=f"{help_text} [default: {default}]", show_default=False
    )


NETWORK = setting("--network", "network", "NAME")
RPC_URL = setting("--rpc-url", "rpc-url", "URL")
JSON = options.JSON


def load(network: str | None, rpc_url: str | None) -> Any:
    """The loaded configuration of this command, with ``--network`` / ``--rpc-url`` applied."""
    from nosana_node.config.load import Flag
    from nosana_node.wiring import load_configuration

    flags: dict[str, Flag] = {}
    if network is not None:
        flags["network"] = Flag(network, "--network")
    if rpc_url is not None:
        flags["rpc-url"] = Flag(rpc_url, "--rpc-url")
    return load_configuration(flags=flags)


@contextmanager
def chain(loaded: Any, *, role: str = "client", readonly: bool = False) -> Iterator[Any]:
    """A chain client for the command, closed (sockets, threads) when it ends."""
    from nosana_node.wiring import chain_for

    client = chain_for(loaded, role=role, readonly=readonly)
    try:
        yield client
    finally:
        client.close()


def seconds(value: float) -> str:
    """``1800`` -> ``30m``, ``5400`` -> ``5400s`` (exact, as a timeout was set)."""
    from nosana_node import units

    return units.duration(float(value))


def parse_seconds(text: str, flag: str) -> int:
    """Whole seconds (at least 1) of a duration flag; one-line UserInputError otherwise."""
    from nosana_node import units
    from nosana_node.errors import UserInputError

    try:
        value = int(units.parse_duration(text))
    except ValueError as exc:
        raise UserInputError(f"{flag} {text!r}: expected {exc}") from None
    if value < 1:
        raise UserInputError(f"{flag} {text!r}: at least one second")
    return value


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

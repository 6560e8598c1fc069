"""`nosana-node localnet`: run a local Nosana market: the jobs program in the Solana VM behind JSON-RPC."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Run a local Nosana market: the jobs program in the Solana VM behind JSON-RPC.", no_args_is_help=True
)

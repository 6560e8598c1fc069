"""`nosana-node vault`: read and write secrets in the configured vault."""

from __future__ import annotations

import typer

app = typer.Typer(help="Read and write secrets in the configured vault.", no_args_is_help=True)

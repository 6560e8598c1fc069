"""`nosana-node pipeline`: validate and run Nosana pipelines."""

from __future__ import annotations

import typer

app = typer.Typer(help="Validate and run Nosana pipelines.", no_args_is_help=True)

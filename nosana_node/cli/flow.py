"""`nosana-node flow`: inspect and resume flows (compiled, saved runs)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Inspect and resume flows (compiled, saved runs).", no_args_is_help=True)

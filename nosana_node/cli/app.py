"""The ``nosana-node`` command: the root app, its command groups and the error boundary.

Each command group lives in its own module and is mounted here. Errors derived from
:class:`~nosana_node.errors.NosanaError` are printed as one masked line with their exit code;
anything else is a bug and is reported as one line too (``NOSANA_DEBUG=1`` shows the traceback).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from nosana_node import __version__
from nosana_node.cli import config as config_cli
from nosana_node.cli import flow as flow_cli
from nosana_node.cli import job as job_cli
from nosana_node.cli import job_run as job_run_cli
from nosana_node.cli import job_validate as job_validate_cli
from nosana_node.cli import localnet as localnet_cli
from nosana_node.cli import market as market_cli
from nosana_node.cli import node as node_cli
from nosana_node.cli import pipeline as pipeline_cli
from nosana_node.cli import storage as storage_cli
from nosana_node.cli import vault as vault_cli
from nosana_node.config.options import ConfigOptions, remember
from nosana_node.errors import NosanaError
from nosana_node.secrets.masking import process_masker
from nosana_node.terminal import neutralise

app = typer.Typer(
    name="nosana-node",
    help="A node for the Nosana compute market: run pipelines, serve a local market, manage secrets.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,  # plain help: flags show no value, "[default: …]" stays as written
)
app.add_typer(pipeline_cli.app, name="pipeline")
app.add_typer(flow_cli.app, name="flow")
app.add_typer(job_cli.app, name="job")
app.add_typer(market_cli.app, name="market")
app.add_typer(node_cli.app, name="node")
app.add_typer(localnet_cli.app, name="localnet")
app.add_typer(config_cli.app, name="config")
app.add_typer(vault_cli.app, name="vault")
app.add_typer(storage_cli.app, name="storage")
job_validate_cli.register(job_cli.app)
job_run_cli.register(job_cli.app)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"nosana-node {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
    config: Path | None = typer.Option(
        None,
        "--config",
        "-c",
        help="Configuration file (EDN). Default: $NOSANA_CONFIG, else <home>/config.edn.",
    ),
    profile: str | None = typer.Option(
        None,
        "--profile",
        "-p",
        help="Configuration profile for #profile (dev, prod, ...). Default: $NOSANA_PROFILE.",
    ),
    overrides: list[str] = typer.Option(
        [],
        "--set",
        metavar="KEY=VALUE",
        help="Override a configuration key, e.g. --set docker.memory=4g; repeatable. Default: none.",
    ),
) -> None:
    """A node for the Nosana compute market."""
    ctx.obj = remember(ConfigOptions(config=config, profile=profile, overrides=tuple(overrides)))


def fail(message: str, code: int) -> None:
    """Print one masked error line to stderr and exit with ``code``."""
    line = neutralise(" ".join(process_masker().mask(message).split()))
    print(f"error: {line}", file=sys.stderr)
    raise SystemExit(code)


def _usage_error(exc: typer.TyperException) -> None:
    """Typer/click usage errors (unknown flag, missing argument) as one line, exit 2."""
    ctx = getattr(exc, "ctx", None)
    if type(exc).__name__ == "NoArgsIsHelpError":  # a group called bare: show its help
        print(exc.format_message(), file=sys.stderr)
        raise SystemExit(2)
    hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    fail(f"{exc.format_message()}{hint}", getattr(exc, "exit_code", 2))


def main() -> None:
    """Console-script entry point."""
    try:
        code = app(standalone_mode=False)
    except typer.TyperException as exc:
        _usage_error(exc)
    except typer.Abort:
        fail("aborted", 1)
    except NosanaError as exc:
        fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except Exception as exc:  # a bug: still one line, with a way to see more
        if os.environ.get("NOSANA_DEBUG"):
            raise
        fail(f"internal error: {type(exc).__name__}: {exc} (set NOSANA_DEBUG=1 for a traceback)", 1)
    else:
        raise SystemExit(code if isinstance(code, int) else 0)

"""`nosana-node vault`: read and write secrets in the configured vault.

The backend is the configuration's ``:vault :backend``: the ``config`` backend is read-only
(``put`` and ``rm`` are refused); ``openbao`` is HashiCorp Vault or OpenBao. ``get`` prints the
value itself (that is what it is for): pipe it, do not paste it into logs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from nosana_node.errors import UserInputError

app = typer.Typer(help="Read and write secrets in the configured vault.", no_args_is_help=True)


def _open(ctx: typer.Context) -> Any:
    from nosana_node import wiring
    from nosana_node.config.options import from_context

    return wiring.vault_for(wiring.load_configuration(from_context(ctx)))


@app.command("get")
def get(
    ctx: typer.Context,
    ref: str = typer.Argument(..., metavar="PATH[#KEY]", help="Secret path, and optionally one key."),
    version: int | None = typer.Option(
        None, "--version", min=1, help="An older version (KV v2). Default: the latest."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the whole secret as a JSON object."),
) -> None:
    """Print a secret: the value of PATH#KEY, or of PATH when it holds one value."""
    from nosana_node.secrets.refs import SecretRef

    parsed = SecretRef.parse(ref)
    with _open(ctx) as vault:
        if as_json or version is not None or parsed.key is None:
            data = vault.read(parsed.path, version)
            if as_json:
                sys.stdout.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
                return
            if parsed.key is not None:
                if not isinstance(data, dict) or parsed.key not in data:
                    raise UserInputError(f"vault get: no key {parsed.key!r} at {parsed.path}")
                value = data[parsed.key]
            elif isinstance(data, dict) and len(data) != 1:
                keys = ", ".join(sorted(data))
                raise UserInputError(
                    f"vault get: {parsed.path} holds keys {keys}: name one as PATH#KEY, or use --json"
                )
            else:
                value = data if isinstance(data, str) else next(iter(data.values()))
        else:
            value = vault.resolve(parsed)
    sys.stdout.write(value + ("" if value.endswith("\n") else "\n"))


def _parse_pairs(pairs: list[str]) -> dict[str, str]:
    data: dict[str, str] = {}
    stdin_used = False
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or not key:
            raise UserInputError(
                f"vault put: expected KEY=VALUE, KEY=@FILE or KEY=-, got {key or pair[:20]!r}"
            )
        if value == "-":
            if stdin_used:
                raise UserInputError("vault put: only one KEY=- can read standard input")
            stdin_used = True
            value = sys.stdin.read().removesuffix("\n")
        elif value.startswith("@"):
            path = Path(value[1:]).expanduser()
            try:
                value = path.read_text().removesuffix("\n")
            except OSError as exc:
                raise UserInputError(f"vault put: cannot read {path}: {exc.strerror}") from None
        data[key] = value
    return data


@app.command("put")
def put(
    ctx: typer.Context,
    path: str = typer.Argument(..., help="Secret path."),
    pairs: list[str] = typer.Argument(
        ...,
        metavar="KEY=VALUE...",
        help="Values: KEY=VALUE, KEY=@FILE (a file's content), KEY=- (standard input).",
    ),
) -> None:
    """Write a secret (replacing its keys). Prefer KEY=- or KEY=@FILE: a value on the command
    line ends up in the shell history."""
    data = _parse_pairs(pairs)
    with _open(ctx) as vault:
        version = vault.write(path, data)
    suffix = f" (version {version})" if version is not None else ""
    typer.echo(f"wrote {path.strip('/')}{suffix}: {', '.join(sorted(data))}")


@app.command("list")
def list_(
    ctx: typer.Context,
    prefix: str = typer.Argument("", help="Folder to list (default: the top)."),
) -> None:
    """List secret names under a folder (sub-folders end with /)."""
    with _open(ctx) as vault:
        names = vault.list(prefix)
    for name in names:
        typer.echo(name)


@app.command("rm")
def rm(
    ctx: typer.Context,
    path: str = typer.Argument(..., help="Secret path."),
    all_versions: bool = typer.Option(
        False, "--all-versions", help="KV v2: delete every version and the metadata (not recoverable)."
    ),
) -> None:
    """Delete a secret (KV v2: its latest version, recoverable with `bao kv undelete`)."""
    with _open(ctx) as vault:
        vault.delete(path, all_versions)
    typer.echo(f"deleted {path.strip('/')}{' (all versions)' if all_versions else ''}")

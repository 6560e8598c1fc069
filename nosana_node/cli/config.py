"""`nosana-node config`: show the effective configuration."""

from __future__ import annotations

import json
import sys

import typer

app = typer.Typer(help="Show the effective configuration.", no_args_is_help=True)


@app.command("show")
def show(
    ctx: typer.Context,
    keys: list[str] = typer.Argument(None, help="Only these keys (e.g. docker.memory vault)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object: key -> {value, source}."),
    doc: bool = typer.Option(False, "--doc", help="Also print what each key means."),
) -> None:
    """Print every setting's effective value and where it came from (flag, env, file, default).

    Secret values (keypair, vault token, secret id, :secrets, anything read with #file) are
    masked.
    """
    from nosana_node.config.load import load_config
    from nosana_node.config.options import from_context
    from nosana_node.config.show import rows
    from nosana_node.secrets.masking import process_masker

    loaded = load_config(from_context(ctx))
    table = rows(loaded, keys or None)
    masker = process_masker()
    if as_json:
        doc_obj = {
            "config_file": {
                "value": str(loaded.file) if loaded.file else None,
                "source": str(loaded.file_source),
            },
            "profile": {"value": loaded.profile, "source": str(loaded.profile_source)},
            "settings": {r.key: {"value": r.value, "source": r.source, "doc": r.doc} for r in table},
        }
        sys.stdout.write(masker.mask(json.dumps(doc_obj, indent=2)) + "\n")
        return
    lines = [
        f"config file  {loaded.file or '-'}  ({loaded.file_source})",
        f"profile      {loaded.profile or '-'}  ({loaded.profile_source})",
        "",
    ]
    width_key = max([len("KEY"), *(len(r.key) for r in table)])
    width_value = min(48, max([len("VALUE"), *(len(r.shown) for r in table)]))
    lines.append(f"{'KEY':<{width_key}}  {'VALUE':<{width_value}}  SOURCE")
    for r in table:
        lines.append(f"{r.key:<{width_key}}  {r.shown:<{width_value}}  {r.source}")
        if doc:
            lines.append(f"{'':<{width_key}}  # {r.doc}")
    sys.stdout.write(masker.mask("\n".join(lines)) + "\n")

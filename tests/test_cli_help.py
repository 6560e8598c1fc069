"""The command line's help reads as people expect: flags take no value, every option says its default."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import typer
from typer.core import TyperGroup, TyperOption

from nosana_node.cli.app import app
from tests.cli import run_cli


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, command
    if isinstance(command, TyperGroup):
        for name, sub in command.commands.items():
            yield from _commands(sub, (*path, name))


def _option_help(command: Any, path: tuple[str, ...]) -> Iterator[tuple[Any, str]]:
    """Each option of ``command`` with the help text shown for it (defaults included)."""
    ctx = typer.Context(command, info_name=" ".join(path) or "nosana-node")
    for param in command.get_params(ctx):
        if isinstance(param, TyperOption) and not param.hidden:
            record = param.get_help_record(ctx)
            yield param, " ".join((record[1] if record else "").split())


def test_every_option_states_its_default_and_flags_take_no_value() -> None:
    root = typer.main.get_command(app)
    problems = []
    for path, command in _commands(root):
        for param, text in _option_help(command, path):
            where = f"{' '.join(path) or 'nosana-node'} {param.opts[0]}"
            if param.is_flag:
                if param.metavar:
                    problems.append(f"{where}: a flag shows a value ({param.metavar})")
                continue
            if not param.required and "default" not in text.lower():
                problems.append(f"{where}: says no default: {text!r}")
            if text.endswith(" .") or " . " in text:
                problems.append(f"{where}: a bare ' .' where a default should be: {text!r}")
    assert problems == []


def test_rendered_help_shows_flags_bare_and_defaults_in_words() -> None:
    result = run_cli("pipeline", "run", "--help")
    assert result.returncode == 0
    lines = {
        line.split()[0]: line.split() for line in result.stdout.splitlines() if line.strip().startswith("--")
    }
    assert lines["--json"][1] == "Print" and lines["--fresh"][1] == "Start"  # no <bool>, no value
    assert lines["--timeout"][1] == "DURATION" and lines["--memory"][1] == "SIZE"
    text = " ".join(result.stdout.split())
    assert "[default: 1h; config: docker.timeout]" in text
    assert "[default: 4 GiB; config: docker.memory]" in text
    assert "<bool>" not in text and " ." not in text.replace(" ...", "")

"""Shared by ``pipeline run`` and ``flow resume``: runner flags, settings, running with a display.

Flags that take numbers or sizes are read as text and parsed here, so a bad value gives the
project's one-line error (exit 2). Heavy imports happen inside the functions.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from nosana_node.flow.model import Flow
    from nosana_node.runner import Runner
    from nosana_node.secrets.refs import SecretResolver
    from nosana_node.settings import RunnerSettings

HOME = typer.Option(None, "--home", help="State directory [default: $NOSANA_HOME or ~/.nosana-node].")
JSON = typer.Option(
    False, "--json", help="Print a machine-readable result on stdout (live output goes to stderr)."
)
DOCKER_URL = typer.Option(
    None, "--docker-url", help="Docker engine address [default: $DOCKER_HOST or the local socket]."
)
PULL = typer.Option(
    None, "--pull", help="Image pull policy: always | if-not-present | never [default: if-not-present]."
)
TIMEOUT = typer.Option(None, "--timeout", help="Per-job time limit, e.g. 90s, 10m, 1h [default: 1h].")
CPUS = typer.Option(None, "--cpus", help="CPU limit per job container, in CPUs [default: 2].")
MEMORY = typer.Option(None, "--memory", help="Memory limit per job container, e.g. 512m, 4g [default: 4g].")
PIDS = typer.Option(None, "--pids", help="Process limit per job container [default: 4096].")
LOG_CAP = typer.Option(
    None, "--log-cap", help="Log kept per job; more is truncated with a marker [default: 16m]."
)
ARTIFACT_CAP = typer.Option(None, "--artifact-cap", help="Maximum size of one artifact [default: 4g].")
GPUS = typer.Option(None, "--gpus", help="Request GPUs for job containers: all or a count [default: none].")
NETWORK = typer.Option(None, "--network", help="Network mode of job containers [default: bridge].")
CONTEXT = typer.Option(
    None,
    "--context",
    help="Context variable for every job, NAME=VALUE (NOS_JOB_ADDRESS, NOS_REPOSITORY …); repeatable.",
)


def base_settings(home: Path | None) -> RunnerSettings:
    """The settings before command flags: the node configuration (defaults < config file <
    ``NOSANA_*`` environment variables < ``--set``; see ``nosana-node config show``)."""
    from nosana_node.config.runner import load_for_cli, runner_settings

    return runner_settings(load_for_cli(home).config)


def secret_resolver(settings: RunnerSettings) -> SecretResolver | None:
    """The resolver for ``{"$secret": …}`` references: the configured vault backend (the
    config file's ``:secrets``, or HashiCorp Vault / OpenBao), and for ``nosana/secret`` values
    the Nosana secrets manager the operator named. It resolves each reference when its op
    starts and registers every value with the process masker."""
    from nosana_node.config.runner import last_loaded
    from nosana_node.vault import secret_resolver as resolver

    loaded = last_loaded()
    return resolver(loaded.config, loaded.file)


def settings_from_flags(
    home: Path | None,
    docker_url: str | None = None,
    pull: str | None = None,
    timeout: str | None = None,
    cpus: str | None = None,
    memory: str | None = None,
    pids: str | None = None,
    log_cap: str | None = None,
    artifact_cap: str | None = None,
    gpus: str | None = None,
    network: str | None = None,
) -> RunnerSettings:
    """:func:`base_settings` with the flags that were given applied on top."""
    from nosana_node.errors import ConfigError
    from nosana_node.settings import parse_duration, parse_gpus, parse_size

    def number(text: str | None, flag: str, kind: type) -> float | int | None:
        if text is None:
            return None
        try:
            return kind(text)
        except ValueError:
            raise ConfigError(f"{flag}: expected a number, got {text!r}") from None

    return base_settings(home).with_overrides(
        docker_url=docker_url,
        pull_policy=pull,
        job_timeout=parse_duration(timeout) if timeout is not None else None,
        cpus=number(cpus, "--cpus", float),
        memory=parse_size(memory) if memory is not None else None,
        pids=number(pids, "--pids", int),
        log_cap=parse_size(log_cap) if log_cap is not None else None,
        artifact_cap=parse_size(artifact_cap) if artifact_cap is not None else None,
        gpus=parse_gpus(gpus),
        network=network,
    )


def parse_context(pairs: list[str] | None) -> dict[str, str]:
    """``["A=1", "B=2"]`` → ``{"A": "1", "B": "2"}``."""
    from nosana_node.errors import UserInputError

    context = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UserInputError(f"--context: expected NAME=VALUE, got {pair!r}")
        context[name] = value
    return context


def print_problems(lines: list[str]) -> None:
    """One ``error:`` line per problem on stderr (masked, like every error the CLI prints)."""
    from nosana_node.secrets.masking import process_masker

    for line in lines:
        print(f"error: {process_masker().mask(line)}", file=sys.stderr)


def run_with_display(
    settings: RunnerSettings,
    prepare: Callable[[Runner], tuple[Flow, bool]],
    *,
    json_out: bool,
    context: dict[str, str] | None = None,
    announce_resume: bool = True,
) -> None:
    """Prepare a flow with a new runner, run it with a live display, exit 0/1/130."""
    from nosana_node.cli.display import make_display
    from nosana_node.flow.model import FlowStatus
    from nosana_node.flow.result import flow_result
    from nosana_node.flow.signals import INTERRUPTS, exit_code
    from nosana_node.pipeline.problems import ProblemList
    from nosana_node.runner import Runner

    display = make_display(sys.stderr if json_out else sys.stdout)
    runner = Runner(settings, secrets=secret_resolver(settings), reporter=display, context=context)
    try:
        try:
            flow, resumed = prepare(runner)
        except ProblemList as exc:
            print_problems(exc.lines)
            raise typer.Exit(2) from None
        if resumed and announce_resume:
            display.message(f"resuming flow {flow.id}: an earlier run did not finish (--fresh starts over)")
        if flow.status.finished:
            display.message(f"flow {flow.id} already finished: {flow.status}")
        else:
            try:
                flow = runner.run(flow)
            except INTERRUPTS as exc:
                if json_out:
                    print(json.dumps(flow_result(flow), indent=2))
                hint = f"continue it with `nosana-node flow resume {flow.id}`"
                print(f"error: interrupted; flow {flow.id} is saved, {hint}", file=sys.stderr)
                raise typer.Exit(exit_code(exc)) from None
        if json_out:
            print(json.dumps(flow_result(flow), indent=2))
        raise typer.Exit(0 if flow.status is FlowStatus.SUCCEEDED else 1)
    finally:
        runner.close()

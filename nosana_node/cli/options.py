"""Options shared by commands: the runner flags, ``--home``, ``--json``, ``--context``.

A runner flag is a configuration key given on the command line: its text goes through the
configuration loader like ``--set`` and ``NOSANA_*`` (one grammar: ``--timeout 1d`` and
``--set docker.timeout=1d`` agree) and is recorded with its provenance (``flag --timeout``).
Its help is the key's meaning and default from the configuration schema. Heavy imports happen
inside the functions.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from nosana_node.config.schema import BY_KEY

if TYPE_CHECKING:
    from nosana_node.config.load import Flag

#: parameter name -> (flag, configuration key, metavar)
RUNNER_FLAGS: dict[str, tuple[str, str, str]] = {
    "home": ("--home", "home", "DIR"),
    "docker_url": ("--docker-url", "docker.url", "URL"),
    "pull": ("--pull", "docker.pull-policy", "POLICY"),
    "timeout": ("--timeout", "docker.timeout", "DURATION"),
    "cpus": ("--cpus", "docker.cpus", "N"),
    "memory": ("--memory", "docker.memory", "SIZE"),
    "pids": ("--pids", "docker.pids", "N"),
    "log_cap": ("--log-cap", "docker.max-log-size", "SIZE"),
    "artifact_cap": ("--artifact-cap", "storage.max-artifact-size", "SIZE"),
    "gpus": ("--gpus", "docker.gpus", "all|N"),
    "network": ("--network", "docker.network", "MODE"),
}


def setting_option(param: str) -> Any:
    """The typer option of a runner flag: the key's meaning and default, no default value (an
    absent flag leaves the key to the configuration)."""
    flag, key, metavar = RUNNER_FLAGS[param]
    setting = BY_KEY[key]
    help_text = f"{setting.doc} [default: {setting.default_text}; config: {key}]"
    return typer.Option(None, flag, metavar=metavar, help=help_text, show_default=False)


def config_flags(**given: Any) -> dict[str, Flag]:
    """The runner flags that were given (not None), as configuration flags named after them."""
    from nosana_node.config.load import Flag

    flags = {}
    for param, value in given.items():
        if value is not None:
            flag, key, _ = RUNNER_FLAGS[param]
            flags[key] = Flag(str(value) if isinstance(value, Path) else value, flag)
    return flags


def flag(*names: str, help: str) -> Any:
    """A boolean flag (off unless given): shows no value in the help."""
    return typer.Option(False, *names, help=help, show_default=False)


HOME = setting_option("home")
DOCKER_URL = setting_option("docker_url")
PULL = setting_option("pull")
TIMEOUT = setting_option("timeout")
CPUS = setting_option("cpus")
MEMORY = setting_option("memory")
PIDS = setting_option("pids")
LOG_CAP = setting_option("log_cap")
ARTIFACT_CAP = setting_option("artifact_cap")
GPUS = setting_option("gpus")
NETWORK = setting_option("network")
JSON = flag("--json", help="Print a machine-readable result on stdout (live output goes to stderr).")
CONTEXT = typer.Option(
    None,
    "--context",
    metavar="NAME=VALUE",
    help="Context variable for every job (NOS_JOB_ADDRESS, NOS_REPOSITORY …); repeatable. [default: none]",
    show_default=False,
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
    """One ``error:`` line per problem on stderr (masked and made inert, like every error the CLI
    prints)."""
    from nosana_node.secrets.masking import process_masker
    from nosana_node.terminal import neutralise

    for line in lines:
        print(f"error: {neutralise(process_masker().mask(line))}", file=sys.stderr)

"""From the node configuration to what the runner reads: its settings and its secret resolver.

The CLI loads the configuration once per invocation (:func:`load_for_cli`): the root options
(``--config``, ``--profile``, ``--set``) are those the CLI root remembered; a command's ``--home``
counts as a flag. Command flags such as ``--memory`` are applied on top by the caller.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from nosana_node.config.load import Flag, LoadedConfig, load_config
from nosana_node.config.logs import setup_logging
from nosana_node.config.options import current

if TYPE_CHECKING:
    from nosana_node.config.schema import NodeConfig
    from nosana_node.settings import RunnerSettings
    from nosana_node.vault.base import Vault

_loaded: dict[Path | None, LoadedConfig] = {}


def runner_settings(config: NodeConfig) -> RunnerSettings:
    """The runner settings a configuration gives (before command flags)."""
    from nosana_node.settings import RunnerSettings

    d = config.docker
    return RunnerSettings(
        home=config.home,
        docker_url=d.url,
        docker_timeout=d.api_timeout,
        cpus=d.cpus,
        memory=d.memory,
        pids=d.pids,
        job_timeout=d.timeout,
        log_cap=d.max_log_size,
        artifact_cap=config.storage.max_artifact_size,
        pull_policy=d.pull_policy,
        gpus=d.gpus,
        network=d.network,
    )


def load_for_cli(home: Path | None = None) -> LoadedConfig:
    """The configuration of this command (loaded once per ``--home``); sets up logging from it."""
    if home not in _loaded:
        options = current()
        flags = {"home": Flag(home, "--home")} if home is not None else None
        _loaded[home] = load_config(options, flags)
        setup_logging(_loaded[home].config.log)
    return _loaded[home]


def last_loaded() -> LoadedConfig:
    """The configuration this command loaded last (loading the default one if none was)."""
    if not _loaded:
        return load_for_cli()
    return next(reversed(_loaded.values()))


def vault_for_cli() -> Vault:
    """The secret resolver of the configured backend (it connects on first use)."""
    from nosana_node.vault import open_vault

    loaded = last_loaded()
    return open_vault(loaded.config, loaded.file)

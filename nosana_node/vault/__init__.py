"""Secret backends behind one interface (:class:`~nosana_node.vault.base.Vault`).

- :mod:`~nosana_node.vault.base`: the interface, reference resolution, errors, the TTL cache;
- :mod:`~nosana_node.vault.config_backend`: secrets from the configuration file (read-only);
- :mod:`~nosana_node.vault.openbao`: HashiCorp Vault / OpenBao through hvac.

:func:`open_vault` picks the backend the configuration names; :func:`secret_resolver` is what
runs pipelines: that vault, plus ``nosana/secret`` references (:mod:`nosana_node.secrets.endpoint`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from nosana_node.config.schema import NodeConfig
    from nosana_node.secrets.endpoint import NosanaSecrets
    from nosana_node.vault.base import Vault


def open_vault(config: NodeConfig, config_file: Path | None = None) -> Vault:
    """The vault the configuration selects (``vault.backend``); connects lazily, on first use."""
    if config.vault.backend == "openbao":
        from nosana_node.vault.openbao import OpenBaoVault

        return OpenBaoVault(config.vault)
    from nosana_node.vault.config_backend import ConfigVault

    return ConfigVault(config.secrets, config_file, config.vault.cache_ttl)


def secret_resolver(config: NodeConfig, config_file: Path | None = None) -> NosanaSecrets:
    """The resolver of a pipeline run: the configured vault, and the Nosana secrets manager named
    by ``vault.nosana-endpoint`` (used only with the node's keypair)."""
    from nosana_node.secrets.endpoint import NosanaSecrets, SecretsEndpoint

    endpoint = None
    if config.vault.nosana_endpoint and config.keypair is not None:
        import json

        from solders.keypair import Keypair

        keypair = Keypair.from_bytes(bytes(json.loads(config.keypair.reveal())))
        endpoint = SecretsEndpoint(config.vault.nosana_endpoint, keypair, config.vault.timeout)
    return NosanaSecrets(open_vault(config, config_file), endpoint)

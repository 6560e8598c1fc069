"""Assembling the node from its configuration: the one place every command builds its parts.

Each part has one function that takes the loaded configuration and returns it built::

    loaded = load_configuration(flags={"docker.memory": Flag("8g", "--memory")})
    runner = flow_runner(loaded, reporter=display)     # settings + store + op types + vault
    flow = runner.run(flow, cancel=token)

- :func:`load_configuration`: defaults < config file < ``NOSANA_*`` < ``--set`` < command flags,
  each value with its provenance; logging is set up from it;
- :func:`runner_settings`: what the runtime reads (:class:`~nosana_node.settings.RunnerSettings`);
- :func:`vault_for`: the secret backend (connects on first use); :func:`secrets_for`: that
  backend as a run resolves secrets (with ``nosana/secret`` values);
- :func:`storage_for`: the content store (job documents and results by IPFS CID);
- :func:`op_types`: the op types this application runs (built-in ones, then those of installed
  packages' ``nosana_node.ops`` entry points, loaded when a flow names one that is not built in);
- :func:`flow_runner`: all of the above, ready to run flows;
- :func:`chain_for`: the chain client of the configured network (``:network``, ``:rpc-url``,
  ``:ws-url``, ``:keypair``, ``:markets``, ``:chain``).

Other parts join the same way, one ``…_for(loaded)`` function each (the content store, the chain
client), so that every command gets them built alike from one configuration.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from nosana_node.config.load import Flag, LoadedConfig, load_config
from nosana_node.config.logs import setup_logging
from nosana_node.config.options import ConfigOptions, current

if TYPE_CHECKING:
    from solders.keypair import Keypair

    from nosana_node.chain.client import ChainClient
    from nosana_node.clock import Clock
    from nosana_node.config.schema import NodeConfig
    from nosana_node.flow.events import Reporter
    from nosana_node.flow.registry import OpRegistry, OpType
    from nosana_node.flow.runner import FlowRunner
    from nosana_node.jobdef.settings import JobdefSettings
    from nosana_node.secrets.refs import SecretResolver
    from nosana_node.settings import RunnerSettings
    from nosana_node.storage.base import Storage
    from nosana_node.vault.base import Vault

#: entry-point group through which installed packages add op types
OPS_ENTRY_POINTS = "nosana_node.ops"


def load_configuration(
    options: ConfigOptions | None = None, flags: Mapping[str, Flag] | None = None
) -> LoadedConfig:
    """The effective configuration; ``options`` default to those the CLI root was given and
    ``flags`` map keys (``docker.memory``) to command flags. Sets up logging from it."""
    loaded = load_config(options or current(), flags)
    setup_logging(loaded.config.log)
    return loaded


def runner_settings(config: NodeConfig) -> RunnerSettings:
    """The runner settings a configuration gives."""
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
        checkout_cap=config.node.max_repository_size,
        pull_policy=d.pull_policy,
        gpus=d.gpus,
        network=d.network,
    )


def vault_for(loaded: LoadedConfig) -> Vault:
    """The secret backend the configuration selects (it connects on first use)."""
    from nosana_node.vault import open_vault

    return open_vault(loaded.config, loaded.file)


def secrets_for(loaded: LoadedConfig) -> SecretResolver:
    """What resolves the secrets of a run: the vault, and for ``nosana/secret`` values the
    Nosana secrets manager the configuration names (``vault.nosana-endpoint``)."""
    from nosana_node.vault import secret_resolver

    return secret_resolver(loaded.config, loaded.file)


def storage_for(loaded: LoadedConfig, *, backend: str | None = None) -> Storage:
    """The content store (IPFS CIDv0) the configuration selects: ``:storage :backend``, or
    ``backend``; the local market's endpoint on the localnet network by default."""
    from nosana_node.storage import open_storage

    return open_storage(loaded.config, backend=backend, config_file=loaded.file)


def _plugin_op_types() -> Iterable[OpType]:
    from importlib.metadata import entry_points

    for entry in entry_points(group=OPS_ENTRY_POINTS):
        yield entry.load()()


def jobdef_settings(config: NodeConfig) -> JobdefSettings:
    """What the op types of job definitions read (``:jobdef``)."""
    from nosana_node.addresses import Allowance
    from nosana_node.errors import ConfigError
    from nosana_node.jobdef.settings import JobdefSettings
    from nosana_node.resources.settings import ResourceSettings

    j = config.jobdef
    try:
        Allowance.parse(j.allow_private)
    except ValueError as exc:
        raise ConfigError(f":jobdef :allow-private: {exc}") from None
    resources = ResourceSettings(
        s3_endpoint=j.s3_endpoint,
        mirrors=dict(j.mirrors),
        hf_endpoint=j.hf_endpoint,
        ollama_registry=j.ollama_registry,
        max_bytes=j.max_resource_size,
        allow_private=tuple(j.allow_private),
    )
    return JobdefSettings(
        publish_address=j.publish_address,
        health_interval=j.health_interval,
        continuous_interval=j.continuous_interval,
        health_timeout=j.health_timeout,
        resources=resources,
        s3_credentials=dict(j.s3_credentials),
    )


def op_types(config: NodeConfig | None = None) -> OpRegistry:
    """The op types the node runs: ``docker/run``, ``checkout/local``, ``checkout/git``,
    ``container/run`` and ``container/create-volume`` (job definitions, with ``config``'s
    ``:jobdef`` settings), then plugins."""
    from nosana_node.checkout.git import GitCheckout
    from nosana_node.checkout.local import LocalCheckout
    from nosana_node.docker.container_op import ContainerRun, CreateVolume
    from nosana_node.docker.run_op import DockerRun
    from nosana_node.flow.registry import OpRegistry

    jobdef = jobdef_settings(config) if config is not None else None
    return OpRegistry(
        [DockerRun(), LocalCheckout(), GitCheckout(), ContainerRun(jobdef), CreateVolume()],
        plugins=_plugin_op_types,
    )


def flow_runner(
    loaded: LoadedConfig,
    *,
    reporter: Reporter | None = None,
    context: dict[str, str] | None = None,
    clock: Clock | None = None,
) -> FlowRunner:
    """A runner for any flow, built from the configuration: settings, store, op types, vault."""
    from nosana_node.clock import SYSTEM_CLOCK
    from nosana_node.flow.runner import FlowRunner

    return FlowRunner(
        runner_settings(loaded.config),
        op_types(loaded.config),
        secrets=secrets_for(loaded),
        reporter=reporter,
        context=context,
        clock=clock or SYSTEM_CLOCK,
    )


def chain_for(
    loaded: LoadedConfig, *, role: str = "client", wallet: Keypair | None = None, readonly: bool = False
) -> ChainClient:
    """The chain client of the configured network, signing as ``wallet``, else ``:keypair``, else
    (localnet only) the local market's test wallet for ``role`` (``client`` posts jobs, ``node``
    runs them). ``readonly``: no keypair needed (a throwaway wallet that never signs)."""
    from solders.keypair import Keypair

    from nosana_node.chain.client import ChainClient, ClientOptions
    from nosana_node.chain.endpoint import endpoint_for, wallet_for

    config = loaded.config
    endpoint = endpoint_for(config)
    if wallet is None:
        can_sign = bool(config.keypair) or endpoint.network == "localnet"
        wallet = wallet_for(config, endpoint, role) if can_sign or not readonly else Keypair()
    return ChainClient.connect(endpoint, wallet, ClientOptions.from_config(config))

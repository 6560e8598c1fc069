"""Runner settings: the one typed place for every knob a run reads.

:class:`RunnerSettings` is what the runtime and the op types read. It is built from the node
configuration (``nosana_node.wiring.runner_settings``: defaults < config file < ``NOSANA_*``
variables < ``--set`` < a command's own flags); its defaults are the configuration schema's
(:mod:`nosana_node.config.schema` is the one place defaults are written). Sizes are bytes,
durations seconds (:mod:`nosana_node.units` reads and writes their human forms).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from nosana_node.config.schema import PULL_POLICIES, DockerConfig, NodeSettings, StorageConfig
from nosana_node.docker.network import check_mode
from nosana_node.errors import ConfigError

_DOCKER = DockerConfig()
_STORAGE = StorageConfig()
_NODE = NodeSettings()


@dataclass(frozen=True)
class RunnerSettings:
    """Everything a run of flows needs to know about this node.

    Fields:
        home: state directory; holds ``state.db`` (flows, op states) and ``flows/<id>/``
            (logs and the content-addressed artifact store of each flow).
        docker_url: Docker engine address (``unix:///var/run/docker.sock``, ``tcp://…``);
            ``None`` uses ``DOCKER_HOST`` or the local socket.
        docker_timeout: seconds an engine API call may take (not the job: see job_timeout).
        cpus: CPU limit per job container, in CPUs (``1.5`` = one and a half cores).
        memory: memory limit per job container, bytes (swap is limited to the same value).
        pids: maximum number of processes per job container.
        job_timeout: seconds a job may run before its container is killed.
        log_cap: bytes of log kept per job (stdout and stderr together); the rest is replaced by
            one truncation marker.
        artifact_cap: maximum size in bytes of one artifact (a tar taken from a container).
        checkout_cap: most bytes a ``checkout/git`` op may write (git objects and work tree),
            enforced while git runs (:mod:`nosana_node.checkout.watch`).
        pull_policy: ``always`` | ``if-not-present`` | ``never``.
        gpus: GPU request for job containers: ``None`` (none, the default), ``-1`` (all) or a
            count. Passed to Docker as a device request with the ``gpu`` capability.
        network: network of job containers: ``isolated`` (the node's own, away from the host's
            services), ``bridge``, ``none`` or a Docker network name
            (:mod:`nosana_node.docker.network`; ``host`` is refused).
    """

    home: Path
    docker_url: str | None = _DOCKER.url
    docker_timeout: float = _DOCKER.api_timeout
    cpus: float = _DOCKER.cpus
    memory: int = _DOCKER.memory
    pids: int = _DOCKER.pids
    job_timeout: float = _DOCKER.timeout
    log_cap: int = _DOCKER.max_log_size
    artifact_cap: int = _STORAGE.max_artifact_size
    checkout_cap: int = _NODE.max_repository_size
    pull_policy: str = _DOCKER.pull_policy
    gpus: int | None = _DOCKER.gpus
    network: str = _DOCKER.network

    def __post_init__(self) -> None:
        problems = []
        if self.pull_policy not in PULL_POLICIES:
            problems.append(
                f"pull policy must be one of {', '.join(PULL_POLICIES)}, got {self.pull_policy!r}"
            )
        for name in (
            "cpus",
            "memory",
            "pids",
            "job_timeout",
            "log_cap",
            "artifact_cap",
            "checkout_cap",
            "docker_timeout",
        ):
            if getattr(self, name) <= 0:
                problems.append(f"{name} must be positive, got {getattr(self, name)!r}")
        if self.gpus is not None and (self.gpus == 0 or self.gpus < -1):
            problems.append(f"gpus must be -1 (all) or a positive count, got {self.gpus!r}")
        if (network_problem := check_mode(self.network)) is not None:
            problems.append(network_problem)
        if problems:
            raise ConfigError("; ".join(problems))

    def describe(self) -> dict[str, Any]:
        """The settings as a JSON-friendly mapping (for ``--json`` output and docs)."""
        return {f.name: str(v) if isinstance(v := getattr(self, f.name), Path) else v for f in fields(self)}

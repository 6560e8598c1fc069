"""The network of job containers: which one, made ready before any job runs.

Modes (``:docker :network``, ``--network``):

- ``isolated`` (the default): the node's own bridge network :data:`NAME` (bridge interface
  :data:`INTERFACE`, labelled ``io.nosana.node=1``, traffic between its containers off), created
  on first use and reused, with the host firewall rules of :mod:`nosana_node.docker.firewall`:
  no service of the host is reachable (any of its addresses, ports published by other
  containers, the cloud metadata address), other Docker networks are not either (Docker's
  isolation), outbound traffic beyond the host and DNS (Docker's resolver) work as the host's do;
- ``bridge``: Docker's default bridge: outbound traffic, and every service of the host
  listening on ``0.0.0.0`` or the gateway address, and the other containers on that bridge;
- ``none``: no network (loopback only);
- any other name: that existing Docker network, as it is (the node adds no rule).

Refused: ``host`` (the host's own network stack) and ``container:…`` (another container's).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Protocol

from nosana_node.docker.errors import EngineError, EngineNotFound, engine_call
from nosana_node.docker.firewall import Firewall, IptablesFirewall
from nosana_node.docker.labels import NODE
from nosana_node.errors import ConfigError

if TYPE_CHECKING:
    import docker

ISOLATED = "isolated"
NAME = "nosana-jobs"
INTERFACE = "nosana-jobs"  # the bridge's interface on the host (at most 15 characters)
ROLE = "io.nosana.network"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def check_mode(mode: str) -> str | None:
    """Why ``mode`` cannot be a job network (None when it can)."""
    if mode == "host":
        return "network 'host' is refused: a job would share the host's network stack and every service on it"
    if mode.startswith("container:"):
        return f"network {mode!r} is refused: a job would share another container's network"
    if not _NAME.match(mode):
        return f"network {mode!r} is not a network name (isolated, bridge, none, or a Docker network name)"
    return None


class JobNetwork(Protocol):
    """A network for job containers."""

    def prepare(self, api: docker.APIClient) -> str:
        """Make the network ready; return the network mode the containers are created with."""


class IsolatedNetwork:
    """The node's own network, kept away from the host's services by the firewall."""

    def __init__(self, firewall: Firewall | None = None) -> None:
        self.firewall = firewall or IptablesFirewall()
        self.name = NAME
        self.interface = INTERFACE
        self.created = False  # made by this call of prepare (not reused)

    def prepare(self, api: docker.APIClient) -> str:
        found = self._inspect(api)
        if found is None:
            found = self._create(api)
        self._check(found)
        self.firewall.isolate(self.interface)
        return self.name

    def _inspect(self, api: docker.APIClient) -> dict[str, Any] | None:
        try:
            with engine_call(f"cannot inspect the job network {self.name}"):
                return api.inspect_network(self.name)
        except EngineNotFound:
            return None

    def _create(self, api: docker.APIClient) -> dict[str, Any]:
        try:
            with engine_call(f"cannot create the job network {self.name}"):
                api.create_network(
                    self.name,
                    driver="bridge",
                    options={
                        "com.docker.network.bridge.name": self.interface,
                        "com.docker.network.bridge.enable_icc": "false",
                        "com.docker.network.bridge.enable_ip_masquerade": "true",
                    },
                    labels={NODE: "1", ROLE: ISOLATED},
                    check_duplicate=True,
                )
            self.created = True
        except EngineError:
            if self._inspect(api) is None:  # not made by another runner meanwhile: a real failure
                raise
        found = self._inspect(api)
        if found is None:
            raise EngineError(f"the job network {self.name} vanished as it was created")
        return found

    def _check(self, network: dict[str, Any]) -> None:
        options = network.get("Options") or {}
        labels = network.get("Labels") or {}
        if (
            labels.get(ROLE) != ISOLATED
            or network.get("Driver") != "bridge"
            or options.get("com.docker.network.bridge.name") != self.interface
        ):
            raise ConfigError(
                f"a Docker network named {self.name} exists that the node did not make (or made "
                f"otherwise): remove it (`docker network rm {self.name}`) so the node makes its own"
            )


class DockerNetwork:
    """``bridge``, ``none`` or an existing named network, used as it is."""

    def __init__(self, mode: str) -> None:
        self.mode = mode

    def prepare(self, api: docker.APIClient) -> str:
        if self.mode in ("bridge", "none"):
            return self.mode
        try:
            with engine_call(f"cannot inspect network {self.mode}"):
                network = api.inspect_network(self.mode)
        except EngineNotFound:
            raise ConfigError(
                f"no Docker network named {self.mode!r} (:docker :network; `docker network ls` lists them)"
            ) from None
        if network.get("Driver") == "host":
            raise ConfigError(check_mode("host") or "")
        return self.mode


def job_network(mode: str, firewall: Firewall | None = None) -> JobNetwork:
    """The :class:`JobNetwork` for a ``:docker :network`` value (refused values raise)."""
    problem = check_mode(mode)
    if problem:
        raise ConfigError(problem)
    return IsolatedNetwork(firewall) if mode == ISOLATED else DockerNetwork(mode)

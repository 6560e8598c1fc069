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

Each is a :class:`~nosana_node.flow.executor.Network` (prepare, cleanup); so is
:class:`FlowNetwork`, the bridge network of one job definition's ops.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any

from nosana_node.docker.errors import EngineError, EngineNotFound, engine_call
from nosana_node.docker.firewall import Firewall, IptablesFirewall
from nosana_node.docker.labels import NODE
from nosana_node.errors import ConfigError

if TYPE_CHECKING:
    import docker

    from nosana_node.flow.executor import Network

ISOLATED = "isolated"
NAME = "nosana-jobs"
INTERFACE = "nosana-jobs"  # the bridge's interface on the host (at most 15 characters)
ROLE = "io.nosana.network"
#: prefix of the bridge interfaces of job definitions' own networks (at most 15 characters in all);
#: the firewall rules cover ``nsj+``, so the bridges of ``bridge`` mode get another prefix, out of
#: their scope
FLOW_INTERFACE_PREFIX = "nsj"
OPEN_FLOW_INTERFACE_PREFIX = "nsb"
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


class IsolatedNetwork:
    """The node's own network, kept away from the host's services by the firewall."""

    def __init__(self, api: docker.APIClient, firewall: Firewall | None = None) -> None:
        self.api = api
        self.firewall = firewall or IptablesFirewall()
        self.name = NAME
        self.interface = INTERFACE
        self.created = False  # made by this call of prepare (not reused)

    def prepare(self) -> str:
        api = self.api
        found = self._inspect(api)
        if found is None:
            found = self._create(api)
        self._check(found)
        self.firewall.isolate(self.interface)
        return self.name

    def cleanup(self) -> None:
        """Nothing: the node's network is shared by every job and kept."""

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

    def __init__(self, api: docker.APIClient, mode: str) -> None:
        self.api = api
        self.mode = mode

    def prepare(self) -> str:
        if self.mode in ("bridge", "none"):
            return self.mode
        try:
            with engine_call(f"cannot inspect network {self.mode}"):
                network = self.api.inspect_network(self.mode)
        except EngineNotFound:
            raise ConfigError(
                f"no Docker network named {self.mode!r} (:docker :network; `docker network ls` lists them)"
            ) from None
        if network.get("Driver") == "host":
            raise ConfigError(check_mode("host") or "")
        return self.mode

    def cleanup(self) -> None:
        """Nothing: the network is not the node's."""


class FlowNetwork:
    """The bridge network of one job definition's ops (``nosana-<flow id>``), so that they reach
    each other by name and no other job's; made on first use, removed by :meth:`cleanup`. On the
    ``isolated`` node network the firewall covers every such bridge (interface ``nsj…``); on
    ``bridge`` the interface is ``nsb…``, out of the firewall's scope, as Docker's bridge is."""

    def __init__(self, api: docker.APIClient, name: str, labels: dict[str, str], isolated: bool) -> None:
        self.api = api
        self.name = name
        self.labels = labels
        self.isolated = isolated
        self.ready = False

    def prepare(self) -> str:
        if not self.ready:
            try:
                with engine_call(f"cannot inspect the job network {self.name}"):
                    self.api.inspect_network(self.name)
            except EngineNotFound:
                prefix = FLOW_INTERFACE_PREFIX if self.isolated else OPEN_FLOW_INTERFACE_PREFIX
                interface = prefix + hashlib.sha256(self.name.encode()).hexdigest()[:12]
                with engine_call(f"cannot create the job network {self.name}"):
                    self.api.create_network(
                        self.name,
                        driver="bridge",
                        options={"com.docker.network.bridge.name": interface},
                        labels=self.labels,
                        check_duplicate=True,
                    )
            if self.isolated:  # the node's firewall rules, for every job bridge at once
                IptablesFirewall().isolate(FLOW_INTERFACE_PREFIX + "+")
            self.ready = True
        return self.name

    def cleanup(self) -> None:
        if not self.ready:
            return
        try:
            with engine_call(f"cannot remove the job network {self.name}"):
                self.api.remove_network(self.name)
        except EngineNotFound:
            pass


def job_network(mode: str, api: docker.APIClient, firewall: Firewall | None = None) -> Network:
    """The node's :class:`~nosana_node.flow.executor.Network` for a ``:docker :network`` value
    (refused values raise)."""
    problem = check_mode(mode)
    if problem:
        raise ConfigError(problem)
    return IsolatedNetwork(api, firewall) if mode == ISOLATED else DockerNetwork(api, mode)

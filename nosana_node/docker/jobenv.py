"""What the ops of one job definition share on the engine: a network, volumes, private copies.

Created on first use by a ``container/run`` or ``container/create-volume`` op of a run
(``job_env(ctx)``), closed when the run ends:

- the job's network: on the node's default networks (``isolated``, ``bridge``) each job gets a
  bridge network of its own (:class:`~nosana_node.docker.network.FlowNetwork`,
  ``nosana-<flow id>``, labelled like job containers; bridge interface ``nsj…``, ``nsb…`` with
  ``bridge``), so that its ops reach each other by name (``%%ops.ID.host%%``) and no other job's;
  with ``isolated`` the node's firewall rules (:mod:`nosana_node.docker.firewall`) cover every
  ``nsj…`` bridge too: no service of the host is reachable; ``bridge`` exposes them, as Docker's
  bridge does. ``none`` and a named network are used as they are;
- volumes (``container/create-volume``): Docker named volumes ``nosana-<flow id>-<name>``,
  labelled with the store and the flow;
- private directories under ``<home>/flows/<id>/private`` (writable resource copies, merged
  Ollama model directories).

When the run ends and the flow is over (succeeded, failed, stopped, expired), the job's
containers are removed first, then its volumes, network and private directories, whatever
happened. An interrupted flow keeps them for its resumption.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from nosana_node.docker.errors import EngineError, EngineNotFound, engine_call
from nosana_node.docker.labels import FLOW, NODE, STORE
from nosana_node.docker.network import FlowNetwork
from nosana_node.docker.service import DockerService, docker_service

if TYPE_CHECKING:
    from nosana_node.flow.context import OpContext
    from nosana_node.flow.model import Flow

NAME = "jobdef-env"
VOLUME = "io.nosana.volume"
SHARED_NETWORKS = ("bridge", "isolated")


def volume_name(flow_id: str, name: str) -> str:
    """The Docker volume made for the job's volume ``name``."""
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    safe = "".join(c if c.isalnum() or c in "_.-" else "-" for c in name)[:40]
    return f"nosana-{flow_id}-{safe}-{digest}"


class JobEnv:
    """The job's network, volumes and private directories (one per run of a flow)."""

    def __init__(self, ctx: OpContext) -> None:
        self.docker: DockerService = docker_service(ctx.env)
        self.flow: Flow = ctx.flow
        self.labels = {NODE: "1", STORE: self.docker.store_id, FLOW: ctx.flow.id}
        self.private = ctx.env.store.flow_dir(ctx.flow.id) / "private"
        self._lock = threading.Lock()
        self._report = ctx.env.reporter.message
        mode = ctx.settings.network
        self.shared = mode in SHARED_NETWORKS
        self.isolated = mode == "isolated"
        self.network = f"nosana-{ctx.flow.id}" if self.shared else mode
        self._flow_network = (
            FlowNetwork(self.docker.api, self.network, self.labels, self.isolated) if self.shared else None
        )

    @property
    def api(self):  # type: ignore[no-untyped-def]
        """The engine connection."""
        return self.docker.api

    def prepare_network(self) -> str:
        """The network the job's containers join, made on first use."""
        with self._lock:
            if self._flow_network is not None:
                return self._flow_network.prepare()
        return self.network

    def volume(self, name: str) -> str:
        """The job's volume ``name`` (made if needed)."""
        docker_name = volume_name(self.flow.id, name)
        with engine_call(f"cannot create volume {name!r}"):
            self.api.create_volume(docker_name, labels={**self.labels, VOLUME: name})
        return docker_name

    def private_dir(self, label: str) -> Path:
        """A fresh private directory of the job."""
        with self._lock:
            self.private.mkdir(parents=True, exist_ok=True)
            n = sum(1 for _ in self.private.iterdir())
            path = self.private / f"{n}-{label}"
            path.mkdir()
            return path

    def close(self) -> None:
        """Remove the job's volumes, network and private directories once the flow is over."""
        if not self.flow.status.finished:
            return
        try:
            self.docker.wait_removals()
        finally:
            self.remove_all()

    def remove_all(self) -> None:
        """Remove what the job made (its containers must be gone); failures are reported."""
        problems = []
        with contextlib.suppress(EngineError):
            with engine_call("cannot list the job's volumes"):
                found = self.api.volumes(
                    filters={"label": [f"{FLOW}={self.flow.id}", f"{STORE}={self.labels[STORE]}"]}
                )
            for volume in found.get("Volumes") or []:
                try:
                    with engine_call(f"cannot remove volume {volume['Name']}"):
                        self.api.remove_volume(volume["Name"], force=True)
                except EngineNotFound:
                    pass
                except EngineError as exc:
                    problems.append(str(exc))
        if self._flow_network is not None:
            try:
                self._flow_network.cleanup()
            except EngineError as exc:
                problems.append(str(exc))
        shutil.rmtree(self.private, ignore_errors=True)
        for problem in problems:
            self._report(f"{problem}; remove it by hand")


def job_env(ctx: OpContext) -> JobEnv:
    """The run's job environment (made on first use)."""
    return ctx.env.services.get(NAME, lambda: JobEnv(ctx))

"""The engine as a run-wide service: one connection, the start-up sweep, background removal.

Created on first use by a Docker op (``docker_service(env)``): it connects, removes the
containers of this store whose runner is gone and makes the job network ready
(:mod:`nosana_node.docker.network`). Finished containers are removed in a background
thread so the next job need not wait; :meth:`DockerService.close` (called when the run ends,
however it ends) waits for every removal.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from nosana_node.docker import container, labels
from nosana_node.docker.engine import connect
from nosana_node.docker.errors import EngineError
from nosana_node.docker.network import IsolatedNetwork, job_network

if TYPE_CHECKING:
    from nosana_node.flow.context import RunEnv

NAME = "docker"


class DockerService:
    """An engine connection shared by the ops of one run."""

    def __init__(self, env: RunEnv) -> None:
        settings = env.settings
        self._report = env.reporter.message
        self.api = connect(settings.docker_url, settings.docker_timeout)
        self.store_id = env.store.store_id
        self.ready_images: set[str] = set()
        self._pending: list[threading.Thread] = []
        self._errors: list[BaseException] = []
        self._lock = threading.Lock()
        swept = labels.sweep_orphans(self.api, self.store_id)
        if swept:
            env.reporter.message(f"removed {len(swept)} container(s) left by a runner that is gone")
        network = job_network(settings.network)
        self.network = network.prepare(self.api)  # the network mode of every job container
        if isinstance(network, IsolatedNetwork) and network.created:
            env.reporter.message(f"created the job network {network.name} (no access to the host's services)")

    def remove_later(self, container_id: str) -> None:
        """Remove the container in the background (joined by :meth:`close`)."""

        def work() -> None:
            try:
                self.remove_now(container_id)
            except BaseException as exc:  # reported by close()
                self._errors.append(exc)

        thread = threading.Thread(target=work, name=f"rm-{container_id[:12]}", daemon=True)
        thread.start()
        with self._lock:
            self._pending.append(thread)

    def remove_now(self, container_id: str) -> None:
        """Remove the container before returning.

        If the engine fails to, say so and go on: the container keeps its labels, and the
        start-up sweep of a later run removes it once this runner is gone.
        """
        try:
            container.remove(self.api, container_id)
        except EngineError as exc:
            self._report(f"{exc}; a later run removes it")

    def wait_removals(self) -> None:
        """Wait until every background removal is done."""
        while True:
            with self._lock:
                if not self._pending:
                    break
                thread = self._pending.pop()
            thread.join()
        if self._errors:
            raise self._errors.pop(0)

    def close(self) -> None:
        """Finish removals and close the connection."""
        try:
            self.wait_removals()
        finally:
            self.api.close()


def docker_service(env: RunEnv) -> DockerService:
    """The run's engine service, created (connect + sweep) on first use."""
    return env.services.get(NAME, lambda: DockerService(env))

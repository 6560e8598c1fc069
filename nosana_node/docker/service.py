"""The engine as a run-wide service: one connection, the sweeps, job containers' whole life.

:class:`DockerService` is the Docker adapter of the engine seam
(:class:`~nosana_node.flow.executor.Executor`): the ops ask it to create, run, publish and
cancel; only this package speaks to the Docker client.

Created on first use by a Docker op (``docker_service(env)``): it connects, removes the
containers of this store whose runner is gone, then the job volumes and networks of flows that
are over (:mod:`nosana_node.docker.leftovers`), and makes the job network ready
(:mod:`nosana_node.docker.network`). Rules:

- a job container is created through :meth:`DockerService.create`: it is registered (for
  removal on cancel and at the end of the run) in the same step as it is made, so no cancel,
  however timed, leaves it behind; one the engine makes after the op gave up waiting is removed
  as soon as the engine answers;
- finished containers are removed in a background thread so the next job need not wait; an op
  waits for a removal at most the grace (then the engine is taken as not answering, and nothing
  waits for it any more: the removal finishes alone, or a later run's start-up sweep does it;
  either way it is said);
- :meth:`DockerService.close` (when the run ends, however it ends) waits for the removals, then
  removes whatever container of this runner and of this run's flows is still there (sweep by
  label), and closes the connection.
"""

from __future__ import annotations

import posixpath
import threading
from functools import partial
from typing import TYPE_CHECKING

from nosana_node.docker import container, labels, transfer
from nosana_node.docker.engine import connect
from nosana_node.docker.errors import EngineError, EngineNotFound, EngineUnreachable, engine_call
from nosana_node.docker.guard import STOP_GRACE, OpGuard
from nosana_node.docker.images import ensure_image
from nosana_node.docker.leftovers import sweep_job_leftovers
from nosana_node.docker.network import IsolatedNetwork, job_network

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from nosana_node.artifacts.store import BlobWriter
    from nosana_node.flow.cancel import CancelToken
    from nosana_node.flow.context import RunEnv
    from nosana_node.flow.executor import Exit, JobSpec, PullAuth

NAME = "docker"


class JobContainer:
    """A created job container, removed at once if its op's token is cancelled."""

    def __init__(self, service: DockerService, container_id: str, forget: Callable[[], None]) -> None:
        self.id = container_id
        self._service = service
        self._forget = forget

    def release(self, wait: bool = True) -> None:
        """Remove it: before returning (``wait``) or in the background."""
        self._forget()
        if wait:
            self._service.remove_now(self.id)
        else:
            self._service.remove_later(self.id)


class DockerService:
    """An engine connection shared by the ops of one run."""

    def __init__(self, env: RunEnv) -> None:
        settings = env.settings
        self._report = env.reporter.message
        self._check = env.cancel.check
        self.api = connect(settings.docker_url, settings.docker_timeout)
        self.store_id = env.store.store_id
        self.runner = str(env.runner)
        self.grace = STOP_GRACE
        self.ready_images: set[str] = set()
        self._cond = threading.Condition()
        self._removing: dict[str, threading.Thread] = {}
        self._flows: set[str] = set()
        self._closed = False
        self.down: str | None = None  # why the engine is taken as not answering
        swept = labels.sweep_orphans(self.api, self.store_id)
        if swept:
            env.reporter.message(f"removed {len(swept)} container(s) left by a runner that is gone")
        for line in sweep_job_leftovers(self.api, env.store).lines():
            env.reporter.message(line)
        network = job_network(settings.network, self.api)
        self.network = network.prepare()  # the network mode of every job container
        if isinstance(network, IsolatedNetwork) and network.created:
            env.reporter.message(f"created the job network {network.name} (no access to the host's services)")

    # -- the engine's health ------------------------------------------------------------------------

    def engine_down(self, why: str) -> None:
        """Take the engine as not answering: removals stop waiting for it."""
        with self._cond:
            if self.down is None:
                self.down = why
            self._cond.notify_all()

    def guard(self, cancel: CancelToken, limit: float | None) -> OpGuard:
        """A guard for one op's container (see :mod:`nosana_node.docker.guard`)."""
        return OpGuard(cancel, limit, self.grace, on_unresponsive=self.engine_down)

    # -- containers -----------------------------------------------------------------------------------

    def ensure_image(self, image: str, policy: str, auth: PullAuth, say: Callable[[str], None]) -> None:
        """Make ``image`` present by ``policy``, once per run (pulls stop when the run is cancelled)."""
        if image in self.ready_images:
            return
        ensure_image(self.api, image, policy, auth, say, self._check)
        self.ready_images.add(image)

    def create(self, spec: JobSpec, guard: OpGuard, flow_id: str) -> JobContainer:
        """Create a job container; from the moment it exists, a cancel of ``guard``'s token
        removes it. One the engine makes after the op gave up waiting is removed when it answers."""
        with self._cond:
            if self._closed:
                raise EngineError("cannot create the job container: the run is over")
            self._flows.add(flow_id)
        with engine_call("cannot create the job container"):
            container_id = guard.call(
                "cannot create the job container",
                lambda: container.create(self.api, spec),
                late=self.remove_later,
            )
        forget = guard.cancel.on_cancel(lambda _: self.remove_now(container_id))  # at once if cancelled
        return JobContainer(self, container_id, forget)

    def place(self, execution: str, dirs: list[str], blobs: list[tuple[str, Path]], guard: OpGuard) -> None:
        """Make ``dirs`` in the container, then extract each stored tar blob at its directory."""
        with engine_call("cannot place the resources in the job container"):
            guard.call("cannot place the resources", partial(transfer.make_dirs, self.api, execution, dirs))
            for target, blob in blobs:
                transfer.put_blob(self.api, execution, target, blob, guard)

    def run(
        self,
        execution: str,
        on_output: Callable[[str, bytes], None],
        guard: OpGuard,
        on_start: Callable[[], None] | None = None,
    ) -> Exit:
        """Start attached; stream the output until the container ends (:func:`container.run_attached`)."""
        return container.run_attached(self.api, execution, on_output, guard, on_start)

    def publish(
        self, execution: str, name: str, work_dir: str, paths: list[str], writer: BlobWriter, guard: OpGuard
    ) -> bool:
        """Stream ``paths`` (globs allowed) out of the container into ``writer``; False: nothing there."""
        try:
            with engine_call(f"cannot take artifact {name!r} out"):
                if len(paths) > 1 or transfer.has_glob(paths[0]):
                    return transfer.collect_glob(self.api, execution, work_dir, paths, writer, guard) > 0
                target = posixpath.normpath(posixpath.join(work_dir, paths[0]))
                transfer.collect(self.api, execution, target, writer, guard)
                return True
        except EngineNotFound:
            return False

    def ports(self, execution: str) -> dict[str, tuple[str, int]]:
        """The container's published ports."""
        return container.published(self.api, execution)

    def kill(self, execution: str) -> None:
        """Stop the running job; :meth:`run` then returns its exit."""
        with engine_call("cannot stop the job container"):
            self.api.kill(execution)

    def cancel(self, execution: str) -> None:
        """Stop and remove the container at once (see :meth:`remove_now`)."""
        self.remove_now(execution)

    def _removal(self, container_id: str) -> threading.Thread:
        def work() -> None:
            try:
                container.remove(self.api, container_id)
            except EngineUnreachable as exc:
                self.engine_down(str(exc))
                self._report(f"{exc}; a later run removes container {container_id[:12]}")
            except EngineError as exc:
                self._report(f"{exc}; a later run removes it")
            finally:
                with self._cond:
                    self._removing.pop(container_id, None)
                    self._cond.notify_all()

        with self._cond:
            thread = self._removing.get(container_id)
            if thread is None:
                thread = threading.Thread(target=work, name=f"rm-{container_id[:12]}", daemon=True)
                self._removing[container_id] = thread
                thread.start()
        return thread

    def remove_later(self, container_id: str) -> None:
        """Remove the container in the background (waited for by :meth:`close`)."""
        self._removal(container_id)

    def remove_now(self, container_id: str) -> None:
        """Remove the container before returning, unless the engine does not answer within the
        grace: then it is taken as not answering and the removal goes on alone (the container
        keeps its labels; a later run's sweep removes it if this process is gone by then)."""
        self._removal(container_id)
        with self._cond:
            self._cond.wait_for(
                lambda: container_id not in self._removing or self.down is not None, timeout=self.grace
            )
            pending = container_id in self._removing
        if pending:
            self.engine_down(
                f"the Docker engine did not remove container {container_id[:12]} in {self.grace:g}s"
            )
            self._report(f"the engine does not answer: container {container_id[:12]} is removed when it does")

    def wait_removals(self) -> None:
        """Wait until every removal is done (or the engine is known not to answer)."""
        with self._cond:
            self._cond.wait_for(lambda: not self._removing or self.down is not None)

    def sweep(self) -> list[str]:
        """Remove every container of this runner and of this run's flows still there."""
        with self._cond:
            flows = sorted(self._flows)
        removed = []
        mine = [f"{labels.NODE}=1", f"{labels.STORE}={self.store_id}", f"{labels.RUNNER}={self.runner}"]
        for flow_id in flows:
            wanted = [*mine, f"{labels.FLOW}={flow_id}"]
            with engine_call("cannot list the run's containers"):
                found = self.api.containers(all=True, filters={"label": wanted})
            for item in found:
                try:
                    container.remove(self.api, item["Id"])
                except EngineNotFound:
                    continue
                removed.append(item["Id"])
        return removed

    def close(self) -> None:
        """Finish removals, sweep what is left by label, close the connection."""
        with self._cond:
            self._closed = True
        try:
            self.wait_removals()
            if self.down is None:
                try:
                    swept = self.sweep()
                except EngineError as exc:
                    self._report(f"{exc}; a later run removes what is left")
                else:
                    if swept:
                        self._report(f"removed {len(swept)} container(s) left by this run")
            else:
                self._report(
                    f"the Docker engine does not answer ({self.down}); a later run removes what is left"
                )
        finally:
            self.api.close()


def docker_service(env: RunEnv) -> DockerService:
    """The run's engine service, created (connect + sweep) on first use."""
    return env.services.get(NAME, lambda: DockerService(env))

"""One job container: created with the node's security defaults, run attached, timed out.

Security defaults, not negotiable by a job: never privileged, no host mounts, no new
privileges, CPU/memory/pids limits, the engine's own log driver off (the node keeps the log), an
init process as PID 1. A GPU is requested (a Docker device request with the ``gpu`` capability)
only when the settings or the op ask for one.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nosana_node.docker.errors import EngineError, EngineNotFound, engine_call
from nosana_node.flow.cancel import CancelToken

if TYPE_CHECKING:
    import docker

SHELL = ["/bin/sh", "-c"]


@dataclass
class JobSpec:
    """What a job container is made of (limits come from the runner settings)."""

    image: str
    script: str
    work_dir: str
    env: dict[str, str]
    labels: dict[str, str]
    name: str | None
    cpus: float
    memory: int
    pids: int
    gpus: int | None
    network: str


def device_requests(gpus: int | None) -> list[dict[str, object]] | None:
    """The Docker device requests for ``gpus`` (-1: all, n: count, None: none)."""
    if gpus is None:
        return None
    import docker

    return [docker.types.DeviceRequest(count=gpus, capabilities=[["gpu"]])]


def create(api: docker.APIClient, spec: JobSpec) -> str:
    """Create (not start) the container; returns its id."""
    import docker

    host_config = api.create_host_config(
        privileged=False,
        security_opt=["no-new-privileges"],
        nano_cpus=int(spec.cpus * 1e9),
        mem_limit=spec.memory,
        memswap_limit=spec.memory,
        pids_limit=spec.pids,
        network_mode=spec.network,
        init=True,
        log_config=docker.types.LogConfig(type="none"),
        device_requests=device_requests(spec.gpus),
    )
    created = api.create_container(
        spec.image,
        command=[spec.script],
        entrypoint=SHELL,
        environment=spec.env,
        working_dir=spec.work_dir,
        labels=spec.labels,
        name=spec.name,
        host_config=host_config,
        detach=True,
        tty=False,
        stdin_open=False,
    )
    return created["Id"]


@dataclass
class Exit:
    """How a container ended."""

    code: int
    timed_out: bool = False
    oom_killed: bool = False


def run_attached(
    api: docker.APIClient,
    container: str,
    on_output: Callable[[str, bytes], None],
    timeout: float,
    cancel: CancelToken,
) -> Exit:
    """Attach, start, stream stdout/stderr to ``on_output`` until the container exits.

    The container is killed when ``timeout`` seconds have passed on the token's clock (the exit
    then says ``timed_out``) or at once when ``cancel`` fires (then :class:`Cancelled` is raised,
    and the caller removes the container). Engine errors raise ``EngineError``.
    """
    timed_out = threading.Event()

    def kill(*_: object) -> None:
        with contextlib.suppress(Exception):  # not running yet, already gone, engine away: the caller sees
            api.kill(container)

    def expire() -> None:
        timed_out.set()
        kill()

    with engine_call("the engine refused the job container"):
        stream = api.attach(container, stdout=True, stderr=True, stream=True, demux=True, logs=False)
        alarm = cancel.clock.call_at(cancel.clock.now() + timeout, expire)
        forget = cancel.on_cancel(kill)
        try:
            if not cancel.cancelled:
                api.start(container)
                if cancel.cancelled:  # cancelled while it was starting: the kill may have come too early
                    kill()
                for out, err in stream:
                    if out:
                        on_output("stdout", out)
                    if err:
                        on_output("stderr", err)
        finally:
            alarm.cancel()
            forget()
            stream.close()
        cancel.check()
        code = api.wait(container)["StatusCode"]
        oom = False
        if code == 137 and not timed_out.is_set():
            oom = bool(api.inspect_container(container)["State"].get("OOMKilled"))
    return Exit(code=code, timed_out=timed_out.is_set(), oom_killed=oom)


def remove(api: docker.APIClient, container: str) -> None:
    """Remove the container (and its anonymous volumes), running or not; gone already is fine.

    Raises :class:`~nosana_node.docker.errors.EngineError` when the engine fails to.
    """
    try:
        with engine_call(f"cannot remove container {container[:12]}"):
            api.remove_container(container, force=True, v=True)
    except EngineNotFound:
        pass
    except EngineError as exc:
        if "already in progress" not in str(exc):
            raise

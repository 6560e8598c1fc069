"""One job container: created with the node's security defaults, run attached, timed out.

Security defaults, not negotiable by a job: never privileged, no new privileges, CPU/memory/pids
limits, the engine's own log driver off (the node keeps the log), an init process as PID 1, no
host mounts except the node's own resource cache (read-only) and the job's private copies. A
GPU is requested (a Docker device request with the ``gpu`` capability) only when the settings or
the op ask for one. Exposed ports are published on one host address (loopback by default) at
ports the engine picks.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING

from nosana_node.docker.errors import EngineError, EngineNotFound, engine_call
from nosana_node.docker.guard import OpGuard
from nosana_node.flow.executor import Exit, JobSpec

if TYPE_CHECKING:
    import docker

SHELL = ["/bin/sh", "-c"]


def device_requests(gpus: int | None) -> list[dict[str, object]] | None:
    """The Docker device requests for ``gpus`` (-1: all, n: count, None: none)."""
    if gpus is None:
        return None
    import docker

    return [docker.types.DeviceRequest(count=gpus, capabilities=[["gpu"]])]


def create(api: docker.APIClient, spec: JobSpec) -> str:
    """Create (not start) the container; returns its id."""
    import docker

    mounts = [
        docker.types.Mount(m.target, m.source, type="volume" if m.volume else "bind", read_only=m.read_only)
        for m in spec.mounts
    ]
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
        port_bindings={port: (spec.publish_address,) for port in spec.ports} or None,
        mounts=mounts or None,
    )
    networking = None
    if spec.aliases:
        endpoint = api.create_endpoint_config(aliases=spec.aliases)
        networking = api.create_networking_config({spec.network: endpoint})
    shell = spec.command is None
    created = api.create_container(
        spec.image,
        command=[spec.script] if shell else spec.command,
        entrypoint=SHELL if shell else spec.entrypoint,
        environment=spec.env,
        working_dir=spec.work_dir,
        labels=spec.labels,
        name=spec.name,
        host_config=host_config,
        networking_config=networking,
        ports=[tuple(p.split("/")) for p in spec.ports] or None,
        detach=True,
        tty=False,
        stdin_open=False,
    )
    return created["Id"]


def published(api: docker.APIClient, container: str) -> dict[str, tuple[str, int]]:
    """``{"8080/tcp": (host address, host port)}`` of a started container."""
    with engine_call("cannot read the container's published ports"):
        ports = api.inspect_container(container)["NetworkSettings"].get("Ports") or {}
    found = {}
    for port, bindings in ports.items():
        for binding in bindings or []:
            found.setdefault(port, (binding["HostIp"], int(binding["HostPort"])))
    return found


def run_attached(
    api: docker.APIClient,
    container: str,
    on_output: Callable[[str, bytes], None],
    guard: OpGuard,
    on_start: Callable[[], None] | None = None,
) -> Exit:
    """Attach, start, stream stdout/stderr to ``on_output`` until the container exits.

    When the guard's time limit passes the container is killed (the exit then says
    ``timed_out``). When its token is cancelled, :class:`Cancelled` is raised once the output
    ends (the caller removes the container at once on cancel: see ``docker/run``); a container
    not started yet is not started. Either way, if the engine has not ended the output
    ``guard.grace`` seconds later, the stream is closed and the op gives up on the engine
    (``Cancelled``, or :class:`EngineUnreachable` after a time limit). ``on_start`` is called
    once the container has started. Engine errors raise ``EngineError``; what ``on_output``
    raises (a log that cannot be written) ends the stream and is raised.
    """

    def kill() -> None:
        with contextlib.suppress(Exception):  # not running yet, already gone, engine away: the caller sees
            api.kill(container)

    def stream_output(stream: Iterator[tuple[bytes | None, bytes | None]]) -> None:
        for out, err in stream:
            if out:
                on_output("stdout", out)
            if err:
                on_output("stderr", err)

    with engine_call("cannot run the job container"):
        stream = guard.call(
            "cannot attach to the job container",
            lambda: api.attach(container, stdout=True, stderr=True, stream=True, demux=True, logs=False),
        )

        def on_trip() -> None:  # out of time: kill it (in the background, never blocking the trip)
            if guard.timed_out:
                threading.Thread(target=kill, name="kill", daemon=True).start()

        forget = guard.on_trip(on_trip)
        started = False
        try:
            if not guard.tripped:
                guard.call("cannot start the job container", lambda: api.start(container))
                started = True
                if on_start is not None:
                    on_start()
                output = partial(stream_output, stream)
                guard.call("the job container did not stop", output, abort=stream.close)
        finally:
            forget()
            stream.close()
        if not started or not guard.timed_out:
            guard.check()  # cancelled, or out of time before it started
        code = guard.call(
            "cannot read the job container's exit code",
            lambda: api.wait(container, timeout=api.timeout)["StatusCode"],
        )
        oom = False
        if code == 137 and not guard.timed_out:
            state = guard.call("cannot inspect the job container", lambda: api.inspect_container(container))
            oom = bool(state["State"].get("OOMKilled"))
    return Exit(code=code, timed_out=guard.timed_out, oom_killed=oom)


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

"""The engine seam: what a job op asks of the engine that runs its containers.

An op describes a job (:class:`JobSpec`) and asks an :class:`Executor` to ``create`` it,
``run`` it (attached: its output streamed until it ends), ``publish`` what it made (artifacts
taken out of it) and ``cancel`` it (stopped and removed at once). The Docker adapter
(:class:`nosana_node.docker.service.DockerService`) implements it; ops type their engine as
:class:`Executor` and never touch a Docker client. Rules every implementation keeps:

- every wait for the engine is bounded by the op's :class:`Guard` (its cancel token, its time
  limit, a grace); engine failures raise :class:`~nosana_node.docker.errors.EngineError`
  subclasses, whose ``reason`` is a :class:`~nosana_node.flow.results.Reason` value;
- an :class:`Execution` is removed by ``release`` (or ``cancel``), and in any case when the run
  ends: none is left behind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Self

if TYPE_CHECKING:
    from nosana_node.artifacts.store import BlobWriter
    from nosana_node.flow.cancel import CancelToken


@dataclass(frozen=True)
class Mount:
    """A named volume (``volume=True``) or a host directory of the node's, at ``target``."""

    source: str
    target: str
    read_only: bool = True
    volume: bool = False


@dataclass
class JobSpec:
    """What a job container is made of (limits come from the runner settings).

    The job runs ``script`` with ``/bin/sh -c``, unless ``command`` is given: then ``command``
    runs as it is, after ``entrypoint`` (None: the image's own). ``work_dir`` None: the image's.
    ``ports``: container ports (``8080/tcp``) published on ``publish_address`` at ports the
    engine picks; ``aliases``: names other containers of the network reach this one by.
    """

    image: str
    script: str
    work_dir: str | None
    env: dict[str, str]
    labels: dict[str, str]
    name: str | None
    cpus: float
    memory: int
    pids: int
    gpus: int | None
    network: str
    command: list[str] | None = None
    entrypoint: list[str] | None = None
    ports: list[str] = field(default_factory=list)
    publish_address: str = "127.0.0.1"
    mounts: list[Mount] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)


@dataclass
class Exit:
    """How a container ended."""

    code: int
    timed_out: bool = False
    oom_killed: bool = False


#: a registry login for an image: ``{"username", "password", "serveraddress"}``, asked lazily
PullAuth = Callable[[], dict[str, Any] | None]


class Guard(Protocol):
    """Bounds what one op waits for from the engine (a context manager around the op's container)."""

    cancel: CancelToken
    grace: float

    def check(self) -> None:
        """Raise at once once tripped (cancelled, or out of time)."""

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...


class Execution(Protocol):
    """One created job container; a cancel of its guard's token removes it at once."""

    id: str

    def release(self, wait: bool = True) -> None:
        """Remove it: before returning (``wait``) or in the background."""


class Network(Protocol):
    """A network for job containers (gitlab-runner's Network): made ready before a job joins it,
    cleaned up after. ``cleanup`` removes only what ``prepare`` made for one job (a network the
    node shares between jobs stays)."""

    def prepare(self) -> str:
        """Make the network ready (on first use); the network mode the containers are created with."""

    def cleanup(self) -> None:
        """Remove what :meth:`prepare` made for this job, if anything (engine errors raise)."""


class Executor(Protocol):
    """Runs job containers for the ops of one run (bacalhau's Executor: run, publish, cancel)."""

    #: the store whose containers these are (a label of each)
    store_id: str
    #: the network mode every job container joins by default
    network: str

    def ensure_image(self, image: str, policy: str, auth: PullAuth, say: Callable[[str], None]) -> None:
        """Make ``image`` present by ``policy`` (once per run), pulling with ``auth`` if needed."""

    def guard(self, cancel: CancelToken, limit: float | None) -> Guard:
        """A guard for one op's container: ``limit`` seconds from its creation (None: none)."""

    def create(self, spec: JobSpec, guard: Guard, flow_id: str) -> Execution:
        """Create (not start) the job's container."""

    def place(self, execution: str, dirs: list[str], blobs: list[tuple[str, Path]], guard: Guard) -> None:
        """Make ``dirs``, then extract each stored tar blob at its directory in the container."""

    def run(
        self,
        execution: str,
        on_output: Callable[[str, bytes], None],
        guard: Guard,
        on_start: Callable[[], None] | None = None,
    ) -> Exit:
        """Start the container attached; stream its output until it ends; how it ended."""

    def publish(
        self, execution: str, name: str, work_dir: str, paths: list[str], writer: BlobWriter, guard: Guard
    ) -> bool:
        """Stream ``paths`` (relative to ``work_dir``; globs allowed) out as one tar archive into
        ``writer``; False when nothing is there. ``name`` (the artifact's) is named in errors."""

    def ports(self, execution: str) -> dict[str, tuple[str, int]]:
        """``{"8080/tcp": (host address, host port)}`` of a started container."""

    def kill(self, execution: str) -> None:
        """Stop the running job (its exit is then what :meth:`run` returns)."""

    def cancel(self, execution: str) -> None:
        """Stop and remove the container at once (the op was cancelled)."""

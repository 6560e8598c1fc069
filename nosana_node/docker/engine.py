"""The connection to the Docker engine.

:func:`connect` returns a low-level ``docker.APIClient`` whose API version is negotiated with the
engine, or raises :class:`~nosana_node.errors.DockerUnavailableError` with a one-line reason and
what to do about it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nosana_node.docker.errors import HINT, cause, timed_out
from nosana_node.errors import DockerUnavailableError

if TYPE_CHECKING:
    import docker


def connect(base_url: str | None, timeout: float) -> docker.APIClient:
    """Connect to the engine at ``base_url`` (None: ``DOCKER_HOST`` or the local socket)."""
    import docker

    where = base_url or "unix:///var/run/docker.sock"
    try:
        api = docker.APIClient(base_url=base_url, version="auto", timeout=int(timeout))
    except docker.errors.DockerException as exc:
        why = f"it did not answer within {timeout:g}s" if timed_out(exc) else cause(exc)
        raise DockerUnavailableError(f"no Docker engine answers at {where}: {why}; {HINT}") from None
    return api

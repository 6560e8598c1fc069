"""The connection to the Docker engine.

:func:`connect` returns a low-level ``docker.APIClient`` whose API version is negotiated with the
engine, or raises :class:`~nosana_node.errors.DockerUnavailableError` with a one-line reason and
what to do about it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nosana_node.errors import DockerUnavailableError

if TYPE_CHECKING:
    import docker

HINT = "is dockerd running? `bash scripts/ensure-docker.sh` starts one (as root)"


def describe_error(exc: BaseException) -> str:
    """The most useful single line from a docker/requests exception."""
    explanation = getattr(exc, "explanation", None)
    text = explanation if explanation else str(exc)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return " ".join(str(text).split()) or type(exc).__name__


def connect(base_url: str | None, timeout: float) -> docker.APIClient:
    """Connect to the engine at ``base_url`` (None: ``DOCKER_HOST`` or the local socket)."""
    import docker

    where = base_url or "unix:///var/run/docker.sock"
    try:
        api = docker.APIClient(base_url=base_url, version="auto", timeout=int(timeout))
    except docker.errors.DockerException as exc:
        raise DockerUnavailableError(f"no Docker engine answers at {where}: {_cause(exc)}; {HINT}") from None
    return api


def _cause(exc: BaseException) -> str:
    """The innermost reason of a connection failure (e.g. 'Connection refused')."""
    inner = exc
    while (nxt := inner.__cause__ or inner.__context__) is not None:
        inner = nxt
    if isinstance(inner, OSError) and inner.strerror:
        return inner.strerror
    return describe_error(exc)

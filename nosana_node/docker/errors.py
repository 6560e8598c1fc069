"""The one place where Docker engine exceptions become the project's errors.

The Docker SDK raises ``docker.errors.*`` and, when the connection fails, ``requests``
exceptions. Code that talks to the engine runs inside :func:`engine_call`, which turns any of
them into :class:`EngineError` (``EngineNotFound`` when the thing asked for does not exist),
with one line saying what was being done and the engine's own reason. Nothing else in the
project catches SDK exceptions.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from nosana_node.errors import DockerUnavailableError, NosanaError

HINT = "is dockerd running? `bash scripts/ensure-docker.sh` starts one (as root)"
GPU_HINT = "GPU requested but this Docker engine cannot provide one (no GPU or NVIDIA container runtime here)"


class EngineError(NosanaError):
    """The engine refused a request, or went away."""

    reason = "engine"


class EngineNotFound(EngineError):
    """What was asked for (a container, a path in it, an image) does not exist."""


class EngineUnreachable(EngineError, DockerUnavailableError):
    """The engine did not answer: stopped, frozen, its socket gone. Resumable; to whoever
    catches :class:`~nosana_node.errors.DockerUnavailableError` (the node), the engine is down."""

    reason = "engine-unreachable"


def describe(exc: BaseException) -> str:
    """The most useful single line of an engine exception."""
    explanation = getattr(exc, "explanation", None)
    text = explanation if explanation else str(exc)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return " ".join(str(text).split()) or type(exc).__name__


def cause(exc: BaseException) -> str:
    """The innermost reason of a connection failure (e.g. ``Connection refused``)."""
    inner = exc
    while (nxt := inner.__cause__ or inner.__context__) is not None:
        inner = nxt
    if isinstance(inner, OSError) and inner.strerror:
        return inner.strerror
    return describe(exc)


def timed_out(exc: BaseException) -> bool:
    """True when ``exc`` or what caused it is a timeout (the engine took the call, never answered)."""
    import requests

    inner: BaseException | None = exc
    while inner is not None:
        if isinstance(inner, requests.exceptions.Timeout | TimeoutError):
            return True
        inner = inner.__cause__ or inner.__context__
    return False


def message(exc: BaseException, what: str) -> str:
    """``what: reason``, with a hint where the engine's reason needs one (no GPU runtime)."""
    text = describe(exc)
    if "could not select device driver" in text and "gpu" in text:
        return f"{GPU_HINT}: {text}"
    return f"{what}: {text}"


def unreachable(exc: BaseException, what: str) -> EngineUnreachable:
    """The error for an engine that did not answer ``what``."""
    if timed_out(exc):
        return EngineUnreachable(f"{what}: the Docker engine did not answer in time ({cause(exc)}); {HINT}")
    return EngineUnreachable(f"{what}: the Docker engine is unreachable ({cause(exc)}); {HINT}")


@contextmanager
def engine_call(what: str, error: type[NosanaError] = EngineError) -> Iterator[None]:
    """Within the block, engine exceptions raise ``error`` (``EngineNotFound`` for a missing
    object when ``error`` is :class:`EngineError`) saying ``what`` failed and why; an engine that
    does not answer raises :class:`EngineUnreachable`, whatever ``error`` is."""
    import docker
    import requests
    import urllib3

    try:
        yield
    except docker.errors.NotFound as exc:
        raise (EngineNotFound if error is EngineError else error)(message(exc, what)) from None
    except (
        requests.exceptions.ConnectionError,
        requests.exceptions.Timeout,
        urllib3.exceptions.HTTPError,
        ConnectionError,
        TimeoutError,
    ) as exc:
        raise unreachable(exc, what) from None
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        raise error(message(exc, what)) from None

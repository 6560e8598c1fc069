"""The declared shape of what an op leaves behind: its results and, when it did not succeed, why.

Op types write :class:`OpResults` (never free-form keys); the runtime stores them in the op's
state; results documents, displays, references (``{"$result": [op, "artifacts", name]}``) and
commands read them through these types. A failure or a skip carries a :class:`Reason` (what
kind of failure, for machines) besides its one-line message (for people). A fault of the node
rather than of the job (:attr:`Reason.resumable`: the engine did not answer, the node's disk
refused a write) does not fail the op: the runtime leaves it, and the flow, ``interrupted``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Reason(StrEnum):
    """Why an op did not succeed (or was not run)."""

    EXIT_CODE = "exit-code"  # the job's commands failed
    TIMEOUT = "timeout"  # the op ran past its time limit
    OUT_OF_MEMORY = "out-of-memory"
    RESOURCE = "resource"  # an input (an earlier op's artifact) is missing
    ARTIFACT = "artifact"  # an output is missing, too large or unsafe
    SECRET = "secret"  # a secret could not be resolved
    ENGINE = "engine"  # the container engine refused
    ENGINE_UNREACHABLE = "engine-unreachable"  # the engine did not answer (resumable)
    STORAGE = "storage"  # the node could not write its state, a log or an artifact (resumable)
    ERROR = "error"  # any other expected error (its message says which)
    INTERNAL = "internal"  # a bug in an op type
    EARLIER_FAILURE = "earlier-failure"  # skipped: an earlier op failed
    DEPENDENCY = "dependency"  # skipped: a dependency did not succeed
    STOPPED = "stopped"  # the job was stopped (final)
    EXPIRED = "expired"  # the job's deadline passed (final)
    INTERRUPTED = "interrupted"  # the node stopped the run (resumable)

    @property
    def resumable(self) -> bool:
        """True for a fault of the node: the op and the flow are left ``interrupted``."""
        return self in _RESUMABLE


_RESUMABLE = frozenset({Reason.ENGINE_UNREACHABLE, Reason.STORAGE, Reason.INTERRUPTED})


@dataclass
class ArtifactRecord:
    """One stored artifact: its digest in the flow's store, size, and what it holds."""

    digest: str
    size: int
    path: str
    files: int | None = None
    bytes: int | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "digest": self.digest,
            "size": self.size,
            "path": self.path,
            "files": self.files,
            "bytes": self.bytes,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ArtifactRecord:
        """Inverse of :meth:`to_json`."""
        return cls(
            digest=data["digest"],
            size=data["size"],
            path=data.get("path", ""),
            files=data.get("files"),
            bytes=data.get("bytes"),
        )


@dataclass
class OpResults:
    """What an op produced.

    ``artifacts``: outputs by name; ``timings``: seconds spent in named phases
    (``resources_in``, ``artifacts_out`` …); ``values``: named result values an op declares
    (plain JSON); ``endpoints``: URLs a service was reached at, by its container port.
    """

    artifacts: dict[str, ArtifactRecord] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    endpoints: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form (what ``$result`` references walk)."""
        data: dict[str, Any] = {
            "artifacts": {name: record.to_json() for name, record in self.artifacts.items()},
            "timings": dict(self.timings),
            "values": dict(self.values),
        }
        if self.endpoints:
            data["endpoints"] = dict(self.endpoints)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OpResults:
        """Inverse of :meth:`to_json`."""
        return cls(
            artifacts={k: ArtifactRecord.from_json(v) for k, v in (data.get("artifacts") or {}).items()},
            timings=dict(data.get("timings") or {}),
            values=dict(data.get("values") or {}),
            endpoints=dict(data.get("endpoints") or {}),
        )

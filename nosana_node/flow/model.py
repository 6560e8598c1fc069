"""The flow: a compiled, serialisable plan of ops and the state of each op.

A :class:`Flow` is what a pipeline (or any other job format) compiles to: an id (random, or
given: the node uses the job's address), the ops in order, the context values known when it
was made, and one :class:`OpState` per op. Op arguments
hold plain JSON values and symbolic references only (see :mod:`nosana_node.flow.refs`); they are
resolved when the op starts, never stored resolved.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from nosana_node.errors import UserInputError
from nosana_node.flow.results import OpResults, Reason


class OpStatus(StrEnum):
    """Life cycle of one op.

    ``stopped`` and ``expired`` are final (the job was stopped, its deadline passed: it is
    over); ``interrupted`` is not (the node was shut down: the op runs again on resume).
    """

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    STOPPED = "stopped"
    EXPIRED = "expired"
    INTERRUPTED = "interrupted"

    @property
    def finished(self) -> bool:
        """True for states that are never run again."""
        return self not in (OpStatus.PENDING, OpStatus.RUNNING, OpStatus.INTERRUPTED)


class FlowStatus(StrEnum):
    """Life cycle of a flow; ``stopped``/``expired`` are final, ``interrupted`` resumable."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    STOPPED = "stopped"
    EXPIRED = "expired"
    INTERRUPTED = "interrupted"

    @property
    def finished(self) -> bool:
        """True when the flow is over (succeeded, failed, stopped or expired)."""
        return self not in (FlowStatus.PENDING, FlowStatus.RUNNING, FlowStatus.INTERRUPTED)


@dataclass
class Op:
    """One step of a flow: an op type (``docker/run`` …), its arguments and dependencies.

    ``group``: ops of one group start together once their ``depends_on`` are done (or ready: an
    op type may say its op is ready while it still runs, e.g. a service that answers); groups run
    one after the other in order of first appearance; an op without a group is a group of its
    own (so a flow without groups runs its ops one by one, in order). ``serves``: ops of the same
    group this op is there for; once they have all ended it is stopped, and that is a success.
    """

    id: str
    type: str
    args: dict[str, Any]
    depends_on: list[str] = field(default_factory=list)
    allow_failure: bool = False
    group: str | None = None
    serves: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Op:
        """Inverse of :meth:`to_json`."""
        return cls(**data)


@dataclass
class OpState:
    """What is known about one op's execution; saved after every change."""

    op_id: str
    status: OpStatus = OpStatus.PENDING
    run_count: int = 0
    started_at: float | None = None
    ready_at: float | None = None
    ended_at: float | None = None
    exit_code: int | None = None
    results: OpResults = field(default_factory=OpResults)
    error: str | None = None
    reason: Reason | None = None
    log: dict[str, Any] = field(default_factory=dict)

    @property
    def duration(self) -> float | None:
        """Seconds from start to end, when both are known."""
        if self.started_at is None or self.ended_at is None:
            return None
        return self.ended_at - self.started_at

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        data = asdict(self)
        data.update(
            status=str(self.status),
            results=self.results.to_json(),
            reason=str(self.reason) if self.reason else None,
        )
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OpState:
        """Inverse of :meth:`to_json`."""
        reason = data.get("reason")
        return cls(
            **{
                **data,
                "status": OpStatus(data["status"]),
                "results": OpResults.from_json(data.get("results") or {}),
                "reason": Reason(reason) if reason else None,
            }
        )


#: A flow id names a directory and a container: letters, digits, ``_``, ``.``, ``-`` (a job's
#: base58 address fits).
FLOW_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def new_flow_id() -> str:
    """A short random id (12 hex digits)."""
    return secrets.token_hex(6)


def check_flow_id(flow_id: str) -> str:
    """``flow_id`` when it is a valid id; :class:`UserInputError` otherwise."""
    if not isinstance(flow_id, str) or not FLOW_ID.match(flow_id):
        raise UserInputError(
            f"invalid flow id {flow_id!r}: 1-128 letters, digits, '_', '.', '-' (first a letter or digit)"
        )
    return flow_id


@dataclass
class Flow:
    """A compiled job: ops in order, their states, and where it came from."""

    id: str
    name: str
    ops: list[Op]
    context: dict[str, str] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)
    created_at: float = field(default_factory=time.time)
    status: FlowStatus = FlowStatus.PENDING
    started_at: float | None = None
    ended_at: float | None = None
    error: str | None = None
    states: dict[str, OpState] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_flow_id(self.id)
        for op in self.ops:
            self.states.setdefault(op.id, OpState(op_id=op.id))

    def op(self, op_id: str) -> Op:
        """The op with id ``op_id``."""
        for op in self.ops:
            if op.id == op_id:
                return op
        raise KeyError(op_id)

    def plan_json(self) -> dict[str, Any]:
        """The plan without states (what is compiled; never changes)."""
        return {
            "id": self.id,
            "name": self.name,
            "created_at": self.created_at,
            "context": self.context,
            "source": self.source,
            "ops": [op.to_json() for op in self.ops],
        }

    def to_json(self) -> dict[str, Any]:
        """Plan and states."""
        return {
            **self.plan_json(),
            "status": str(self.status),
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "error": self.error,
            "states": [self.states[op.id].to_json() for op in self.ops],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Flow:
        """Inverse of :meth:`to_json` (states optional)."""
        flow = cls(
            id=data["id"],
            name=data["name"],
            ops=[Op.from_json(o) for o in data["ops"]],
            context=dict(data.get("context", {})),
            source=dict(data.get("source", {})),
            created_at=data["created_at"],
            status=FlowStatus(data.get("status", "pending")),
            started_at=data.get("started_at"),
            ended_at=data.get("ended_at"),
            error=data.get("error"),
        )
        for state in data.get("states", []):
            flow.states[state["op_id"]] = OpState.from_json(state)
        return flow

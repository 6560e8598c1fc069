"""What the API needs from the node: the :class:`NodeView` seam.

The node loop owns its state (records per run, a read model fed by lifecycle events); the API
only reads it through this protocol, from any thread, and never blocks the loop: every method
returns at once from memory or one short read of the node's database. :class:`JobEntry` is a
run as the API shows it; :class:`NodeEventLike` is a lifecycle event (``claimed``, ``started``,
``result-stored``, ``finish-sent``, ``finished``, ``stopped``, ``quit``, ``retry``, ``phase``,
``queued``, ``left-queue``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class JobEntry:
    """One run of a job by this node."""

    job: str
    run: str
    market: str
    step: str  # claimed, running, result-stored, finish-sent, finished, stopped, quit
    claimed_at: float
    run_time: int | None = None  # the run's creation time on chain (unix seconds)
    started_at: float | None = None
    ended_at: float | None = None
    status: str | None = None  # the result's status: succeeded, failed, expired
    result_cid: str | None = None
    finish_signature: str | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        return dict(self.__dict__)


class NodeEventLike(Protocol):
    """A lifecycle event of the node."""

    kind: str
    job: str | None
    run: str | None
    data: dict[str, Any]
    at: float


class NodeView(Protocol):
    """The node as the API reads it."""

    @property
    def wallet(self) -> str: ...
    @property
    def market(self) -> str: ...
    @property
    def network(self) -> str: ...

    def snapshot(self) -> dict[str, Any]:
        """The read model now: ``phase``, ``since``, ``queued``, ``current`` (a job, its run,
        step, ``claimed_at``, ``started_at``, ``deadline``, or None), counters, ``last_error``."""
        ...

    def jobs(self, limit: int) -> list[JobEntry]:
        """The newest runs first."""
        ...

    def job(self, address: str) -> JobEntry | None:
        """The newest run of job ``address`` by this node, or None."""
        ...

    def history(self) -> Iterable[JobEntry]:
        """Every run on record (for the metrics at start-up), in any order."""
        ...

    def subscribe(self, callback: Callable[[NodeEventLike], None]) -> Callable[[], None]:
        """Call ``callback(event)`` in the publishing thread for each lifecycle event; returns the
        function that ends the subscription."""
        ...

"""The node's parts seen through :class:`~nosana_node.api.view.NodeView`.

:class:`PartsView` reads the node loop's read model (``parts.state.snapshot()``), its run
records (``parts.db``: ``recent``, ``for_job``) and subscribes to its event hub
(``parts.events``) - the seams :mod:`nosana_node.node.events` and :mod:`nosana_node.node.state`
declare for this API. Nothing here writes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from nosana_node.api.view import JobEntry, NodeEventLike

#: Runs read at start-up to seed the metrics, at most (newest first).
HISTORY_LIMIT = 1_000_000


def entry_of(record: Any) -> JobEntry:
    """A node run record as the API shows it."""
    return JobEntry(
        job=record.job,
        run=record.run,
        market=record.market,
        step=str(record.step),
        claimed_at=record.claimed_at,
        run_time=record.run_time,
        started_at=record.started_at,
        ended_at=record.ended_at,
        status=record.status,
        result_cid=record.result_cid,
        finish_signature=record.finish_signature,
        error=record.error,
    )


class PartsView:
    """:class:`~nosana_node.api.view.NodeView` over the node's parts."""

    def __init__(self, parts: Any) -> None:
        self.parts = parts

    @property
    def wallet(self) -> str:
        return str(self.parts.wallet)

    @property
    def market(self) -> str:
        return str(self.parts.market)

    @property
    def network(self) -> str:
        return str(self.parts.network)

    def snapshot(self) -> dict[str, Any]:
        return dict(self.parts.state.snapshot().to_json())

    def jobs(self, limit: int) -> list[JobEntry]:
        return [entry_of(r) for r in self.parts.db.recent(limit)]

    def job(self, address: str) -> JobEntry | None:
        records = self.parts.db.for_job(address)
        return entry_of(records[-1]) if records else None

    def history(self) -> Iterable[JobEntry]:
        return [entry_of(r) for r in self.parts.db.recent(HISTORY_LIMIT)]

    def subscribe(self, callback: Callable[[NodeEventLike], None]) -> Callable[[], None]:
        return self.parts.events.subscribe(callback)  # type: ignore[no-any-return]

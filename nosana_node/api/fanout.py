"""Live log lines from the job's threads to many HTTP followers, without slowing the job.

:class:`Fanout` listens on the :class:`~nosana_node.api.bus.LogBus`. In the job's thread it
does O(1) work: an event of a flow nobody follows is ignored; otherwise it is appended to one
bounded hand-over queue, and the event loop is woken once for a whole batch. In the loop each
event is encoded once (masked, JSON, SSE) and handed by reference to each follower of its flow.

Limits (each a stranger could otherwise push): followers in all (:attr:`max_followers`, more
are refused), bytes waiting per follower (:attr:`max_pending`: a follower that falls that far
behind is dropped, its connection closed), events waiting for the loop (``MAX_HANDOVER``: past
it the followers of that flow are dropped). A dropped follower costs the job nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from nosana_node.api.bus import BusEvent, LogBus, LogLine, OpChange
from nosana_node.errors import NosanaError
from nosana_node.secrets.masking import process_masker

#: Events waiting for the event loop, at most.
MAX_HANDOVER = 100_000


class TooManyFollowers(NosanaError):
    """The node follows as many clients as it allows."""


@dataclass(frozen=True, slots=True)
class Item:
    """One event, encoded once for every follower of its flow."""

    kind: str  # log, op, end
    json: str  # the event as one JSON object
    sse: bytes  # the event as a Server-Sent Event
    op: str | None = None
    attempt: int = 0
    seq: int = 0

    @property
    def size(self) -> int:
        return len(self.sse)


def encode(kind: str, doc: dict[str, object], **where: object) -> Item:
    """An item of ``kind`` carrying ``doc``."""
    text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
    return Item(kind, text, f"event: {kind}\ndata: {text}\n\n".encode(), **where)  # type: ignore[arg-type]


def _item(event: BusEvent) -> Item:
    if isinstance(event, LogLine):
        doc = {
            "type": "log",
            "t": event.t,
            "op": event.op,
            "attempt": event.attempt,
            "s": event.stream,
            "d": process_masker().mask(event.text),
        }
        return encode("log", doc, op=event.op, attempt=event.attempt, seq=event.seq)
    if isinstance(event, OpChange):
        doc = {"type": "op", "t": event.t, "op": event.op, "attempt": event.attempt, "status": event.status}
        return encode("op", doc, op=event.op, attempt=event.attempt)
    kind = "flow" if event.status == "running" else "end"
    return encode(kind, {"type": kind, "t": event.t, "status": event.status})


class Follower:
    """One client following one flow: a bounded queue of items, read in the event loop."""

    def __init__(self, flow: str, max_pending: int, on_drop: Callable[[], None] | None = None) -> None:
        self.flow = flow
        self.max_pending = max_pending
        self.on_drop = on_drop
        self._items: deque[Item] = deque()
        self._bytes = 0
        self._wake = asyncio.Event()
        self.dropped: str | None = None

    def offer(self, item: Item) -> None:
        """Queue ``item``; a follower this far behind is dropped (its connection closed)."""
        if self.dropped is not None:
            return
        if self._bytes + item.size > self.max_pending:
            self.drop("the client reads too slowly; it was disconnected")
            return
        self._items.append(item)
        self._bytes += item.size
        self._wake.set()

    def drop(self, reason: str) -> None:
        if self.dropped is None:
            self.dropped = reason
            self._items.clear()
            self._bytes = 0
            self._wake.set()
            if self.on_drop is not None:
                self.on_drop()

    async def take(self, timeout: float | None = None) -> list[Item]:
        """The items queued so far (waiting up to ``timeout`` for one; [] after it)."""
        if not self._items and self.dropped is None:
            self._wake.clear()
            try:
                async with asyncio.timeout(timeout):  # no task of its own, unlike wait_for
                    await self._wake.wait()
            except TimeoutError:
                return []
        items = list(self._items)
        self._items.clear()
        self._bytes = 0
        return items

    @property
    def pending(self) -> int:
        """Bytes queued."""
        return self._bytes


class Fanout:
    """Followers per flow, fed from a :class:`LogBus`; its methods (but the listener) run in
    the event loop ``loop``."""

    def __init__(
        self, bus: LogBus, loop: asyncio.AbstractEventLoop, *, max_followers: int, max_pending: int
    ) -> None:
        self.loop = loop
        self.max_followers = max_followers
        self.max_pending = max_pending
        self._followers: dict[str, set[Follower]] = {}
        self._followed: frozenset[str] = frozenset()  # read in job threads without a lock
        self._handover: deque[BusEvent] = deque()
        self._scheduled = False
        self._overflow: set[str] = set()
        self._guard = threading.Lock()
        self.count = 0
        self.dropped = 0
        self._stop = bus.listen(self._listen)

    def close(self) -> None:
        """Stop listening; every follower is ended."""
        self._stop()
        for followers in list(self._followers.values()):
            for follower in list(followers):
                follower.drop("the node's API is shutting down")

    # -- the job's side (any thread) ----------------------------------------------------------------
    def _listen(self, event: BusEvent) -> None:
        if event.flow not in self._followed:
            return
        with self._guard:
            if len(self._handover) >= MAX_HANDOVER:
                self._overflow.add(event.flow)
                return
            self._handover.append(event)
            if self._scheduled:
                return
            self._scheduled = True
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody follows any more
            self.loop.call_soon_threadsafe(self._drain)

    # -- the loop's side ----------------------------------------------------------------------------
    def _drain(self) -> None:
        with self._guard:
            self._scheduled = False
            events = list(self._handover)
            self._handover.clear()
            overflow, self._overflow = self._overflow, set()
        for flow in overflow:
            for follower in list(self._followers.get(flow, ())):
                self.dropped += 1
                follower.drop("the node fell behind sending this log; it was disconnected")
        for event in events:
            followers = self._followers.get(event.flow)
            if not followers:
                continue
            item = _item(event)
            for follower in list(followers):
                before = follower.dropped
                follower.offer(item)
                if before is None and follower.dropped is not None:
                    self.dropped += 1

    def follow(self, flow: str, on_drop: Callable[[], None] | None = None) -> Follower:
        """A new follower of ``flow`` (:class:`TooManyFollowers` past the limit)."""
        if self.count >= self.max_followers:
            raise TooManyFollowers(
                f"the node already serves {self.count} live log followers (its limit); try again later"
            )
        follower = Follower(flow, self.max_pending, on_drop)
        self._followers.setdefault(flow, set()).add(follower)
        self.count += 1
        self._followed = frozenset(self._followers)
        return follower

    def unfollow(self, follower: Follower) -> None:
        """Forget ``follower`` (idempotent)."""
        followers = self._followers.get(follower.flow)
        if followers is None or follower not in followers:
            return
        followers.discard(follower)
        self.count -= 1
        if not followers:
            del self._followers[follower.flow]
            self._followed = frozenset(self._followers)

    def followers(self, flow: str) -> int:
        """How many clients follow ``flow``."""
        return len(self._followers.get(flow, ()))

"""A value fetched off the event loop at most once per ``ttl`` seconds, however many wait for it.

Requests from strangers must not turn into as many chain reads: :class:`Refreshed` runs the
blocking ``fetch`` in a thread when its last value is older than ``ttl``, and every caller that
arrives meanwhile waits for that same fetch. A fetch that raises is remembered as such for
``ttl`` too (the error is raised to its callers).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Generic, TypeVar

T = TypeVar("T")


class Refreshed(Generic[T]):
    """See the module rules; use from one event loop."""

    def __init__(
        self,
        fetch: Callable[[], T],
        ttl: float,
        *,
        executor: Executor | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.fetch = fetch
        self.ttl = ttl
        self.executor = executor
        self.clock = clock
        self._at = -float("inf")
        self._value: T | None = None
        self._error: BaseException | None = None
        self._running: asyncio.Future[None] | None = None
        self._generation = 0  # bumped by invalidate(): a fetch begun before is not fresh

    def invalidate(self) -> None:
        """The next :meth:`get` fetches anew, also when a fetch is under way (any thread)."""
        self._generation += 1
        self._at = -float("inf")

    async def get(self) -> T:
        # twice at most: a fetch invalidated while under way is followed by one more
        for _ in range(2):
            if self.clock() - self._at < self.ttl:
                break
            if self._running is None:
                self._running = asyncio.ensure_future(self._refresh())
            await asyncio.shield(self._running)
            if self._at != -float("inf"):  # fetched, and not invalidated meanwhile
                break
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]

    async def _refresh(self) -> None:
        generation = self._generation
        try:
            value = await asyncio.get_running_loop().run_in_executor(self.executor, self.fetch)
            self._value, self._error = value, None
        except Exception as exc:
            self._error = exc
        finally:
            self._at = self.clock() if generation == self._generation else -float("inf")
            self._running = None

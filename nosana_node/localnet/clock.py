"""Slots and time of the local chain, with clocks that tests can drive.

A slot lasts ``slot_seconds`` of the monotonic clock (400 ms, as on Solana); the chain's unix
time is the wall clock plus an offset. Both clocks are injected, so a test can move time by
hand instead of sleeping; :meth:`SlotClock.force` starts the next slot at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable

SLOT_SECONDS = 0.4


class SlotClock:
    """Which slot it is: ``start + forced + elapsed // slot_seconds``."""

    def __init__(
        self,
        start_slot: int,
        slot_seconds: float = SLOT_SECONDS,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if slot_seconds <= 0:
            raise ValueError("slot_seconds must be positive")
        self.slot_seconds = slot_seconds
        self._monotonic, self._wall = monotonic, wall
        self._start, self._t0, self._forced = start_slot, monotonic(), 0

    def slot(self) -> int:
        return self._start + self._forced + int((self._monotonic() - self._t0) / self.slot_seconds)

    def force(self, slots: int = 1) -> None:
        """Start the next slot (or the ``slots``-th next) now."""
        self._forced += slots

    def until_next(self) -> float:
        """Seconds until the next slot starts by itself."""
        return self.slot_seconds - (self._monotonic() - self._t0) % self.slot_seconds

    def wall(self) -> float:
        """Unix time, before the chain's offset."""
        return self._wall()


class ManualClock:
    """A clock that moves only when told to (tests): use it as ``monotonic`` and ``wall``."""

    def __init__(self, start: float = 1_750_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

"""Wall-clock time and alarms, injectable: the system clock in production, a manual one in tests.

A :class:`Clock` tells the time (unix seconds) and calls back at a given time
(:meth:`Clock.call_at`). Deadlines (a job's ``run.time + job.timeout``, an op's time limit)
are set on a clock, so a test moves time forward (:meth:`ManualClock.advance`) instead of
sleeping, and the code under test cannot tell the difference.
"""

from __future__ import annotations

import bisect
import itertools
import threading
import time
from collections.abc import Callable
from typing import Protocol


class Alarm(Protocol):
    """A pending call; :meth:`cancel` makes sure it does not happen (if it has not yet)."""

    def cancel(self) -> None:
        """Drop the call."""


class Clock(Protocol):
    """Wall-clock time and alarms."""

    def now(self) -> float:
        """Unix time, seconds."""

    def call_at(self, when: float, callback: Callable[[], None]) -> Alarm:
        """Call ``callback`` (in another thread, or in the thread that moves a manual clock) once
        the clock reads ``when`` or later."""


class _TimerAlarm:
    """An alarm on the system clock: a timer thread that re-checks the wall clock when it wakes
    (the clock may have been set back meanwhile) and fires once."""

    MAX_SLEEP = 60.0  # re-read the wall clock at least this often

    def __init__(self, clock: SystemClock, when: float, callback: Callable[[], None]) -> None:
        self._clock, self._when, self._callback = clock, when, callback
        self._cancelled = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alarm", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._cancelled.is_set():
            left = self._when - self._clock.now()
            if left <= 0:
                self._callback()
                return
            self._cancelled.wait(min(left, self.MAX_SLEEP))

    def cancel(self) -> None:
        self._cancelled.set()


class SystemClock:
    """The machine's clock."""

    def now(self) -> float:
        return time.time()

    def call_at(self, when: float, callback: Callable[[], None]) -> Alarm:
        return _TimerAlarm(self, when, callback)


SYSTEM_CLOCK = SystemClock()


class _ManualAlarm:
    def __init__(self, clock: ManualClock, key: tuple[float, int]) -> None:
        self._clock, self._key = clock, key

    def cancel(self) -> None:
        self._clock._drop(self._key)


class ManualClock:
    """A clock that moves only when told to (:meth:`advance`, :meth:`set`); due alarms run in
    the thread that moves it, in time order, before the call returns."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self._alarms: list[tuple[float, int]] = []
        self._callbacks: dict[tuple[float, int], Callable[[], None]] = {}
        self._seq = itertools.count()

    def now(self) -> float:
        with self._lock:
            return self._now

    def call_at(self, when: float, callback: Callable[[], None]) -> Alarm:
        with self._lock:
            key = (when, next(self._seq))
            bisect.insort(self._alarms, key)
            self._callbacks[key] = callback
            due = when <= self._now
        if due:
            self._fire()
        return _ManualAlarm(self, key)

    def _drop(self, key: tuple[float, int]) -> None:
        with self._lock:
            if self._callbacks.pop(key, None) is not None:
                self._alarms.remove(key)

    @property
    def pending(self) -> int:
        """How many alarms are set."""
        with self._lock:
            return len(self._alarms)

    def advance(self, seconds: float) -> None:
        """Move the clock forward and run the alarms that became due."""
        with self._lock:
            self._now += seconds
        self._fire()

    def set(self, now: float) -> None:
        """Set the time (forward or back) and run the alarms that became due."""
        with self._lock:
            self._now = now
        self._fire()

    def _fire(self) -> None:
        while True:
            with self._lock:
                if not self._alarms or self._alarms[0][0] > self._now:
                    return
                key = self._alarms.pop(0)
                callback = self._callbacks.pop(key)
            callback()

"""How long an op waits for the engine: its cancel token, its own time limit, and a grace.

An :class:`OpGuard` covers one container's life, from its creation to the last artifact taken out
(resources going in, the run, artifacts coming out: all count in the op's time). Rules:

- it *trips* once: when the op's token is cancelled (stopped, expired, interrupted, completed)
  or when its time limit (``limit`` seconds from :meth:`OpGuard.start`, on the token's clock)
  passes. :meth:`on_trip` callbacks run then, in the thread that tripped it: they must be quick
  (kill the container in the background, abort a transfer);
- every blocking engine call goes through :meth:`call`: it runs in a thread of its own and the op
  waits for it until it returns, or until ``grace`` real seconds after a trip. Then the op gives
  up on the engine: :class:`~nosana_node.flow.cancel.Cancelled` after a cancel,
  :class:`~nosana_node.docker.errors.EngineUnreachable` after the time limit (the engine did not
  stop the job); a value the abandoned call returns later goes to its ``late`` callback (a
  container created too late is removed);
- :meth:`check` raises at once once tripped: ``Cancelled``, or :class:`JobTimedOut`.

So whatever the engine does (answers slowly, freezes, goes away), an op ends at most ``grace``
seconds after its deadline.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Self, TypeVar

from nosana_node.clock import Alarm
from nosana_node.docker.errors import EngineUnreachable
from nosana_node.errors import NosanaError
from nosana_node.flow.cancel import CancelToken

T = TypeVar("T")
log = logging.getLogger(__name__)

#: real seconds the engine gets, after a cancel or a time limit, to do what it was asked
STOP_GRACE = 5.0


class JobTimedOut(NosanaError):
    """The op's time limit passed (resources in, run and artifacts out count)."""

    reason = "timeout"


def _safe(callback: Callable[[], object]) -> None:
    try:
        callback()
    except Exception:  # one failing callback must not keep the others from running
        log.exception("guard callback failed")


class OpGuard:
    """Bounds what one op waits for from the engine. Thread-safe; use as a context manager."""

    def __init__(
        self,
        cancel: CancelToken,
        limit: float | None,
        grace: float = STOP_GRACE,
        on_unresponsive: Callable[[str], None] | None = None,
    ) -> None:
        self.cancel = cancel
        self.limit = limit
        self.grace = grace
        self._on_unresponsive = on_unresponsive
        self._cond = threading.Condition()
        self._kind: str | None = None  # "cancel" | "timeout" once tripped
        self._tripped_at: float | None = None  # time.monotonic() of the trip
        self._callbacks: dict[int, Callable[[], None]] = {}
        self._next = 0
        self._alarm: Alarm | None = None
        self._forget: Callable[[], None] | None = None
        self.started_at: float | None = None

    # -- life ---------------------------------------------------------------------------------------

    def start(self) -> Self:
        """Start the time limit and follow the token."""
        clock = self.cancel.clock
        self.started_at = clock.now()
        if self.limit is not None:
            self._alarm = clock.call_at(self.started_at + self.limit, lambda: self._trip("timeout"))
        self._forget = self.cancel.on_cancel(lambda _: self._trip("cancel"))
        return self

    def close(self) -> None:
        """Drop the alarm and the link to the token."""
        alarm, self._alarm = self._alarm, None
        if alarm is not None:
            alarm.cancel()
        forget, self._forget = self._forget, None
        if forget is not None:
            forget()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- state --------------------------------------------------------------------------------------

    @property
    def tripped(self) -> bool:
        """True once cancelled or timed out."""
        return self._kind is not None

    @property
    def timed_out(self) -> bool:
        """True when the time limit tripped it (first)."""
        return self._kind == "timeout"

    def _trip(self, kind: str) -> None:
        with self._cond:
            if self._kind is not None:
                return
            self._kind, self._tripped_at = kind, time.monotonic()
            callbacks = list(self._callbacks.values())
            self._callbacks.clear()
            self._cond.notify_all()
        for callback in callbacks:
            _safe(callback)

    def on_trip(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback()`` when tripped (at once if it is); returns a function that drops it."""
        with self._cond:
            if self._kind is None:
                key, self._next = self._next, self._next + 1
                self._callbacks[key] = callback
                return lambda: self._drop(key)
        _safe(callback)
        return lambda: None

    def _drop(self, key: int) -> None:
        with self._cond:
            self._callbacks.pop(key, None)

    def check(self) -> None:
        """Raise ``Cancelled`` (cancelled) or :class:`JobTimedOut` (time limit) once tripped."""
        if self._kind == "cancel":
            self.cancel.check()
        if self._kind == "timeout":
            raise JobTimedOut(f"timed out after {self.limit:g}s")

    # -- waiting ------------------------------------------------------------------------------------

    def _wait_until(self, done: Callable[[], bool]) -> bool:
        """Wait (holding the condition) until ``done()`` or ``grace`` after a trip; False: gave up."""
        while not done():
            if self._tripped_at is None:
                self._cond.wait()
                continue
            left = self._tripped_at + self.grace - time.monotonic()
            if left <= 0:
                return False
            self._cond.wait(left)
        return True

    def give_up(self, what: str) -> BaseException:
        """The error of an op that stopped waiting for ``what``: the engine did not answer within
        the grace (``on_unresponsive`` is told); ``Cancelled`` after a cancel."""
        after = "the job's time limit" if self._kind == "timeout" else "the job was cancelled"
        text = f"{what}: the Docker engine did not answer within {self.grace:g}s after {after}"
        if self._on_unresponsive is not None:
            self._on_unresponsive(text)
        if self._kind == "cancel":
            try:
                self.cancel.check()
            except BaseException as exc:  # Cancelled
                return exc
        return EngineUnreachable(f"{text} ({self.limit:g}s)")

    def call(
        self,
        what: str,
        fn: Callable[[], T],
        *,
        late: Callable[[T], None] | None = None,
        abort: Callable[[], None] | None = None,
    ) -> T:
        """Run ``fn`` (an engine call) in a thread; its value, or what it raised.

        Past the grace after a trip, the op stops waiting: ``abort`` (if given) is called to make
        ``fn`` return (a stream closed), else the call is left to finish alone and a value it
        returns later goes to ``late``. Then ``Cancelled`` or ``EngineUnreachable`` is raised.
        """
        box: list[tuple[bool, object]] = []
        state = {"abandoned": False}

        def work() -> None:
            try:
                result: tuple[bool, object] = (True, fn())
            except BaseException as exc:
                result = (False, exc)
            with self._cond:
                box.append(result)
                self._cond.notify_all()
                abandoned = state["abandoned"]
            if abandoned and result[0] and late is not None:
                _safe(lambda: late(result[1]))  # type: ignore[arg-type]

        thread = threading.Thread(target=work, name=f"engine-{what[:24]}", daemon=True)
        thread.start()
        with self._cond:
            answered = self._wait_until(lambda: bool(box))
            if not answered:
                state["abandoned"] = True
        if not answered:
            if abort is not None:
                _safe(abort)
                thread.join(self.grace)
            raise self.give_up(what)
        ok, value = box[0]
        if not ok:
            raise value  # type: ignore[misc]
        return value  # type: ignore[return-value]

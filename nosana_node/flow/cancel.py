"""Cancelling a run from anywhere: a token with a reason and a deadline.

A :class:`CancelToken` travels with a run (``RunEnv.cancel``). Anyone holding it may cancel it,
from any thread, with a :class:`CancelReason`:

- ``stopped``: the job was stopped (on chain, by its poster): the run is over, final;
- ``expired``: its deadline passed (the token cancels itself when its clock reaches it): final;
- ``interrupted``: the node is shutting down (a signal, a drain timeout): the run can resume;
- ``completed``: one op is no longer needed (the ops it serves have ended): only ever given to
  an op's own token (:meth:`CancelToken.child`); that op ends as a success.

The first reason wins; later calls change nothing. Op types honour the token: they register
:meth:`CancelToken.on_cancel` callbacks that stop their work at once (``docker/run`` kills its
container) and raise :class:`Cancelled` when they notice, so the runtime marks them with the
reason. The deadline is wall-clock time read from an injectable :class:`~nosana_node.clock.Clock`
and may move while the run goes on (:meth:`CancelToken.set_deadline`: a job extended on chain).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Self

from nosana_node.clock import SYSTEM_CLOCK, Alarm, Clock

log = logging.getLogger(__name__)


class CancelReason(StrEnum):
    """Why a run was cancelled (the values are also op/flow statuses and failure reasons)."""

    STOPPED = "stopped"
    EXPIRED = "expired"
    INTERRUPTED = "interrupted"
    COMPLETED = "completed"

    @property
    def final(self) -> bool:
        """True when the run is over for good (stopped, expired); False when it can resume."""
        return self is not CancelReason.INTERRUPTED


class Cancelled(Exception):
    """Raised by an op type that stopped because its run was cancelled."""

    def __init__(self, reason: CancelReason, detail: str | None = None) -> None:
        super().__init__(f"{reason}: {detail}" if detail else str(reason))
        self.reason = reason
        self.detail = detail


def _iso(when: float) -> str:
    return datetime.fromtimestamp(when, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class CancelToken:
    """A cancellation signal with a reason, an optional deadline and callbacks. Thread-safe.

    Use it as a context manager (or call :meth:`close`) so that the alarm of its deadline is
    released when the run is over.
    """

    def __init__(self, deadline: float | None = None, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self.clock = clock
        self._parent: CancelToken | None = None
        self._forget_parent: Callable[[], None] | None = None
        self._lock = threading.Lock()
        self._event = threading.Event()
        self._reason: CancelReason | None = None
        self._detail: str | None = None
        self._deadline: float | None = None
        self._alarm: Alarm | None = None
        self._callbacks: dict[int, Callable[[CancelReason], None]] = {}
        self._next = 0
        self.set_deadline(deadline)

    # -- state ----------------------------------------------------------------------------------

    @property
    def reason(self) -> CancelReason | None:
        """Why it was cancelled; None while it was not."""
        return self._reason

    @property
    def detail(self) -> str | None:
        """A few words on the cause (``signal SIGTERM``, ``deadline … passed``)."""
        return self._detail

    @property
    def cancelled(self) -> bool:
        """True once cancelled."""
        return self._reason is not None

    @property
    def deadline(self) -> float | None:
        """Unix time at which the token cancels itself as ``expired`` (None: no deadline); a
        child token without a deadline of its own has its parent's."""
        if self._deadline is None and self._parent is not None:
            return self._parent.deadline
        return self._deadline

    def remaining(self) -> float | None:
        """Seconds until the deadline by the token's clock (None without one; may be negative)."""
        deadline = self.deadline
        return None if deadline is None else deadline - self.clock.now()

    def describe(self) -> str:
        """``stopped``, ``expired: deadline … passed`` …; empty while not cancelled."""
        if self._reason is None:
            return ""
        return f"{self._reason}: {self._detail}" if self._detail else str(self._reason)

    # -- changes ----------------------------------------------------------------------------------

    def cancel(self, reason: CancelReason, detail: str | None = None) -> bool:
        """Cancel with ``reason``; True if this call did it (False: it was already cancelled).

        The callbacks have all run when this returns; several run at the same time, each in a
        thread of its own (stopping three containers takes as long as stopping one).
        """
        with self._lock:
            if self._reason is not None:
                return False
            self._reason, self._detail = CancelReason(reason), detail
            callbacks = list(self._callbacks.values())
            self._callbacks.clear()
            alarm, self._alarm = self._alarm, None
        if alarm is not None:
            alarm.cancel()
        self._event.set()
        if len(callbacks) == 1:
            self._call(callbacks[0])
        else:
            threads = [threading.Thread(target=self._call, args=(c,), name="on-cancel") for c in callbacks]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        return True

    def set_deadline(self, deadline: float | None) -> None:
        """Set, move or (``None``) drop the deadline; a deadline already past cancels at once."""
        with self._lock:
            if self._reason is not None:
                return
            old, self._alarm = self._alarm, None
            self._deadline = deadline
        if old is not None:
            old.cancel()
        if deadline is None:
            return
        alarm = self.clock.call_at(deadline, lambda: self._expire(deadline))
        with self._lock:
            if self._reason is None and self._deadline == deadline and self._alarm is None:
                self._alarm = alarm
                return
        alarm.cancel()  # cancelled or moved meanwhile

    def _expire(self, deadline: float) -> None:
        if self._deadline == deadline:
            self.cancel(CancelReason.EXPIRED, f"deadline {_iso(deadline)} passed")

    def child(self) -> CancelToken:
        """A token cancelled with this one (same reason and detail) that can also be cancelled
        alone (one op of a run); :meth:`close` it when done with it."""
        token = CancelToken(clock=self.clock)
        token._parent = self
        token._forget_parent = self.on_cancel(lambda reason: token.cancel(reason, self._detail))
        return token

    def on_cancel(self, callback: Callable[[CancelReason], None]) -> Callable[[], None]:
        """Call ``callback(reason)`` when cancelled (at once if it already is); returns a function
        that unregisters it."""
        with self._lock:
            if self._reason is None:
                key = self._next
                self._next += 1
                self._callbacks[key] = callback
                return lambda: self._callbacks.pop(key, None) and None
            reason = self._reason
        self._call(callback, reason)
        return lambda: None

    def _call(self, callback: Callable[[CancelReason], None], reason: CancelReason | None = None) -> None:
        try:
            callback(reason or self._reason)  # type: ignore[arg-type]
        except Exception:  # a callback that fails must not keep the others from running
            log.exception("cancel callback failed")

    # -- waiting ----------------------------------------------------------------------------------

    def wait(self, timeout: float | None = None) -> bool:
        """Block until cancelled (True) or ``timeout`` real seconds passed (False)."""
        return self._event.wait(timeout)

    def check(self) -> None:
        """Raise :class:`Cancelled` if the token was cancelled."""
        reason = self._reason
        if reason is not None:
            raise Cancelled(reason, self._detail)

    def close(self) -> None:
        """Release the deadline's alarm, and a child's link to its parent (the token stays as it is)."""
        with self._lock:
            alarm, self._alarm = self._alarm, None
        if alarm is not None:
            alarm.cancel()
        forget, self._forget_parent = self._forget_parent, None
        if forget is not None:
            forget()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

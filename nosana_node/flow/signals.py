"""Termination signals as one source of cancellation among others.

Within :class:`SignalCancel`, the first SIGINT or SIGTERM cancels a token as ``interrupted``
(from a short-lived thread, so nothing slow runs inside the signal handler) and puts the
previous handlers back: a second signal acts as it usually does (Ctrl-C raises
``KeyboardInterrupt``, SIGTERM ends the process), for when a graceful stop takes too long.
Handlers can only be installed in the main thread; elsewhere the block runs without them
(whoever runs the main thread, e.g. the node loop, owns the signals).
"""

from __future__ import annotations

import queue
import signal
import threading
import time
from types import FrameType
from typing import Self, TypeVar

from nosana_node.flow.cancel import CancelReason, CancelToken

SIGNALS = (signal.SIGINT, signal.SIGTERM)
#: Longest a thread that owns the signals blocks in one wait (seconds).
WAIT_SLICE = 0.25

T = TypeVar("T")


def get_waking(inbox: queue.Queue[T], timeout: float | None = None) -> T:
    """The next item of ``inbox`` (``queue.Empty`` after ``timeout`` seconds; ``None``: no end),
    waited for in slices of :data:`WAIT_SLICE`.

    The kernel hands a signal to any thread of the process; Python runs its handler in the main
    thread only, and a main thread blocked on a lock is not woken by a signal another thread
    took (CPython gh-85300): it would run the handler only when the item arrives. Waking up in
    slices lets SIGINT/SIGTERM act at once whichever thread received them.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        left = WAIT_SLICE if deadline is None else deadline - time.monotonic()
        try:
            return inbox.get(timeout=max(0.0, min(left, WAIT_SLICE)))
        except queue.Empty:
            if deadline is not None and left <= WAIT_SLICE:
                raise


class SignalCancel:
    """Cancel ``token`` as interrupted on the first SIGINT/SIGTERM received within the block."""

    def __init__(self, token: CancelToken, signals: tuple[int, ...] = SIGNALS) -> None:
        self.token = token
        self.signals = signals
        self.received: int | None = None
        self._previous: dict[int, object] = {}

    @property
    def exit_code(self) -> int | None:
        """Shell convention for the signal received: 128 + its number (None: none received)."""
        return None if self.received is None else 128 + self.received

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        if self.received is None:
            self.received = signum
        self._restore()
        detail = f"signal {signal.Signals(signum).name}"
        threading.Thread(
            target=self.token.cancel, args=(CancelReason.INTERRUPTED, detail), name="cancel", daemon=True
        ).start()

    def _restore(self) -> None:
        previous, self._previous = self._previous, {}
        for sig, handler in previous.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)  # type: ignore[arg-type]

    def __enter__(self) -> Self:
        if threading.current_thread() is threading.main_thread():
            for sig in self.signals:
                self._previous[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        self._restore()

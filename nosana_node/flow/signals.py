"""Termination signals as one source of cancellation among others.

Within :class:`SignalCancel`, the first SIGINT or SIGTERM cancels a token as ``interrupted``
(from a short-lived thread, so nothing slow runs inside the signal handler) and puts the
previous handlers back: a second signal acts as it usually does (Ctrl-C raises
``KeyboardInterrupt``, SIGTERM ends the process), for when a graceful stop takes too long.
Handlers can only be installed in the main thread; elsewhere the block runs without them
(whoever runs the main thread, e.g. the node loop, owns the signals).
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Self

from nosana_node.flow.cancel import CancelReason, CancelToken

SIGNALS = (signal.SIGINT, signal.SIGTERM)


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

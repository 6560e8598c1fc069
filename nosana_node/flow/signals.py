"""Termination signals during a run.

SIGINT already raises :class:`KeyboardInterrupt`; :func:`terminate_as_interrupt` makes SIGTERM
raise :class:`Interrupted` the same way, so the runtime can clean up (remove containers, record
the interruption) on either. :func:`deferred` holds both signals back during a short critical
section (removing a container) and re-raises afterwards.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class Interrupted(BaseException):
    """The process was asked to stop (SIGTERM); like KeyboardInterrupt, not an Exception."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"terminated by signal {signum}")
        self.signum = signum


INTERRUPTS = (KeyboardInterrupt, Interrupted)


def exit_code(exc: BaseException) -> int:
    """Shell convention: 128 + signal number."""
    return 128 + (exc.signum if isinstance(exc, Interrupted) else signal.SIGINT)


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Interrupted` in the main thread."""
    if not _main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise Interrupted(signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back until the block ends, then raise the first one received."""
    if not _main_thread():
        yield
        return
    received: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
    if received:
        if received[0] == signal.SIGINT:
            raise KeyboardInterrupt
        raise Interrupted(received[0])

"""A cap on the bytes a checkout writes, enforced while git runs.

A job names the repository, so its size is a stranger's choice. While a git command runs, a
watcher thread measures the checkout's directory (:func:`tree_size`: git objects, packs being
received, the work tree) and kills the command the moment the tree is larger than the cap; the
caller measures once more when the command ends (a fast download may finish between two
measurements) and removes the partial checkout. Measuring a large tree costs time, so the pause
between measurements grows with the time one takes (never under :data:`INTERVAL`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from types import TracebackType

INTERVAL = 0.1  # seconds between two measurements, at least
_COST_FACTOR = 4  # the pause is at least this many times the last measurement's time


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill ``proc`` and every process of its group (it was started with ``start_new_session``):
    git's helpers (``git-remote-http``, ``index-pack``) hold its pipes open and go on writing."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()


def tree_size(root: Path) -> int:
    """Bytes the files under ``root`` take: for each file the larger of its length and its disk
    use (links counted as themselves, files vanishing meanwhile skipped)."""
    total = 0
    for base, _, files in os.walk(root):
        for name in files:
            try:
                st = os.lstat(os.path.join(base, name))
            except OSError:
                continue
            total += max(st.st_size, st.st_blocks * 512)
    return total


class SizeWatch:
    """Kill ``proc`` (and its process group: :func:`kill_group`) once the tree under ``root``
    is larger than ``cap`` bytes (a context manager: the watcher thread runs inside the ``with``
    block). :attr:`exceeded` says whether the cap was passed, by the watcher or by :meth:`check`
    after the command ended."""

    def __init__(self, proc: subprocess.Popen[bytes], root: Path, cap: int) -> None:
        self.proc, self.root, self.cap = proc, root, cap
        self.exceeded = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="checkout-size", daemon=True)

    def __enter__(self) -> SizeWatch:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()

    def check(self) -> bool:
        """Measure now; True (and :attr:`exceeded` set) when the tree is larger than the cap."""
        if tree_size(self.root) > self.cap:
            self.exceeded = True
        return self.exceeded

    def _watch(self) -> None:
        pause = INTERVAL
        while not self._stop.wait(pause):
            started = time.monotonic()
            if self.check():
                kill_group(self.proc)
                return
            pause = max(INTERVAL, _COST_FACTOR * (time.monotonic() - started))

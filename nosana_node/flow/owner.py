"""Who runs a flow: the identity of a runner process (host, pid, process start time).

Stored with a running flow and put on every container it creates, so a later process can tell
a live runner from a dead one: same host, the pid exists and started at the same moment.
The start time guards against pid reuse.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass


def _start_ticks(pid: int) -> str | None:
    """Start time of ``pid`` in clock ticks since boot (Linux), or None when it does not exist."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            data = stat.read()
    except OSError:
        return None
    # field 22, counted after the ")" that ends the command name
    fields = data[data.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None


@dataclass(frozen=True)
class RunnerIdentity:
    """``host:pid:start`` of a runner process."""

    host: str
    pid: int
    start: str

    @classmethod
    def parse(cls, text: str) -> RunnerIdentity | None:
        """Inverse of :meth:`__str__`; None for malformed text."""
        host, _, rest = text.rpartition(":")
        host, _, pid = host.rpartition(":")
        if not host or not pid.isdigit():
            return None
        return cls(host=host, pid=int(pid), start=rest)

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}:{self.start}"

    def alive(self) -> bool | None:
        """True/False for a runner on this host; None when it runs elsewhere (unknowable)."""
        if self.host != socket.gethostname():
            return None
        return _start_ticks(self.pid) == self.start


_current: dict[int, RunnerIdentity] = {}


def current() -> RunnerIdentity:
    """The identity of this process (recomputed after a fork)."""
    pid = os.getpid()
    if pid not in _current:
        _current[pid] = RunnerIdentity(host=socket.gethostname(), pid=pid, start=_start_ticks(pid) or "0")
    return _current[pid]

"""Crash points: the node kills itself (SIGKILL) at a named point, so tests can prove that a node
killed there and started again settles every job exactly once.

``NOSANA_NODE_CRASH_AT=name[,name...]`` in the node's environment arms them; nothing else does,
and an unarmed point costs one set lookup. The points, in the order a job meets them:
``claimed`` (its record saved), ``result-stored`` (the result's CID saved, before ``finish``),
``finish-signed`` (the signed ``finish`` saved, before it is sent), ``finish-landed`` (it landed,
before the record says so).
"""

from __future__ import annotations

import os
import signal

ENV = "NOSANA_NODE_CRASH_AT"
POINTS = ("claimed", "result-stored", "finish-signed", "finish-landed")
_ARMED = frozenset(name.strip() for name in os.environ.get(ENV, "").split(",") if name.strip())


def crash_point(name: str) -> None:
    """Die here, at once and without cleaning up, when ``name`` is armed."""
    if name in _ARMED:
        os.kill(os.getpid(), signal.SIGKILL)

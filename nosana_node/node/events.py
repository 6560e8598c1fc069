"""What the node tells the world: lifecycle events, and the read model built from them.

The loop and the job processor publish :class:`NodeEvent` s on one :class:`NodeEvents` hub;
anyone may subscribe (the log below, tests, benchmarks, an HTTP API serving health, status and
live job events). :class:`NodeState` is the read model: it applies every event and hands out
consistent :class:`NodeSnapshot` s from any thread.

Job events (``job`` and ``run`` set, published once each per run):
``claimed`` (the chain gave the node a run), ``started`` (its flow runs), ``result-stored``
(``cid``, ``status``), ``finish-sent`` (``signature``), ``finished`` (``cid``, ``signature``),
``stopped`` (ended on chain by its poster), ``quit`` (given up; ``reason``), ``retry`` (a step
failed for a cause outside the job - chain, storage, engine; ``error``, ``delay``).
Node events: ``phase`` (``phase``: starting, recovering, joining, queued, running, draining,
stopped), ``queued`` / ``left-queue`` (the market's queue), ``check`` (a start-up check).

Subscribers are called in the publishing thread, in order, and must return quickly; an
exception in one is logged and does not reach the publisher or the others.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

log = logging.getLogger("nosana_node.node")

PHASES = ("starting", "recovering", "joining", "queued", "idle", "running", "draining", "stopped")


@dataclass(frozen=True)
class NodeEvent:
    """One thing that happened: ``kind``, the job and run it concerns (if any), details."""

    kind: str
    job: str | None = None
    run: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    at: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "job": self.job, "run": self.run, "at": self.at, **self.data}


Subscriber = Callable[[NodeEvent], None]


class NodeEvents:
    """The event hub: publish from any thread, subscribe and unsubscribe at any time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: dict[int, Subscriber] = {}
        self._next = 0

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call ``subscriber(event)`` for each event from now on; returns the unsubscribe function."""
        with self._lock:
            key = self._next
            self._next += 1
            self._subscribers[key] = subscriber

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers.pop(key, None)

        return unsubscribe

    def publish(self, event: NodeEvent) -> None:
        with self._lock:
            subscribers = list(self._subscribers.values())
        for subscriber in subscribers:
            try:
                subscriber(event)
            except Exception:
                log.exception("node event subscriber failed")


@dataclass(frozen=True)
class CurrentJob:
    """The job the node works on."""

    job: str
    run: str
    step: str
    claimed_at: float
    started_at: float | None = None
    deadline: float | None = None


@dataclass(frozen=True)
class NodeSnapshot:
    """The node as the read model knows it."""

    phase: str = "starting"
    wallet: str = ""
    market: str = ""
    network: str = ""
    since: float = field(default_factory=time.time)  # when the phase began
    queued: bool = False
    current: CurrentJob | None = None
    finished: int = 0
    stopped: int = 0
    quit: int = 0
    failed_results: int = 0  # finished jobs whose result is not a success
    last_error: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "current"}
        data["current"] = None if self.current is None else dict(self.current.__dict__)
        return data


class NodeState:
    """The read model: applies events as they come, gives snapshots from any thread."""

    def __init__(self, events: NodeEvents, *, wallet: str, market: str, network: str) -> None:
        self._lock = threading.Lock()
        self._snapshot = NodeSnapshot(wallet=wallet, market=market, network=network)
        self._unsubscribe = events.subscribe(self._apply)

    def snapshot(self) -> NodeSnapshot:
        with self._lock:
            return self._snapshot

    def close(self) -> None:
        self._unsubscribe()

    def _apply(self, event: NodeEvent) -> None:
        with self._lock:
            self._snapshot = _apply(self._snapshot, event)


def _apply(s: NodeSnapshot, e: NodeEvent) -> NodeSnapshot:
    kind, data = e.kind, e.data
    if kind == "phase":
        return replace(s, phase=data["phase"], since=e.at)
    if kind == "queued":
        return replace(s, queued=True)
    if kind == "left-queue":
        return replace(s, queued=False)
    if kind == "claimed":
        job = CurrentJob(str(e.job), str(e.run), "claimed", e.at)
        return replace(s, queued=False, current=job if s.current is None else s.current)
    if s.current is not None and e.run == s.current.run:
        current = s.current
        if kind == "started":
            current = replace(current, step="running", started_at=e.at, deadline=data.get("deadline"))
        elif kind == "deadline":
            current = replace(current, deadline=data.get("deadline"))
        elif kind in ("result-stored", "finish-sent"):
            current = replace(current, step=kind)
        s = replace(s, current=current)
    if kind == "finished":
        failed = s.failed_results + (data.get("status") != "succeeded")
        return replace(s, current=_done(s, e), finished=s.finished + 1, failed_results=failed)
    if kind == "stopped":
        return replace(s, current=_done(s, e), stopped=s.stopped + 1)
    if kind == "quit":
        return replace(s, current=_done(s, e), quit=s.quit + 1)
    if kind == "retry":
        return replace(s, last_error=data.get("error"))
    return s


def _done(s: NodeSnapshot, e: NodeEvent) -> CurrentJob | None:
    return None if s.current is not None and s.current.run == e.run else s.current


def log_events(event: NodeEvent) -> None:
    """The node's log: one line per lifecycle event, with its ids."""
    d, job, run = event.data, event.job, event.run
    lines = {
        "claimed": lambda: f"job {job} claimed (run {run})",
        "started": lambda: f"job {job} started (flow {d.get('flow')}, deadline {_when(d.get('deadline'))})",
        "result-stored": lambda: f"job {job} result stored: {d.get('cid')} ({d.get('status')})",
        "finish-sent": lambda: f"job {job} finish sent: {d.get('signature')}",
        "finished": lambda: (
            f"job {job} finished: result {d.get('cid')} ({d.get('status')}), signature {d.get('signature')}"
        ),
        "stopped": lambda: f"job {job} stopped on chain (run {run}): {d.get('reason')}",
        "quit": lambda: f"job {job} quit (run {run}): {d.get('reason')}",
        "retry": lambda: f"job {job}: {d.get('error')}; trying again in {d.get('delay', 0):.0f}s",
        "queued": lambda: f"waiting in the queue of market {d.get('market')} (position {d.get('position')})",
        "left-queue": lambda: f"left the queue of market {d.get('market')}",
    }
    line = lines.get(event.kind)
    if line is not None:
        extra = {"event": event.kind, "job": job, "run": run}
        (log.warning if event.kind == "retry" else log.info)(line(), extra=extra)


def _when(unix: float | None) -> str:
    if unix is None:
        return "none"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(unix))

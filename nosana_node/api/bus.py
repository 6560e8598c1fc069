"""The live side of a running flow: a :class:`~nosana_node.flow.events.Reporter` that numbers
what the runtime reports and hands it to listeners (the HTTP API's followers, metrics).

Rules:
- every line an op's :class:`~nosana_node.flow.logs.LogSink` keeps is reported once, after it
  was written to the op's log file; :class:`LogLine` ``seq`` counts the lines of one attempt
  of one op from 1, so ``seq`` equals the line's number in that attempt's file — a reader that
  read ``n`` whole lines of the file skips the lines with ``seq <= n`` and misses none;
- listeners are called in the reporting thread (an op's), in order, and must return at once:
  a listener that raises is logged and ignored, never seen by the job;
- the bus keeps state only for ops that run now (dropped when they end).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from nosana_node.flow.model import Flow, Op

log = logging.getLogger("nosana_node.api")

#: Op types whose running op is a container.
CONTAINER_OPS = frozenset({"docker/run", "container/run"})


@dataclass(frozen=True, slots=True)
class LogLine:
    """A kept piece of an op's log (masked), numbered within its attempt."""

    flow: str
    op: str
    attempt: int
    seq: int
    t: float
    stream: str
    text: str


@dataclass(frozen=True, slots=True)
class OpChange:
    """An op started (``status`` running) or ended (its final or interrupted status)."""

    flow: str
    op: str
    type: str
    attempt: int
    status: str
    t: float
    started_at: float | None = None


@dataclass(frozen=True, slots=True)
class FlowChange:
    """A flow started (``running``) or ended (its status)."""

    flow: str
    status: str
    t: float


BusEvent = LogLine | OpChange | FlowChange
Listener = Callable[[BusEvent], None]


@dataclass(slots=True)
class _Running:
    flow: str
    op: str
    type: str
    attempt: int
    seq: int = 0


class LogBus:
    """A reporter for any number of flows at once (thread-safe); see the module rules."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ops: dict[int, _Running] = {}  # id(op object) -> its running attempt
        self._listeners: dict[int, Listener] = {}
        self._listener_list: tuple[Listener, ...] = ()
        self._next = 0

    # -- listeners ----------------------------------------------------------------------------------
    def listen(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` for every event from now on; returns the function that stops it."""
        with self._lock:
            key = self._next
            self._next += 1
            self._listeners[key] = listener
            self._listener_list = tuple(self._listeners.values())

        def stop() -> None:
            with self._lock:
                self._listeners.pop(key, None)
                self._listener_list = tuple(self._listeners.values())

        return stop

    def _emit(self, event: BusEvent) -> None:
        for listener in self._listener_list:
            try:
                listener(event)
            except Exception:
                log.exception("a log listener failed")

    @property
    def running_containers(self) -> int:
        """Ops of a container type that run now."""
        with self._lock:
            return sum(1 for r in self._ops.values() if r.type in CONTAINER_OPS)

    def running(self, flow_id: str) -> dict[str, int]:
        """The ops of ``flow_id`` that run now: op id -> lines reported for its attempt so far."""
        with self._lock:
            return {r.op: r.seq for r in self._ops.values() if r.flow == flow_id}

    # -- the Reporter protocol ----------------------------------------------------------------------
    def flow_started(self, flow: Flow, resumed: bool) -> None:
        self._emit(FlowChange(flow.id, "running", time.time()))

    def op_started(self, flow: Flow, op: Op) -> None:
        state = flow.states[op.id]
        with self._lock:
            self._ops[id(op)] = _Running(flow.id, op.id, op.type, state.run_count)
        self._emit(
            OpChange(flow.id, op.id, op.type, state.run_count, "running", time.time(), state.started_at)
        )

    def op_output(self, op: Op, stream: str, text: str) -> None:
        with self._lock:
            running = self._ops.get(id(op))
            if running is None:  # output of an op the bus never saw start
                return
            running.seq += 1
            seq = running.seq
        if self._listener_list:
            self._emit(LogLine(running.flow, running.op, running.attempt, seq, time.time(), stream, text))

    def op_finished(self, flow: Flow, op: Op) -> None:
        state = flow.states[op.id]
        with self._lock:
            self._ops.pop(id(op), None)
        self._emit(
            OpChange(
                flow.id, op.id, op.type, state.run_count, str(state.status), time.time(), state.started_at
            )
        )

    def flow_finished(self, flow: Flow) -> None:
        self._emit(FlowChange(flow.id, str(flow.status), time.time()))

    def message(self, text: str) -> None:
        pass

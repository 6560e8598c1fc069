"""The node loop: recover, join the market's queue, take the runs the chain gives, shut down.

:class:`Node` runs in the thread that calls :meth:`Node.run` (the CLI's main thread) and does one
thing at a time, driven by an inbox of events:

* start: the runs of this node that the chain shows (``getProgramAccounts``, node at offset 40)
  and the records on disk that are not final are the work to do first, in claim order;
* assignment: a ``programSubscribe`` on run accounts of this node (:meth:`Chain.watch_runs`, a
  slow poll only while its socket is down) reports each new run; it is saved as ``claimed``
  (:mod:`.state`) before anything else, then processed in a worker thread
  (:class:`~.jobs.JobProcessor`: one job at a time);
* idle: ``work`` - the oldest waiting job at once, or a place in the queue; while queued nothing
  is polled but one read of the market every ``:node :recheck`` (is the node still queued?);
* a step that failed for a cause outside the job (chain, storage, engine) is tried again after
  a jittered backoff (1 s doubling to 5 min); the node never exits for it;
* :meth:`Node.stop` (SIGTERM/SIGINT): leave the queue (``stop``), let the running job finish
  within ``:node :drain-timeout``, then interrupt it and ``quit`` its run; a run given while
  stopping is quit at once; a second :meth:`stop` skips the wait. Records are saved, so whatever
  is left is taken up by the next start.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

from solders.pubkey import Pubkey

from nosana_node.chain.accounts import QueueType, RunAccount
from nosana_node.chain.failures import TransactionFailed
from nosana_node.chain.retry import Backoff
from nosana_node.errors import NosanaError
from nosana_node.flow.signals import get_waking
from nosana_node.node.events import NodeEvent
from nosana_node.node.failpoints import crash_point
from nosana_node.node.jobs import JobProcessor
from nosana_node.node.parts import NodeParts
from nosana_node.node.state import JobRecord, Step

log = logging.getLogger("nosana_node.node")

#: Retries of a failing step: 1 s doubling to 5 minutes, jittered, for ever.
RETRY = Backoff(first=1.0, cap=300.0, budget=float("inf"))
#: Longest the loop sleeps without looking around.
MAX_WAIT = 60.0


class Node:
    """One node serving one market until stopped."""

    def __init__(self, parts: NodeParts, *, retry: Backoff = RETRY) -> None:
        self.parts = parts
        self.retry = retry
        self._inbox: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._pending: dict[str, JobRecord] = {}  # run -> record to process, in claim order
        self._retry_at: dict[str, float] = {}  # run -> monotonic time of the next try
        self._delays: dict[str, Iterator[float]] = {}
        self._current: JobProcessor | None = None
        self._thread: threading.Thread | None = None
        self._queued = False
        self._join_at = 0.0
        self._join_delays: Iterator[float] | None = None
        self._recheck_at = 0.0
        self._signals = 0
        self._stopping = 0  # 0: serving; 1: draining; 2: hurrying
        self._drain_until: float | None = None
        self._left_tried = False
        self._phase = ""
        self._watch: Any = None

    # -- public -------------------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop serving: the first call drains, the second hurries. Safe in a signal handler."""
        self._signals += 1
        hurry = self._signals > 1
        threading.Thread(target=self._inbox.put, args=(("stop", hurry),), daemon=True).start()

    def run(self) -> int:
        """Serve until stopped; 0 once everything started is settled or handed back."""
        parts = self.parts
        self._phase_is("recovering")
        self._watch = parts.chain.watch_runs(lambda address, run: self._inbox.put(("run", (address, run))))
        try:
            self._recover()
            while True:
                self._act()
                if self._done():
                    break
                self._wait()
        finally:
            self._watch.close()
            self._phase_is("stopped")
        return 0

    # -- the loop -----------------------------------------------------------------------------------
    def _recover(self) -> None:
        for record in self.parts.db.unfinished():
            self._pending[record.run] = record
        while True:  # the chain's view too (a run given just before a crash has no record yet)
            try:
                runs = self.parts.chain.runs(node=self.parts.wallet)
                break
            except NosanaError as exc:
                delay = next(self._join_backoff())
                log.warning("reading this node's runs failed: %s; trying again in %.0fs", exc, delay)
                if self._sleep(delay):
                    return
        for address, run in sorted(runs.items(), key=lambda item: item[1].time):
            self._seen(address, run)
        if self._pending:
            log.info("recovering %d run(s) of this node", len(self._pending))

    def _act(self) -> None:
        now = time.monotonic()
        hurry = self._hurry(now)
        if self._current is None:
            ready = [r for r in self._pending.values() if self._retry_at.get(r.run, 0.0) <= now]
            if ready:
                record = ready[0]
                give_up = None
                if self._stopping and record.step in (Step.CLAIMED, Step.RUNNING):
                    give_up = "the node is shutting down"
                self._start(record, give_up)
                return
            if not self._stopping and not self._pending:
                if not self._queued and now >= self._join_at:
                    self._join()
                elif self._queued and now >= self._recheck_at:
                    self._recheck()
        if self._stopping and self._queued and not self._left_tried:
            self._leave()
        if self._current is not None and hurry:
            self._current.interrupt(
                "the node is shutting down (second signal)"
                if self._stopping > 1
                else "the node is shutting down (drain timeout passed)"
            )

    def _wait(self) -> None:
        now = time.monotonic()
        times = [now + MAX_WAIT, *self._retry_at.values()]
        if not self._stopping and self._current is None and not self._pending:
            times.append(self._recheck_at if self._queued else self._join_at)
        if self._stopping and self._drain_until is not None and self._current is not None:
            times.append(self._drain_until)
        timeout = max(0.0, min(times) - now)
        try:
            kind, value = get_waking(self._inbox, timeout)
        except queue.Empty:
            return
        while True:
            self._handle(kind, value)
            try:
                kind, value = self._inbox.get_nowait()
            except queue.Empty:
                return

    def _handle(self, kind: str, value: Any) -> None:
        if kind == "run":
            self._seen(*value)
        elif kind == "done":
            self._job_done(*value)
        elif kind == "stop":
            self._stop(hurry=value)

    def _done(self) -> bool:
        if not self._stopping or self._current is not None:
            return False
        now = time.monotonic()
        hurry = self._hurry(now)
        if self._queued and not self._left_tried:
            return False
        if not self._pending:
            return True
        return hurry and all(self._retry_at.get(run, 0.0) > now for run in self._pending)

    def _hurry(self, now: float) -> bool:
        return self._stopping > 1 or (self._drain_until is not None and now >= self._drain_until)

    # -- runs -----------------------------------------------------------------------------------------
    def _seen(self, address: Pubkey, run: RunAccount) -> None:
        """A run of this node exists on chain: save it as claimed (once) and queue it."""
        key = str(address)
        if key in self._pending or (self._current is not None and self._current.record.run == key):
            return
        self._queued = False  # an assignment takes the node out of the market's queue
        record = self.parts.db.get(key)
        if record is not None:
            if not record.step.final:
                self._pending[key] = record
            return
        record = JobRecord(
            run=key,
            job=str(run.job),
            market=str(self.parts.market),
            step=Step.CLAIMED,
            run_time=run.time,
            claimed_at=time.time(),
        )
        self._pending[key] = self.parts.db.save(record)
        self.parts.events.publish(NodeEvent("claimed", record.job, record.run, {"run_time": run.time}))
        crash_point("claimed")

    def _start(self, record: JobRecord, give_up: str | None) -> None:
        processor = JobProcessor(self.parts, record)
        self._current = processor
        self._phase_is("draining" if self._stopping else "running")
        self._thread = threading.Thread(
            target=self._work, args=(processor, give_up), name=f"job-{record.job[:8]}", daemon=True
        )
        self._thread.start()

    def _work(self, processor: JobProcessor, give_up: str | None) -> None:
        error: BaseException | None = None
        try:
            if give_up is not None:
                processor.give_up(give_up)
            else:
                processor.process()
        except NosanaError as exc:
            error = exc
        except Exception as exc:  # a bug: logged with its traceback, the record stays, tried later
            log.exception("job %s: internal error", processor.record.job)
            error = exc
        self._inbox.put(("done", (processor, error)))

    def _job_done(self, processor: JobProcessor, error: BaseException | None) -> None:
        if self._thread is not None:
            self._thread.join()
        self._current, self._thread = None, None
        record = processor.record
        run = record.run
        if error is None and record.step.final:
            self._pending.pop(run, None)
            self._retry_at.pop(run, None)
            self._delays.pop(run, None)
        else:
            self._pending[run] = record
            delay = next(self._delays.setdefault(run, self.retry.delays()))
            self._retry_at[run] = time.monotonic() + delay
            reason = str(error) if error is not None else f"stopped at step {record.step}"
            self.parts.events.publish(NodeEvent("retry", record.job, run, {"error": reason, "delay": delay}))
        self._phase_is("draining" if self._stopping else "idle")

    # -- the market's queue ---------------------------------------------------------------------------
    def _join_backoff(self) -> Iterator[float]:
        if self._join_delays is None:
            self._join_delays = self.retry.delays()
        return self._join_delays

    def _join(self) -> None:
        chain, market = self.parts.chain, self.parts.market
        self._phase_is("joining")
        try:
            account = chain.market(market)
            if self.parts.wallet in account.queue:
                self._now_queued(account.queue.index(self.parts.wallet) + 1)
                return
            worked = chain.work(market)
        except TransactionFailed as exc:
            if exc.program_error == "NodeAlreadyQueued":
                self._now_queued(None)
                return
            self._join_failed(exc)
            return
        except NosanaError as exc:
            self._join_failed(exc)
            return
        self._join_delays = None
        if worked.job is None:
            self._now_queued(
                len(account.queue) + 1 if QueueType.read(account.queue_type) == QueueType.NODE else 1
            )
            return
        run = chain.run(worked.run)
        if run is not None:
            self._seen(worked.run, run)

    def _join_failed(self, exc: NosanaError) -> None:
        delay = next(self._join_backoff())
        self._join_at = time.monotonic() + delay
        self._phase_is("idle")
        log.warning("joining market %s failed: %s; trying again in %.0fs", self.parts.market, exc, delay)

    def _now_queued(self, position: int | None) -> None:
        self._queued = True
        self._join_delays = None
        self._recheck_at = time.monotonic() + self.parts.settings.recheck
        self._phase_is("queued")
        self.parts.events.publish(
            NodeEvent("queued", data={"market": str(self.parts.market), "position": position})
        )

    def _recheck(self) -> None:
        """Still queued? (One read; a missed assignment shows as runs of this node.)"""
        self._recheck_at = time.monotonic() + self.parts.settings.recheck
        try:
            account = self.parts.chain.market(self.parts.market)
            if self.parts.wallet in account.queue:
                return
            runs = self.parts.chain.runs(node=self.parts.wallet)
        except NosanaError as exc:
            log.warning("checking the queue of market %s failed: %s", self.parts.market, exc)
            return
        self._queued = False
        for address, run in runs.items():
            self._seen(address, run)

    def _leave(self) -> None:
        """``stop``, tried once (the client retries transient failures for ``:chain
        :retry-for``); a node that could not leave may be given a job: its next start takes it."""
        self._left_tried = True
        try:
            self.parts.chain.stop(self.parts.market)
        except TransactionFailed as exc:
            if exc.program_error not in ("NotInMarketQueue", "MarketInWrongState"):
                self._leave_failed(exc)
                return
        except NosanaError as exc:
            self._leave_failed(exc)
            return
        self._queued = False
        self.parts.events.publish(NodeEvent("left-queue", data={"market": str(self.parts.market)}))

    def _leave_failed(self, exc: NosanaError) -> None:
        log.warning(
            "could not leave the queue of market %s: %s; a job the market gives this node meanwhile "
            "is taken up when it starts again",
            self.parts.market,
            exc,
        )

    # -- stopping -------------------------------------------------------------------------------------
    def _stop(self, hurry: bool) -> None:
        first = not self._stopping
        self._stopping = max(self._stopping, 2 if hurry else 1)
        self._phase_is("draining")
        if first:
            self._drain_until = time.monotonic() + self.parts.settings.drain_timeout
            if self._current is not None:
                from nosana_node import units

                log.info(
                    "stopping: job %s may finish within %s (signal again to stop it now)",
                    self._current.record.job,
                    units.duration(self.parts.settings.drain_timeout),
                )
            else:
                log.info("stopping")
        elif hurry:
            log.info("stopping now")

    def _sleep(self, seconds: float) -> bool:
        """Wait ``seconds`` unless stopped meanwhile (True: stop asked)."""
        with contextlib.suppress(queue.Empty):
            kind, value = self._inbox.get(timeout=seconds)
            self._handle(kind, value)
        return bool(self._stopping)

    def _phase_is(self, phase: str) -> None:
        if phase != self._phase:
            self._phase = phase
            self.parts.events.publish(NodeEvent("phase", data={"phase": phase}))

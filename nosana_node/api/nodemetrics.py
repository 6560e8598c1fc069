"""The node's metrics: what ``GET /metrics`` shows, fed by the node's events, the log bus and
the RPC client, seeded once from the node's history (so a scrape never walks the history).

- ``nosana_node_info{version,wallet,market,network}`` gauge, 1;
- ``nosana_node_uptime_seconds`` gauge, since the API started;
- ``nosana_node_phase{phase}`` gauge, 1 for the node's phase now;
- ``nosana_node_queued`` gauge, 1 while the node waits in the market's queue;
- ``nosana_node_jobs_total{outcome}`` counter: jobs ended as succeeded, failed, expired (finished
  with such a result), stopped or quit;
- ``nosana_node_job_duration_seconds{outcome}`` histogram: claimed until ended;
- ``nosana_node_pickup_latency_seconds`` histogram: the run created on chain until the flow started;
- ``nosana_node_queue_wait_seconds`` histogram: queued until given a job (or leaving the queue);
- ``nosana_node_rpc_requests_total{method}`` counter: JSON-RPC requests sent (retries included);
- ``nosana_node_rpc_errors_total{method,kind}`` counter: those that failed, by failure class;
- ``nosana_node_containers_running`` gauge: job containers running now;
- ``nosana_node_resource_cache_bytes`` gauge: bytes under ``<home>/resources`` (measured at most
  once a minute, in a thread);
- ``nosana_node_log_followers`` gauge: live log clients connected;
- ``nosana_node_log_followers_dropped_total`` counter: live log clients dropped (too slow).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from nosana_node.api.metrics import Registry
from nosana_node.api.view import JobEntry, NodeEventLike

JOB_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400)
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300)
QUEUE_BUCKETS = (1, 10, 60, 300, 900, 3600, 14400, 86400)
PHASES = ("starting", "recovering", "joining", "queued", "idle", "running", "draining", "stopped")


def outcome(entry: JobEntry) -> str | None:
    """How a run ended (None while it goes on)."""
    if entry.step == "finished":
        return entry.status or "failed"
    if entry.step in ("stopped", "quit"):
        return entry.step
    return None


class DirSize:
    """The bytes under a directory, measured in a thread at most every ``every`` seconds; a scrape
    reads the last measure and never waits for a walk."""

    def __init__(self, root: Path, every: float = 60.0) -> None:
        self.root = root
        self.every = every
        self.value: int | None = None
        self._at = -float("inf")
        self._busy = threading.Lock()

    def __call__(self) -> float | None:
        if time.monotonic() - self._at >= self.every and self._busy.acquire(blocking=False):
            self._at = time.monotonic()
            threading.Thread(target=self._measure, name="api-dirsize", daemon=True).start()
        return self.value

    def _measure(self) -> None:
        try:
            total = 0
            for base, _, files in os.walk(self.root):
                for name in files:
                    try:
                        total += os.lstat(os.path.join(base, name)).st_blocks * 512
                    except OSError:
                        continue
            self.value = total
        finally:
            self._busy.release()


class NodeMetrics:
    """The registry of the node's metrics and the handlers that feed it."""

    def __init__(
        self,
        *,
        version: str,
        wallet: str,
        market: str,
        network: str,
        containers: Callable[[], float],
        followers: Callable[[], float],
        resources: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.clock = clock
        self.started = clock()
        self.phase = "starting"
        self.queued = False
        self._queued_at: float | None = None
        self._claimed: dict[str, tuple[float, int | None]] = {}  # run -> (claimed at, run time)
        self._picked: set[str] = set()
        self._lock = threading.Lock()
        r = self.registry = Registry()
        info = r.gauge(
            "nosana_node_info",
            "The node: version, wallet, market, network.",
            ("version", "wallet", "market", "network"),
        )
        info.set(1, version, wallet, market, network)
        r.gauge(
            "nosana_node_uptime_seconds",
            "Seconds since the node's API started.",
            source=lambda: self.clock() - self.started,
        )
        r.gauge("nosana_node_phase", "1 for the phase the node is in.", ("phase",), source=self._phases)
        r.gauge(
            "nosana_node_queued",
            "1 while the node waits in its market's queue.",
            source=lambda: float(self.queued),
        )
        self.jobs = r.counter("nosana_node_jobs_total", "Jobs ended, by outcome.", ("outcome",))
        self.durations = r.histogram(
            "nosana_node_job_duration_seconds",
            "Jobs from claimed to ended, by outcome.",
            JOB_BUCKETS,
            ("outcome",),
        )
        self.pickup = r.histogram(
            "nosana_node_pickup_latency_seconds",
            "From the run created on chain to the job's flow started.",
            LATENCY_BUCKETS,
        )
        self.queue_wait = r.histogram(
            "nosana_node_queue_wait_seconds",
            "Time in the market's queue until given a job or leaving it.",
            QUEUE_BUCKETS,
        )
        self.rpc_requests = r.counter(
            "nosana_node_rpc_requests_total", "JSON-RPC requests sent, by method.", ("method",)
        )
        self.rpc_errors = r.counter(
            "nosana_node_rpc_errors_total",
            "JSON-RPC requests that failed, by method and failure.",
            ("method", "kind"),
        )
        r.gauge("nosana_node_containers_running", "Job containers running now.", source=containers)
        if resources is not None:
            r.gauge(
                "nosana_node_resource_cache_bytes", "Bytes in the resource cache.", source=DirSize(resources)
            )
        r.gauge("nosana_node_log_followers", "Live log clients connected.", source=followers)
        self.dropped = r.counter(
            "nosana_node_log_followers_dropped_total", "Live log clients dropped (too slow)."
        )

    def _phases(self) -> dict[tuple[str, ...], float]:
        return {(p,): float(p == self.phase) for p in PHASES}

    def render(self) -> str:
        return self.registry.render()

    # -- history --------------------------------------------------------------------------------------
    def seed(self, history: Iterable[JobEntry]) -> int:
        """Count the runs on record (once, at start); how many were read."""
        n = 0
        for entry in history:
            n += 1
            ended = outcome(entry)
            if ended is not None:
                self.jobs.inc(ended)
                if entry.ended_at is not None:
                    self.durations.observe(max(0.0, entry.ended_at - entry.claimed_at), ended)
            if entry.started_at is not None and entry.run_time:
                self.pickup.observe(max(0.0, entry.started_at - entry.run_time))
                if ended is None:  # started before a restart: not observed again
                    self._picked.add(entry.run)
        return n

    # -- live -----------------------------------------------------------------------------------------
    def rpc(self, method: str, failure: BaseException | None) -> None:
        """An RPC request ended (the RPC client's observer)."""
        self.rpc_requests.inc(method)
        if failure is not None:
            self.rpc_errors.inc(method, type(failure).__name__)

    def event(self, event: NodeEventLike, lookup: Callable[[str], JobEntry | None]) -> None:
        """A lifecycle event of the node (``lookup``: the run of a job, for runs begun before)."""
        kind, data, at = event.kind, event.data, event.at
        with self._lock:
            if kind == "phase":
                self.phase = str(data.get("phase", self.phase))
            elif kind == "queued":
                self.queued = True
                self._queued_at = self._queued_at or at
            elif kind in ("left-queue", "claimed"):
                self._leave_queue(at)
            if kind == "claimed" and event.run:
                self._claimed[event.run] = (at, data.get("run_time"))
            elif kind == "started" and event.run and event.run not in self._picked:
                self._picked.add(event.run)
                claimed_at, run_time = self._claimed_of(event, lookup)
                if run_time:
                    self.pickup.observe(max(0.0, at - run_time))
            elif kind in ("finished", "stopped", "quit") and event.run:
                ended = str(data.get("status") or "failed") if kind == "finished" else kind
                claimed_at, _ = self._claimed_of(event, lookup)
                self.jobs.inc(ended)
                if claimed_at is not None:
                    self.durations.observe(max(0.0, at - claimed_at), ended)
                self._claimed.pop(event.run, None)
                self._picked.discard(event.run)

    def _leave_queue(self, at: float) -> None:
        if self._queued_at is not None:
            self.queue_wait.observe(max(0.0, at - self._queued_at))
        self._queued_at = None
        self.queued = False

    def _claimed_of(
        self, event: NodeEventLike, lookup: Callable[[str], JobEntry | None]
    ) -> tuple[float | None, int | None]:
        known = self._claimed.get(event.run or "")
        if known is not None:
            return known
        entry = lookup(event.job) if event.job else None
        if entry is None or entry.run != event.run:
            return None, None
        self._claimed[entry.run] = (entry.claimed_at, entry.run_time)
        return entry.claimed_at, entry.run_time

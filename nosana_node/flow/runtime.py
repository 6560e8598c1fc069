"""The flow runtime: runs a flow's ops, several at once where the flow allows, saving state after
every change.

Rules:
- order: groups run one after the other in order of first appearance (an op without a group is
  a group of its own); the ops of a group start together, each once its ``depends_on`` are done
  or ready (an op type may say, through ``ctx.ready()``, that its op is ready while it runs: a
  service that answers). A flow whose ops each depend on the one before (a pipeline) runs one
  op at a time, in order;
- an op that ``serves`` others is stopped once they have all ended (its own cancel token, reason
  ``completed``), and that is a success;
- an op already finished (succeeded, failed, skipped, stopped, expired) is never run again, so
  running a flow that was interrupted or whose runner crashed continues where it stopped; an op
  found ``running`` (its runner died) or ``interrupted`` runs again as a new attempt;
- an op's references are resolved just before it runs; a failure to resolve (a missing secret)
  fails that op before it does anything;
- a failed op fails the flow unless it allows failure; after a failure no op starts (those
  already running finish) and the rest are skipped, as are ops whose dependencies did not succeed;
- a fault of the node (a failure whose reason is resumable: the engine did not answer, the
  disk refused a write) is not the job's failure: the op is left ``interrupted`` with that
  reason, and the run is cancelled as ``interrupted`` with its message (resumable);
- cancellation (``env.cancel``: stopped, expired, interrupted) stops every running op at once
  (each op type honours the token) and starts no other. The ops it stopped and the flow take the
  reason as their status. ``stopped`` and ``expired`` are final: the ops that had not run are
  skipped with that reason. ``interrupted`` is not: they stay pending and the flow can be resumed.
  An op that succeeded before it noticed the cancellation keeps its success;
- what an op leaves (results, error, log) is masked when it is recorded, with the run's secrets;
- the runtime installs no signal handler and may run in any thread; each op runs in a worker
  thread of its own. Reporter calls are serialised, and node messages masked.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from nosana_node.errors import NosanaError
from nosana_node.flow.cancel import Cancelled, CancelReason, CancelToken
from nosana_node.flow.context import OpContext, RunEnv
from nosana_node.flow.events import Reporter
from nosana_node.flow.logs import LogSink
from nosana_node.flow.model import Flow, FlowStatus, Op, OpStatus
from nosana_node.flow.refs import Resolver
from nosana_node.flow.registry import OpOutcome, OpRegistry
from nosana_node.flow.results import OpResults, Reason
from nosana_node.secrets.masking import MaskScope

#: how long a run waits for its running ops after the thread running it was interrupted
ABANDON_AFTER = 10.0


class _GuardedReporter:
    """Serialises a reporter's calls (ops report from several threads) and masks messages."""

    def __init__(self, reporter: Reporter, masker: MaskScope) -> None:
        self._reporter = reporter
        self._masker = masker
        self._lock = threading.Lock()

    def flow_started(self, flow: Flow, resumed: bool) -> None:
        with self._lock:
            self._reporter.flow_started(flow, resumed)

    def op_started(self, flow: Flow, op: Op) -> None:
        with self._lock:
            self._reporter.op_started(flow, op)

    def op_output(self, op: Op, stream: str, text: str) -> None:
        with self._lock:
            self._reporter.op_output(op, stream, text)

    def op_finished(self, flow: Flow, op: Op) -> None:
        with self._lock:
            self._reporter.op_finished(flow, op)

    def flow_finished(self, flow: Flow) -> None:
        with self._lock:
            self._reporter.flow_finished(flow)

    def message(self, text: str) -> None:
        with self._lock:
            self._reporter.message(self._masker.mask(text))


def groups(flow: Flow) -> Iterator[list[Op]]:
    """The flow's ops by group, groups in order of first appearance."""
    by_group: dict[str, list[Op]] = {}
    for op in flow.ops:
        by_group.setdefault(op.group if op.group is not None else f"\0{op.id}", []).append(op)
    yield from by_group.values()


def failure_reason(exc: NosanaError) -> Reason:
    """The failure kind an expected error stands for (``reason`` on the error class)."""
    try:
        return Reason(getattr(exc, "reason", Reason.ERROR))
    except ValueError:
        return Reason.ERROR


def resumable(reason: Reason | None) -> bool:
    """True for a failure that is the node's, not the job's (see ``Reason.resumable``)."""
    return reason is not None and reason.resumable


class Runtime:
    """Executes flows with one set of op types within one :class:`RunEnv`."""

    def __init__(self, env: RunEnv, ops: OpRegistry) -> None:
        self.env = env
        self.ops = ops
        self._reporter = _GuardedReporter(env.reporter, env.masker)
        env.reporter = self._reporter

    def preflight(self, flow: Flow) -> None:
        """Let every op that will run prepare (images …) before anything runs."""
        for op in flow.ops:
            if not flow.states[op.id].status.finished:
                self.env.cancel.check()
                self.ops.get(op.type).preflight(op, self.env)

    def run(self, flow: Flow) -> Flow:
        """Run (or continue) ``flow`` to its end, or until cancelled; returns it with its states."""
        env = self.env
        env.store.claim(flow.id, env.runner)
        resumed = flow.started_at is not None
        flow.status = FlowStatus.RUNNING
        flow.started_at = flow.started_at or time.time()
        flow.ended_at = None
        flow.error = None
        try:
            env.store.save_flow(flow)
            self._reporter.flow_started(flow, resumed)
            self._run_ops(flow)
        except BaseException:
            if not flow.status.finished:
                flow.status = FlowStatus.INTERRUPTED
                flow.error = env.cancel.describe() or "interrupted"
            raise
        finally:
            if flow.status.finished:
                flow.ended_at = time.time()
            try:  # every step runs, whatever fails before it; the first failure is raised
                env.store.save_flow(flow)
            finally:
                try:
                    env.services.close()
                finally:
                    try:
                        env.store.release(flow.id, env.runner)
                    finally:
                        self._reporter.flow_finished(flow)
                        env.masker.close()  # the run's secrets are forgotten with it
        return flow

    # -- scheduling --------------------------------------------------------------------------------

    def _run_ops(self, flow: Flow) -> None:
        self._failing = any(
            flow.states[op.id].status is OpStatus.FAILED and not op.allow_failure for op in flow.ops
        )
        done: queue.Queue[tuple[str, str]] = queue.Queue()
        running: dict[str, threading.Thread] = {}
        self._tokens: dict[str, CancelToken] = {}
        try:
            for group in groups(flow):
                self._run_group(flow, group, running, done)
        except BaseException:  # the thread running the flow was interrupted: stop the ops too
            self.env.cancel.cancel(CancelReason.INTERRUPTED, "the run was interrupted")
            deadline = time.monotonic() + ABANDON_AFTER
            for thread in running.values():
                thread.join(max(0.0, deadline - time.monotonic()))
            raise
        cancel = self.env.cancel.reason
        states = [flow.states[op.id] for op in flow.ops]
        if cancel is not None and any(s.reason == cancel.value or not s.status.finished for s in states):
            flow.status = FlowStatus(cancel.value)
            flow.error = self.env.cancel.describe()
        else:
            flow.status = FlowStatus.FAILED if self._failing else FlowStatus.SUCCEEDED

    def _run_group(
        self,
        flow: Flow,
        ops: list[Op],
        running: dict[str, threading.Thread],
        done: queue.Queue[tuple[str, str]],
    ) -> None:
        waiting = [op for op in ops if not flow.states[op.id].status.finished]
        while waiting or running:
            if not self.env.cancel.cancelled and not self._failing:
                for op in list(waiting):
                    if any(not self._ready(flow, dep) for dep in op.depends_on):
                        continue  # a dependency in this group is neither done nor ready yet
                    waiting.remove(op)
                    reason = self._blocked(flow, op)
                    if reason is not None:
                        self._skip(flow, op, Reason.DEPENDENCY, reason)
                        continue
                    thread = threading.Thread(
                        target=self._run_op_thread, args=(flow, op, done), name=f"op-{op.id}", daemon=True
                    )
                    running[op.id] = thread
                    thread.start()
            if not running:
                for op in waiting:
                    self._not_run(flow, op)
                return
            event, op_id = _next(done)
            if event == "ready":
                continue
            running.pop(op_id).join()
            op = flow.op(op_id)
            if flow.states[op_id].status is OpStatus.FAILED and not op.allow_failure:
                self._failing = True
            self._stop_servers(flow, running)

    @staticmethod
    def _ready(flow: Flow, op_id: str) -> bool:
        state = flow.states[op_id]
        return state.status.finished or (state.status is OpStatus.RUNNING and state.ready_at is not None)

    def _stop_servers(self, flow: Flow, running: dict[str, threading.Thread]) -> None:
        """Stop each running op whose served ops have all ended."""
        for op_id in list(running):
            op = flow.op(op_id)
            if op.serves and all(flow.states[s].status.finished for s in op.serves):
                token = self._tokens.get(op_id)
                if token is not None:
                    token.cancel(CancelReason.COMPLETED, f"the ops it serves ended: {', '.join(op.serves)}")

    def _not_run(self, flow: Flow, op: Op) -> None:
        """An op that will not start: skipped with why, or left pending when interrupted."""
        cancel = self.env.cancel.reason
        if cancel is CancelReason.INTERRUPTED:
            return
        if cancel is not None:
            self._skip(flow, op, Reason(cancel.value), f"not run: the flow was {cancel}")
        elif self._failing:
            self._skip(flow, op, Reason.EARLIER_FAILURE, "not run: an earlier op failed")
        else:
            pending = [d for d in op.depends_on if not flow.states[d].status.finished]
            self._skip(flow, op, Reason.DEPENDENCY, f"not run: dependency {pending[0]!r} never ran")

    def _skip(self, flow: Flow, op: Op, reason: Reason, text: str) -> None:
        state = flow.states[op.id]
        state.status = OpStatus.SKIPPED
        state.reason = reason
        state.error = text
        self.env.store.save_op(flow, state)
        self._reporter.op_finished(flow, op)

    @staticmethod
    def _blocked(flow: Flow, op: Op) -> str | None:
        for dep in op.depends_on:
            state = flow.states[dep]
            if state.status is OpStatus.SUCCEEDED or (
                state.status is OpStatus.RUNNING and state.ready_at is not None
            ):
                continue
            if state.status is OpStatus.FAILED and flow.op(dep).allow_failure:
                continue
            return f"not run: dependency {dep!r} did not succeed"
        return None

    # -- one op ----------------------------------------------------------------------------------------

    def _resolver(self, flow: Flow) -> Resolver:
        def results(op_id: str) -> dict[str, Any] | None:
            state = flow.states.get(op_id)
            return state.results.to_json() if state is not None else None

        context = {**self.env.context, **flow.context}
        return Resolver(results, set(flow.states), context, self.env.secrets, self.env.masker)

    def _run_op_thread(self, flow: Flow, op: Op, done: queue.Queue[tuple[str, str]]) -> None:
        token = self.env.cancel.child()
        self._tokens[op.id] = token
        if op.serves and all(flow.states[s].status.finished for s in op.serves):
            token.cancel(CancelReason.COMPLETED, "the ops it serves had already ended")
        try:
            self._run_op(flow, op, token, lambda: done.put(("ready", op.id)))
        finally:
            token.close()
            done.put(("done", op.id))

    def _mark_ready(self, flow: Flow, op: Op, wake: Callable[[], None]) -> None:
        state = flow.states[op.id]
        if state.ready_at is None and state.status is OpStatus.RUNNING:
            state.ready_at = time.time()
            self.env.store.save_op(flow, state)
            wake()

    def _run_op(self, flow: Flow, op: Op, token: CancelToken, wake: Callable[[], None]) -> None:
        env = self.env
        state = flow.states[op.id]
        state.status = OpStatus.RUNNING
        state.run_count += 1
        state.started_at = time.time()
        state.ready_at = state.ended_at = state.exit_code = state.error = state.reason = None
        state.results = OpResults()
        env.store.save_op(flow, state)
        self._reporter.op_started(flow, op)
        log = LogSink(
            env.store.log_path(flow, op.id, state.run_count),
            env.settings.log_cap,
            lambda stream, text: self._reporter.op_output(op, stream, text),
        )
        outcome: OpOutcome | None = None
        try:
            log.check()  # a log that cannot even be made: the op does not start
            env.cancel.check()
            op_type = self.ops.get(op.type)
            args = self._resolver(flow).resolve(op.args)
            ctx = OpContext(
                env,
                flow,
                op,
                state,
                args,
                log,
                env.store.artifacts(flow.id),
                op_cancel=token,
                on_ready=lambda: self._mark_ready(flow, op, wake),
            )
            outcome = op_type.run(ctx)
            log.check()  # what the op did is not recorded whole: a fault of the node
            if outcome.status is not OpStatus.SUCCEEDED:
                token.check()  # it failed because it was cancelled: say so
        except Cancelled as exc:
            if exc.reason is CancelReason.COMPLETED:  # no longer needed: it did its part
                log.note(f"stopped: {exc.detail}")
                outcome = OpOutcome.succeeded(None)
            else:
                outcome = self._cancelled(exc.reason, str(exc))
        except NosanaError as exc:
            outcome = OpOutcome.failed(failure_reason(exc), str(exc))
        except Exception as exc:  # a bug in an op type: record it, the flow fails cleanly
            outcome = OpOutcome.failed(
                Reason.INTERNAL, f"internal error in {op.type}: {type(exc).__name__}: {exc}"
            )
        except BaseException:
            outcome = self._cancelled(CancelReason.INTERRUPTED, "interrupted")
            raise
        finally:
            if outcome is not None and outcome.status is OpStatus.FAILED and resumable(outcome.reason):
                outcome.status = OpStatus.INTERRUPTED  # the node failed, not the job: stop the run, resumable
                env.cancel.cancel(CancelReason.INTERRUPTED, outcome.error)
            if outcome is not None:
                state.status = outcome.status
                state.exit_code = outcome.exit_code
                state.results = OpResults.from_json(env.masker.mask_obj(outcome.results.to_json()))  # type: ignore[arg-type]
                state.reason = outcome.reason
                state.error = env.masker.mask(outcome.error) if outcome.error else None
                if state.error:
                    log.note(f"error: {state.error}")
            state.ended_at = time.time()
            state.log = log.close()
            env.store.save_op(flow, state)
            self._reporter.op_finished(flow, op)

    @staticmethod
    def _cancelled(reason: CancelReason, text: str) -> OpOutcome:
        return OpOutcome(OpStatus(reason.value), error=text, reason=Reason(reason.value))


#: Longest the runtime's own thread blocks in one wait (seconds).
WAIT_SLICE = 0.25


def _next(done: queue.Queue[tuple[str, str]]) -> tuple[str, str]:
    """The next event of the ops, waited for in slices of :data:`WAIT_SLICE`.

    The kernel hands a signal to any thread of the process; Python runs its handler in the main
    thread only, and a main thread blocked on a lock is not woken by a signal another thread
    took (CPython gh-85300): it would run the handler only when an op ends. Waking up in slices
    lets SIGINT/SIGTERM stop a run at once whichever thread received them.
    """
    while True:
        try:
            return done.get(timeout=WAIT_SLICE)
        except queue.Empty:
            continue

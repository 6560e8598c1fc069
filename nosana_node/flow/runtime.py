"""The flow runtime: runs a flow's ops in order, saving state after every change.

Rules:
- an op already finished (succeeded, failed, skipped) is never run again, so running a flow
  that was interrupted or whose runner crashed continues where it stopped; an op found
  ``running`` (its runner died) or ``interrupted`` runs again as a new attempt;
- an op's references are resolved just before it runs; a failure to resolve (a missing secret)
  fails that op before it does anything;
- a failed op fails the flow unless it allows failure; after a failure, later ops are skipped,
  as are ops whose dependencies did not succeed;
- SIGINT / SIGTERM interrupt the current op (its cleanup runs), mark it and the flow
  ``interrupted`` and propagate.
"""

from __future__ import annotations

import time
from typing import Any

from nosana_node.errors import NosanaError
from nosana_node.flow import registry
from nosana_node.flow.context import OpContext, RunEnv
from nosana_node.flow.logs import LogSink
from nosana_node.flow.model import Flow, FlowStatus, Op, OpStatus
from nosana_node.flow.refs import Resolver
from nosana_node.flow.registry import OpOutcome
from nosana_node.flow.signals import INTERRUPTS, terminate_as_interrupt
from nosana_node.secrets.masking import process_masker


class Runtime:
    """Executes flows within one :class:`RunEnv`."""

    def __init__(self, env: RunEnv) -> None:
        self.env = env

    def preflight(self, flow: Flow) -> None:
        """Let every op that will run prepare (images …) before anything runs."""
        for op in flow.ops:
            if not flow.states[op.id].status.finished:
                registry.get(op.type).preflight(op, self.env)

    def run(self, flow: Flow) -> Flow:
        """Run (or continue) ``flow`` to its end; returns it with its final states."""
        env = self.env
        env.store.claim(flow.id, env.runner)
        resumed = flow.started_at is not None
        with terminate_as_interrupt():
            flow.status = FlowStatus.RUNNING
            flow.started_at = flow.started_at or time.time()
            flow.ended_at = None
            try:
                env.store.save_flow(flow)
                env.reporter.flow_started(flow, resumed)
                self._run_ops(flow)
            except INTERRUPTS:
                flow.status = FlowStatus.INTERRUPTED
                raise
            finally:
                if flow.status.finished:
                    flow.ended_at = time.time()
                env.store.save_flow(flow)
                try:
                    env.services.close()
                finally:
                    env.store.release(flow.id, env.runner)
                    env.reporter.flow_finished(flow)
        return flow

    def _run_ops(self, flow: Flow) -> None:
        failing = any(
            flow.states[op.id].status is OpStatus.FAILED and not op.allow_failure for op in flow.ops
        )
        for op in flow.ops:
            state = flow.states[op.id]
            if state.status.finished:
                continue
            reason = self._blocked(flow, op, failing)
            if reason:
                state.status = OpStatus.SKIPPED
                state.error = reason
                self.env.store.save_op(flow, state)
                self.env.reporter.op_finished(flow, op)
                continue
            self._run_op(flow, op)
            if state.status is OpStatus.FAILED and not op.allow_failure:
                failing = True
        flow.status = FlowStatus.FAILED if failing else FlowStatus.SUCCEEDED

    @staticmethod
    def _blocked(flow: Flow, op: Op, failing: bool) -> str | None:
        if failing:
            return "not run: an earlier op failed"
        for dep in op.depends_on:
            state = flow.states[dep]
            if state.status is OpStatus.SUCCEEDED:
                continue
            if state.status is OpStatus.FAILED and flow.op(dep).allow_failure:
                continue
            return f"not run: dependency {dep!r} did not succeed"
        return None

    def _resolver(self, flow: Flow) -> Resolver:
        def results(op_id: str) -> dict[str, Any] | None:
            state = flow.states.get(op_id)
            return state.results if state is not None else None

        context = {**self.env.context, **flow.context}
        return Resolver(results, set(flow.states), context, self.env.secrets)

    def _run_op(self, flow: Flow, op: Op) -> None:
        env = self.env
        state = flow.states[op.id]
        state.status = OpStatus.RUNNING
        state.run_count += 1
        state.started_at = time.time()
        state.ended_at = state.exit_code = state.error = None
        state.results = {}
        env.store.save_op(flow, state)
        env.reporter.op_started(flow, op)
        log = LogSink(
            env.store.log_path(flow, op.id, state.run_count),
            env.settings.log_cap,
            lambda stream, text: env.reporter.op_output(op, stream, text),
        )
        outcome: OpOutcome | None = None
        try:
            op_type = registry.get(op.type)
            args = self._resolver(flow).resolve(op.args)
            ctx = OpContext(env, flow, op, state, args, log, env.store.artifacts(flow.id))
            outcome = op_type.run(ctx)
        except NosanaError as exc:
            outcome = OpOutcome.failed(str(exc))
        except INTERRUPTS:
            state.status = OpStatus.INTERRUPTED
            state.error = "interrupted"
            log.note("interrupted")
            raise
        except Exception as exc:  # a bug in an op type: record it, the flow fails cleanly
            outcome = OpOutcome.failed(f"internal error in {op.type}: {type(exc).__name__}: {exc}")
        finally:
            if outcome is not None:
                state.status = outcome.status
                state.exit_code = outcome.exit_code
                state.results = outcome.results
                state.error = process_masker().mask(outcome.error) if outcome.error else None
                if state.error:
                    log.note(f"error: {state.error}")
            state.ended_at = time.time()
            state.log = log.close()
            env.store.save_op(flow, state)
            env.reporter.op_finished(flow, op)

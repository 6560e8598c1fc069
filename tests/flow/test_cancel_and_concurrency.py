"""The seams the node loop builds on, without Docker: cancel tokens and deadlines on a manual
clock, cancellation from other threads and from signals, concurrent groups, flows with a given
id, and the mask scope of a run.

The op type ``test/gate`` waits on real synchronisation objects (barriers, events, the run's
cancel token), never on time: a test that needs two ops to overlap fails (a broken barrier)
when they do not.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Any

import pytest

from nosana_node.clock import ManualClock
from nosana_node.flow.cancel import Cancelled, CancelReason, CancelToken
from nosana_node.flow.context import OpContext
from nosana_node.flow.model import Flow, FlowStatus, Op
from nosana_node.flow.registry import OpOutcome, OpRegistry, OpType
from nosana_node.flow.results import OpResults, Reason
from nosana_node.flow.runner import FlowRunner
from nosana_node.flow.signals import SignalCancel
from nosana_node.secrets.masking import process_masker
from nosana_node.secrets.refs import SecretRef
from nosana_node.settings import RunnerSettings
from tests.flow.test_refs_logs_settings import StaticSecrets

WAIT = 10.0  # seconds any synchronisation in these tests may take before it counts as a failure


class Journal:
    """What the gate ops did, in order, shared between threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list[tuple[str, str]] = []
        self.started: dict[str, threading.Event] = {}
        self.barriers: dict[str, threading.Barrier] = {}

    def note(self, what: str, op_id: str) -> None:
        with self.lock:
            self.events.append((what, op_id))

    def started_event(self, op_id: str) -> threading.Event:
        with self.lock:
            return self.started.setdefault(op_id, threading.Event())


JOURNAL = Journal()


class Gate(OpType):
    """Notes its start, then meets others at a barrier or holds until its run is cancelled; fails
    when asked; prints and returns its ``print`` argument (a secret, in one test)."""

    name = "test/gate"

    def run(self, ctx: OpContext) -> OpOutcome:
        op_id, args = ctx.op.id, ctx.args
        JOURNAL.note("start", op_id)
        JOURNAL.started_event(op_id).set()
        if args.get("print"):
            ctx.log.write("stdout", f"value={args['print']}\n".encode())
        if "barrier" in args:
            JOURNAL.barriers[args["barrier"]].wait(WAIT)  # BrokenBarrierError: the others never came
        if args.get("hold"):
            ctx.cancel.wait(WAIT)
            ctx.cancel.check()
            raise AssertionError("never cancelled")
        JOURNAL.note("end", op_id)
        if args.get("fail"):
            return OpOutcome.failed(Reason.EXIT_CODE, "asked to fail", 1)
        return OpOutcome.succeeded(0, OpResults(values={"seen": args.get("print")}))


OPS = OpRegistry([Gate()])


@pytest.fixture(autouse=True)
def _fresh_journal() -> None:
    global JOURNAL
    JOURNAL = Journal()


def gate(op_id: str, group: str | None = None, depends_on: list[str] | None = None, **args: Any) -> Op:
    return Op(id=op_id, type="test/gate", args=args, depends_on=depends_on or [], group=group)


def runner(tmp_path: Path, clock: ManualClock | None = None, secrets: Any = None) -> FlowRunner:
    return FlowRunner(
        RunnerSettings(home=tmp_path / "home"),
        OPS,
        secrets=secrets,
        **({"clock": clock} if clock is not None else {}),
    )


def in_thread(target: Any, *args: Any, **kwargs: Any) -> tuple[threading.Thread, dict[str, Any]]:
    """Run ``target`` in a thread; its return value or exception lands in the dict."""
    out: dict[str, Any] = {}

    def work() -> None:
        try:
            out["value"] = target(*args, **kwargs)
        except BaseException as exc:
            out["error"] = exc

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread, out


def finished(thread: threading.Thread, out: dict[str, Any]) -> Any:
    thread.join(WAIT)
    assert not thread.is_alive(), "the run did not end"
    if "error" in out:
        raise out["error"]
    return out["value"]


def statuses(flow: Flow) -> dict[str, str]:
    return {op.id: str(flow.states[op.id].status) for op in flow.ops}


# -- the token ----------------------------------------------------------------------------------


def test_token_first_reason_wins_and_callbacks_run_once() -> None:
    token = CancelToken()
    seen: list[CancelReason] = []
    forget = token.on_cancel(seen.append)
    token.on_cancel(seen.append)()  # registered and forgotten at once: never called
    assert not token.cancelled and token.describe() == ""
    assert token.cancel(CancelReason.STOPPED, "stopped on chain") is True
    assert token.cancel(CancelReason.INTERRUPTED) is False  # too late: the first reason stays
    assert token.reason is CancelReason.STOPPED and token.describe() == "stopped: stopped on chain"
    assert seen == [CancelReason.STOPPED]
    forget()
    late: list[CancelReason] = []
    token.on_cancel(late.append)  # registered after the fact: called at once
    assert late == [CancelReason.STOPPED] and token.wait(0)
    with pytest.raises(Cancelled) as raised:
        token.check()
    assert raised.value.reason is CancelReason.STOPPED and CancelReason.STOPPED.final
    assert not CancelReason.INTERRUPTED.final


def test_deadline_expires_on_the_clock_moves_when_extended_and_is_released() -> None:
    clock = ManualClock(start=1000.0)
    token = CancelToken(deadline=1060.0, clock=clock)
    assert token.remaining() == 60.0 and clock.pending == 1
    clock.advance(59.9)
    assert not token.cancelled
    token.set_deadline(1120.0)  # the job was extended on chain
    assert clock.pending == 1
    clock.advance(30)  # past the first deadline, not the second
    assert not token.cancelled
    clock.advance(30.1)
    assert token.reason is CancelReason.EXPIRED
    assert token.detail == "deadline 1970-01-01T00:18:40Z passed"
    assert clock.pending == 0
    late = CancelToken(deadline=900.0, clock=clock)  # already past: expired at once
    assert late.reason is CancelReason.EXPIRED
    with CancelToken(deadline=5000.0, clock=clock) as kept:
        assert clock.pending == 1
    assert clock.pending == 0 and not kept.cancelled  # closing releases the alarm


def test_system_clock_deadline_expires_by_itself() -> None:
    import time

    token = CancelToken(deadline=time.time() + 0.2)
    assert token.wait(WAIT) and token.reason is CancelReason.EXPIRED


# -- cancelling a run ---------------------------------------------------------------------------


@pytest.mark.parametrize("reason", [CancelReason.STOPPED, CancelReason.EXPIRED])
def test_final_cancellation_from_another_thread_ends_the_flow(tmp_path: Path, reason: CancelReason) -> None:
    flow = Flow(id="final", name="t", ops=[gate("a"), gate("b", depends_on=["a"], hold=True), gate("c")])
    run = runner(tmp_path)
    token = run.cancel_token()
    thread, out = in_thread(run.run, flow, cancel=token)
    assert JOURNAL.started_event("b").wait(WAIT)
    token.cancel(reason, "by the test")
    result = finished(thread, out)
    assert result.status is FlowStatus(reason.value) and result.error == f"{reason}: by the test"
    assert statuses(result) == {"a": "succeeded", "b": str(reason), "c": "skipped"}
    assert result.states["b"].reason is Reason(reason.value)
    assert result.states["c"].reason is Reason(reason.value)
    assert result.states["c"].error == f"not run: the flow was {reason}"
    stored = run.get("final")
    assert stored is not None and stored.status.finished and stored.error == result.error
    assert run.run(stored) is stored  # a finished flow is not run again


def test_interruption_leaves_the_flow_resumable(tmp_path: Path) -> None:
    flow = Flow(id="resumable", name="t", ops=[gate("a"), gate("b", depends_on=["a"], hold=True), gate("c")])
    run = runner(tmp_path)
    token = run.cancel_token()
    thread, out = in_thread(run.run, flow, cancel=token)
    assert JOURNAL.started_event("b").wait(WAIT)
    token.cancel(CancelReason.INTERRUPTED, "node shutting down")
    result = finished(thread, out)
    assert result.status is FlowStatus.INTERRUPTED and not result.status.finished
    assert statuses(result) == {"a": "succeeded", "b": "interrupted", "c": "pending"}
    again = run.load("resumable")
    again.ops[1].args = {}  # (here the op stops holding; a real plan never changes)
    resumed = run.run(again)
    assert resumed.status is FlowStatus.SUCCEEDED and resumed.states["b"].run_count == 2
    assert resumed.states["a"].run_count == 1


def test_deadline_on_an_injected_clock_expires_a_running_flow(tmp_path: Path) -> None:
    clock = ManualClock(start=2000.0)
    flow = Flow(id="deadline", name="t", ops=[gate("a", hold=True), gate("b")])
    run = runner(tmp_path, clock)
    token = run.cancel_token(deadline=2600.0)
    thread, out = in_thread(run.run, flow, cancel=token)
    assert JOURNAL.started_event("a").wait(WAIT)
    clock.advance(599)
    assert not token.cancelled
    clock.advance(1)
    result = finished(thread, out)
    assert result.status is FlowStatus.EXPIRED and statuses(result) == {"a": "expired", "b": "skipped"}
    assert result.states["a"].error == "expired: deadline 1970-01-01T00:43:20Z passed"


def test_a_flow_cancelled_before_it_starts_runs_nothing(tmp_path: Path) -> None:
    run = runner(tmp_path)
    token = run.cancel_token()
    token.cancel(CancelReason.STOPPED)
    with pytest.raises(Cancelled):
        run.run(Flow(id="early", name="t", ops=[gate("a")]), cancel=token)
    assert JOURNAL.events == [] and run.get("early") is None  # nothing ran, nothing stored


def test_signals_are_one_source_of_cancellation(tmp_path: Path) -> None:
    flow = Flow(id="signalled", name="t", ops=[gate("a", hold=True), gate("b")])
    run = runner(tmp_path)
    token = run.cancel_token()
    with SignalCancel(token) as signals:
        thread, out = in_thread(run.run, flow, cancel=token)  # the runtime runs in another thread
        assert JOURNAL.started_event("a").wait(WAIT)
        os.kill(os.getpid(), signal.SIGTERM)  # handled in this (main) thread: cancels the token
        result = finished(thread, out)
    assert signals.received == signal.SIGTERM and signals.exit_code == 143
    assert result.status is FlowStatus.INTERRUPTED and result.error == "interrupted: signal SIGTERM"
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handlers are put back


def test_signal_handlers_are_left_alone_outside_the_main_thread() -> None:
    token = CancelToken()
    before = signal.getsignal(signal.SIGINT)

    def enter() -> object:
        with SignalCancel(token):
            return signal.getsignal(signal.SIGINT)

    thread, out = in_thread(enter)
    assert finished(thread, out) is before


# -- concurrency ------------------------------------------------------------------------------


def test_ops_of_a_group_run_at_the_same_time_and_groups_in_order(tmp_path: Path) -> None:
    JOURNAL.barriers["meet"] = threading.Barrier(3)
    ops = [
        gate("first"),
        gate("x", group="g", barrier="meet"),  # x, y, z can only pass the barrier together
        gate("y", group="g", barrier="meet"),
        gate("z", group="g", barrier="meet"),
        gate("after", group="h"),
    ]
    result = runner(tmp_path).run(Flow(id="groups", name="t", ops=ops))
    assert result.status is FlowStatus.SUCCEEDED, {k: s.error for k, s in result.states.items()}
    events = JOURNAL.events
    assert events[:2] == [("start", "first"), ("end", "first")]  # its own group, before g
    middle = events[2:8]
    assert {e for e in middle if e[0] == "start"} == {("start", "x"), ("start", "y"), ("start", "z")}
    assert events[8:] == [("start", "after"), ("end", "after")]  # after the whole group g


def test_dependencies_inside_a_group_are_waited_for(tmp_path: Path) -> None:
    JOURNAL.barriers["ab"] = threading.Barrier(2)
    ops = [
        gate("a", group="g", barrier="ab"),  # a and c meet; b waits for a
        gate("b", group="g", depends_on=["a"]),
        gate("c", group="g", barrier="ab"),
    ]
    result = runner(tmp_path).run(Flow(id="deps", name="t", ops=ops))
    assert result.status is FlowStatus.SUCCEEDED
    events = JOURNAL.events
    assert events.index(("end", "a")) < events.index(("start", "b"))


def test_a_failure_in_a_group_lets_running_siblings_finish_and_skips_the_rest(tmp_path: Path) -> None:
    JOURNAL.barriers["pair"] = threading.Barrier(2)
    ops = [
        gate("bad", group="g", barrier="pair", fail=True),
        gate("good", group="g", barrier="pair"),
        gate("later", group="h"),
    ]
    result = runner(tmp_path).run(Flow(id="fails", name="t", ops=ops))
    assert result.status is FlowStatus.FAILED
    assert statuses(result) == {"bad": "failed", "good": "succeeded", "later": "skipped"}
    assert result.states["later"].reason is Reason.EARLIER_FAILURE


def test_cancel_stops_every_running_op_of_a_group(tmp_path: Path) -> None:
    ops = [gate(name, group="g", hold=True) for name in ("p", "q", "r")]
    run = runner(tmp_path)
    token = run.cancel_token()
    thread, out = in_thread(run.run, Flow(id="many", name="t", ops=ops), cancel=token)
    for name in ("p", "q", "r"):
        assert JOURNAL.started_event(name).wait(WAIT)
    token.cancel(CancelReason.STOPPED)
    result = finished(thread, out)
    assert set(statuses(result).values()) == {"stopped"} and result.status is FlowStatus.STOPPED


def test_flow_checks_refuse_unsound_plans_before_anything_runs(tmp_path: Path) -> None:
    from nosana_node.errors import UserInputError

    ops = [gate("a", depends_on=["b"]), gate("b"), gate("a"), Op(id="d", type="nope/op", args={})]
    with pytest.raises(UserInputError) as raised:
        runner(tmp_path).run(Flow(id="unsound", name="t", ops=ops))
    text = str(raised.value)
    assert "op 'a': depends on 'b', whose group runs later" in text
    assert "op 'a': the id is used twice" in text and "unknown op type 'nope/op'" in text
    assert JOURNAL.events == []


# -- flows by id, masking scopes ------------------------------------------------------------------


def test_a_flow_with_a_given_id_is_found_by_it_and_continued_when_compiled_again(tmp_path: Path) -> None:
    job = "7Vn3nb1TKpGsnKzBf5pDVnbmbSEJbnnyMmmUnuzvV7tk"  # a job account's address
    run = runner(tmp_path)
    token = run.cancel_token()
    thread, out = in_thread(run.run, Flow(id=job, name="job", ops=[gate("a", hold=True)]), cancel=token)
    assert JOURNAL.started_event("a").wait(WAIT)
    token.cancel(CancelReason.INTERRUPTED)
    finished(thread, out)
    again = Flow(id=job, name="job", ops=[gate("a", hold=True)])  # the node restarted, compiled it again
    assert run.get(job) is not None and run.get(job).states["a"].run_count == 1
    token2 = run.cancel_token()
    JOURNAL.started_event("a").clear()
    thread, out = in_thread(run.run, again, cancel=token2)
    assert JOURNAL.started_event("a").wait(WAIT)
    token2.cancel(CancelReason.STOPPED)
    result = finished(thread, out)
    assert result.states["a"].run_count == 2  # the stored flow continued, not a new one
    assert (tmp_path / "home" / "flows" / job / "logs").is_dir()
    with pytest.raises(Exception, match="already stored with other ops"):
        run.run(Flow(id=job, name="job", ops=[gate("other")]))
    with pytest.raises(Exception, match="invalid flow id"):
        Flow(id="../escape", name="x", ops=[])


def test_a_runs_secrets_are_masked_while_it_runs_and_forgotten_after(tmp_path: Path) -> None:
    secret = "only-during-this-flow-" + os.urandom(4).hex()
    scopes, forms = process_masker().open_scopes, len(process_masker())
    flow = Flow(id="masked", name="t", ops=[gate("a", print=SecretRef("api", "token").to_json())])
    result = runner(tmp_path, secrets=StaticSecrets({"api#token": secret})).run(flow)
    assert result.status is FlowStatus.SUCCEEDED
    log = Path(result.states["a"].log["path"]).read_text()
    assert "value=[MASKED]" in log and secret not in log
    assert result.states["a"].results.values["seen"] == "[MASKED]"  # masked when recorded
    stored = (tmp_path / "home" / "state.db").read_bytes()
    assert secret.encode() not in stored
    assert process_masker().mask(secret) == secret  # forgotten with the flow
    assert (process_masker().open_scopes, len(process_masker())) == (scopes, forms)  # nothing grows

"""The runtime, driven by op types this test registers itself (the registry's extension point).

No Docker here: ``test/record`` is a real op type that records its resolved arguments, so the
rules of the runtime (order, failure, allow_failure, dependencies, references, resume,
interruption, masking) are checked on their own.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nosana_node.flow.cancel import CancelReason
from nosana_node.flow.context import OpContext, RunEnv
from nosana_node.flow.model import Flow, FlowStatus, Op, OpStatus
from nosana_node.flow.refs import context_ref, result_ref
from nosana_node.flow.registry import OpOutcome, OpRegistry, OpType
from nosana_node.flow.results import OpResults, Reason
from nosana_node.flow.runtime import Runtime
from nosana_node.flow.store import FlowStore
from nosana_node.secrets.refs import SecretRef
from nosana_node.settings import RunnerSettings
from tests.flow.test_refs_logs_settings import StaticSecrets

RUNS: list[str] = []


class Record(OpType):
    """Succeeds with its resolved args as results, or fails / interrupts / crashes when asked."""

    name = "test/record"

    def run(self, ctx: OpContext) -> OpOutcome:
        RUNS.append(ctx.op.id)
        ctx.log.write("stdout", f"args {json.dumps(ctx.args, sort_keys=True)}\n".encode())
        if ctx.args.get("fail"):
            return OpOutcome.failed(
                Reason.EXIT_CODE, f"asked to fail: {ctx.args.get('say', '')}", exit_code=3
            )
        if ctx.args.get("interrupt"):
            ctx.env.cancel.cancel(CancelReason.INTERRUPTED, "asked to")  # the run, not only this op
            ctx.cancel.check()
        if ctx.args.get("crash"):
            raise RuntimeError("a bug")
        return OpOutcome.succeeded(0, OpResults(values={"args": ctx.args, "id": ctx.op.id}))


OPS = OpRegistry([Record()])


@pytest.fixture(autouse=True)
def _clear_runs() -> None:
    RUNS.clear()


def op(op_id: str, depends_on: list[str] | None = None, allow_failure: bool = False, **args: Any) -> Op:
    return Op(
        id=op_id, type="test/record", args=args, depends_on=depends_on or [], allow_failure=allow_failure
    )


def run(tmp_path: Path, flow: Flow, secrets: Any = None, create: bool = True) -> tuple[Flow, FlowStore]:
    store = FlowStore(tmp_path / "home")
    if create:
        store.create(flow)
    env = RunEnv(settings=RunnerSettings(home=tmp_path / "home"), store=store, context={"NODE": "n1"})
    if secrets is not None:
        env.secrets = secrets
    Runtime(env, OPS).run(flow)
    return flow, store


def statuses(flow: Flow) -> list[str]:
    return [str(flow.states[o.id].status) for o in flow.ops]


def test_ops_run_in_order_and_state_is_saved(tmp_path: Path) -> None:
    flow, store = run(tmp_path, Flow(id="f1", name="t", ops=[op("a"), op("b", ["a"]), op("c", ["b"])]))
    assert RUNS == ["a", "b", "c"]
    assert flow.status is FlowStatus.SUCCEEDED and statuses(flow) == ["succeeded"] * 3
    saved = store.load("f1")
    assert saved.to_json() == flow.to_json()
    assert all(s.started_at and s.ended_at and s.run_count == 1 for s in saved.states.values())
    assert store.runner_of("f1") is None  # released


def test_a_failure_skips_the_rest(tmp_path: Path) -> None:
    flow, _ = run(tmp_path, Flow(id="f2", name="t", ops=[op("a", fail=True, say="x"), op("b"), op("c")]))
    assert RUNS == ["a"]
    assert flow.status is FlowStatus.FAILED
    assert statuses(flow) == ["failed", "skipped", "skipped"]
    assert flow.states["a"].error == "asked to fail: x" and flow.states["a"].exit_code == 3
    assert flow.states["b"].error == "not run: an earlier op failed"


def test_allowed_failure_lets_the_flow_go_on(tmp_path: Path) -> None:
    flow, _ = run(
        tmp_path, Flow(id="f3", name="t", ops=[op("a", allow_failure=True, fail=True), op("b", ["a"])])
    )
    assert RUNS == ["a", "b"]
    assert flow.status is FlowStatus.SUCCEEDED and statuses(flow) == ["failed", "succeeded"]


def test_dependency_that_did_not_succeed_skips(tmp_path: Path) -> None:
    ops = [
        op("a", allow_failure=True, fail=True),
        op("b", ["a"], allow_failure=True, fail=True),
        op("c", ["b"]),
    ]
    result, _ = run(tmp_path, Flow(id="f4", name="t", ops=[*ops, op("d", ["c"])]))
    assert statuses(result) == ["failed", "failed", "succeeded", "succeeded"]
    flow2 = Flow(id="f5", name="t", ops=[op("a"), op("b", ["a"]), op("c", ["b"])])
    flow2.states["b"].status = OpStatus.SKIPPED  # e.g. skipped in an earlier run
    result2, _ = run(tmp_path / "two", flow2)
    assert statuses(result2) == ["succeeded", "skipped", "skipped"]
    assert result2.states["c"].error == "not run: dependency 'b' did not succeed"


def test_references_resolve_at_op_start(tmp_path: Path) -> None:
    secrets = StaticSecrets({"db#pw": "correct-horse-battery"})
    flow = Flow(
        id="f6",
        name="t",
        ops=[
            op("a", token=SecretRef("db", "pw").to_json()),
            op(
                "b",
                ["a"],
                got=result_ref("a", "values", "id"),
                node=context_ref("NODE"),
                job=context_ref("JOB"),
            ),
        ],
        context={"JOB": "job-addr"},
    )
    result, store = run(tmp_path, flow, secrets)
    assert result.states["b"].results.values["args"] == {"got": "a", "node": "n1", "job": "job-addr"}
    assert flow.ops[0].args["token"] == {"$secret": "db#pw"}
    stored = (tmp_path / "home" / "state.db").read_bytes()
    assert b"correct-horse-battery" not in stored
    logs = "".join(p.read_text() for p in (tmp_path / "home").rglob("*.jsonl"))
    assert "correct-horse-battery" not in logs and "[MASKED]" in logs
    assert store.load("f6").states["a"].results.values["args"]["token"] == "[MASKED]"


def test_missing_secret_fails_the_op_before_it_runs(tmp_path: Path) -> None:
    flow, _ = run(tmp_path, Flow(id="f7", name="t", ops=[op("a", token={"$secret": "api/token"}), op("b")]))
    assert RUNS == []
    assert statuses(flow) == ["failed", "skipped"]
    assert flow.states["a"].error == "no vault configured for secret api/token"


def test_resume_never_reruns_finished_ops(tmp_path: Path) -> None:
    flow = Flow(id="f8", name="t", ops=[op("a"), op("b", ["a"]), op("c", ["b"])])
    store = FlowStore(tmp_path / "home")
    store.create(flow)
    # as a crashed runner leaves it: a finished, b running
    a, b = flow.states["a"], flow.states["b"]
    a.status, a.run_count, a.started_at, a.ended_at, a.results = (
        OpStatus.SUCCEEDED,
        1,
        100.0,
        101.0,
        OpResults(values={"id": "a"}),
    )
    b.status, b.run_count, b.started_at = OpStatus.RUNNING, 1, 102.0
    flow.status, flow.started_at = FlowStatus.RUNNING, 99.0
    store.save_op(flow, a)
    store.save_op(flow, b)
    store.close()
    reloaded = FlowStore(tmp_path / "home").load("f8")
    result, _ = run(tmp_path, reloaded, create=False)
    assert RUNS == ["b", "c"]
    assert result.states["a"].run_count == 1 and result.states["a"].started_at == 100.0
    assert result.states["b"].run_count == 2
    assert result.status is FlowStatus.SUCCEEDED and result.started_at == 99.0


def test_interruption_is_recorded_then_resumed(tmp_path: Path) -> None:
    flow = Flow(id="f9", name="t", ops=[op("a"), op("b", ["a"], interrupt=True), op("c", ["b"])])
    run(tmp_path, flow)
    store = FlowStore(tmp_path / "home")
    saved = store.load("f9")
    assert saved.status is FlowStatus.INTERRUPTED and statuses(saved) == [
        "succeeded",
        "interrupted",
        "pending",
    ]
    assert (
        saved.states["b"].error == "interrupted: asked to" and saved.states["b"].reason is Reason.INTERRUPTED
    )
    assert saved.error == "interrupted: asked to"
    assert store.runner_of("f9") is None
    saved.ops[1].args = {}  # (the plan is immutable in real use; here the op stops interrupting)
    result, _ = run(tmp_path, saved, create=False)
    assert RUNS == ["a", "b", "b", "c"] and result.status is FlowStatus.SUCCEEDED


def test_a_bug_in_an_op_type_fails_that_op_cleanly(tmp_path: Path) -> None:
    flow, _ = run(tmp_path, Flow(id="fa", name="t", ops=[op("a", crash=True)]))
    assert flow.status is FlowStatus.FAILED
    assert flow.states["a"].error == "internal error in test/record: RuntimeError: a bug"


def test_registry_refuses_a_second_type_under_the_same_name() -> None:
    class Other(OpType):
        name = "test/record"

    registry = OpRegistry([Record()])
    with pytest.raises(ValueError, match="registered twice"):
        registry.register(Other())
    registry.register(Record())  # the same type again is fine
    assert registry.names() == ["test/record"]


def test_op_types_are_assembled_by_the_application_and_plugins_load_on_demand() -> None:
    from nosana_node import wiring

    loaded: list[str] = []

    def plugins() -> list[OpType]:
        loaded.append("plugins")
        return [Record()]

    registry = OpRegistry([], plugins=plugins)
    assert loaded == [] and registry.get("test/record").name == "test/record" and loaded == ["plugins"]
    # the application's own op types (no plugin is installed here)
    assert wiring.op_types().names() == [
        "checkout/git",
        "checkout/local",
        "container/create-volume",
        "container/run",
        "docker/run",
    ]

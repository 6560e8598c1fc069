"""The cap on what a checkout writes (``:node :max-repository-size``,
:mod:`nosana_node.checkout.watch`): real git cloning from a real HTTP server on loopback through
the ``checkout/git`` op; past the cap the op fails with one line and no partial checkout is left."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from nosana_node.checkout.git import GitCheckout
from nosana_node.checkout.watch import SizeWatch, tree_size
from nosana_node.config.schema import NodeSettings
from nosana_node.flow.context import RunEnv
from nosana_node.flow.model import Flow, FlowStatus, Op, OpStatus
from nosana_node.flow.registry import OpRegistry
from nosana_node.flow.results import Reason
from nosana_node.flow.runtime import Runtime
from nosana_node.flow.store import FlowStore
from nosana_node.settings import RunnerSettings
from nosana_node.units import GIB, MIB
from tests.node.gitkit import GitServer


def _checkout(home: Path, repo: str, commit: str, cap: int) -> Flow:
    """A flow of one ``checkout/git`` op (a local run's: loopback is fine), run to its end."""
    store = FlowStore(home)
    flow = Flow(
        id="f1", name="t", ops=[Op(id="checkout", type="checkout/git", args={"repo": repo, "commit": commit})]
    )
    store.create(flow)
    settings = RunnerSettings(home=home, checkout_cap=cap, job_timeout=120)
    Runtime(RunEnv(settings=settings, store=store, context={}), OpRegistry([GitCheckout()])).run(flow)
    return flow


def _left(home: Path) -> list[Path]:
    return list((home / "tmp").iterdir())


def test_a_repository_under_the_cap_is_checked_out(tmp_path: Path) -> None:
    with GitServer(tmp_path / "served", blob=256 * 1024) as served:
        flow = _checkout(tmp_path / "home", served.url, served.commit, MIB)
    assert flow.status is FlowStatus.SUCCEEDED, flow.states["checkout"].error
    assert "checkout" in flow.states["checkout"].results.artifacts
    assert _left(tmp_path / "home") == []


def test_a_repository_over_the_cap_fails_and_leaves_nothing(tmp_path: Path) -> None:
    with GitServer(tmp_path / "served", blob=2 * MIB) as served:
        flow = _checkout(tmp_path / "home", served.url, served.commit, MIB)
    state = flow.states["checkout"]
    assert flow.status is FlowStatus.FAILED and state.status is OpStatus.FAILED
    assert state.reason is Reason.RESOURCE and not state.results.artifacts
    assert state.error == (
        f"cannot check out {served.url}@{served.commit}: the repository is larger than the 1 MiB cap "
        "on a checkout (:node :max-repository-size): git was stopped, the partial checkout removed"
    )
    assert _left(tmp_path / "home") == []


def test_git_is_stopped_while_it_downloads(tmp_path: Path) -> None:
    # the server sends 2 MiB of a 3 MiB pack and then nothing: git would wait for the rest until
    # the time limit (120 s); the watcher stops it once the received part passes the cap
    with GitServer(tmp_path / "served", blob=3 * MIB, stall_after=2 * MIB) as served:
        flow = _checkout(tmp_path / "home", served.url, served.commit, MIB)
        assert any(path.endswith(".pack") for path in served.requests)
    assert flow.states["checkout"].error is not None
    assert "larger than the 1 MiB cap on a checkout" in flow.states["checkout"].error
    assert _left(tmp_path / "home") == []


def test_the_watcher_kills_a_writer_past_the_cap(tmp_path: Path) -> None:
    writes = (  # 64 KiB at a time (throttled, so the disk is not filled), until killed
        "import sys, time\nwith open(sys.argv[1], 'wb') as f:\n    while True:\n"
        "        f.write(b'x' * 65536); f.flush(); time.sleep(0.001)\n"
    )
    writer = [sys.executable, "-c", writes, str(tmp_path / "out")]
    cap = 4 * MIB
    with subprocess.Popen(writer, start_new_session=True) as proc, SizeWatch(proc, tmp_path, cap) as watch:
        code = proc.wait(timeout=60)
    assert watch.exceeded and code != 0
    assert tree_size(tmp_path) > 4 * MIB
    # below the cap nothing happens
    with subprocess.Popen([sys.executable, "-c", "pass"]) as quiet, SizeWatch(quiet, tmp_path, GIB) as idle:
        assert quiet.wait(timeout=60) == 0
    assert not idle.exceeded and not idle.check()


def test_the_cap_is_a_documented_setting_with_a_default() -> None:
    assert NodeSettings().max_repository_size == 2 * GIB == RunnerSettings(home=Path("/x")).checkout_cap

"""A job whose log fills the node's disk: the op ends with the reason, the flow stays consistent.

The node's home is a small tmpfs mounted for the test (as root), so the disk really fills.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from nosana_node.flow.model import FlowStatus, OpStatus
from nosana_node.flow.results import Reason
from nosana_node.flow.store import RESERVE_NAME, FlowStore
from tests.corekit import cli, leftover_containers, no_traceback, pipeline, run_pipeline

pytestmark = pytest.mark.docker


@pytest.fixture
def small_home(tmp_path: Path) -> Iterator[Path]:
    """A node home on a 3 MiB tmpfs; no container of its store may be left."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root")
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m,mode=0700", "tmpfs", str(mount)], check=True)
    home = mount / "home"
    try:
        yield home
        assert leftover_containers(home) == []
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_log_that_fills_the_disk_interrupts_the_op_and_the_flow_stays_consistent(small_home: Path) -> None:
    flow = run_pipeline(
        small_home,
        pipeline(
            "  - name: before\n    commands: ['echo before']\n",
            "  - name: flood\n    commands: ['yes 0123456789abcdefghijklmnopqrstuvwxyz | head -c 8000000']\n",
            "  - name: after\n    commands: ['echo after']\n",
        ),
        log_cap=64 * 1024 * 1024,  # the log may grow past the disk
    )
    # the state could be recorded on the full disk: the space kept for it was given up
    assert not (small_home / RESERVE_NAME).exists()
    log = small_home / "flows" / flow.id / "logs" / "001.1.jsonl"
    flood = flow.states["flood"]
    assert (flood.status, flood.reason) == (OpStatus.INTERRUPTED, Reason.STORAGE)
    assert flood.error == f"cannot write the log {log}: No space left on device"
    assert flow.status is FlowStatus.INTERRUPTED  # resumable once there is room
    assert flow.states["before"].status is OpStatus.SUCCEEDED
    assert flow.states["after"].status is OpStatus.PENDING
    store = FlowStore(small_home)  # what is on disk says the same, and no runner holds the flow
    try:
        stored = store.load(flow.id)
        assert stored.status is FlowStatus.INTERRUPTED and stored.error == f"interrupted: {flood.error}"
        assert [s.status for s in stored.states.values()] == [s.status for s in flow.states.values()]
        assert store.runner_of(flow.id) is None
    finally:
        store.close()
    shown = cli("flow", "show", flow.id, "--logs", home=small_home)
    assert shown.returncode == 0 and no_traceback(shown.stderr), shown.stderr
    assert "    | before\n" in shown.stdout
    assert "■ flood [docker/run] interrupted in " in shown.stdout and f": {flood.error}\n" in shown.stdout


def test_the_artifact_cap_holds_as_the_bytes_arrive_on_a_small_disk(small_home: Path) -> None:
    """A 64 MiB artifact on a 3 MiB disk under a 512 KiB cap: refused by the cap, not by the disk
    (a cap checked once the archive is down would fill the disk first)."""
    flow = run_pipeline(
        small_home,
        pipeline(
            "  - name: big\n"
            "    commands: ['mkdir -p out', 'head -c 67108864 /dev/zero > out/zeros']\n"
            "    artifacts: [{name: out, path: out}]\n"
        ),
        artifact_cap=512 * 1024,
    )
    big = flow.states["big"]
    assert (big.status, big.reason) == (OpStatus.FAILED, Reason.ARTIFACT), big.error
    assert big.error == "artifact 'out' exceeds the artifact cap of 512.0 KiB"
    assert flow.status is FlowStatus.FAILED
    assert list((small_home / "flows" / flow.id / "artifacts" / "tmp").iterdir()) == []
    assert (small_home / RESERVE_NAME).exists()  # the disk never filled

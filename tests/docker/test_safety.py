"""Security defaults of job containers, hostile artifacts made by jobs, caps, and GPU requests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nosana_node.docker import container, labels
from nosana_node.docker.errors import GPU_HINT
from nosana_node.flow.model import FlowStatus
from nosana_node.flow.owner import current
from tests.corekit import IMAGE, STORE_IDS, job_log, pipeline, run_pipeline

pytestmark = pytest.mark.docker


@pytest.fixture
def created(api: Any, tmp_path: Path) -> Iterator[list[str]]:
    """Containers a test creates directly; removed afterwards (labelled with a test store)."""
    ids: list[str] = []
    yield ids
    for cid in ids:
        container.remove(api, cid)


def _spec(store: str, **overrides: Any) -> container.JobSpec:
    fields = {
        "image": IMAGE,
        "script": "true",
        "work_dir": "/root/project",
        "env": {},
        "labels": labels.job_labels(store, current(), "flowid", "op"),
        "name": None,
        "cpus": 0.5,
        "memory": 64 * 1024 * 1024,
        "pids": 77,
        "gpus": None,
        "network": "bridge",
    }
    return container.JobSpec(**{**fields, **overrides})


def test_created_container_has_the_security_defaults(api: Any, created: list[str]) -> None:
    store = "test-sec-defaults"
    STORE_IDS.append(store)
    cid = container.create(api, _spec(store))
    created.append(cid)
    host = api.inspect_container(cid)["HostConfig"]
    assert host["Privileged"] is False
    assert host["SecurityOpt"] == ["no-new-privileges"]
    assert host["NanoCpus"] == 500_000_000
    assert host["Memory"] == host["MemorySwap"] == 64 * 1024 * 1024
    assert host["PidsLimit"] == 77
    assert not host.get("Binds") and not host.get("Mounts") and not host.get("VolumesFrom")
    assert host["LogConfig"]["Type"] == "none" and host["Init"] is True
    assert host["DeviceRequests"] in (None, [])
    config = api.inspect_container(cid)["Config"]
    assert config["Labels"][labels.STORE] == store and config["Labels"][labels.NODE] == "1"


def test_limits_hold_inside_the_job(home: Path) -> None:
    flow = run_pipeline(
        home,
        pipeline(
            "  - name: inside\n"
            "    commands:\n"
            "      - grep NoNewPrivs /proc/self/status\n"
            "      - cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max\n"
            "      - cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null ||"
            " cat /sys/fs/cgroup/memory.max\n"
        ),
        pids=123,
        memory=96 * 1024 * 1024,
    )
    assert flow.status is FlowStatus.SUCCEEDED, flow.states["inside"].error
    log = job_log(flow, "inside")
    assert "NoNewPrivs:\t1\n" in log
    assert "\n123\n" in log and f"\n{96 * 1024 * 1024}\n" in log


def test_gpu_request_shape(api: Any, created: list[str]) -> None:
    STORE_IDS.append("test-gpu-shape")
    for gpus, count in ((-1, -1), (2, 2)):
        cid = container.create(api, _spec("test-gpu-shape", gpus=gpus))
        created.append(cid)
        (request,) = api.inspect_container(cid)["HostConfig"]["DeviceRequests"]
        assert request["Count"] == count and request["Capabilities"] == [["gpu"]]
        assert request["Driver"] == "" and not request["DeviceIDs"]


def test_no_gpu_here_fails_the_job_clearly(home: Path) -> None:
    """This host has no GPU (nor NVIDIA runtime): a GPU job fails with a clear reason."""
    flow = run_pipeline(home, pipeline("  - name: cuda\n    commands: [nvidia-smi]\n"), gpus=-1)
    state = flow.states["cuda"]
    assert state.status == "failed" and state.error.startswith(GPU_HINT)


def test_artifact_with_a_link_outside_fails_the_job(home: Path) -> None:
    flow = run_pipeline(
        home,
        pipeline(
            "  - name: sneaky\n"
            "    commands: ['mkdir -p out', 'echo hi > out/ok', 'ln -s /etc/shadow out/shadow']\n"
            "    artifacts: [{name: out, path: out}]\n"
            "  - name: victim\n    resources: [{name: out}]\n    commands: [ls out]\n"
        ),
    )
    state = flow.states["sneaky"]
    assert state.status == "failed"
    assert (
        state.error
        == "artifact 'out': unsafe archive entry 'out/shadow': link to '/etc/shadow' points outside"
    )
    assert flow.states["victim"].status == "skipped"
    assert list((home / "flows" / flow.id / "artifacts" / "sha256").iterdir()) == []


def test_artifact_with_a_device_file_fails_the_job(home: Path) -> None:
    flow = run_pipeline(
        home,
        pipeline(
            "  - name: dev\n"
            "    commands: ['mkdir -p out', 'mknod out/null c 1 3']\n"
            "    artifacts: [{name: out, path: out}]\n"
        ),
    )
    assert flow.states["dev"].error == "artifact 'out': unsafe archive entry 'out/null': device or FIFO"


def test_artifact_over_the_cap_fails_the_job(home: Path) -> None:
    flow = run_pipeline(
        home,
        pipeline(
            "  - name: big\n"
            "    commands: ['mkdir -p out', 'head -c 3000000 /dev/zero > out/zeros']\n"
            "    artifacts: [{name: out, path: out}]\n"
        ),
        artifact_cap=1024 * 1024,
    )
    assert flow.states["big"].error == "artifact 'out' exceeds the artifact cap of 1.0 MiB"
    assert list((home / "flows" / flow.id / "artifacts" / "tmp").iterdir()) == []

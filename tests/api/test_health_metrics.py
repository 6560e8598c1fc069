"""/health with real checks (the local engine, a local market's JSON-RPC, a real OpenBao, the
disk), failing ones (a closed port, a refused token, not enough disk, a check that hangs),
and /metrics in the Prometheus text format, fed by events, the bus and a real RPC client."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from nosana_node.api.bus import LogBus
from nosana_node.api.health import FunctionCheck, disk_check, engine_check, rpc_check, vault_check
from nosana_node.api.nodemetrics import NodeMetrics
from nosana_node.api.view import JobEntry
from nosana_node.chain.failures import ChainError
from nosana_node.chain.rpc import RpcClient
from nosana_node.secrets.value import Secret
from nosana_node.vault.openbao import OpenBaoVault
from tests.api.apikit import FlowThread, job_address, serve
from tests.api.test_follow import counting
from tests.localnet.conftest import Served
from tests.vault.bao import BaoServer
from tests.vault.conftest import vault_config

_SAMPLE = re.compile(
    r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? [-+0-9.eEInfNa]+$'
)


@pytest.fixture
def rpc(served: Served) -> Iterator[RpcClient]:
    with RpcClient(served.rpc_url) as client:
        yield client


@pytest.mark.docker
@pytest.mark.openbao
def test_health_passes_with_every_part_answering(home: Path, rpc: RpcClient, bao: BaoServer) -> None:
    vault = OpenBaoVault(vault_config(bao))
    checks = [
        engine_check(None),
        rpc_check(rpc.call_once, rpc.url),
        vault_check(vault.ping),
        disk_check(home, 1),
    ]
    try:
        with serve(home, LogBus(), checks=checks) as api, api.client() as client:
            response = client.get("/health")
    finally:
        vault.close()
    assert response.status_code == 200
    doc = response.json()
    assert doc["ok"] is True
    verdicts = {c["check"]: c for c in doc["checks"]}
    assert list(verdicts) == ["engine", "rpc", "vault", "disk"]
    assert all(c["ok"] for c in verdicts.values())
    assert verdicts["rpc"]["verdict"].startswith(f"{rpc.url} at slot ")
    assert verdicts["vault"]["verdict"].endswith("token accepted")
    assert verdicts["engine"]["verdict"].startswith("engine ")


@pytest.mark.openbao
def test_health_is_503_naming_each_failing_check(home: Path, bao: BaoServer) -> None:
    vault = OpenBaoVault(vault_config(bao, token=Secret("not-a-token-of-this-vault")))
    hold = threading.Event()
    checks = [
        rpc_check(RpcClient("http://127.0.0.1:9").call_once, "http://127.0.0.1:9"),
        vault_check(vault.ping),
        disk_check(home, 1 << 60),
        FunctionCheck("hangs", lambda: str(hold.wait(30))),
    ]
    try:
        with serve(home, LogBus(), checks=checks) as api:
            api.ctx.health.timeout = 0.5
            with api.client() as client:
                response = client.get("/health")
    finally:
        hold.set()
        vault.close()
    assert response.status_code == 503
    verdicts = {c["check"]: c for c in response.json()["checks"]}
    assert not any(c["ok"] for c in verdicts.values())
    assert "cannot be reached" in verdicts["rpc"]["verdict"] or "refused" in verdicts["rpc"]["verdict"]
    assert "refused the vault token" in verdicts["vault"]["verdict"]
    assert (
        verdicts["disk"]["verdict"].endswith("(at least 1 EiB)") or "at least" in verdicts["disk"]["verdict"]
    )
    assert verdicts["hangs"]["verdict"] == "no answer within 0.5s"


def test_health_runs_its_checks_at_most_once_per_ttl(home: Path) -> None:
    calls: list[int] = []

    def probe() -> str:
        calls.append(1)
        return "fine"

    with serve(home, LogBus(), checks=[FunctionCheck("counted", probe)]) as api:
        api.ctx.health._rounds.ttl = 3600
        with api.client() as client:
            codes = [client.get("/health").status_code for _ in range(20)]
    assert codes == [200] * 20 and len(calls) == 1


def test_rpc_requests_and_errors_are_counted_by_method(home: Path, rpc: RpcClient) -> None:
    with serve(home, LogBus()) as api:
        rpc.observe(api.ctx.metrics.rpc)
        rpc.call("getSlot")
        rpc.call("getSlot")
        with pytest.raises(ChainError):
            rpc.call("getNothingAtAll")
        with api.client() as client:
            text = client.get("/metrics").text
    assert 'nosana_node_rpc_requests_total{method="getSlot"} 2\n' in text
    assert 'nosana_node_rpc_requests_total{method="getNothingAtAll"} 1\n' in text
    assert 'nosana_node_rpc_errors_total{method="getNothingAtAll",kind="RpcRequestError"} 1\n' in text
    assert 'nosana_node_rpc_errors_total{method="getSlot"' not in text


@dataclass
class Event:
    """A node lifecycle event, as the node publishes it (:class:`~.view.NodeEventLike`)."""

    kind: str
    job: str | None = None
    run: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    at: float = 0.0


def entry(i: int, step: str = "finished", status: str | None = "succeeded") -> JobEntry:
    return JobEntry(
        job=f"job{i}",
        run=f"run{i}",
        market="m",
        step=step,
        claimed_at=1000.0 + i,
        run_time=999 + i,
        started_at=1000.5 + i,
        ended_at=1000.0 + i + (i % 90),
        status=status,
    )


def parse(text: str) -> dict[str, float]:
    """Samples of an exposition (every line checked against the format)."""
    samples = {}
    for line in text.splitlines():
        if line.startswith("#"):
            assert re.match(r"^# (HELP|TYPE) [a-z_]+ .+$", line), line
            continue
        assert _SAMPLE.match(line), line
        name, value = line.rsplit(" ", 1)
        samples[name] = float(value)
    return samples


def test_metrics_from_history_and_events_in_the_text_format(home: Path) -> None:
    metrics = NodeMetrics(
        version="1.2.3", wallet="W", market="M", network="localnet", containers=lambda: 2, followers=lambda: 0
    )
    history = [entry(i) for i in range(90)] + [entry(90 + i, "finished", "failed") for i in range(9)]
    history += [entry(200, "quit", None), entry(201, "running", None)]
    assert metrics.seed(history) == len(history)
    lookup = {e.job: e for e in history}.get
    events = [
        Event("phase", data={"phase": "queued"}, at=5000),
        Event("queued", data={"position": 1}, at=5000),
        Event("claimed", "jobX", "runX", {"run_time": 5009}, at=5010),
        Event("phase", data={"phase": "running"}, at=5010),
        Event("started", "jobX", "runX", {"deadline": 9999}, at=5010.25),
        Event("finished", "jobX", "runX", {"status": "succeeded", "cid": "Qm"}, at=5070),
        Event("started", "job201", "run201", at=5100),  # began before a restart: its record says
        Event("stopped", "job201", "run201", {"reason": "ended"}, at=5200),
    ]
    for event in events:
        metrics.event(event, lookup)
    samples = parse(metrics.render())
    assert samples['nosana_node_jobs_total{outcome="succeeded"}'] == 91
    assert samples['nosana_node_jobs_total{outcome="failed"}'] == 9
    assert samples['nosana_node_jobs_total{outcome="quit"}'] == 1
    assert samples['nosana_node_jobs_total{outcome="stopped"}'] == 1
    assert samples['nosana_node_job_duration_seconds_count{outcome="succeeded"}'] == 91
    assert samples['nosana_node_job_duration_seconds_bucket{outcome="succeeded",le="60"}'] == 61 + 1
    assert samples['nosana_node_job_duration_seconds_bucket{outcome="succeeded",le="+Inf"}'] == 91
    assert samples['nosana_node_job_duration_seconds_sum{outcome="stopped"}'] == 5200 - 1201
    # pickup: 1.5 s for each of the 101 runs on record, 1.25 s for jobX; run201 is not seen twice
    assert samples["nosana_node_pickup_latency_seconds_count"] == len(history) + 1
    assert samples['nosana_node_pickup_latency_seconds_bucket{le="1"}'] == 0
    assert samples['nosana_node_pickup_latency_seconds_bucket{le="2"}'] == len(history) + 1
    assert samples["nosana_node_queue_wait_seconds_count"] == 1
    assert samples["nosana_node_queue_wait_seconds_sum"] == 10
    assert (
        samples['nosana_node_phase{phase="running"}'] == 1
        and samples['nosana_node_phase{phase="queued"}'] == 0
    )
    assert samples["nosana_node_containers_running"] == 2
    assert samples['nosana_node_info{version="1.2.3",wallet="W",market="M",network="localnet"}'] == 1


@pytest.mark.docker
def test_containers_running_follows_the_bus(home: Path) -> None:
    from tests.api.apikit import Recorder, gated, open_gate

    bus, job = LogBus(), job_address()
    recorder = Recorder(bus)
    with serve(home, bus) as api, FlowThread(home, bus, gated("echo after"), job) as run:
        recorder.wait(lambda: any("ready" in e.text for e in recorder.lines(job)))
        with api.client() as client:
            during = parse(client.get("/metrics").text)["nosana_node_containers_running"]
            open_gate(job)
            run.join()
            after = parse(client.get("/metrics").text)["nosana_node_containers_running"]
    recorder.close()
    assert (during, after) == (1, 0)


@pytest.mark.docker
def test_the_open_routes_need_no_credentials(home: Path) -> None:
    bus, job = LogBus(), job_address()
    FlowThread(home, bus, counting(2, "0"), job).start().join()
    with serve(home, bus) as api, api.client() as client:
        for path in ("/", "/health", "/metrics", "/status", "/jobs", f"/jobs/{job}"):
            assert client.get(path).status_code == 200, path
        jobs = client.get("/jobs").json()["jobs"]
        page = client.get("/")
    assert [j["job"] for j in jobs] == [job]
    assert "script-src 'sha256-" in page.headers["content-security-policy"]
    assert "http://" not in page.text.replace("http://HOST", "") and "https://" not in page.text

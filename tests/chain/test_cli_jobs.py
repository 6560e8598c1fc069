"""`nosana-node job post/get/list/result` in real processes, documents through the local market's
storage endpoint, a job run to its end by the node's keypair from the test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from nosana_node.chain.documents import pipeline_document
from nosana_node.chain.provider import Provider
from nosana_node.chain.rpc import RpcClient
from nosana_node.chain.transactions import open_market
from nosana_node.storage.cid import Cid
from tests.chain.clikit import LocalMarket, serve
from tests.cli import REPO

HELLO = REPO / "pipelines" / "hello.yml"


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMarket]:
    yield from serve(tmp_path_factory.mktemp("home"))


def new_market(market: LocalMarket, price: int = 0) -> str:
    """A market of this test alone (queues of other tests do not interfere)."""
    endpoint = market.endpoint
    admin, address = endpoint.local_keypair("admin"), Keypair()
    ix, _ = open_market(
        endpoint.addresses,
        admin.pubkey(),
        address.pubkey(),
        job_price=price,
        program_id=endpoint.addresses.jobs_program,
    )
    with RpcClient(endpoint.rpc_url) as rpc:
        Provider(rpc, admin).send([ix], [address], action="open market")
    return str(address.pubkey())


def storage(market: LocalMarket) -> Any:
    """The storage the CLI uses on this local market (its IPFS endpoint)."""
    from nosana_node.config.load import Flag
    from nosana_node.wiring import load_configuration, storage_for

    os.environ["NOSANA_HOME"] = str(market.home)
    try:
        loaded = load_configuration(flags={"network": Flag("localnet", "--network")})
    finally:
        del os.environ["NOSANA_HOME"]
    return storage_for(loaded)


def node_result(status: str, log: str) -> dict[str, Any]:
    """A result document as this node publishes it."""
    return {
        "flow_id": "x",
        "status": status,
        "jobs": [
            {
                "name": "hello",
                "status": status,
                "exit_code": 0 if status == "succeeded" else 3,
                "log": {"excerpt": log},
            }
        ],
    }


def run_job_as_node(market: LocalMarket, address: str, job: Pubkey, result: dict[str, Any]) -> str:
    """What a node does: take the job, store the result document, finish with its digest."""
    with market.client("node-1") as node, storage(market) as store:
        assert node.work(Pubkey.from_string(address)).job == job
        cid = store.put_json(result)
        node.finish(job, cid.to_chain())
        return str(cid)


def post_and_wait(market: LocalMarket, address: str, *extra: str) -> subprocess.Popen[str]:
    """``job post hello.yml --wait`` running in its own process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOSANA_")}
    cmd = [sys.executable, "-m", "nosana_node", "job", "post", str(HELLO), "--market", address, "--wait"]
    return subprocess.Popen(
        [*cmd, "--network", "localnet", *extra],
        env={**env, "NOSANA_HOME": str(market.home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )


def wait_for_job(market: LocalMarket, address: str, deadline: float = 30) -> Pubkey:
    with market.client("client-1") as client:
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            jobs = client.jobs(market=Pubkey.from_string(address))
            if jobs:
                return next(iter(jobs))
            time.sleep(0.1)  # polling the chain for the other process's job, with a deadline
    raise AssertionError("the job was never listed")


def test_post_stores_the_pipeline_document_and_lists_the_job(market: LocalMarket) -> None:
    address = new_market(market)
    posted = market.json("job", "post", str(HELLO), "--market", address, "--timeout", "10m")
    job = Pubkey.from_string(posted["job"])
    with market.client("client-1") as client:
        account = client.job(job)
    assert account.timeout == 600 and str(account.market) == address and posted["state"] == "QUEUED"
    with storage(market) as store:
        cid = Cid.from_chain(account.ipfs_job)
        assert str(cid) == posted["job_cid"]
        document = json.loads(store.get(cid))
    assert document == pipeline_document(HELLO.read_text(), None, None)
    got = market.json("job", "get", posted["job"])
    assert got["state"] == "QUEUED" and got["job_cid"] == posted["job_cid"] and got["result_cid"] is None
    repo, commit = "https://github.com/o/r", "1a2b3c4d"
    checked_out = market.json(
        "job", "post", str(HELLO), "--market", address, "--repo", repo, "--commit", commit
    )
    with market.client("client-1") as client, storage(market) as store:
        account = client.job(Pubkey.from_string(checked_out["job"]))
        document = json.loads(store.get(Cid.from_chain(account.ipfs_job)))
    assert document == pipeline_document(HELLO.read_text(), repo, commit)
    assert document["url"] == repo and document["commit"] == commit


def test_post_wait_follows_the_job_and_shows_the_result(market: LocalMarket) -> None:
    address = new_market(market)
    proc = post_and_wait(market, address)
    try:
        job = wait_for_job(market, address)
        cid = run_job_as_node(market, address, job, node_result("succeeded", "$ echo hello\nhello world\n"))
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert f"job {job} COMPLETED; result {cid}" in out
    assert "hello  succeeded  0" in out and "--- hello ---" in out and "hello world" in out
    assert "RUNNING on node" in err and "COMPLETED" in err


def test_result_get_list_and_download(market: LocalMarket, tmp_path: Path) -> None:
    address = new_market(market)
    posted = market.json("job", "post", str(HELLO), "--market", address)
    job = Pubkey.from_string(posted["job"])
    cid = run_job_as_node(market, address, job, node_result("failed", "$ false\n"))
    result = market.cli("job", "result", posted["job"], "--logs", "--download", str(tmp_path / "out"))
    assert result.returncode == 1  # the pipeline failed
    assert (
        "status: failed" in result.stdout
        and "hello  failed  3" in result.stdout
        and "$ false" in result.stdout
    )
    assert json.loads((tmp_path / "out" / "result.json").read_text()) == node_result("failed", "$ false\n")
    assert (tmp_path / "out" / "hello.log").read_text() == "$ false\n"
    got = market.json("job", "get", posted["job"])
    assert got["state"] == "COMPLETED" and got["result_cid"] == cid and got["node"]
    listed = market.json("job", "list", "--mine", "--state", "completed", "--market", address)
    assert [j["address"] for j in listed] == [posted["job"]]


def test_post_refuses_bad_input_before_sending_anything(market: LocalMarket, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("global:\n  image: busybox\njobs:\n  - name: x\n    comands: [echo]\n")
    checks = [
        (["job", "post", str(bad), "--market", "default"], f"error: {bad}:4:5: jobs[0].commands: missing"),
        (["job", "post", str(tmp_path / "none.yml"), "--market", "default"], "no such file"),
        (
            ["job", "post", str(HELLO), "--market", "default", "--repo", "https://x/y"],
            "--repo and --commit go together",
        ),
        (
            ["job", "post", str(HELLO), "--market", "default", "--repo", "https://x/y", "--commit", "zz"],
            "not a commit SHA",
        ),
        (
            ["job", "post", str(HELLO), "--market", "default", "--repo", "git@h:o/r", "--commit", "1a2b3c4"],
            "not a repository URL a node checks out",
        ),
        (["job", "post", str(HELLO), "--market", "nowhere"], "unknown market 'nowhere'"),
        (["job", "post", str(HELLO), "--market", "priced", "--timeout", "10000000000s"], "not enough NOS"),
        (["job", "result", "11111111111111111111111111111112"], "not found on localnet"),
    ]
    with market.client("client-1") as client:
        before = len(client.jobs(project=client.wallet))
    for args, expected in checks:
        result = market.cli(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert expected in result.stderr and "Traceback" not in result.stderr, (args, result.stderr)
    with market.client("client-1") as client:
        assert len(client.jobs(project=client.wallet)) == before  # nothing was listed


def test_wait_reports_a_job_ended_by_its_poster(market: LocalMarket) -> None:
    address = new_market(market)
    proc = post_and_wait(market, address, "--json")
    try:
        job = wait_for_job(market, address)
        with market.client("node-1") as node, market.client("client-1") as client:
            node.work(Pubkey.from_string(address))
            client.end(job)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, err
    shown = json.loads(out)
    assert shown["job"] == str(job) and shown["state"] == "COMPLETED" and shown["result"] is None


def test_post_a_job_definition_stores_it_as_json_for_the_node(market: LocalMarket, tmp_path: Path) -> None:
    from nosana_node.node.documents import compile_job_document
    from nosana_node.storage.cid import Cid

    definition = tmp_path / "hello.yaml"
    definition.write_text(
        "version: '0.1'\ntype: container\nops:\n  - type: container/run\n    id: hi\n"
        "    args: {image: ubuntu, cmd: [echo, hi]}\n"
    )
    address = new_market(market)
    posted = market.json("job", "post", str(definition), "--market", address, "--timeout", "10m")
    with market.client("client-1") as client:
        account = client.job(Pubkey.from_string(posted["job"]))
    with storage(market) as store:
        document = json.loads(store.get(Cid.from_chain(account.ipfs_job)))
    assert document == {
        "version": "0.1",
        "type": "container",
        "ops": [{"type": "container/run", "id": "hi", "args": {"image": "ubuntu", "cmd": ["echo", "hi"]}}],
    }
    flow = compile_job_document(document, flow_id=posted["job"])
    assert [(op.id, op.type) for op in flow.ops] == [("hi", "container/run")]

    bad = tmp_path / "bad.json"
    bad.write_text('{"version": "0.1", "type": "container", "ops": [{"type": "container/run", "id": "x"}]}')
    refused = market.cli("job", "post", str(bad), "--market", address)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "ops[0].args: missing required key 'args'" in refused.stderr, refused.stderr
    repo = market.cli(
        "job", "post", str(definition), "--market", address, "--repo", "https://x/y", "--commit", "abcdef0"
    )
    assert repo.returncode == 2 and "--repo and --commit are for pipelines" in repo.stderr

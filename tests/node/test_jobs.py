"""A node process on a local market: jobs taken, run on the real engine, finished with their
result; bad job documents finished with a failed result; the node's status and its home lock."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from nosana_node.chain.accounts import JobState
from nosana_node.chain.documents import read_result
from nosana_node.storage.cid import Cid
from tests.chain.test_faults import Landed
from tests.cli import REPO
from tests.corekit import IMAGE, no_traceback
from tests.localnet.conftest import Served
from tests.node.conftest import NodeFactory
from tests.node.gitkit import GitServer
from tests.node.nodekit import Market, NodeProcess, pipeline

ARTIFACTS = REPO / "pipelines" / "artifacts.yml"


def test_a_posted_pipeline_runs_and_is_finished_once_with_its_result(
    served: Served, market: Market, start_node: NodeFactory
) -> None:
    landed = Landed(served)
    node = start_node()
    node.wait_line(r"waiting in the queue of market")
    job = market.post(ARTIFACTS.read_text())
    account = market.wait_done(job)
    wallet = node.wallet
    assert account.node == wallet
    doc = market.result(job)
    # the original node's shape
    assert doc["nos-id"] == str(job) and isinstance(doc["finished-at"], int)
    assert set(doc["results"]) == {"build", "test", "publish"}
    assert all(value[0] == "success" for value in doc["results"].values())
    steps = doc["results"]["publish"][1]
    assert steps[0]["exit"] == 0 and any(fd == 1 for fd, _ in steps[0]["log"])
    # this node's shape, as `job result` reads it
    summary = read_result(doc)
    assert summary.shape == "node" and summary.status == "succeeded"
    assert [op.name for op in summary.ops] == ["build", "test", "publish"]
    assert all(op.exit_code == 0 for op in summary.ops)
    build = next(op for op in summary.ops if op.name == "build")
    assert "$ " in build.log and build.artifacts, build
    # artifacts are stored with the result, by CID, and come back verified
    record = next(iter(build.artifacts.values()))
    assert market.storage.get(Cid.parse(record["cid"]))
    assert doc["job"] == str(job) and doc["node"] == str(wallet) and doc["market"] == str(market.address)
    # exactly one finish; the node logged each step once, with ids
    assert landed.count()[("finish", str(job))] == 1
    landed.close()
    line = node.wait_line(rf"job {job} finished: result (Qm\w+) \(succeeded\), signature (\w+)")
    for step in ("claimed", "started", "result stored", "finished"):
        assert node.count(rf"job {job} {step}") == 1, node.output
    assert Cid.from_chain(account.ipfs_result) == Cid.parse(line.group(1))
    node.wait_line(r"waiting in the queue", count=2)  # and joined again


def test_bad_documents_are_finished_with_a_failed_result_saying_why(
    market: Market, start_node: NodeFactory, tmp_path: Path
) -> None:
    node = start_node()
    node.wait_line(r"waiting in the queue")
    missing = market.client.list_job(market.address, Cid.parse(_cid_of(b"never stored")).to_chain(), 600).job
    bad_pipeline = "global:\n  image: x\njobs:\n  - name: a\n    comands: [ls]\n"
    jobdef = {"version": "0.1", "type": "container", "ops": [{"id": "x", "type": "container/run"}]}
    cases = {
        missing: ("missing", "not found"),
        market.post_document(b"{not json"): ("not-json", "is not JSON"),
        market.post_document({"hello": "world"}): ("unknown-format", "unknown job document format"),
        market.post(bad_pipeline): ("invalid", "invalid pipeline"),
        market.post_document(jobdef): ("invalid", "invalid job definition"),
        market.post_document(
            {"type": "Pipeline", "pipeline": pipeline("true"), "url": "file:///etc", "commit": None}
        ): ("invalid", "not a repository URL"),
        market.post_document(  # ssh would use the operator's keys
            {
                "type": "Pipeline",
                "pipeline": pipeline("true"),
                "url": "ssh://git@github.com/o/r",
                "commit": None,
            }
        ): ("invalid", "not a repository URL (https, http)"),
    }
    for job, (reason, words) in cases.items():
        market.wait_done(job)
        doc = market.result(job)
        assert doc["status"] == "failed" and doc["reason"] == reason, doc
        assert words in doc["error"], doc["error"]
        assert doc["jobs"] == [] and doc["results"] == {}
        assert read_result(doc).error == doc["error"]  # what `job result` shows
    # a secret of the node's vault is not given to a market job: its op fails before it starts
    mark = node.mark()
    secret = "    environment:\n      TOKEN: {type: nos/vault, value: ci/npm#token}\n"
    job = market.post(pipeline("echo $TOKEN", extra=secret))
    market.wait_done(job)
    doc = market.result(job)
    assert doc["status"] == "failed" and "do not read this node's vault" in doc["jobs"][0]["error"]
    node.wait_line(rf"job {job} finished: result Qm\w+ \(failed\)", since=mark)  # logged after the chain
    node.wait_line(r"waiting in the queue", since=mark)  # it went on serving
    # a repository on this host's own network is not checked out: nothing reaches the server
    with GitServer(tmp_path / "git") as served:
        job = market.post_document(
            {
                "type": "Pipeline",
                "pipeline": pipeline("cat hello.txt"),
                "url": served.url,
                "commit": served.commit,
            }
        )
        market.wait_done(job)
        assert served.requests == []
    doc = market.result(job)
    assert doc["status"] == "failed" and doc["jobs"][0]["status"] == "failed", doc
    assert "resolves to 127.0.0.1, not a public address" in doc["jobs"][0]["error"]
    node.wait_line(rf"job {job} finished: result Qm\w+ \(failed\)", since=mark)
    assert node.count(r"finished: result Qm\w+ \(failed\)") == len(cases) + 2
    assert no_traceback(node.output)


def _cid_of(content: bytes) -> str:
    from nosana_node.storage.dag import cid_of

    return str(cid_of(content))


def test_a_job_waiting_is_taken_at_join_and_status_shows_the_node(
    market: Market, start_node: NodeFactory, tmp_path: Path
) -> None:
    job = market.post(pipeline("echo early bird"))
    node = start_node()
    node.wait_line(rf"job {job} claimed")
    market.wait_done(job)
    node.wait_line(r"waiting in the queue of market \w+ \(position 1\)")
    status = _status(node, "--json")
    assert status.returncode == 0, status.stderr
    doc = json.loads(status.stdout)
    assert doc["running"] is True and doc["pid"] == node.proc.pid
    assert doc["queue"]["queued"] is True and doc["queue"]["position"] == 1
    assert doc["balances"]["sol"] > 0 and doc["stake"]["xnos"] > 0
    assert doc["current"] is None and doc["counts"] == {"finished": 1}
    assert doc["recent"][0]["job"] == str(job) and doc["recent"][0]["result_cid"].startswith("Qm")
    text = _status(node)
    assert "queued, position 1 of 1" in text.stdout and "1 finished" in text.stdout
    # a second node on the same home is refused, before it joins anything
    second = subprocess.run(
        [sys.executable, "-m", "nosana_node", "node", "start"],
        env=node.env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert second.returncode == 2 and "a node already runs with home" in second.stderr
    assert no_traceback(second.stderr)
    assert market.client.job(job).state == JobState.DONE


def _status(node: NodeProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nosana_node", "node", "status", *args],
        env=node.env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )


def test_a_job_definition_runs_and_one_this_host_cannot_serve_is_given_back(
    market: Market, start_node: NodeFactory
) -> None:
    node = start_node()
    node.wait_line(r"waiting in the queue")
    hello = {
        "id": "hello",
        "type": "container/run",
        "args": {"image": IMAGE, "cmd": "echo hello %%global.job%%"},
    }
    job = market.post_document({"version": "0.1", "type": "container", "ops": [hello]})
    market.wait_done(job)
    doc = market.result(job)
    # the official node's flow state, with this node's ids
    assert doc["status"] == "success" and doc["job"] == str(job) and doc["node"] == str(node.wallet)
    (op,) = doc["opStates"]
    assert op["operationId"] == "hello" and op["exitCode"] == 0
    assert f"hello {job}" in "".join(entry["log"] for entry in op["logs"])
    assert read_result(doc).shape == "flow-state"
    # a GPU job on a host without one: the run is quit, another node may claim the job
    gpu = {"id": "train", "type": "container/run", "args": {"image": IMAGE, "cmd": "true", "gpu": True}}
    wanting = market.post_document({"version": "0.1", "type": "container", "ops": [gpu]})
    market.wait_job(wanting, lambda a: a is not None and a.state == JobState.STOPPED)
    node.wait_line(rf"job {wanting} quit \(run \w+\): .*cannot serve the job")
    assert not market.client.runs(job=wanting)


def test_secrets_a_job_may_read_never_reach_its_result(
    market: Market, start_node: NodeFactory, tmp_path: Path
) -> None:
    home = tmp_path / "secretive"
    home.mkdir()
    (home / "config.edn").write_text(
        '{:vault {:backend :config} :secrets {"ci/token" #env NODE_TEST_TOKEN} :node {:vault-secrets true}}\n'
    )
    secret = "tok-5ecr3t-value-42"
    node = start_node(home=home, env={"NODE_TEST_TOKEN": secret})
    node.wait_line(r"waiting in the queue")
    extra = "    environment:\n      TOKEN: {type: nos/vault, value: ci/token}\n"
    job = market.post(pipeline('echo "token=$TOKEN"', 'echo "$TOKEN" | base64', extra=extra))
    market.wait_done(job)
    raw = market.storage.get(Cid.from_chain(market.client.job(job).ipfs_result)).decode()
    assert secret not in raw and "dG9rLTVlY3IzdC12YWx1ZS00Mg" not in raw  # nor its base64
    doc = json.loads(raw)
    assert doc["status"] == "succeeded" and "token=[MASKED]" in doc["jobs"][0]["log"]
    assert secret not in node.output


def test_a_market_named_in_the_config_and_every_event_as_a_json_line(
    market: Market, start_node: NodeFactory, tmp_path: Path
) -> None:
    home = tmp_path / "named"  # another host: its config names the market, no ledger under its home
    home.mkdir()
    (home / "config.edn").write_text(f'{{:markets {{"farm" "{market.address}"}}}}\n')
    stderr = tmp_path / "stderr.txt"
    node = start_node(home=home, env={"NOSANA_MARKET": "farm"}, args=("--json",), stderr=stderr)
    node.wait_line(r'^\{"kind": "queued"')
    job = market.post(pipeline("echo as json"))
    done = market.wait_done(job)
    node.wait_line(rf'^\{{"kind": "finished", "job": "{job}"')
    node.wait_line(r'^\{"kind": "queued"', count=2)  # back in the queue
    assert node.stop() == 0

    events = [json.loads(line) for line in node.lines]  # stdout: JSON lines only
    checks = [e for e in events if e["kind"] == "check"]
    names = ["market", "SOL", "NOS account", "stake", "access key", "Docker", "disk"]
    assert [c["check"] for c in checks] == names and all(c["ok"] for c in checks)
    assert checks[0]["verdict"].startswith(f"{market.address} (farm): price")
    ours = [e for e in events if e["job"] == str(job)]
    assert [e["kind"] for e in ours] == ["claimed", "started", "result-stored", "finish-sent", "finished"]
    finished = ours[-1]
    assert finished["cid"] == str(Cid.from_chain(done.ipfs_result)) and finished["status"] == "succeeded"
    assert finished["run"] == ours[0]["run"] and finished["signature"] == ours[3]["signature"]
    kinds = [e["kind"] for e in events]
    assert kinds.index("left-queue") > events.index(finished)  # it left the queue on SIGTERM
    assert kinds[-1] == "phase" and events[-1]["phase"] == "stopped"
    text = stderr.read_text()  # the node's own lines and its log
    assert f"market {market.address} (farm)" in text and "serving; SIGTERM" in text
    assert f"job {job} finished" in text and no_traceback(text)

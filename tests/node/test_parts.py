"""The node's parts in this process: job documents to flows, result documents, the records on
disk and the home lock, the read model, the secrets market jobs get, and a signed finish
followed after a crash (the chain client's resume) on a served local market."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nosana_node.chain.accounts import JobState
from nosana_node.chain.client import ChainClient
from nosana_node.chain.documents import pipeline_document, read_result
from nosana_node.chain.endpoint import Endpoint
from nosana_node.chain.provider import SignedTransaction
from nosana_node.errors import SecretError, UserInputError
from nosana_node.flow.model import Flow, FlowStatus, Op, OpStatus
from nosana_node.node.documents import JobDocumentError, compile_job_document, document_format
from nosana_node.node.events import NodeEvent, NodeEvents, NodeState
from nosana_node.node.results import op_log, result_document
from nosana_node.node.secrets import MarketSecrets
from nosana_node.node.state import HomeLock, JobRecord, NodeDb, Step, running_node
from nosana_node.secrets.refs import SecretRef
from tests.chain.conftest import FAST, digest
from tests.localnet.conftest import Served
from tests.node.nodekit import pipeline

JOB = "Job1111111111111111111111111111111111111111"


# -- documents ------------------------------------------------------------------------------------
def test_a_pipeline_document_compiles_to_a_flow_named_by_the_job() -> None:
    doc = pipeline_document(pipeline("echo hi"), "https://github.com/o/r", "1a2b3c4")
    flow = compile_job_document(doc, flow_id=JOB, context={"NOS_JOB_ADDRESS": JOB})
    assert flow.id == JOB and [op.type for op in flow.ops] == ["checkout/git", "docker/run"]
    # a stranger's repository: a public checkout (nosana_node.checkout.public)
    assert flow.ops[0].args == {"repo": "https://github.com/o/r", "commit": "1a2b3c4", "public": True}
    assert (
        flow.context["NOS_REPOSITORY"] == "https://github.com/o/r"
        and flow.context["NOS_COMMIT_SHA"] == "1a2b3c4"
    )
    assert flow.source["format"] == "pipeline"
    bare = compile_job_document(
        {"global": {"image": "x"}, "jobs": [{"name": "a", "commands": ["ls"]}]}, flow_id=JOB
    )
    assert [op.type for op in bare.ops] == ["docker/run"]


@pytest.mark.parametrize(
    ("document", "reason", "words"),
    [
        ({"type": "Pipeline", "pipeline": 3}, "invalid", "YAML text"),
        (pipeline_document(pipeline("ls"), "file:///etc", None), "invalid", "not a repository URL"),
        (pipeline_document(pipeline("ls"), "git@github.com:o/r", None), "invalid", "(https, http)"),
        (pipeline_document("trigger: {repo: 'ssh://h/r'}\n" + pipeline("ls")), "invalid", "trigger.repo"),
        (pipeline_document(pipeline("ls"), "https://h/r", "--upload-pack=x"), "invalid", "not a commit"),
        (pipeline_document("global:\n  image: x\njobs: []\n"), "invalid", "invalid pipeline"),
        (pipeline_document("trigger: {repo: /etc}\n" + pipeline("ls")), "invalid", "trigger.repo"),
        ({"version": "0.1", "type": "container", "ops": [{"id": "x"}]}, "invalid", "invalid job definition"),
        ([1, 2], "unknown-format", "unknown job document format"),
        ({"state": {}}, "unknown-format", "unknown job document format"),
    ],
)
def test_documents_that_cannot_run_say_why(document: Any, reason: str, words: str) -> None:
    with pytest.raises(JobDocumentError) as caught:
        compile_job_document(document, flow_id=JOB)
    assert caught.value.reason == reason and words in str(caught.value)


def test_document_formats() -> None:
    assert document_format({"type": "Github", "pipeline": "x"}) == "pipeline"
    assert document_format({"version": "0.1", "ops": []}) == "jobdef"
    assert document_format("text") == "unknown"


# -- results --------------------------------------------------------------------------------------
def _flow_with_log(tmp_path: Path, text: str) -> Flow:
    log = tmp_path / "0.1.jsonl"
    log.write_text(
        "".join(
            json.dumps({"t": 1.0, "s": s, "d": d}) + "\n" for s, d in (("stdout", text), ("stderr", "oops\n"))
        )
    )
    flow = Flow(id=JOB, name="t", ops=[Op("a", "docker/run", {"commands": [{"cmd": "echo"}]})])
    state = flow.states["a"]
    state.status, state.exit_code, state.log = OpStatus.SUCCEEDED, 0, {"path": str(log)}
    state.started_at, state.ended_at = 10.0, 12.5
    flow.status, flow.started_at, flow.ended_at = FlowStatus.SUCCEEDED, 10.0, 12.5
    return flow


def test_a_result_reads_as_the_original_node_wrote_it_and_as_this_node_reads_it(tmp_path: Path) -> None:
    flow = _flow_with_log(tmp_path, "hello\n")
    doc = result_document(
        job=JOB, run="R", node="N", market="M", document="Qm", status="succeeded", finished_at=12.5, flow=flow
    )
    assert doc["nos-id"] == JOB and doc["finished-at"] == 12
    assert doc["results"] == {
        "a": ["success", [{"cmd": "echo", "log": [[1, "hello\n"], [2, "oops\n"]], "exit": 0}]]
    }
    summary = read_result(doc)
    assert (
        summary.status == "succeeded"
        and summary.ops[0].log == "hello\noops\n"
        and summary.ops[0].duration == 2.5
    )
    assert json.dumps(doc) == json.dumps(
        result_document(
            job=JOB,
            run="R",
            node="N",
            market="M",
            document="Qm",
            status="succeeded",
            finished_at=12.5,
            flow=flow,
        )
    )  # the same flow gives the same document (hence the same CID)


def test_a_long_log_keeps_its_end(tmp_path: Path) -> None:
    flow = _flow_with_log(tmp_path, "x" * 5000 + "END\n")
    chunks, cut = op_log(flow.states["a"], 100)
    text = "".join(t for _, t in chunks)
    assert cut and text.startswith("[log cut: the first") and text.endswith("END\noops\n")
    assert len("".join(t for _, t in chunks[1:]).encode()) == 100


# -- records, lock, read model, secrets ---------------------------------------------------------------
def test_records_survive_and_the_unfinished_come_back_in_claim_order(tmp_path: Path) -> None:
    db = NodeDb(tmp_path)
    first = db.save(JobRecord("r1", "j1", "m", Step.CLAIMED, 100, claimed_at=1.0))
    db.save(JobRecord("r2", "j2", "m", Step.FINISHED, 100, claimed_at=2.0))
    db.save(
        JobRecord(
            "r3",
            "j3",
            "m",
            Step.FINISH_SENT,
            100,
            claimed_at=3.0,
            finish_signature="s",
            finish_tx=b"\x01\x02",
        )
    )
    db.close()
    db = NodeDb(tmp_path)
    assert [r.run for r in db.unfinished()] == ["r1", "r3"]
    assert db.get("r3").finish_tx == b"\x01\x02" and db.get("r1") == first
    assert db.counts() == {"claimed": 1, "finished": 1, "finish-sent": 1}
    assert "finish_tx" not in db.get("r3").to_json()
    db.close()


def test_one_node_per_home(tmp_path: Path) -> None:
    assert running_node(tmp_path) is None
    with HomeLock(tmp_path) as lock:
        lock.acquire("W", "M")
        holder = running_node(tmp_path)
        assert holder is not None and holder.wallet == "W" and holder.market == "M"
        with pytest.raises(UserInputError, match="a node already runs with home"):
            HomeLock(tmp_path).acquire("W2", "M")
    assert running_node(tmp_path) is None


def test_the_read_model_follows_a_job() -> None:
    events = NodeEvents()
    state = NodeState(events, wallet="W", market="M", network="localnet")
    seen: list[str] = []
    events.subscribe(lambda e: seen.append(e.kind))
    events.subscribe(lambda e: 1 / 0)  # a broken subscriber harms no one
    for kind, data in [
        ("queued", {}),
        ("claimed", {}),
        ("started", {"deadline": 99.0}),
        ("result-stored", {}),
    ]:
        events.publish(NodeEvent(kind, "J", "R", data))
    snap = state.snapshot()
    assert not snap.queued and snap.current is not None and snap.current.step == "result-stored"
    assert snap.current.deadline == 99.0
    events.publish(NodeEvent("finished", "J", "R", {"status": "failed"}))
    snap = state.snapshot()
    assert snap.current is None and snap.finished == 1 and snap.failed_results == 1
    assert seen == ["queued", "claimed", "started", "result-stored", "finished"]
    assert json.dumps(snap.to_json())


class _Vault:
    def resolve(self, ref: SecretRef) -> str:
        return f"value of {ref.name}"


def test_market_jobs_get_only_the_secrets_managers_secrets() -> None:
    guarded = MarketSecrets(_Vault(), nosana_endpoint="https://secrets.example", vault_secrets=False)
    with pytest.raises(SecretError, match="do not read this node's vault"):
        guarded.resolve(SecretRef.parse("ci/npm#token"))
    with pytest.raises(SecretError):
        guarded.resolve(SecretRef(path="X", endpoint="https://elsewhere.example"))
    assert guarded.resolve(SecretRef(path="X", endpoint="https://secrets.example/")) == "value of X"
    allowed = MarketSecrets(_Vault(), nosana_endpoint=None, vault_secrets=True)
    assert allowed.resolve(SecretRef.parse("ci/npm#token")) == "value of ci/npm#token"


# -- a signed finish followed after a crash ------------------------------------------------------------
@pytest.fixture
def chain_endpoint(served: Served) -> Endpoint:
    from nosana_node.chain.endpoint import localnet_endpoint

    return localnet_endpoint(served.ledger, served.rpc_url, served.ws_url)


def test_a_finish_signed_but_never_sent_is_sent_by_resume(served: Served, chain_endpoint: Endpoint) -> None:
    client = ChainClient.connect(chain_endpoint, chain_endpoint.local_keypair("client-1"), FAST)
    node = ChainClient.connect(chain_endpoint, chain_endpoint.local_keypair("node-2"), FAST)
    try:
        market = chain_endpoint.market("default")
        posted = client.list_job(market, digest("doc"), 600)
        assert node.work(market).job == posted.job
        saved: list[SignedTransaction] = []

        class Crash(Exception):
            pass

        def crash(signed: SignedTransaction) -> None:
            saved.append(signed)
            raise Crash  # the process died after saving, before sending

        with pytest.raises(Crash):
            node.finish(posted.job, digest("result"), on_signed=crash)
        assert client.job(posted.job).state != JobState.DONE
        assert node.resume(saved[0], action="finish") is True
        done = client.job(posted.job)
        assert done.state == JobState.DONE and done.ipfs_result == digest("result")
        assert node.resume(saved[0], action="finish") is True  # landed: found, not sent again
        # a transaction whose blockhash expired without landing never will: resume says so
        posted = client.list_job(market, digest("doc 2"), 600)
        node.work(market)
        with pytest.raises(Crash):
            node.finish(posted.job, digest("result 2"), on_signed=crash)
        served.net.chain.skip_slots(200)
        assert node.resume(saved[1], action="finish") is False
        assert client.job(posted.job).state != JobState.DONE
        node.quit(posted.job)
    finally:
        client.close()
        node.close()

"""`nosana-node job run` in a real process, and a CPU-only subset of the corpus end to end."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from nosana_node.flow.model import FlowStatus
from nosana_node.jobdef.result import flow_state
from nosana_node.jobdef.settings import JobdefSettings
from nosana_node.resources.settings import ResourceSettings
from tests.cli import run_cli
from tests.corekit import IMAGE
from tests.jobdef.conftest import write_json
from tests.jobdef.runkit import job, leftovers, log_text, run, run_service
from tests.resources.conftest import s3_client
from tests.resources.servers import moto_s3


def _flows(home: Path) -> list[Path]:
    return list((home / "flows").iterdir()) if (home / "flows").exists() else []


def test_job_run_prints_the_flow_state_and_exits_0(tmp_path: Path, home: Path) -> None:
    data = job(
        [{"id": "hi", "args": {"cmd": ["echo", "hello", "world"]}, "results": {"who": "hello (\\w+)"}}]
    )
    path = write_json(tmp_path, data)
    proc = run_cli("job", "run", str(path), "--json", "--home", str(home))
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)
    assert document["status"] == "success" and document["errors"] == []
    (state,) = document["opStates"]
    assert state["operationId"] == "hi" and state["exitCode"] == 0
    assert state["results"] == {"who": ["hello world", "world"]}
    assert "hi | hello world" in proc.stderr
    assert leftovers(document["id"]) == {"volumes": [], "networks": []}


@pytest.mark.parametrize(
    ("ops", "message"),
    [
        (
            [
                {"id": "a", "args": {"cmd": "true"}, "execution": {"group": "g", "depends_on": ["b"]}},
                {"id": "b", "args": {"cmd": "true"}, "execution": {"group": "g", "depends_on": ["a"]}},
            ],
            "dependency cycle: a → b → a",
        ),
        ([{"id": "a", "args": {"cmd": "echo %%ops.nope.results.x%%"}}], "no op with id 'nope'"),
        (
            [{"id": "a", "args": {"cmd": "true", "expose": [8080, "8000-8100"]}}],
            "port 8080 falls within range",
        ),
        (
            [
                {
                    "id": "a",
                    "args": {"cmd": "true", "restart_policy": {"policy": "on-failure", "restart_tries": 3}},
                }
            ],
            "ops[0].args.restart_policy: unknown key 'restart_policy' (refused as @nosana/sdk 0.4.69 refuses"
            " it, though newer @nosana/types accept it: this node never restarts a job's container)",
        ),
    ],
)
def test_bad_job_definitions_are_refused_with_one_line(
    tmp_path: Path, home: Path, ops: list[dict], message: str
) -> None:
    path = write_json(tmp_path, job(ops))
    proc = run_cli("job", "run", str(path), "--home", str(home))
    assert proc.returncode == 2
    assert len(proc.stderr.splitlines()) == 1 and message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and not _flows(home)


def test_an_image_reference_the_engine_cannot_parse_is_bad_input(tmp_path: Path, home: Path) -> None:
    # @nosana/sdk accepts it (the corpus has one): validate warns, run refuses it before the engine is asked
    path = write_json(tmp_path, job([{"id": "a", "args": {"image": "busy box:latest", "cmd": "true"}}]))
    problem = "'busy box:latest' is not a valid image reference: it contains white space"
    proc = run_cli("job", "validate", str(path))
    assert proc.returncode == 0, proc.stderr
    where = f"{path}:8:18: ops[0].args.image"
    assert proc.stderr == f"warning: {where}: {problem}; the engine refuses it, so the job cannot run\n"
    proc = run_cli("job", "run", str(path), "--home", str(home))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.splitlines()[-1] == f"error: {problem}"


def test_a_job_this_host_cannot_serve_is_not_run(tmp_path: Path, home: Path) -> None:
    data = job([{"id": "a", "args": {"cmd": "true"}}], meta={"system_requirements": {"required_vram": 24}})
    proc = run_cli("job", "run", str(write_json(tmp_path, data)), "--home", str(home))
    assert proc.returncode == 1
    assert (
        proc.stderr.startswith("error: ")
        and "this host cannot serve the job: the job needs a GPU with 24 GB" in proc.stderr
    )
    assert len(proc.stderr.splitlines()) == 1 and not _flows(home)


# -- the corpus: CPU-only definitions, their images rewritten to the local busybox image ----------

CORPUS = {
    "nosana-ci__nosana-cli__job-examples_hello-world.json": {"hello-world": "hello world\n"},
    "nosana-ci__nosana-cli__job-examples_count-multiple.json": {"count-1": "1\n2\n", "count-2": "1\n2\n"},
    "nosana-ci__nosana-cli__job-examples_result-extracting.json": {"hello-world": "running ubuntu\n"},
    "nosana-ci__nosana-cli__job-examples_job-definition.json": {"run-from-cli-2": "Hello World\n/home"},
    "nosana-ci__nosana-cli__job-examples_hello-world-s3.json": {
        "hello-world": "Hello version 1.txt\nhello v1"
    },
}


def _busybox(data: dict) -> dict:
    for op in data["ops"]:
        if op["type"] == "container/run":
            op["args"]["image"] = IMAGE
            if op["id"].startswith("count-"):  # ten seconds each: two are enough to see them overlap
                op["args"]["cmd"] = op["args"]["cmd"].replace("seq 1 10", "seq 1 2")
    return data


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_definitions_run_end_to_end(corpus: Path, home: Path, name: str) -> None:
    data = _busybox(json.loads((corpus / "jobdefs" / name).read_text()))
    with moto_s3() as endpoint:
        client = s3_client(endpoint)
        client.create_bucket(Bucket="nosana-models", ACL="public-read")
        client.put_object(
            Bucket="nosana-models", Key="test/Hello version 1.txt", Body=b"hello v1", ACL="public-read"
        )
        resources = ResourceSettings(
            s3_endpoint=endpoint, mirrors={"https://models.nosana.io": "s3://nosana-models"}
        )
        flow = run(home, data, settings=JobdefSettings(resources=resources))
    assert flow.status is FlowStatus.SUCCEEDED, [s.error for s in flow.states.values()]
    for op_id, expected in CORPUS[name].items():
        assert log_text(flow, op_id, "stdout").startswith(expected)
    if "count-multiple" in name:  # one group each, one after the other, as the official node runs them
        assert flow.states["count-2"].started_at >= flow.states["count-1"].ended_at
    if "result-extracting" in name:
        values = flow.states["hello-world"].results.values
        assert values["detected-gpu-stderr"] == [
            "Device 0: NVIDIA GeForce RTX 3070, compute capability 8.6, VMM: yes"
        ]
        assert len(values["detected-gpu-all-std"]) == 2 and values["empty-result"] == []
        assert values["throw-error"] == []
    assert leftovers(flow.id) == {"volumes": [], "networks": []}


def test_corpus_multi_op_http_services_with_health_checks(corpus: Path, home: Path) -> None:
    """`nginx-multi-ops`: two HTTP services of one group (the second waits for the first to be
    ready), a third in a later group; busybox httpd serves port 80 as nginx would."""
    data = json.loads(
        (corpus / "jobdefs" / "nosana-ci__nosana-cli__job-examples_nginx-multi-ops.json").read_text()
    )
    for op in data["ops"]:
        op["args"].update(
            image=IMAGE,
            cmd=[
                "sh",
                "-c",
                f"mkdir -p /www && echo {op['id']} > /www/index.html && exec httpd -f -p 80 -h /www",
            ],
        )
    pages: list[str] = []

    def visit(urls: list[str]) -> None:
        pages.extend(urllib.request.urlopen(url + "/", timeout=10).read().decode().strip() for url in urls)

    flow = run_service(home, data, visit, services=2)
    states = flow.states
    assert pages == ["nginx-1", "nginx-2"]
    assert states["nginx-2"].started_at >= states["nginx-1"].ready_at  # depends_on: once it is ready
    assert [str(states[o].status) for o in ("nginx-1", "nginx-2")] == ["succeeded"] * 2
    document = flow_state(flow)
    assert [(s["operationId"], s["group"], s["status"]) for s in document["opStates"]][:2] == [
        ("nginx-1", "run", "success"),
        ("nginx-2", "run", "success"),
    ]
    # the services of the first group ran until the job's time was up: the later group never started
    third = document["opStates"][2]
    assert (third["operationId"], third["status"], third["diagnostics"]["reason"]) == (
        "nginx-3",
        "init",
        "expired",
    )
    assert flow.status is FlowStatus.EXPIRED
    assert leftovers(flow.id) == {"volumes": [], "networks": []}

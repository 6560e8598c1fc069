"""Job definitions running on the real engine (busybox job image): services with health checks,
groups with literals and results, volumes, resources from a real S3 server, the GPU request, and
every fault leaving nothing behind."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from nosana_node.docker import container
from nosana_node.docker.images import ImageUnavailableError
from nosana_node.flow.model import FlowStatus, OpStatus
from nosana_node.jobdef import loads
from nosana_node.jobdef.compile import compile_job
from nosana_node.jobdef.result import flow_state
from nosana_node.jobdef.settings import JobdefSettings
from nosana_node.resources.settings import ResourceSettings
from tests.corekit import IMAGE, engine, leftover_containers
from tests.jobdef.runkit import job, leftovers, log_text, run, run_service, runner
from tests.resources.conftest import s3_client
from tests.resources.servers import RegistryStandIn, moto_s3

IAM = {"REGION": "us-east-1", "ACCESS_KEY_ID": "test", "SECRET_ACCESS_KEY": "test"}
HTTPD = "mkdir -p /www && echo hello > /www/index.html && echo serving && exec httpd -f -p 8080 -h /www"


def service(op_id: str = "web", checks: list[dict] | None = None, **execution: object) -> dict:
    probe = {
        "type": "http",
        "path": "/index.html",
        "method": "GET",
        "expected_status": 200,
        "continuous": True,
    }
    op = {
        "id": op_id,
        "args": {"cmd": HTTPD, "expose": [{"port": 8080, "health_checks": checks or [probe]}]},
    }
    if execution:
        op["execution"] = execution
    return op


def test_service_is_ready_reports_its_url_and_ends_well_at_the_deadline(home: Path) -> None:
    served: list[str] = []

    def visit(urls: list[str]) -> None:
        served.append(urllib.request.urlopen(urls[0] + "/index.html", timeout=10).read().decode())

    flow = run_service(home, job([service()]), visit)
    state = flow.states["web"]
    assert served == ["hello\n"]
    assert state.status is OpStatus.SUCCEEDED and flow.status is FlowStatus.SUCCEEDED
    assert state.ready_at is not None and state.results.endpoints["8080"].startswith("http://127.0.0.1:")
    assert "port 8080: health checks passed" in log_text(flow, "web", "node")
    document = flow_state(flow)
    assert document["status"] == "success" and document["opStates"][0]["status"] == "success"
    assert leftovers(flow.id) == {"volumes": [], "networks": []}


def test_groups_literals_results_and_a_server_stopped_when_its_client_ends(home: Path) -> None:
    data = job(
        [
            service("server", group="pair", depends_on=["client"], stop_if_dependent_stops=True),
            {
                "id": "client",
                "args": {
                    "cmd": [
                        "sh",
                        "-c",
                        "wget -q -O - http://%%ops.server.host%%:8080/index.html; echo job=%%global.job%%",
                    ]
                },
                "results": {"page": "^hello$", "job": "job=(.*)", "none": "nothing like this"},
                "execution": {"group": "pair"},
            },
            {
                "id": "after",
                "args": {"cmd": ["echo", "got", "%%ops.client.results.page%%", "%%global.variables.W%%"]},
            },
        ],
        **{"global": {"variables": {"W": "world"}}},
    )
    flow = run(home, data)
    states = flow.states
    assert [str(states[o].status) for o in ("server", "client", "after")] == ["succeeded"] * 3
    assert states["client"].started_at >= states["server"].ready_at  # the client waited for the server
    assert states["after"].started_at >= states["server"].ended_at  # groups in order
    assert states["client"].results.values == {
        "page": ["hello"],
        "job": [f"job={flow.id}", flow.id],
        "none": [],
    }
    assert "the ops it serves ended: client" in log_text(flow, "server", "node")
    assert log_text(flow, "after", "stdout") == "got hello world\n"
    document = flow_state(flow)
    assert [(s["operationId"], s["group"], s["status"]) for s in document["opStates"]] == [
        ("server", "pair", "success"),
        ("client", "pair", "success"),
        ("after", "after", "success"),
    ]
    client = document["opStates"][1]
    assert client["exitCode"] == 0 and client["results"]["page"] == ["hello"]
    stdout = [entry for entry in client["logs"] if entry["type"] == "stdout"]
    assert "".join(e["log"] for e in stdout) == f"hello\njob={flow.id}\n"
    assert all(isinstance(e["timestamp"], int) for e in client["logs"])
    assert leftovers(flow.id) == {"volumes": [], "networks": []}


def test_literals_spreads_and_log_types_resolve_when_the_op_starts(home: Path) -> None:
    producer = 'echo \'["x","y"]\'; echo \'{"A":"1","B":"2"}\'; echo warn-disk >&2'
    data = job(
        [
            {
                "id": "produce",
                "args": {"cmd": ["sh", "-c", producer]},
                "results": {
                    "list": "^\\[.*\\]$",
                    "obj": "^\\{.*\\}$",
                    "warn": {"regex": "warn-(\\w+)", "logType": ["stderr"]},
                    "warnout": {"regex": "warn-(\\w+)", "logType": ["stdout"]},
                },
            },
            {
                "id": "consume",
                "args": {
                    "cmd": [
                        "sh",
                        "-c",
                        'echo "$@"; echo A=$A B=$B',
                        "argv0",
                        "%%ops.produce.results.list%%",  # a JSON list match: each item
                        "%%global.host%%",
                        "%%global.project%%",
                        "%%global.job%%",
                        "%%ops.produce.results.warn%%",
                    ],
                    "env": {"__spread__": "%%ops.produce.results.obj%%"},
                    "resources": ["__remove-if-empty__", {"__spread__": "%%ops.produce.results.warnout%%"}],
                },
            },
        ]
    )
    context = {"NOS_NODE_ADDRESS": "NodeAddr", "NOS_PROJECT_ADDRESS": "ProjAddr"}
    flow = compile_job(loads(json.dumps(data)), context=context)
    flow_runner = runner(home)
    try:
        with flow_runner.cancel_token() as token:
            flow = flow_runner.run(flow, cancel=token)
    finally:
        flow_runner.close()
    assert flow.status is FlowStatus.SUCCEEDED, flow.error
    assert flow.states["produce"].results.values == {
        "list": ['["x","y"]'],
        "obj": ['{"A":"1","B":"2"}'],
        "warn": ["warn-disk", "disk"],
        "warnout": [],
    }
    assert log_text(flow, "consume", "stdout") == f"x y NodeAddr ProjAddr {flow.id} warn-disk disk\nA=1 B=2\n"


def test_a_volume_is_shared_by_two_ops_and_removed_with_the_job(home: Path) -> None:
    volume = [{"name": "shared", "dest": "/shared"}]
    data = job(
        [
            {"id": "make", "type": "container/create-volume", "args": {"name": "shared"}},
            {"id": "write", "args": {"cmd": "echo 42 > /shared/answer", "volumes": volume}},
            {"id": "read", "args": {"cmd": "cat /shared/answer", "volumes": volume}},
        ]
    )
    flow = run(home, data)
    assert flow.status is FlowStatus.SUCCEEDED, flow.error
    assert log_text(flow, "read", "stdout") == "42\n"
    assert leftovers(flow.id) == {"volumes": [], "networks": []}


def test_s3_resources_are_mounted_read_only_or_privately_writable(home: Path) -> None:
    with moto_s3() as endpoint:
        client = s3_client(endpoint)
        client.create_bucket(Bucket="models")
        client.put_object(Bucket="models", Key="tiny/weights.bin", Body=b"W" * 1000)
        settings = JobdefSettings(resources=ResourceSettings(s3_endpoint=endpoint))
        check = (
            "cat /model/weights.bin | wc -c; touch /model/x 2>/dev/null && echo writable || echo read-only;"
            " touch /copy/x && echo copy-writable"
        )
        data = job(
            [
                {
                    "id": "use",
                    "args": {
                        "cmd": check,
                        "resources": [
                            {"type": "S3", "url": "s3://models/tiny", "target": "/model", "IAM": IAM},
                            {
                                "type": "S3",
                                "url": "s3://models/tiny",
                                "target": "/copy",
                                "allowWrite": True,
                                "IAM": IAM,
                            },
                        ],
                    },
                }
            ]
        )
        flow = run(home, data, settings=settings)
    assert flow.status is FlowStatus.SUCCEEDED, flow.error
    assert log_text(flow, "use", "stdout").split() == ["1000", "read-only", "copy-writable"]
    assert not (home / "flows" / flow.id / "private").exists()  # the private copy went with the job
    blobs = list((home / "resources" / "blobs").rglob("*"))
    assert blobs and all(b.stat().st_nlink >= 1 for b in blobs)


def test_gpu_ops_request_devices(home: Path, tmp_path: Path) -> None:
    api = engine()
    spec = container.JobSpec(
        image=IMAGE,
        script="true",
        work_dir=None,
        env={},
        labels={},
        name=None,
        cpus=1,
        memory=64 * 2**20,
        pids=64,
        gpus=-1,
        network="none",
    )
    created = container.create(api, spec)
    try:
        host_config = api.inspect_container(created)["HostConfig"]
        requests = host_config["DeviceRequests"]
        assert host_config["RestartPolicy"]["Name"] in ("", "no")  # job containers never restart
    finally:
        container.remove(api, created)
        api.close()
    assert [(r["Count"], r["Capabilities"]) for r in requests] == [(-1, [["gpu"]])]
    ops = [{"id": "cpu", "args": {"cmd": "true"}}, {"id": "train", "args": {"cmd": "true", "gpu": True}}]
    for gpus in (None, 2):  # all GPUs, or the count of `:docker :gpus`
        flow = run(home / str(gpus), job(ops), gpus=gpus)
        assert flow.states["cpu"].status is OpStatus.SUCCEEDED  # no device request without `gpu`
        state = flow.states["train"]
        assert state.status is OpStatus.FAILED and state.reason == "engine"
        # the engine's own account of the op's container: a device request with the gpu capability
        assert (state.error or "").startswith("GPU requested but this Docker engine cannot provide one")
        assert "capabilities: [[gpu]]" in (state.error or "")
        assert len((state.error or "").splitlines()) == 1
        assert leftovers(flow.id) == {"volumes": [], "networks": []}
        assert leftover_containers(home / str(gpus)) == []


def test_health_checks_that_never_pass_fail_the_op(home: Path) -> None:
    probe = {"type": "http", "path": "/missing", "method": "GET", "expected_status": 200, "continuous": False}
    settings = JobdefSettings(health_interval=0.2, health_timeout=1.5)
    flow = run(home, job([service(checks=[probe])]), settings=settings)
    state = flow.states["web"]
    assert state.status is OpStatus.FAILED and flow.status is FlowStatus.FAILED
    assert state.error == (
        "port 8080 did not pass its health checks within 1.5s (last: GET /missing → 200: status 404)"
    )
    assert leftovers(flow.id) == {"volumes": [], "networks": []}


def test_an_image_that_cannot_be_had_stops_the_job_before_anything_runs(home: Path) -> None:
    data = job([{"id": "a", "args": {"image": "localhost/nosana-no-such-image:1", "cmd": "true"}}])
    with pytest.raises(ImageUnavailableError, match="'localhost/nosana-no-such-image:1'"):
        run(home, data, pull_policy="never")


def test_resource_faults_fail_the_op_before_its_container_naming_the_resource(home: Path) -> None:
    with moto_s3() as endpoint, RegistryStandIn() as registry:
        s3_client(endpoint).create_bucket(Bucket="models")
        registry.add_model("library/tiny:1", {"application/vnd.ollama.image.model": b"M" * 100}, corrupt=True)
        settings = JobdefSettings(
            resources=ResourceSettings(s3_endpoint=endpoint, ollama_registry=registry.url, read_timeout=10)
        )
        data = job(
            [
                {
                    "id": "missing",
                    "args": {
                        "cmd": "true",
                        "resources": [{"type": "S3", "url": "s3://models/none", "target": "/m", "IAM": IAM}],
                    },
                    "execution": {"group": "g"},
                },
                {
                    "id": "corrupt",
                    "args": {"cmd": "true", "resources": [{"type": "Ollama", "model": "tiny:1"}]},
                    "execution": {"group": "g"},
                },
            ]
        )
        flow = run(home, data, settings=settings)
    missing, corrupt = flow.states["missing"], flow.states["corrupt"]
    assert missing.status is OpStatus.FAILED and missing.reason == "resource"
    assert (missing.error or "").startswith("S3 resource s3://models/none")
    assert corrupt.status is OpStatus.FAILED and "sha256" in (corrupt.error or "")
    assert "Ollama" in (corrupt.error or "") and missing.exit_code is None and corrupt.exit_code is None
    assert leftovers(flow.id) == {"volumes": [], "networks": []}


def test_a_market_job_reaches_private_s3_endpoints_only_when_the_operator_allows_them(home: Path) -> None:
    from nosana_node.node.documents import compile_job_document

    with moto_s3() as endpoint:
        client = s3_client(endpoint)
        client.create_bucket(Bucket="models")
        client.put_object(Bucket="models", Key="m/w.bin", Body=b"weights", ACL="public-read")
        spec = {"type": "S3", "url": f"{endpoint}/models/m", "bucket": "models", "target": "/m"}
        data = job([{"id": "a", "args": {"cmd": "cat /m/w.bin", "resources": [spec]}}])
        outcomes = []
        for allow in ((), ("127.0.0.0/8",)):
            market = compile_job_document(json.loads(json.dumps(data)), flow_id=f"market{len(allow)}")
            assert market.ops[0].args["public"] is True  # compile_data (job run) sets nothing
            settings = JobdefSettings(resources=ResourceSettings(allow_private=allow))
            flow_runner = runner(home, settings)
            try:
                with flow_runner.cancel_token(None) as cancel:
                    outcomes.append(flow_runner.run(market, cancel=cancel))
            finally:
                flow_runner.close()
    refused, allowed = outcomes
    state = refused.states["a"]
    assert state.status is OpStatus.FAILED and state.reason == "resource" and state.exit_code is None
    assert (state.error or "").startswith(f"S3 resource {endpoint}/models/m: refused: the endpoint 127.0.0.1")
    assert allowed.status is FlowStatus.SUCCEEDED, allowed.error
    assert log_text(allowed, "a", "stdout") == "weights"
    assert leftovers(refused.id) == {"volumes": [], "networks": []}


def test_the_registry_password_is_masked_in_the_log_the_result_and_the_store(home: Path) -> None:
    secret = "s3cr3t-pw-123"
    auth = {"docker": {"username": "u", "password": secret, "server": "localhost"}}
    flow = run(home, job([{"id": "a", "args": {"cmd": f"echo pw={secret}", "authentication": auth}}]))
    assert flow.status is FlowStatus.SUCCEEDED, flow.error
    assert log_text(flow, "a", "stdout") == "pw=[MASKED]\n"
    document = flow_state(flow)
    assert secret not in json.dumps(document) and "[MASKED]" in json.dumps(document)
    stored = [p for p in home.rglob("*") if p.is_file()]  # state.db, its WAL, logs
    assert stored and not [p for p in stored if secret.encode() in p.read_bytes()]

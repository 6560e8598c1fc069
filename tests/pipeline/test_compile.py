"""Compilation: a pipeline becomes a flow of ops whose references stay symbolic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nosana_node.errors import NosanaError
from nosana_node.flow.model import Flow
from nosana_node.flow.refs import references
from nosana_node.pipeline.compile import compile_pipeline, source_key
from nosana_node.pipeline.loader import load_text
from nosana_node.pipeline.validate import validate

TEXT = """\
global:
  image: busybox
  environment:
    SHARED: from-global
    OVERRIDDEN: global
    DB_PASSWORD: {type: nos/vault, value: db/creds#password}
  secrets: [NPM_TOKEN]
  allow_failure: true
  image_pull_secrets: {url: registry.example.com, username: me, password: {type: nos/vault, value: registry}}
jobs:
  - name: build
    environment: {OVERRIDDEN: job}
    commands:
      - make
      - cmd: make lint
        working_dir: src
        allow_failure: true
    artifacts:
      - {name: dist, path: dist/}
      - {name: logs, path: "*.log", required: false}
  - name: test
    image: alpine
    allow_failure: false
    work_dir: /work
    resources:
      - {name: dist, path: out}
    commands: [make test]
"""


def compiled(text: str = TEXT, **kwargs: object) -> Flow:
    return compile_pipeline(validate(load_text(text, "p.yml")), name="p", **kwargs)  # type: ignore[arg-type]


def test_one_docker_run_op_per_job_in_order() -> None:
    flow = compiled()
    assert [(op.id, op.type, op.depends_on) for op in flow.ops] == [
        ("build", "docker/run", []),
        ("test", "docker/run", ["build"]),
    ]
    assert flow.states["build"].status == "pending"


def test_images_work_dirs_and_commands() -> None:
    build, test = compiled().ops
    assert build.args["image"] == "busybox" and test.args["image"] == "alpine"
    assert build.args["work_dir"] == "/root/project" and test.args["work_dir"] == "/work"
    assert build.args["commands"] == [
        {"cmd": "make", "working_dir": None, "allow_failure": False},
        {"cmd": "make lint", "working_dir": "src", "allow_failure": True},
    ]


def test_default_image_is_ubuntu_latest() -> None:
    (op,) = compiled("global: {}\njobs: [{name: a, commands: [x]}]\n").ops
    assert op.args["image"] == "ubuntu:latest"


def test_allow_failure_job_overrides_global() -> None:
    build, test = compiled().ops
    assert build.allow_failure is True  # from global
    assert test.allow_failure is False  # the job says no


def test_environment_merge_and_symbolic_references() -> None:
    env = compiled().ops[0].args["env"]
    assert env["SHARED"] == "from-global"
    assert env["OVERRIDDEN"] == "job"
    assert env["DB_PASSWORD"] == {"$secret": "db/creds#password"}
    assert env["NPM_TOKEN"] == {"$secret": "NPM_TOKEN"}
    assert env["NOS_JOB_ADDRESS"] == {"$context": "NOS_JOB_ADDRESS"}
    assert env["TERM"] == "xterm-color" and env["FORCE_COLOR"] == "1" and env["CLICOLOR"] == "1"


def test_resources_refer_to_the_producing_job() -> None:
    flow = compiled()
    (resource,) = flow.ops[1].args["resources"]
    assert resource == {
        "name": "dist",
        "path": "out",
        "required": True,
        "artifact": {"$result": ["build", "artifacts", "dist"]},
    }
    assert flow.ops[0].args["artifacts"][1] == {"name": "logs", "path": "*.log", "required": False}


def test_pull_credentials_stay_references() -> None:
    auth = compiled().ops[0].args["pull_auth"]
    assert auth == {"server": "registry.example.com", "username": "me", "password": {"$secret": "registry"}}


def test_flow_serialises_and_round_trips_without_values() -> None:
    flow = compiled()
    data = json.loads(json.dumps(flow.to_json()))
    again = Flow.from_json(data)
    assert again.to_json() == flow.to_json()
    kinds = {kind for op in flow.ops for kind, _ in references(op.args)}
    assert kinds == {"$secret", "$result", "$context"}


def test_workspace_adds_a_checkout_op_and_resource(tmp_path: Path) -> None:
    flow = compiled(workspace=tmp_path)
    checkout = flow.ops[0]
    assert (checkout.id, checkout.type, checkout.args) == (
        "checkout",
        "checkout/local",
        {"path": str(tmp_path)},
    )
    assert flow.ops[1].depends_on == ["checkout"]
    for op in flow.ops[1:]:
        first = op.args["resources"][0]
        assert first["artifact"] == {"$result": ["checkout", "artifacts", "checkout"]}
        assert first["path"] == "."


def test_checkout_op_id_does_not_clash_with_a_job(tmp_path: Path) -> None:
    flow = compiled("global: {}\njobs: [{name: checkout, commands: [x]}]\n", workspace=tmp_path)
    assert [op.id for op in flow.ops] == ["checkout-2", "checkout"]


def test_source_key_changes_with_content_workspace_and_context(tmp_path: Path) -> None:
    base = source_key("a", None, {})
    assert base == source_key("a", None, {})
    assert (
        len(
            {
                base,
                source_key("b", None, {}),
                source_key("a", tmp_path, {}),
                source_key("a", None, {"X": "1"}),
            }
        )
        == 4
    )


def test_op_args_are_checked_by_the_op_type() -> None:
    from nosana_node import wiring

    registry = wiring.op_types()
    problems = registry.get("docker/run").validate({"image": "", "commands": [], "work_dir": "rel"})
    assert problems == [
        "image: a non-empty string is required",
        "commands: a non-empty list is required",
        "work_dir: an absolute path is required",
    ]
    with pytest.raises(NosanaError, match="unknown op type 'nope/op'"):
        registry.get("nope/op")

"""The forms the ecosystem wrote (corpus letters A to Q) are accepted and keep the original meaning."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nosana_node.flow.model import Flow
from nosana_node.pipeline.compile import compile_pipeline
from nosana_node.pipeline.loader import load_text
from nosana_node.pipeline.problems import ProblemList
from nosana_node.pipeline.validate import validate


def compiled(text: str, **kwargs: Any) -> tuple[Flow, list[str]]:
    doc = load_text(text, "p.yml")
    flow = compile_pipeline(validate(doc), name="p", **kwargs)
    return flow, [str(w) for w in doc.warnings]


def job_args(flow: Flow, job: str) -> dict[str, Any]:
    return flow.op(job).args


def errors(text: str) -> list[str]:
    with pytest.raises(ProblemList) as info:
        validate(load_text(text, "p.yml"))
    return info.value.lines


def test_artifact_without_path_uses_its_name_and_paths_lists_are_one_archive() -> None:  # A, B
    flow, warnings = compiled(
        """\
global: {image: busybox}
jobs:
  - name: build
    commands: [make]
    artifacts:
      - name: dist
      - name: contracts
        paths: ["contracts/**/*.{wasm,abi}", build/out.txt]
      - {name: one, paths: single.txt}
"""
    )
    assert warnings == []
    assert job_args(flow, "build")["artifacts"] == [
        {"name": "dist", "path": "dist", "required": True},
        {
            "name": "contracts",
            "path": "contracts/**/*.{wasm,abi}",
            "paths": ["contracts/**/*.{wasm,abi}", "build/out.txt"],
            "required": True,
        },
        {"name": "one", "path": "single.txt", "required": True},
    ]
    assert errors(
        "global: {}\njobs:\n  - name: a\n    commands: [x]\n    artifacts: [{name: a, path: x, paths: [y]}]\n"
    ) == ["p.yml:5:36: jobs[0].artifacts[0].paths: give either 'path' or 'paths', not both"]


def test_bare_name_resources_and_optional() -> None:  # C
    flow, warnings = compiled(
        """\
global: {image: busybox}
jobs:
  - name: install
    commands: [npm ci]
    artifacts: [{name: node_modules, path: ./node_modules/}]
  - name: lint
    commands: [npm run lint]
    resources:
      - node_modules
      - {name: cache, optional: true}
"""
    )
    resources = job_args(flow, "lint")["resources"]
    assert resources[0] == {
        "name": "node_modules",
        "path": ".",
        "required": True,
        "artifact": {"$result": ["install", "artifacts", "node_modules"]},
    }
    assert resources[1] == {"name": "cache", "path": ".", "required": False, "artifact": None}
    assert warnings == [
        "p.yml:10:16: jobs[1].resources[1].name: no job makes an artifact 'cache'; skipped (required: false)"
    ]


def test_top_level_trigger_is_the_checkout_of_a_local_run(tmp_path: Path) -> None:  # D
    text = """\
trigger:
  repo: https://example.org/team/app.git
  commit-sha: 324921ccbfb5c04cca80429fe0d7eceb4210c732
global: {image: busybox}
jobs:
  - name: test
    commands: [ls]
    resources: [{name: checkout, path: /app}]
"""
    flow, warnings = compiled(text)
    checkout = flow.ops[0]
    assert (checkout.id, checkout.type) == ("checkout", "checkout/git")
    assert checkout.args == {
        "repo": "https://example.org/team/app.git",
        "commit": "324921ccbfb5c04cca80429fe0d7eceb4210c732",
    }
    assert flow.op("test").depends_on == ["checkout"]
    resources = job_args(flow, "test")["resources"]
    ref = {"$result": ["checkout", "artifacts", "checkout"]}
    assert resources == [
        {"name": "checkout", "path": ".", "required": True, "artifact": ref},
        {"name": "checkout", "path": "/app", "required": True, "artifact": ref},
    ]
    assert flow.context == {
        "NOS_REPOSITORY": "https://example.org/team/app.git",
        "NOS_COMMIT_SHA": "324921ccbfb5c04cca80429fe0d7eceb4210c732",
    }
    assert warnings == [
        "p.yml:8:40: jobs[0].resources[0].path: '/app' is outside the work dir /root/project;"
        " it names that path in the container"
    ]
    # a workspace wins over the trigger, and the context given wins over the trigger's
    flow, _ = compiled(text, workspace=tmp_path, context={"NOS_REPOSITORY": "mine"})
    assert flow.ops[0].type == "checkout/local" and flow.context == {"NOS_REPOSITORY": "mine"}


def test_checkout_resource_without_a_checkout_is_skipped() -> None:
    flow, warnings = compiled(
        "global: {image: busybox}\njobs:\n  - name: a\n    commands: [x]\n    resources: [checkout]\n"
    )
    assert [op.id for op in flow.ops] == ["a"]
    assert job_args(flow, "a")["resources"] == [
        {"name": "checkout", "path": ".", "required": False, "artifact": None}
    ]
    assert warnings == []


def test_job_level_trigger_branches_as_string_and_backend() -> None:  # E, K, L
    flow, warnings = compiled(
        """\
nosana: {description: Build, backend: IPFS}
global:
  image: busybox
  trigger:
    branch: main
    push: {branches: '*', tags: 'v*'}
    pull_request: {branches: ['*']}
jobs:
  - name: deploy
    trigger: {push: {branches: [master]}}
    commands: [deploy]
"""
    )
    assert warnings == [] and [op.id for op in flow.ops] == ["deploy"]
    pipeline = validate(
        load_text("global:\n  trigger: {push: {branches: '*'}}\njobs: [{name: a, commands: [x]}]\n", "p")
    )
    assert pipeline.global_.trigger is not None and pipeline.global_.trigger.push is not None
    assert pipeline.global_.trigger.push.branches == ["*"]


def test_nosana_secret_environment_values() -> None:  # F, G
    flow, warnings = compiled(
        """\
global:
  image: busybox
  environment:
    NPM_TOKEN: {type: nosana/secret, endpoint: "https://secrets.example.org", value: npm-deploy-key}
jobs:
  - name: a
    environment:
      OLD: {type: secret, endpoint: "http://localhost:4124", value: key-of-secret}
      VAULTED: {type: nos/vault, value: ci/npm#token, endpoint: "https://ignored.example.org"}
    commands: [x]
"""
    )
    env = job_args(flow, "a")["env"]
    assert env["NPM_TOKEN"] == {"$secret": "npm-deploy-key", "endpoint": "https://secrets.example.org"}
    assert env["OLD"] == {"$secret": "key-of-secret", "endpoint": "http://localhost:4124"}
    assert env["VAULTED"] == {"$secret": "ci/npm#token"}
    assert warnings == [
        "p.yml:8:19: jobs[0].environment.OLD.type: legacy secret type 'secret' read as 'nosana/secret'",
        "p.yml:9:55: jobs[0].environment.VAULTED.endpoint: 'endpoint' is ignored for 'nos/vault'"
        " (the node's vault)",
    ]
    assert "no secret value" not in str(flow.to_json())


def test_empty_values_stand_for_empty_collections() -> None:  # H
    flow, warnings = compiled(
        "global:\n  image: busybox\n  environment:\njobs:\n  - name: a\n    environment:\n    secrets:\n"
        "    artifacts:\n    resources:\n    commands: [x]\n"
    )
    assert warnings == [] and "TERM" in job_args(flow, "a")["env"]


def test_registry_password_list_and_spellings() -> None:  # I, J, Q
    flow, warnings = compiled(
        """\
global:
  image: busybox
  image-pull-secret:
    username: jesse
    password:
      - {type: nosana/secret, endpoint: "https://secrets.example.org", value: DOCKERHUBPASS}
      - {type: nos/vault, value: other}
jobs:
  - name: a
    work-dir: /app
    image_pull_secrets:
      url: registry.gitlab.com
      username: {type: nos/vault, value: registry#user}
      password: [{type: nos/vault, value: registry#password}]
    commands: [x]
  - name: b
    commands: [x]
"""
    )
    assert job_args(flow, "a")["work_dir"] == "/app"
    assert job_args(flow, "a")["pull_auth"] == {
        "server": "registry.gitlab.com",
        "username": {"$secret": "registry#user"},
        "password": {"$secret": "registry#password"},
    }
    assert job_args(flow, "b")["pull_auth"] == {
        "server": None,
        "username": "jesse",
        "password": {"$secret": "DOCKERHUBPASS", "endpoint": "https://secrets.example.org"},
    }
    assert warnings == [
        "p.yml:7:9: global.image_pull_secrets.password[1]:"
        " only the first secret reference of the list is used"
    ]
    assert errors(
        "global: {}\njobs:\n  - name: a\n    work-dir: /a\n    work_dir: /b\n    commands: [x]\n"
    ) == ["p.yml:5:5: jobs[0].work_dir: 'work_dir' is given twice (as 'work-dir' and 'work_dir')"]


def test_ignored_keys_are_warnings_naming_the_nearest_key() -> None:  # M, N, O
    _, warnings = compiled(
        """\
global:
  image: busybox
  env: {A: b}
  trigger:
    branch: [main]
    secrets: [A]
jobs:
  - name: a
    USERNAME: nosana
    commands: [x]
"""
    )
    assert warnings == [
        "p.yml:3:3: global.env: unknown key 'env' ignored (did you mean 'environment'?)",
        "p.yml:6:5: global.trigger.secrets: unknown key 'secrets' ignored"
        " ('secrets' belongs to global or a job: check the indentation)",
        "p.yml:9:5: jobs[0].USERNAME: unknown key 'USERNAME' ignored"
        " (an environment variable? it belongs under 'environment:')",
    ]


def test_resource_made_by_the_same_job_is_a_cache() -> None:
    flow, warnings = compiled(
        "global: {image: busybox}\njobs:\n  - name: npm\n    commands: [npm ci]\n"
        "    resources: [{name: node_modules, required: false}]\n    artifacts: [{name: node_modules}]\n"
        "  - name: test\n    commands: [npm test]\n    resources: [node_modules]\n"
    )
    assert job_args(flow, "npm")["resources"][0]["artifact"] is None
    assert job_args(flow, "test")["resources"][0]["artifact"] == {
        "$result": ["npm", "artifacts", "node_modules"]
    }
    assert warnings == [
        "p.yml:5:24: jobs[0].resources[0].name: artifact 'node_modules' is made by this job;"
        " skipped (required: false)"
    ]


def test_a_command_yaml_read_as_a_mapping_is_one_error() -> None:  # P
    assert errors(
        "global: {}\njobs:\n  - name: a\n    commands:\n      - deno cache --reload=file: ./mod.ts\n"
    ) == [
        "p.yml:5:9: jobs[0].commands[0]: YAML read this command as a mapping"
        " (deno cache --reload=file: ./mod.ts) because of ': ' in it; quote it"
    ]

"""Corpus pipelines run for real on the Docker engine, where their meaning matters.

Each file is taken from the corpus as it is, with its images rewritten to the project's local
busybox image and each job's commands replaced by commands that make what its artifacts name
and check what its resources bring (the real ones need node, anchor, a network …). Structure,
artifacts, resources, paths, triggers and secrets stay as their authors wrote them.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from nosana_node.flow.model import FlowStatus
from nosana_node.vault.config_backend import ConfigVault
from tests.corekit import IMAGE, job_log, run_pipeline
from tests.docker.conftest import job_image  # noqa: F401 - the job image must exist; no container left
from tests.pipeline.corpus import corpus

pytestmark = pytest.mark.docker


def rewritten(name: str, commands: dict[str, list[str]], **top: Any) -> str:
    """The corpus file ``name`` with busybox images and the given commands per job."""
    data = yaml.safe_load((corpus() / "pipelines" / name).read_text())
    data["global"]["image"] = IMAGE
    for job in data["jobs"]:
        if "image" in job:
            job["image"] = IMAGE
        job["commands"] = commands[job["name"]]
    data.update(top)
    return yaml.safe_dump(data, sort_keys=False)


def failures(flow: Any) -> dict[str, str | None]:
    return {
        op.id: flow.states[op.id].error
        for op in flow.ops
        if flow.states[op.id].status is not FlowStatus.SUCCEEDED
    }


def git(*args: str, cwd: Path) -> str:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def repository(root: Path) -> tuple[str, str]:
    """A local repository with two commits; returns its file:// URL and the first commit."""
    repo = root / "repo"
    repo.mkdir()
    git("init", "-q", "-b", "main", cwd=repo)
    (repo / "README.md").write_text("first\n")
    (repo / "docs").mkdir()
    (repo / "docs" / "index.md").write_text("# docs\n")
    git("add", ".", cwd=repo)
    git("commit", "-q", "-m", "first", cwd=repo)
    first = git("rev-parse", "HEAD", cwd=repo)
    (repo / "README.md").write_text("second\n")
    git("commit", "-q", "-am", "second", cwd=repo)
    return f"file://{repo}", first


def test_effect_network_paths_lists_checkout_and_names_as_paths(home: Path, tmp_path: Path) -> None:
    # A (artifacts without path), B (a `paths:` list with ** and {a,b}), E (job-level trigger),
    # the built-in checkout placed at /app, global secrets.
    workspace = tmp_path / "ws"
    (workspace / "ci").mkdir(parents=True)
    (workspace / "ci" / "Dockerfile").write_text("FROM scratch\n")
    text = rewritten(
        "effectai__effect-network__nosana-ci.yml",
        {
            "docker": ["test -f ci/Dockerfile"],
            "eos-cljs": ["mkdir -p eos-cljs/src", "echo cljs > eos-cljs/src/core.cljs"],
            "npm install": [
                "test -f eos-cljs/src/core.cljs",
                "mkdir -p node_modules/x",
                "echo m > node_modules/x/i.js",
            ],
            "build contracts": [
                "mkdir -p contracts/dao contracts/token/build",
                "echo w > contracts/dao/dao.wasm",
                "echo a > contracts/dao/dao.abi",
                "echo w > contracts/token/build/token.wasm",
                "echo no > contracts/dao/dao.cpp",
            ],
            "eosio": [
                "test -f node_modules/x/i.js",
                "test -f contracts/dao/dao.wasm -a -f contracts/dao/dao.abi",
                "test -f contracts/token/build/token.wasm",
                "test ! -e contracts/dao/dao.cpp",
                "test -f eos-cljs/src/core.cljs",
            ],
            "deploy-testnet": [
                "test -f /app/ci/Dockerfile",
                "test -f ci/Dockerfile",
                'test "$EOS_WALLET" = wallet-json',
            ],
        },
    )
    vault = ConfigVault({"EOS_WALLET": "wallet-json", "EOS_WALLET_PASS": "wallet-pass"})
    flow = run_pipeline(home, text, workspace=workspace, secrets=vault)
    assert flow.status is FlowStatus.SUCCEEDED, failures(flow)
    contracts = flow.states["build contracts"].results.artifacts["contracts"]
    assert (contracts.path, contracts.files) == ("contracts/**/*.{wasm,abi}", 3)


def test_bare_name_resources_and_a_trigger_checkout_at_a_commit(home: Path, tmp_path: Path) -> None:
    # C (resources as bare names) and D (top-level trigger {repo, commit-sha}): the trigger is
    # rewritten to a local repository (file://), at its first commit, not its head.
    url, first = repository(tmp_path)
    text = rewritten(
        "nosana-ci__nosana-node__resources_pipeline1.yml",
        {
            "setup-node": [
                'test "$(cat README.md)" = first',
                "mkdir node_modules",
                "echo m > node_modules/m.js",
            ],
            "lint-and-fix": ["test -f node_modules/m.js", "echo fixed >> docs/index.md"],
            "generate-docs": [
                "test -f node_modules/m.js",
                "grep -q fixed docs/index.md",
                'test "$NOS_COMMIT_SHA" = ' + first,
                "mkdir dist",
                "echo site > dist/index.html",
            ],
        },
        trigger={"repo": url, "commit-sha": first},
    )
    flow = run_pipeline(home, text)
    assert flow.status is FlowStatus.SUCCEEDED, failures(flow)
    assert flow.ops[0].type == "checkout/git"
    assert "$ git checkout " + first in job_log(flow, "checkout")
    assert (flow.states["generate-docs"].results.artifacts["dist_folder"].files or 0) >= 1


def test_a_trigger_that_cannot_be_checked_out_fails_before_any_job(home: Path, tmp_path: Path) -> None:
    text = rewritten(
        "nosana-ci__nosana-node__resources_pipeline2.yml",
        {"install-deps": ["ls"], "list-directory": ["ls"]},
        trigger={"repo": f"file://{tmp_path}/absent.git", "commit-sha": "deadbeef"},
    )
    flow = run_pipeline(home, text)
    assert flow.status is FlowStatus.FAILED
    assert "cannot check out file://" in (flow.states["checkout"].error or "")
    assert {str(flow.states[j].status) for j in ("install-deps", "list-directory")} == {"skipped"}


def test_absolute_paths_empty_environment_and_a_cache_resource(home: Path, tmp_path: Path) -> None:
    # H (empty environment:), resources at `/`, an artifact at an absolute path (buildstation),
    # then a resource made by the same job, required: false (the cache idiom of test-docs).
    text = rewritten(
        "nosana-ci__buildstation__nosana-ci.yml",
        {
            "build program": ["mkdir -p dist/program", "echo so > dist/program/helloworld.som"],
            "write buffer": [
                "test -f /helloworld.som",
                "mkdir solana",
                'echo "$SOLANA_WALLET" > solana/key.json',
            ],
            "squads deploy": ["test -f /solana/key.json", "echo deployed > /solana/squads-deploy.json"],
            "wait for deploy": [
                "grep -q deployed solana/squads-deploy.json",
                "grep -q MASKED solana/key.json || true",
            ],
        },
    )
    flow = run_pipeline(home, text, secrets=ConfigVault({"SOLANA_WALLET": "[1,2,3,4,5,6]"}))
    assert flow.status is FlowStatus.SUCCEEDED, failures(flow)
    text = rewritten(
        "jeisses__test-docs.nosana.io__nosana-ci.yml",
        {
            "npm": [
                "test ! -e node_modules",
                "mkdir node_modules .npm",
                "echo m > node_modules/m",
                "echo c > .npm/c",
            ],
            "test": ["test -f node_modules/m -a -f .npm/c"],
            "build": ["mkdir dist", "echo site > dist/index.html", "mv dist public"],
            "release": ["test -f public/index.html"],
        },
    )
    flow = run_pipeline(home, text)
    assert flow.status is FlowStatus.SUCCEEDED, failures(flow)
    assert "resource 'node_modules' is missing (not required)" in job_log(flow, "npm")

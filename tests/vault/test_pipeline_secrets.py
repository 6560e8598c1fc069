"""End to end: pipelines whose jobs read secrets from a real OpenBao run on the real Docker engine.

The container sees the right value (checked through its sha256, printed by the job); the value,
its encoded forms and the vault token appear nowhere else: not in the streamed output, the
--json result, `flow show --logs`, error messages, nor in any file under the node's home
(SQLite store, logs, artifact store). A missing secret, a denied path and a vault stopped
mid-flow each fail their op before its container is created, with a one-line error naming the
reference; the flow records the failure and the run exits non-zero.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

from nosana_node.docker import labels
from nosana_node.flow.model import OpStatus
from nosana_node.flow.store import FlowStore
from tests.cli import REPO, run_cli
from tests.corekit import IMAGE, WAIT_FOR_GO, engine, home, let_go, store_id  # noqa: F401 - `home` is a fixture
from tests.vault.bao import BaoServer

pytestmark = [pytest.mark.openbao, pytest.mark.docker]

DB = "Db-P@ss w/ spaces+&=?"  # URL-encodes and base64-encodes to forms unlike itself
NPM = "npm_0a1b2c3d4e5f6a7b8c9d"
REGISTRY = "registry-pass-Z9y8X7"

PIPELINE = f"""
global:
  image: {IMAGE}
  environment:
    DB_PASSWORD: {{type: nos/vault, value: db#password}}
  image_pull_secrets:
    url: registry.example.com
    username: ci
    password: {{type: nos/vault, value: registry#password}}
jobs:
  - name: use-secrets
    secrets: [NPM_TOKEN]
    commands:
      - printf %s "$DB_PASSWORD" | sha256sum
      - printf %s "$NPM_TOKEN" | sha256sum
      - echo "db=$DB_PASSWORD"
      - echo "npm=$NPM_TOKEN" >&2
      - printf %s "$DB_PASSWORD" | base64
      - printf %s "user:$DB_PASSWORD" | base64
      - printf %s "$DB_PASSWORD" | head -c 6; sleep 0.5; printf '%s\\n' "$DB_PASSWORD" | tail -c +7
      - mkdir -p out && printf %s "$DB_PASSWORD" | sha256sum > out/hash.txt
    artifacts:
      - {{name: hash, path: out/}}
"""


@pytest.fixture(scope="module", autouse=True)
def job_image() -> None:
    api = engine()
    try:
        api.inspect_image(IMAGE)
    except Exception as exc:  # pragma: no cover - set-up problem, not a test result
        pytest.fail(f"job image {IMAGE} missing ({exc}); run `make images`")
    finally:
        api.close()


def forms(value: str) -> list[str]:
    """The value and the encodings a leak would most likely take."""
    raw = value.encode()
    return [
        value,
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode(),
        quote(value, safe=""),
        quote_plus(value),
        json.dumps(value)[1:-1],
    ]


def assert_nowhere(values: list[str], texts: dict[str, str], home_dir: Path) -> None:
    """No form of any value in the texts, nor in any file under the home directory."""
    for value in values:
        for form in forms(value):
            for name, text in texts.items():
                assert form not in text, f"{form!r} (a form of a secret) found in {name}"
            needle = form.encode()
            for path in home_dir.rglob("*"):
                if path.is_file():
                    assert needle not in path.read_bytes(), f"{form!r} (a form of a secret) found in {path}"


KEYPAIR = json.dumps([(i * 13 + 1) % 256 for i in range(64)])


def config(tmp_path: Path, server: BaoServer, prefix: str) -> Path:
    """A node configuration: the OpenBao backend (token from the environment) and a keypair file."""
    keypair = tmp_path / "id.json"
    keypair.write_text(KEYPAIR)
    keypair.chmod(0o600)
    path = tmp_path / "config.edn"
    path.write_text(
        f'{{:keypair #file "id.json"'
        f' :vault {{:backend :openbao :address "{server.addr}" :token #env NODE_VAULT_TOKEN'
        f' :path-prefix "{prefix}" :timeout "3s"}}}}'
    )
    return path


def seed(server: BaoServer, prefix: str) -> None:
    kv = server.client().secrets.kv.v2
    kv.create_or_update_secret(path=f"{prefix}/db", secret={"password": DB, "user": "app"})
    kv.create_or_update_secret(path=f"{prefix}/NPM_TOKEN", secret={"value": NPM})
    kv.create_or_update_secret(path=f"{prefix}/registry", secret={"password": REGISTRY})


def created_ops(home_dir: Path, flow_id: str, since: float) -> list[str]:
    """Op ids of the containers the engine created for this flow (of this home's store)."""
    sid = store_id(home_dir)
    api = engine()
    try:
        events = api.events(
            since=int(since) - 1,
            until=int(time.time()) + 1,
            filters={
                "type": "container",
                "event": "create",
                "label": [f"{labels.STORE}={sid}", f"{labels.FLOW}={flow_id}"],
            },
            decode=True,
        )
        return [e["Actor"]["Attributes"].get(labels.OP, "") for e in events]
    finally:
        api.close()


def stored(home_dir: Path) -> Any:
    store = FlowStore(home_dir)
    try:
        (summary,) = store.list()
        return store.load(summary.id)
    finally:
        store.close()


def test_secrets_reach_the_container_and_nothing_else(
    bao: BaoServer,
    prefix: str,
    tmp_path: Path,
    home: Path,  # noqa: F811 - fixture
) -> None:
    seed(bao, prefix)
    pipeline = tmp_path / "secrets.yml"
    pipeline.write_text(PIPELINE)
    env = {"NOSANA_HOME": str(home), "NODE_VAULT_TOKEN": bao.root_token}
    cfg = config(tmp_path, bao, prefix)

    live = run_cli("--config", str(cfg), "pipeline", "run", str(pipeline), env=env)
    assert live.returncode == 0, live.stdout + live.stderr
    # the container saw the right values
    assert hashlib.sha256(DB.encode()).hexdigest() in live.stdout
    assert hashlib.sha256(NPM.encode()).hexdigest() in live.stdout
    # printed values (raw, stderr, base64, inside basic-auth base64, split over two writes) are masked
    out_lines = live.stdout.splitlines()
    assert "use-secrets | db=[MASKED]" in out_lines
    assert "use-secrets ! npm=[MASKED]" in out_lines
    assert out_lines.count("use-secrets | [MASKED]") == 2  # its base64, and the value written in two parts
    basic_auth = base64.b64encode(f"user:{DB}".encode()).decode()
    assert basic_auth not in live.stdout
    assert f"use-secrets | {basic_auth[:7]}[MASKED]{basic_auth[-2:]}" in out_lines  # only user: stays

    again = run_cli("--config", str(cfg), "pipeline", "run", "--fresh", "--json", str(pipeline), env=env)
    assert again.returncode == 0, again.stderr
    result = json.loads(again.stdout)
    assert result["status"] == "succeeded" and "hash" in result["jobs"][-1]["artifacts"]
    show = run_cli("flow", "show", result["flow_id"], "--logs", env=env)
    assert show.returncode == 0 and "db=[MASKED]" in show.stdout

    # the stored flow keeps references, never values
    flow = stored_flow(home, result["flow_id"])
    plan = json.dumps(flow.plan_json())
    assert '{"$secret": "db#password"}' in plan and '{"$secret": "NPM_TOKEN"}' in plan
    assert '{"$secret": "registry#password"}' in plan

    texts = {
        "pipeline run output": live.stdout + live.stderr,
        "--json result": again.stdout + again.stderr,
        "flow show --logs": show.stdout + show.stderr,
    }
    assert_nowhere([DB, NPM, REGISTRY, bao.root_token, KEYPAIR], texts, home)
    assert any(home.rglob("*.jsonl")) and (home / "state.db").exists()  # the scan saw real files


def stored_flow(home_dir: Path, flow_id: str) -> Any:
    store = FlowStore(home_dir)
    try:
        return store.load(flow_id)
    finally:
        store.close()


def run_failing(
    tmp_path: Path, home_dir: Path, cfg: Path, env: dict[str, str], ref: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any], float]:
    pipeline = tmp_path / "failing.yml"
    pipeline.write_text(
        f"global:\n  image: {IMAGE}\njobs:\n"
        "  - name: before\n    commands: [echo fine]\n"
        f"  - name: needs-secret\n    environment:\n      X: {{type: nos/vault, value: '{ref}'}}\n"
        "    commands: [echo $X]\n"
    )
    started = time.time()
    proc = run_cli("--config", str(cfg), "pipeline", "run", "--json", str(pipeline), env=env)
    return proc, json.loads(proc.stdout), started


def check_failed_before_container(
    proc: subprocess.CompletedProcess[str], result: dict[str, Any], home_dir: Path, started: float, error: str
) -> None:
    assert proc.returncode == 1
    before, needs = result["jobs"]
    assert before["status"] == "succeeded"
    assert needs["status"] == "failed" and needs["exit_code"] is None
    assert needs["error"] == error and "\n" not in error
    assert f"needs-secret · error: {error}" in proc.stderr.splitlines()
    # the flow recorded the failure
    flow = stored_flow(home_dir, result["flow_id"])
    state = flow.states["needs-secret"]
    assert state.status is OpStatus.FAILED and state.error == error
    # and the engine never created a container for that op
    assert created_ops(home_dir, result["flow_id"], started) == ["before"]


def test_missing_secret_fails_the_op_before_its_container(
    bao: BaoServer,
    prefix: str,
    tmp_path: Path,
    home: Path,  # noqa: F811 - fixture
) -> None:
    seed(bao, prefix)
    env = {"NOSANA_HOME": str(home), "NODE_VAULT_TOKEN": bao.root_token}
    proc, result, started = run_failing(tmp_path, home, config(tmp_path, bao, prefix), env, "db#nokey")
    check_failed_before_container(
        proc, result, home, started, "secret db#nokey: no key 'nokey' at db (keys: password, user)"
    )
    proc, result, started = run_failing(tmp_path, home, config(tmp_path, bao, prefix), env, "absent#k")
    check_failed_before_container(
        proc,
        result,
        home,
        started,
        f"secret absent#k: not found at secret/{prefix}/absent in vault {bao.addr} (kv v2)",
    )
    assert_nowhere([DB, bao.root_token], {"output": proc.stdout + proc.stderr}, home)


def test_denied_path_fails_the_op_before_its_container(
    bao: BaoServer,
    prefix: str,
    tmp_path: Path,
    home: Path,  # noqa: F811 - fixture
) -> None:
    seed(bao, prefix)
    bao.policy(f"{prefix}-npm-only", f'path "secret/data/{prefix}/NPM_TOKEN" {{ capabilities = ["read"] }}')
    token = bao.token([f"{prefix}-npm-only"])
    env = {"NOSANA_HOME": str(home), "NODE_VAULT_TOKEN": token}
    proc, result, started = run_failing(tmp_path, home, config(tmp_path, bao, prefix), env, "db#password")
    check_failed_before_container(
        proc,
        result,
        home,
        started,
        f"secret db#password: permission denied to secret/{prefix}/db by vault {bao.addr} (kv v2)"
        " (the token's policy does not allow it)",
    )
    assert_nowhere([DB, token], {"output": proc.stdout + proc.stderr}, home)


def test_vault_stopped_mid_flow(bao_own: BaoServer, prefix: str, tmp_path: Path, home: Path) -> None:  # noqa: F811
    seed(bao_own, prefix)
    pipeline = tmp_path / "midway.yml"
    pipeline.write_text(
        f"global:\n  image: {IMAGE}\njobs:\n"
        "  - name: first\n    secrets: [NPM_TOKEN]\n"
        f"    commands: ['printf %s \"$NPM_TOKEN\" | sha256sum', echo started, '{WAIT_FOR_GO}']\n"
        "  - name: second\n    environment:\n      X: {type: nos/vault, value: 'db#password'}\n"
        "    commands: [echo $X]\n"
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("NOSANA_", "VAULT_"))},
        "NOSANA_HOME": str(home),
        "NODE_VAULT_TOKEN": bao_own.root_token,
        "PYTHONUNBUFFERED": "1",
    }
    cfg = config(tmp_path, bao_own, prefix)
    started = time.time()
    proc = subprocess.Popen(
        [sys.executable, "-m", "nosana_node", "--config", str(cfg), "pipeline", "run", str(pipeline)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if line.strip() == "first | started":
            bao_own.stop()  # the vault goes away while the first job runs
            api = engine()
            (running,) = labels.store_containers(api, store_id(home) or "")
            let_go(api, running["Id"])  # then the first job ends and the second one starts
            api.close()
            break
    rest, err = proc.communicate(timeout=120)
    output = "".join(seen) + rest + err
    assert proc.returncode == 1, output
    assert hashlib.sha256(NPM.encode()).hexdigest() in output  # the first job had its secret
    error = f"secret db#password: vault {bao_own.addr} is unreachable (connection refused or lost)"
    assert f"second · error: {error}" in output.splitlines()
    flow = stored(home)
    assert flow.states["first"].status is OpStatus.SUCCEEDED
    assert flow.states["second"].status is OpStatus.FAILED and flow.states["second"].error == error
    assert created_ops(home, flow.id, started) == ["first"]
    assert_nowhere([NPM, DB, bao_own.root_token], {"output": output}, home)

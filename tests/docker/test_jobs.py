"""Pipelines on the real engine: commands, environment, artifacts, failures, limits, secrets."""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from nosana_node.docker import labels
from nosana_node.errors import SecretError
from nosana_node.flow.model import FlowStatus
from nosana_node.secrets.refs import SecretRef
from tests.corekit import IMAGE, EngineEvents, flow_runner, job_log, pipeline, run_pipeline, store_id

pytestmark = pytest.mark.docker


def statuses(flow: object) -> dict[str, str]:
    return {op.id: str(flow.states[op.id].status) for op in flow.ops}  # type: ignore[attr-defined]


def test_commands_echo_env_workdir_and_context(home: Path) -> None:
    flow = run_pipeline(
        home,
        pipeline(
            "  - name: a\n"
            "    environment: {FROM_JOB: job, SHARED: job-wins}\n"
            "    commands:\n"
            '      - echo "$FROM_GLOBAL $FROM_JOB $SHARED $NOS_JOB_ADDRESS $TERM"\n'
            "      - pwd\n"
            "      - mkdir -p sub/dir\n"
            "      - cmd: pwd\n"
            "        working_dir: sub/dir\n"
            "      - pwd\n"
            "      - |\n"
            "        echo multi\n"
            "        echo line\n"
            "      - echo to-stderr >&2\n"
            '      - test -z "${NOS_COMMIT_SHA+set}"\n',
            head="",
        ).replace(
            f"  image: {IMAGE}\n",
            f"  image: {IMAGE}\n  environment: {{FROM_GLOBAL: global, SHARED: global}}\n",
        ),
        context={"NOS_JOB_ADDRESS": "JobAddress111"},
    )
    assert flow.status is FlowStatus.SUCCEEDED, flow.states["a"].error
    log = job_log(flow, "a", "stdout")
    assert "global job job-wins JobAddress111 xterm-color\n" in log
    assert '$ echo "$FROM_GLOBAL $FROM_JOB $SHARED $NOS_JOB_ADDRESS $TERM"\n' in log
    assert (
        "$ pwd\n/root/project\n$ mkdir -p sub/dir\n$ pwd\n/root/project/sub/dir\n$ pwd\n/root/project\n"
        in log
    )
    assert "$ echo multi\n> echo line\nmulti\nline\n" in log
    from nosana_node.flow.logs import read_log

    records = list(read_log(Path(flow.states["a"].log["path"])))
    assert ("stderr", "to-stderr\n") in [(s, t) for _, s, t in records]
    assert all(t > 1e9 for t, _, _ in records)


def test_errexit_and_pipefail(home: Path) -> None:
    flow = run_pipeline(
        home,
        pipeline(
            "  - name: pipe\n    commands: ['false | true', echo not-reached]\n",
        ),
    )
    assert flow.states["pipe"].status == "failed" and flow.states["pipe"].exit_code == 1
    assert "not-reached" not in job_log(flow, "pipe").replace("$ echo not-reached", "")


def test_artifacts_are_handed_along_three_jobs(home: Path) -> None:
    flow = run_pipeline(
        home,
        pipeline(
            "  - name: make\n"
            "    commands: ['mkdir -p out', 'echo first > out/one.txt', 'ln -s one.txt out/link']\n"
            "    artifacts: [{name: out, path: out}]\n"
            "  - name: add\n"
            "    resources: [{name: out, path: .}]\n"
            "    commands: ['cat out/one.txt', 'echo second > out/two.txt']\n"
            "    artifacts: [{name: out2, path: out/}]\n"
            "  - name: check\n"
            "    resources: [{name: out, path: first}, {name: out2, path: .}]\n"
            "    commands:\n"
            "      - cat first/out/one.txt out/two.txt\n"
            "      - readlink out/link\n"
            "      - find . -type f | sort\n",
        ),
    )
    assert flow.status is FlowStatus.SUCCEEDED, {k: s.error for k, s in flow.states.items()}
    log = job_log(flow, "check")
    assert "first\nsecond\n" in log and "one.txt\n" in log
    assert "./first/out/one.txt\n./out/one.txt\n./out/two.txt\n" in log
    made = flow.states["make"].results.artifacts["out"]
    assert made.digest.startswith("sha256:") and made.files == 1 and made.bytes == 6
    blob = home / "flows" / flow.id / "artifacts" / "sha256" / made.digest[7:]
    assert hashlib.sha256(blob.read_bytes()).hexdigest() == made.digest[7:]
    assert blob.stat().st_size == made.size


def test_glob_artifacts_keep_only_matches(home: Path) -> None:
    flow = run_pipeline(
        home,
        pipeline(
            "  - name: build\n"
            "    commands:\n"
            "      - mkdir -p dist/sub dist/pkg.whl\n"
            "      - touch dist/a.whl dist/b.txt dist/sub/c.whl dist/pkg.whl/x\n"
            "    artifacts:\n"
            "      - {name: wheels, path: 'dist/*.whl'}\n"
            "      - {name: none, path: 'nope/*.x', required: false}\n"
            "  - name: list\n"
            "    resources: [{name: wheels}]\n"
            "    commands: ['find dist | sort']\n",
        ),
    )
    assert flow.status is FlowStatus.SUCCEEDED
    assert "dist\ndist/a.whl\ndist/pkg.whl\ndist/pkg.whl/x\n" in job_log(flow, "list")
    assert "b.txt" not in job_log(flow, "list") and "c.whl" not in job_log(flow, "list")
    assert "artifact 'none': nothing at 'nope/*.x' (not required)" in job_log(flow, "build")


def test_a_failing_job_stops_the_rest(home: Path) -> None:
    flow = run_pipeline(
        home,
        pipeline(
            "  - name: ok\n    commands: [echo ok]\n"
            "  - name: bad\n    commands: [echo before, 'exit 7', echo after]\n"
            "  - name: never\n    commands: [echo never]\n"
        ),
    )
    assert flow.status is FlowStatus.FAILED
    assert statuses(flow) == {"ok": "succeeded", "bad": "failed", "never": "skipped"}
    assert flow.states["bad"].exit_code == 7 and flow.states["bad"].error == "exit code 7"
    assert flow.states["never"].run_count == 0


@pytest.mark.parametrize("level", ["job", "global"])
def test_allow_failure_at_job_and_global_level(home: Path, level: str) -> None:
    jobs = "  - name: flaky\n    commands: ['exit 4']\n" + (
        "    allow_failure: true\n" if level == "job" else ""
    )
    jobs += "  - name: next\n    commands: [echo next]\n"
    text = pipeline(jobs)
    if level == "global":
        text = text.replace(f"  image: {IMAGE}\n", f"  image: {IMAGE}\n  allow_failure: true\n")
    flow = run_pipeline(home, text)
    assert flow.status is FlowStatus.SUCCEEDED
    assert statuses(flow) == {"flaky": "failed", "next": "succeeded"}
    assert flow.states["flaky"].exit_code == 4


def test_allow_failure_at_command_level(home: Path) -> None:
    flow = run_pipeline(
        home,
        pipeline(
            "  - name: a\n"
            "    commands:\n"
            "      - cmd: |\n"
            "          echo in-subshell\n"
            "          false\n"
            "          echo not-after-false\n"
            "        allow_failure: true\n"
            "      - echo goes-on\n"
        ),
    )
    assert flow.status is FlowStatus.SUCCEEDED
    log = job_log(flow, "a")
    assert "in-subshell\n" in log and "goes-on\n" in log
    assert "not-after-false\n" not in log.replace("> echo not-after-false\n", "")
    assert "command failed with exit code 1 (allowed to fail)" in log


def test_timeout_kills_the_job(home: Path, tmp_path: Path) -> None:
    from nosana_node.clock import ManualClock
    from nosana_node.pipeline.prepare import prepare_pipeline

    clock = ManualClock(start=time.time())  # the job's time limit runs on this clock
    path = tmp_path / "slow.yml"
    path.write_text(pipeline("  - name: slow\n    commands: [echo start, sleep 300]\n"))
    runner = flow_runner(home, clock=clock, job_timeout=90)
    try:
        flow = prepare_pipeline(path, runner.store).flow
        done: list[Any] = []
        with EngineEvents(runner.store.store_id) as events:
            thread = threading.Thread(target=lambda: done.append(runner.run(flow)), daemon=True)
            thread.start()
            events.wait("start")
            clock.advance(89.9)
            assert not events.seen("die")
            clock.advance(0.1)  # the limit: the container is killed
            events.wait("die")
            thread.join(60)
    finally:
        runner.close()
    state = done[0].states["slow"]
    assert state.status == "failed" and state.error == "timed out after 90s (container killed)"
    assert state.reason == "timeout" and state.exit_code == 137 and "start\n" in job_log(done[0], "slow")


def test_missing_artifacts_and_resources(home: Path) -> None:
    flow = run_pipeline(
        home,
        pipeline(
            "  - name: lazy\n    commands: [echo no files]\n    artifacts: [{name: dist, path: dist}]\n"
        ),
    )
    assert flow.states["lazy"].status == "failed"
    assert flow.states["lazy"].error == "artifact 'dist': nothing at 'dist' in /root/project"

    flow = run_pipeline(
        home,
        pipeline(
            "  - name: maker\n    allow_failure: true\n    commands: ['exit 1']\n"
            "    artifacts: [{name: dist, path: dist}]\n"
            "  - name: optional\n    resources: [{name: dist, required: false}]\n    commands: [echo fine]\n"
            "  - name: needs\n    resources: [{name: dist}]\n    commands: [echo never]\n"
        ),
    )
    assert statuses(flow) == {"maker": "failed", "optional": "succeeded", "needs": "failed"}
    assert "resource 'dist' is missing (not required)" in job_log(flow, "optional")
    assert flow.states["needs"].error == "resource 'dist' is missing: no earlier job produced it"


def test_log_over_the_cap_is_truncated_with_a_marker(home: Path) -> None:
    flow = run_pipeline(
        home, pipeline("  - name: loud\n    commands: ['seq 1 100000', echo done]\n"), log_cap=20_000
    )
    state = flow.states["loud"]
    assert state.status == "succeeded"
    assert state.log["truncated"] is True and state.log["kept"] == 20_000
    assert state.log["received"] > 500_000
    log = job_log(flow, "loud")
    assert log.startswith("$ seq 1 100000\n1\n2\n3\n")
    assert log.count("[log truncated: more than 20000 bytes of output") == 1


def test_workspace_is_placed_in_every_job(home: Path, tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    (workspace / "src").mkdir(parents=True)
    (workspace / "src" / "main.txt").write_text("source file\n")
    (workspace / "README").write_text("readme\n")
    (workspace / "link").symlink_to("README")
    flow = run_pipeline(
        home,
        pipeline(
            "  - name: one\n    commands: ['cat src/main.txt', 'echo changed > README']\n"
            "  - name: two\n    commands: ['cat README', 'readlink link', 'stat -c %u:%g src/main.txt']\n"
        ),
        workspace=workspace,
    )
    assert flow.status is FlowStatus.SUCCEEDED
    assert [op.id for op in flow.ops] == ["checkout", "one", "two"]
    assert "source file\n" in job_log(flow, "one")
    # each job starts from the checkout, owned by root, links kept
    assert (
        job_log(flow, "two")
        == "$ cat README\nreadme\n$ readlink link\nREADME\n$ stat -c %u:%g src/main.txt\n0:0\n"
    )


def test_missing_secret_fails_before_any_container_exists(home: Path) -> None:
    import docker

    api = docker.APIClient(version="auto")
    since = int(time.time()) - 1
    flow = run_pipeline(
        home,
        pipeline("  - name: s\n    secrets: [API_TOKEN]\n    commands: [echo should-not-run]\n"),
    )
    state = flow.states["s"]
    assert state.status == "failed" and state.error == "no vault configured for secret API_TOKEN"
    events = api.events(
        since=since,
        until=int(time.time()) + 1,
        filters={"label": f"{labels.STORE}={store_id(home)}", "type": "container"},
        decode=True,
    )
    assert [e for e in events if e.get("Action") == "create"] == []
    api.close()


class VaultStandIn:
    """A SecretResolver holding values in memory: stands in for the vault (built elsewhere)."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def resolve(self, ref: SecretRef) -> str:
        if str(ref) not in self.values:
            raise SecretError(f"secret {ref} not found")
        return self.values[str(ref)]


def test_secret_reaches_the_container_and_nothing_else(home: Path) -> None:
    value = "vErY-s3cret-token-42"
    digest = hashlib.sha256(value.encode()).hexdigest()  # the pipeline must not contain the value
    flow = run_pipeline(
        home,
        pipeline(
            "  - name: use\n"
            "    secrets: [API_TOKEN]\n"
            "    environment: {DB: {type: nos/vault, value: db#password}}\n"
            "    commands:\n"
            f'      - test "$(printf %s "$API_TOKEN" | sha256sum | cut -c1-64)" = {digest}\n'
            '      - echo "token=$API_TOKEN db=$DB"\n'
            '      - printf %s "$API_TOKEN" | base64\n'
            '      - mkdir -p out && echo "$API_TOKEN" | sha256sum > out/digest\n'
            "    artifacts: [{name: out, path: out}]\n"
        ),
        secrets=VaultStandIn({"API_TOKEN": value, "db#password": "db-pa55word"}),
    )
    assert flow.status is FlowStatus.SUCCEEDED, flow.states["use"].error
    log = job_log(flow, "use")
    assert "token=[MASKED] db=[MASKED]\n" in log and "[MASKED]\n" in log
    everything = b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())
    for secret in (value, "db-pa55word"):
        assert secret.encode() not in everything
    from nosana_node.flow.result import flow_result

    assert value not in str(flow_result(flow))

"""The CLI end to end: `pipeline run` (live output, --json, exit codes) and `flow list|show|extract`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.corekit import cli, cli_json, no_traceback, pipeline, write

pytestmark = pytest.mark.docker
ROOT = Path(__file__).resolve().parents[2]


def test_artifacts_example_json_last_job_saw_the_first_jobs_files(home: Path) -> None:
    proc, result = cli_json("pipeline", "run", str(ROOT / "pipelines" / "artifacts.yml"), home=home)
    assert proc.returncode == 0, proc.stderr
    assert result["status"] == "succeeded"
    build, test, publish = result["jobs"]
    assert [j["status"] for j in result["jobs"]] == ["succeeded"] * 3
    assert (
        build["artifacts"]["dist"]["digest"].startswith("sha256:")
        and build["artifacts"]["dist"]["files"] == 3
    )
    assert test["artifacts"]["reports"]["size"] > 0
    excerpt = publish["log"]["excerpt"]
    assert "hello from the build job" in excerpt  # made by the first job, read by the last
    assert "dist/numbers.txt: OK" in excerpt and "./dist/message.txt" in excerpt
    assert all(
        j["exit_code"] == 0 and j["duration"] > 0 and j["started_at"].endswith("Z") for j in result["jobs"]
    )
    # live output went to stderr, stdout is the JSON document only
    assert "▶ build" in proc.stderr and "publish | hello from the build job" in proc.stderr


def test_live_output_and_summary(home: Path) -> None:
    proc = cli("pipeline", "run", str(ROOT / "pipelines" / "allow-failure.yml"), home=home)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith("flow ") and "· 3 jobs" in out.splitlines()[0]
    assert "lint | linting (this job is allowed to fail)" in out
    assert "✘ lint failed (allowed) in" in out and ": exit code 3" in out
    assert "build ! command failed with exit code 1 (allowed to fail)" in out
    assert out.rstrip().splitlines()[-1].startswith("✔ flow ") and "succeeded" in out.splitlines()[-1]
    assert proc.stderr == ""


def test_failed_pipeline_exits_1(tmp_path: Path, home: Path) -> None:
    path = write(
        tmp_path, pipeline("  - name: a\n    commands: ['exit 5']\n  - name: b\n    commands: [echo b]\n")
    )
    proc, result = cli_json("pipeline", "run", str(path), home=home)
    assert proc.returncode == 1 and no_traceback(proc.stderr)
    assert result["status"] == "failed"
    assert [(j["status"], j["exit_code"]) for j in result["jobs"]] == [("failed", 5), ("skipped", None)]


def test_flow_list_show_and_extract(tmp_path: Path, home: Path) -> None:
    path = write(
        tmp_path,
        pipeline(
            "  - name: make\n"
            "    commands: ['mkdir -p out/sub', 'echo data > out/sub/file', 'echo oops >&2']\n"
            "    artifacts: [{name: out, path: out}]\n"
        ),
    )
    _, result = cli_json("pipeline", "run", str(path), home=home)
    flow_id = result["flow_id"]

    listed = cli("flow", "list", home=home)
    assert listed.returncode == 0 and flow_id in listed.stdout and "succeeded" in listed.stdout
    rows = json.loads(cli("flow", "list", "--json", home=home).stdout)
    assert rows[0]["flow_id"] == flow_id and rows[0]["status"] == "succeeded"

    shown = cli("flow", "show", flow_id[:5], "--logs", home=home)
    assert shown.returncode == 0, shown.stderr
    assert f"flow {flow_id}" in shown.stdout and "artifact out: sha256:" in shown.stdout
    assert "    | $ mkdir -p out/sub" in shown.stdout and "    ! oops" in shown.stdout
    shown_json = json.loads(cli("flow", "show", flow_id, "--json", home=home).stdout)
    assert shown_json["plan"][0]["type"] == "docker/run" and shown_json["jobs"][0]["name"] == "make"

    dest = tmp_path / "extracted"
    extracted = cli("flow", "extract", flow_id, "out", "--to", str(dest), home=home)
    assert extracted.returncode == 0, extracted.stderr
    assert (dest / "out" / "sub" / "file").read_text() == "data\n"

    missing = cli("flow", "extract", flow_id, "nope", "--to", str(dest), home=home)
    assert missing.returncode == 2 and missing.stderr == f"error: flow {flow_id} has no artifact 'nope'\n"
    unknown = cli("flow", "show", "zzzz", home=home)
    assert unknown.returncode == 2 and unknown.stderr.startswith("error: no flow 'zzzz'")


def test_help_everywhere() -> None:
    for args in (["pipeline"], ["pipeline", "run"], ["pipeline", "validate"], ["flow"], ["flow", "resume"]):
        proc = cli(*args, "--help")
        assert proc.returncode == 0 and "Usage" in proc.stdout, args

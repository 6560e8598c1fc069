"""`nosana-node job validate` in a real process: says which format it found; exit 0 or 2."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli import REPO, run_cli
from tests.jobdef.conftest import minimal, write_json


def test_job_definition_json_and_yaml(tmp_path: Path) -> None:
    path = write_json(tmp_path, minimal())
    proc = run_cli("job", "validate", str(path))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"{path}: valid job definition (JSON, version 0.1) · 1 op in 1 group: run [run]\n"
    assert proc.stderr == ""
    yaml_path = tmp_path / "job.yml"
    yaml_path.write_text(
        "version: '0.1'\ntype: container\nops:\n  - {type: container/run, id: a, args: {image: x}}\n"
    )
    proc = run_cli("job", "validate", str(yaml_path), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {
        "file": str(yaml_path),
        "kind": "job definition",
        "syntax": "YAML",
        "valid": True,
        "groups": [{"name": "a", "ops": ["a"]}],
        "warnings": [],
    }


def test_a_pipeline_is_recognised(tmp_path: Path) -> None:
    proc = run_cli("job", "validate", str(REPO / "pipelines" / "hello.yml"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.endswith("hello.yml: valid pipeline (YAML) · 1 job: hello\n")
    odd = tmp_path / "ci.yml"
    odd.write_text("global: {imag: x}\njobs: [{name: a, commands: [x]}]\n")
    proc = run_cli("job", "validate", str(odd))  # what the original node ignored: a warning
    assert proc.returncode == 0, proc.stderr
    warning = f"{odd}:1:10: global.imag: unknown key 'imag' ignored (did you mean 'image'?)"
    assert proc.stderr == f"warning: {warning}\n"
    assert proc.stdout == f"{odd}: valid pipeline (YAML) · 1 job: a\n"
    proc = run_cli("job", "validate", str(odd), "--strict")
    assert proc.returncode == 2
    assert proc.stderr == f"error: {warning}\n"
    bad = tmp_path / "bad.yml"
    bad.write_text("global: {image: x}\njobs: [{name: a, image: [x], commands: [x]}]\n")
    proc = run_cli("job", "validate", str(bad))
    assert proc.returncode == 2
    assert proc.stderr == f"error: {bad}:2:25: jobs[0].image: expected a string, got a list\n"
    assert proc.stdout == f"{bad}: invalid pipeline (YAML): 1 problem\n"


def test_invalid_job_definition_one_line_per_problem(tmp_path: Path) -> None:
    data = minimal()
    data["ops"][0]["args"].update(ports=["8000:8000"], gpu="yes")
    data["ops"][0]["id"] = "my op"
    path = write_json(tmp_path, data)
    proc = run_cli("job", "validate", str(path))
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"error: {path}:10:9: ops[0].args.ports: unknown key 'ports' (exposed ports are 'expose':"
        " a port, a range 'start-end' or [{port, health_checks}])",
        f"error: {path}:13:16: ops[0].args.gpu: expected true or false, got the string 'yes'",
    ]
    assert proc.stdout == f"{path}: invalid job definition (JSON): 2 problems\n"
    assert "Traceback" not in proc.stderr


def test_warnings_go_to_stderr_and_json(tmp_path: Path) -> None:
    data = minimal(version="1.0")
    path = write_json(tmp_path, data)
    proc = run_cli("job", "validate", str(path), "--json")
    assert proc.returncode == 0
    result = json.loads(proc.stdout)
    assert result["warnings"] == [
        f"{path}:2:14: version: version '1.0': the format is '0.1' (@nosana/types refuses others)"
    ]
    assert proc.stderr == f"warning: {result['warnings'][0]}\n"


def test_unreadable_files(tmp_path: Path) -> None:
    for target, message in ((tmp_path, "is a directory"), (tmp_path / "nope.json", "no such file")):
        proc = run_cli("job", "validate", str(target))
        assert proc.returncode == 2
        assert proc.stderr.startswith(f"error: {target}: {message}")
        assert len(proc.stderr.splitlines()) == 1

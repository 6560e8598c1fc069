"""`nosana-node job validate` in a real process: says which format it found; exit 0 or 2."""

from __future__ import annotations

import json
import os
from pathlib import Path

from nosana_node.pipeline.loader import MAX_BYTES, MAX_DEPTH, MAX_NODES
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


def test_hostile_files_are_refused_at_once_with_one_line(tmp_path: Path) -> None:
    """What a stranger can hand `job validate`: a FIFO, a device, a huge file, a 1 MiB list of
    values, deep nesting, a NUL byte. Each is one line and exit 2; a FIFO or a device read until
    memory ran out would time the subprocess out instead."""
    os.mkfifo(tmp_path / "pipe.json")
    head = '{"version": "0.1", "type": "container", "ops": ['
    files = {
        "big.json": head + " " * MAX_BYTES + "]}",
        "values.json": head + "1," * (MAX_BYTES // 2 - 40) + "1]}",
        "deep.json": head + "[" * 100 + "]" * 100 + "]}",
        "nul.json": '{"version": "0.1",\n "type": "contai\x00ner", "ops": []}',
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    cases = [  # (file, what follows "error: FILE" on the line)
        (tmp_path / "pipe.json", ": is a FIFO (named pipe); only regular files are read"),
        (Path("/dev/zero"), ": is a device; only regular files are read"),
        (tmp_path / "big.json", f": file too large ({MAX_BYTES + len(head) + 2} bytes, over {MAX_BYTES})"),
        (tmp_path / "values.json", f"JSON syntax error: document too large (over {MAX_NODES} values)"),
        (
            tmp_path / "deep.json",
            f":1:{48 + MAX_DEPTH}: JSON syntax error: nested too deeply (over {MAX_DEPTH} levels)",
        ),
        (tmp_path / "nul.json", ":2:17: JSON syntax error: invalid control character"),
    ]
    for target, rest in cases:
        proc = run_cli("job", "validate", str(target), timeout=20)
        assert proc.returncode == 2, (target, proc.stderr)
        (line,) = proc.stderr.splitlines()
        assert line.startswith(f"error: {target}") and rest in line, line

"""`nosana-node pipeline validate` and bad input to `pipeline run`: one line per problem, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

from tests.corekit import cli, no_traceback, write

ROOT = Path(__file__).resolve().parents[2]


def test_examples_are_valid() -> None:
    for name in ("hello.yml", "artifacts.yml", "allow-failure.yml", "original-node.yml"):
        proc = cli("pipeline", "validate", str(ROOT / "pipelines" / name))
        assert proc.returncode == 0, proc.stderr
        assert "valid" in proc.stdout


def test_schema_errors_exit_2_one_line_each_with_warnings(tmp_path: Path) -> None:
    path = write(tmp_path, "global: {imag: x}\njobs:\n  - name: a\n    commands: x\n    artifact: []\n")
    proc = cli("pipeline", "validate", str(path))
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"warning: {path}:1:10: global.imag: unknown key 'imag' ignored (did you mean 'image'?)",
        f"error: {path}:4:15: jobs[0].commands: expected a list, got the string 'x'",
        f"warning: {path}:5:5: jobs[0].artifact: unknown key 'artifact' ignored (did you mean 'artifacts'?)",
    ]
    assert proc.stdout == ""


def test_warnings_exit_0_and_strict_exit_2(tmp_path: Path) -> None:
    path = write(tmp_path, "global: {imag: x}\njobs:\n  - name: a\n    commands: [x]\n")
    line = f"{path}:1:10: global.imag: unknown key 'imag' ignored (did you mean 'image'?)"
    proc = cli("pipeline", "validate", str(path))
    assert (proc.returncode, proc.stderr) == (0, f"warning: {line}\n")
    assert proc.stdout == f"{path}: valid · 1 job: a · 1 warning\n"
    strict = cli("pipeline", "validate", "--strict", str(path))
    assert (strict.returncode, strict.stderr, strict.stdout) == (2, f"error: {line}\n", "")


def test_validate_json(tmp_path: Path) -> None:
    path = write(tmp_path, "global: {}\njobs: []\n")
    proc = cli("pipeline", "validate", str(path), "--json")
    assert proc.returncode == 2
    assert json.loads(proc.stdout) == {
        "file": str(path),
        "valid": False,
        "problems": [f"{path}:2:7: jobs: must not be empty"],
        "warnings": [],
    }
    good = write(tmp_path, "global: {}\njobs: [{name: a, commands: [x]}]\n", "good.yml")
    data = json.loads(cli("pipeline", "validate", str(good), "--json").stdout)
    assert data["valid"] is True and data["jobs"] == ["a"]
    assert data["flow"]["ops"][0]["type"] == "docker/run"


def test_run_with_bad_input_never_starts(tmp_path: Path, home: Path) -> None:
    cases = {
        "syntax": ("global: [\n", "YAML syntax error"),
        "schema": ("global: {}\njobs: [{name: a}]\n", "missing required key 'commands'"),
    }
    for name, (text, expected) in cases.items():
        path = write(tmp_path, text, f"{name}.yml")
        proc = cli("pipeline", "run", str(path), home=home)
        assert proc.returncode == 2, proc.stderr
        (line,) = proc.stderr.splitlines()
        assert line.startswith(f"error: {path}:") and expected in line
        assert no_traceback(proc.stderr) and proc.stdout == ""
    missing = cli("pipeline", "run", str(tmp_path / "nope.yml"), home=home)
    assert (missing.returncode, missing.stderr) == (2, f"error: {tmp_path / 'nope.yml'}: no such file\n")
    assert not (home / "state.db").exists() or "flows" not in {p.name for p in home.iterdir()}


def test_bad_flags_exit_2_with_one_line(tmp_path: Path, home: Path) -> None:
    path = write(tmp_path, "global: {}\njobs: [{name: a, commands: [x]}]\n")
    for flags, expected in [
        (["--pull", "sometimes"], "--pull: cannot read 'sometimes' as one of always, if-not-present, never"),
        (["--memory", "lots"], "--memory: cannot read 'lots' as a size (bytes, or a number with k, m, g"),
        (["--timeout", "soon"], "--timeout: cannot read 'soon' as a duration (seconds, or a number with ms"),
        (["--cpus", "two"], "--cpus: cannot read 'two' as a number"),
        (["--gpus", "many"], "--gpus: cannot read 'many' as a GPU request (none, all, or a count)"),
        (["--context", "NOEQUALS"], "--context: expected NAME=VALUE"),
        (["--workspace", str(tmp_path / "absent")], "is not a directory"),
    ]:
        proc = cli("pipeline", "run", str(path), *flags, home=home)
        assert proc.returncode == 2, (flags, proc.stderr)
        (line,) = proc.stderr.splitlines()
        assert line.startswith("error: ") and expected in line, line


def test_usage_errors_are_one_line_exit_2(tmp_path: Path) -> None:
    cases = {
        ("pipeline", "run", "--bogus", "x.yml"): "No such option: --bogus",
        ("pipeline", "validate"): "Missing argument",
        ("no-such-group",): "No such command",
    }
    for args, expected in cases.items():
        proc = cli(*args)
        assert proc.returncode == 2, args
        (line,) = proc.stderr.splitlines()
        assert line.startswith("error: ") and expected in line and "--help" in line
        assert no_traceback(proc.stderr) and proc.stdout == ""

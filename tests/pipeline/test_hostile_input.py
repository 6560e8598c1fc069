"""Hostile pipeline files: refused with one line naming file, line and column, exit 2, at once.

Each case runs the real command in a subprocess with a timeout: a FIFO that blocked, or a device
read until memory ran out, would fail the test instead of hanging the suite.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nosana_node.pipeline.loader import MAX_BYTES, MAX_DEPTH, MAX_NODES, load_text
from nosana_node.pipeline.problems import ProblemList
from nosana_node.pipeline.validate import validate
from tests.corekit import cli, no_traceback, write

GOOD = "global: {image: busybox}\njobs:\n  - name: a\n    commands: [x]\n"


def refused(path: Path, *command: str) -> str:
    """The one error line of ``pipeline validate PATH`` (exit 2, nothing on stdout)."""
    proc = cli("pipeline", *(command or ("validate",)), str(path), timeout=20)
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert no_traceback(proc.stderr) and proc.stdout == ""
    (line,) = proc.stderr.splitlines()
    return line


def test_a_fifo_is_refused_without_reading(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.yml"
    os.mkfifo(fifo)
    assert refused(fifo) == f"error: {fifo}: is a FIFO (named pipe); only regular files are read"


def test_devices_are_refused_without_reading(home: Path) -> None:
    assert refused(Path("/dev/zero")) == "error: /dev/zero: is a device; only regular files are read"
    line = refused(Path("/dev/urandom"), "run", "--home", str(home))
    assert line == "error: /dev/urandom: is a device; only regular files are read"


def test_size_cap_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "big.yml"
    path.write_text(GOOD + "# " + "x" * MAX_BYTES + "\n")
    assert refused(path) == f"error: {path}: file too large ({path.stat().st_size} bytes, over {MAX_BYTES})"


def test_node_budget_while_parsing(tmp_path: Path) -> None:
    path = write(tmp_path, "global: {}\njobs: [" + "1," * (MAX_BYTES // 3) + "]\n")
    line = refused(path)
    assert (
        line.startswith(f"error: {path}:2:") and f"document too large (over {MAX_NODES} YAML nodes)" in line
    )


def test_alias_expansion_budget() -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 6):
        lines.append(f"{chr(97 + i)}: &{chr(97 + i)} [" + ", ".join([f"*{chr(96 + i)}"] * 10) + "]")
    with pytest.raises(ProblemList) as info:
        load_text("\n".join(lines) + "\n", "bomb.yml")
    (line,) = info.value.lines
    assert line.startswith("bomb.yml:") and "once aliases are expanded" in line
    with pytest.raises(ProblemList) as info:
        load_text("a: &a [*a]\n", "loop.yml")
    assert "nested too deeply" in info.value.lines[0]


def test_deep_nesting_has_a_position(tmp_path: Path) -> None:
    path = write(tmp_path, "global: " + "[" * 500 + "]" * 500 + "\n")
    column = 9 + MAX_DEPTH - 1
    assert refused(path) == f"error: {path}:1:{column}: nested too deeply (over {MAX_DEPTH} levels)"


def test_control_characters_and_bad_utf8_have_positions(tmp_path: Path) -> None:
    nul = tmp_path / "nul.yml"
    nul.write_bytes(b"global:\n  image: busy\x00box\njobs: []\n")
    assert refused(nul) == f"error: {nul}:2:14: control character U+0000 is not allowed in YAML"
    bell = write(tmp_path, "global: {}\njobs: [\x07]\n", "bell.yml")
    assert refused(bell) == f"error: {bell}:2:8: control character U+0007 is not allowed in YAML"
    latin1 = tmp_path / "latin1.yml"
    latin1.write_bytes(b"global: {}\njobs:\n  - name: caf\xe9\n")
    assert refused(latin1) == f"error: {latin1}:3:14: not UTF-8 text (byte 0xe9)"


def test_image_references_the_engine_cannot_parse(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("commands: [x]", "image: busy box:latest\n    commands: [x]"))
    assert refused(path) == (
        f"error: {path}:4:12: jobs[0].image: 'busy box:latest' is not a valid image reference:"
        " it contains white space"
    )
    assert refused(path, "run", "--home", str(tmp_path / "home")).endswith("it contains white space")
    upper = write(tmp_path, GOOD.replace("image: busybox", "image: Ubuntu:22.04"), "upper.yml")
    assert refused(upper).endswith("repository names must be lowercase ('Ubuntu')")


def test_paths_climbing_out_or_naming_pseudo_filesystems(tmp_path: Path) -> None:
    text = GOOD + (
        "    artifacts: [{name: a, path: ../../etc}, {name: b, paths: [ok, /proc/self/environ]}]\n"
        "    resources: [{name: checkout, path: a/../../b}]\n"
        "    work_dir: /root/../etc\n"
    )
    path = write(tmp_path, text)
    proc = cli("pipeline", "validate", str(path))
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"error: {path}:5:33: jobs[0].artifacts[0].paths[0]: must not contain '..'"
        " (paths are relative to the work dir), got '../../etc'",
        f"error: {path}:5:67: jobs[0].artifacts[1].paths[1]: must not name a pseudo-filesystem"
        " (/proc, /sys, /dev), got '/proc/self/environ'",
        f"error: {path}:6:40: jobs[0].resources[0].path: must not contain '..'"
        " (paths are relative to the work dir), got 'a/../../b'",
        f"error: {path}:7:15: jobs[0].work_dir: must not contain '..', got '/root/../etc'",
    ]
    home = tmp_path / "home"
    run = cli("pipeline", "run", str(path), "--home", str(home))
    assert run.returncode == 2 and run.stderr == proc.stderr and not (home / "flows").exists()


def test_every_corpus_shape_error_is_bad_input_not_a_crash(tmp_path: Path) -> None:
    for text in ("", "[]", "42", "global: 1\njobs: 1\n", "jobs:\n  - 1\n  - [x]\n  - {name: [a]}\n"):
        path = write(tmp_path, text, "shape.yml")
        proc = cli("pipeline", "validate", str(path))
        assert proc.returncode == 2 and no_traceback(proc.stderr), (text, proc.stderr)
        assert all(line.startswith(f"error: {path}") for line in proc.stderr.splitlines())


def test_validate_is_bounded_in_process() -> None:
    with pytest.raises(ProblemList):
        validate(load_text("global: {}\njobs: [" + "{name: a, commands: [x]}," * 5000 + "]\n", "many.yml"))

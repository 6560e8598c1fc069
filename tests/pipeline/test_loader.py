"""Loading pipeline YAML: data, positions of keys and values, syntax problems."""

from __future__ import annotations

from pathlib import Path

import pytest

from nosana_node.pipeline.loader import load_file, load_text, render_path
from nosana_node.pipeline.problems import Mark, ProblemList

TEXT = """\
global:
  image: busybox
jobs:
  - name: one
    commands:
      - echo hi
      - cmd: ls
        working_dir: sub
"""


def test_data_and_marks() -> None:
    doc = load_text(TEXT, "p.yml")
    assert doc.data["jobs"][0]["commands"][1] == {"cmd": "ls", "working_dir": "sub"}
    assert doc.keys[("jobs", 0, "commands")] == Mark(5, 5)
    assert doc.values[("jobs", 0, "commands", 1, "working_dir")] == Mark(8, 22)
    assert doc.values[("global", "image")] == Mark(2, 10)


def test_mark_falls_back_to_nearest_ancestor() -> None:
    doc = load_text(TEXT, "p.yml")
    assert doc.mark(("jobs", 0, "nothing", "here")) == doc.values[("jobs", 0)]
    assert doc.mark(("jobs", 0, "commands"), key=True) == Mark(5, 5)


def test_render_path() -> None:
    assert render_path(("jobs", 2, "commands", 0, "cmd")) == "jobs[2].commands[0].cmd"
    assert render_path(()) == ""


def test_syntax_error_has_position() -> None:
    with pytest.raises(ProblemList) as info:
        load_text("global:\n  image: [a, b\njobs: []\n", "bad.yml")
    (line,) = info.value.lines
    assert line.startswith("bad.yml:3:")
    assert "YAML syntax error" in line


def test_tab_indentation_is_a_syntax_error() -> None:
    with pytest.raises(ProblemList) as info:
        load_text("global:\n\timage: x\n", "tab.yml")
    assert info.value.lines[0].startswith("tab.yml:2:1: YAML syntax error")


def test_duplicate_keys_are_reported_each() -> None:
    with pytest.raises(ProblemList) as info:
        load_text("global: {}\njobs: []\nglobal: {}\njobs: []\n", "dup.yml")
    assert info.value.lines == [
        "dup.yml:3:1: global: duplicate key 'global'",
        "dup.yml:4:1: jobs: duplicate key 'jobs'",
    ]


def test_empty_document() -> None:
    with pytest.raises(ProblemList) as info:
        load_text("# nothing here\n", "empty.yml")
    assert "empty pipeline" in info.value.lines[0]


def test_unsafe_tags_are_refused() -> None:
    with pytest.raises(ProblemList) as info:
        load_text("global: !!python/object:os.system {}\n", "tag.yml")
    assert info.value.lines[0].startswith("tag.yml:1:")


def test_aliases_and_merge_keys() -> None:
    doc = load_text(
        "defaults: &d {image: busybox, allow_failure: true}\njob:\n  <<: *d\n  name: x\n", "alias.yml"
    )
    assert doc.data["job"] == {"image": "busybox", "allow_failure": True, "name": "x"}


def test_alias_bomb_is_stopped() -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"{chr(97 + i)}: &{chr(97 + i)} [" + ", ".join([f"*{chr(96 + i)}"] * 10) + "]")
    with pytest.raises(ProblemList) as info:
        load_text("\n".join(lines) + "\n", "bomb.yml")
    assert "document too large" in info.value.lines[0]


def test_file_problems(tmp_path: Path) -> None:
    with pytest.raises(ProblemList) as info:
        load_file(tmp_path / "missing.yml")
    assert info.value.lines == [f"{tmp_path / 'missing.yml'}: no such file"]
    with pytest.raises(ProblemList) as info:
        load_file(tmp_path)
    assert "is a directory" in info.value.lines[0]
    binary = tmp_path / "bin.yml"
    binary.write_bytes(b"global: \xff\xfe\n")
    with pytest.raises(ProblemList) as info:
        load_file(binary)
    assert "not UTF-8" in info.value.lines[0]

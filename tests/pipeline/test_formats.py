"""Telling a pipeline from a job definition, and `pipeline validate` given a job definition."""

from __future__ import annotations

import json
from pathlib import Path

from nosana_node.formats import JOBDEF, PIPELINE, UNKNOWN, detect
from tests.corekit import cli, write
from tests.pipeline.corpus import corpus, verdicts


def test_every_corpus_job_definition_is_detected_from_its_text() -> None:
    folder = corpus() / "jobdefs"
    kinds = {row["file"]: detect((folder / row["file"]).read_bytes()) for row in verdicts("jobdefs")}
    assert len(kinds) > 400 and set(kinds.values()) == {JOBDEF}


def test_corpus_pipelines_are_detected_as_pipelines() -> None:
    folder = corpus() / "pipelines"
    for row in verdicts("pipelines"):
        kind = detect((folder / row["file"]).read_text())
        if row["expected"] == "valid":
            assert kind == PIPELINE, row["file"]
        else:
            assert kind in (PIPELINE, UNKNOWN), row["file"]


def test_parsed_data_and_odd_input() -> None:
    assert detect({"version": "0.1", "type": "container", "ops": []}) == JOBDEF
    assert detect({"ops": []}) == JOBDEF
    assert detect({"global": {}, "jobs": []}) == PIPELINE
    assert detect({"version": 1, "jobs": []}) == PIPELINE
    for odd in ([], "", "42", "[1, 2]", b"\xff\xfe", "a: [", "{" * 10000, {"name": "x"}, None):
        assert detect(odd) == UNKNOWN, odd
    assert detect('{\t"version": "0.1",\t"ops": []}') == JOBDEF  # JSON with tabs is not YAML


def test_pipeline_validate_names_a_job_definition(tmp_path: Path) -> None:
    jobdef = {
        "version": "0.1",
        "type": "container",
        "ops": [{"type": "container/run", "id": "x", "args": {}}],
    }
    for name, text in (
        ("job.json", json.dumps(jobdef, indent="\t")),
        ("job.yml", "version: '0.1'\nops: []\n"),
    ):
        path = write(tmp_path, text, name)
        proc = cli("pipeline", "validate", str(path))
        assert proc.returncode == 2 and proc.stdout == ""
        assert proc.stderr == (
            f"error: {path}: this is a Nosana job definition (version/ops), not a pipeline;"
            f" check it with `nosana-node job validate {path}`\n"
        )

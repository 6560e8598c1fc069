"""The corpus: 100 real pipeline files, each with the verdict the original node gives it.

Prints ``verdicts right: N/100`` and the time to validate all of them in this process (the
validator's modules imported first: that one-time cost is every CLI start's, not validation's).
"""

from __future__ import annotations

import time
from pathlib import Path

import nosana_node.formats
import nosana_node.pipeline.validate  # noqa: F401 - imported before timing
from nosana_node.pipeline import load
from nosana_node.pipeline.problems import ProblemList
from tests.pipeline.corpus import corpus, verdicts


def verdict(path: Path) -> tuple[str, list[str]]:
    try:
        load(path)
    except ProblemList as exc:
        return "invalid", exc.lines
    return "valid", []


def test_every_corpus_pipeline_gets_its_verdict(capsys: object) -> None:
    rows = verdicts("pipelines")
    folder = corpus() / "pipelines"
    assert sorted(r["file"] for r in rows) == sorted(p.name for p in folder.iterdir()), (
        "pipelines.tsv and pipelines/ disagree"
    )
    started = time.perf_counter()
    got = {row["file"]: verdict(folder / row["file"]) for row in rows}
    elapsed = time.perf_counter() - started
    wrong = [
        f"{row['file']}: expected {row['expected']} ({row['categories'] or '-'}), got {got[row['file']][0]}"
        + "".join(f"\n    {line}" for line in got[row["file"]][1])
        for row in rows
        if got[row["file"]][0] != row["expected"]
    ]
    with capsys.disabled():  # type: ignore[attr-defined]
        print(f"\ncorpus: verdicts right: {len(rows) - len(wrong)}/{len(rows)}; validated in {elapsed:.3f} s")
    assert not wrong, "\n".join(wrong)


def test_invalid_corpus_files_name_file_line_and_column() -> None:
    for row in verdicts("pipelines"):
        if row["expected"] != "invalid":
            continue
        path = corpus() / "pipelines" / row["file"]
        kind, lines = verdict(path)
        assert kind == "invalid" and lines
        for line in lines:
            where = line.removeprefix(f"{path}:").split(":")
            assert where[0].isdigit() and where[1].isdigit(), line

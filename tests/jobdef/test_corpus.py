"""Every job definition of the corpus gets the official validator's verdict (``jobdefs.tsv``).

``valid`` and ``valid-sdk-only`` (accepted by ``@nosana/sdk`` 0.4.69, refused by the stricter
``@nosana/types``) must load; ``invalid`` must be refused, and every path the official validator
complained about must be among ours. The one YAML file is not in the table: it is the official
CLI's example, valid by the SDK's types.
"""

from __future__ import annotations

import csv
import re
import time
from pathlib import Path

import pytest

from nosana_node.jobdef import JobProblems, load


def _expected(corpus: Path) -> dict[str, tuple[str, str]]:
    with (corpus / "jobdefs.tsv").open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle, delimiter="\t"))[1:]
    return {row[0]: (row[1], row[2] if len(row) > 2 else "") for row in rows}


def test_every_corpus_file_gets_the_official_verdict(
    corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = _expected(corpus)
    files = sorted((corpus / "jobdefs").iterdir())
    assert len(files) == 403
    wrong: list[str] = []
    start = time.perf_counter()
    for path in files:
        verdict, _ = expected.get(path.name, ("valid", ""))
        try:
            load(path)
            accepted = True
        except JobProblems:
            accepted = False
        if accepted != (verdict != "invalid"):
            wrong.append(f"{path.name}: expected {verdict}, {'accepted' if accepted else 'refused'}")
    elapsed = time.perf_counter() - start
    right = len(files) - len(wrong)
    with capsys.disabled():
        print(f"\njob definitions corpus: verdicts right: {right}/{len(files)} in {elapsed:.2f} s")
    assert wrong == []


def test_refusals_name_the_paths_the_official_validator_names(corpus: Path) -> None:
    checked = 0
    for name, (verdict, errors) in _expected(corpus).items():
        if verdict != "invalid":
            continue
        with pytest.raises(JobProblems) as caught:
            load(corpus / "jobdefs" / name)
        ours = [p.path for p in caught.value.problems]
        assert all(p.mark is not None for p in caught.value.problems), name
        official = [
            p.removeprefix("$input").lstrip(".") for p in re.findall(r'"path": "(\$input[^"]*)"', errors)
        ]
        # typia also reports the union members it tried after the right one failed (a spread marker)
        official = [p for p in official if "__spread__" not in p]
        assert official, name
        for path in official:
            assert any(o == path or o.startswith(path) or path.startswith(o) for o in ours), (
                name,
                path,
                ours,
            )
        checked += 1
    assert checked == 12


def test_sdk_only_files_load_with_a_warning(corpus: Path) -> None:
    for name, (verdict, _) in _expected(corpus).items():
        if verdict == "valid-sdk-only":
            job = load(corpus / "jobdefs" / name)
            assert job.warnings, name
            assert any("@nosana/types" in w.message for w in job.warnings), name

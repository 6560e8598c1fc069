"""Where the shared corpus of real pipelines and job definitions is (``../shared/corpus``).

Looked up relative to the repository: ``$NOSANA_CORPUS`` if set, else ``../shared/corpus`` next
to this checkout, else next to the main checkout when this one is a git worktree. A missing
corpus fails the tests that need it, with a message saying where it was looked for.
"""

from __future__ import annotations

import csv
import functools
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def candidates() -> list[Path]:
    """The places looked at, in order."""
    found = [Path(os.environ["NOSANA_CORPUS"])] if os.environ.get("NOSANA_CORPUS") else []
    found.append(REPO.parent / "shared" / "corpus")
    try:
        common = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--path-format=absolute", "--git-common-dir"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        common = ""
    if common:
        found.append(Path(common).parent.parent / "shared" / "corpus")
    return found


@functools.cache
def _found() -> Path | None:
    return next((place for place in candidates() if (place / "pipelines.tsv").is_file()), None)


def corpus() -> Path:
    """The corpus directory; fails the calling test when there is none."""
    found = _found()
    if found is not None:
        return found
    pytest.fail(
        "corpus not found (looked in: " + ", ".join(str(p) for p in candidates()) + "); "
        "put it at ../shared/corpus next to the repository or set NOSANA_CORPUS"
    )


def verdicts(name: str) -> list[dict[str, str]]:
    """The rows of ``<name>.tsv`` (``pipelines`` or ``jobdefs``)."""
    with (corpus() / f"{name}.tsv").open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file, delimiter="\t"))

"""Fixtures for job definition tests: the shared corpus and small file writers."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.corekit import home  # noqa: F401 - fixture (a fresh home, no container left)

REPO = Path(__file__).resolve().parents[2]


def corpus_root() -> Path:
    """``shared/corpus`` beside the checkout (``$NOSANA_CORPUS`` overrides)."""
    if os.environ.get("NOSANA_CORPUS"):
        return Path(os.environ["NOSANA_CORPUS"])
    for parent in REPO.parents:
        candidate = parent / "shared" / "corpus"
        if (candidate / "jobdefs.tsv").is_file():
            return candidate
    pytest.fail("the corpus (shared/corpus beside the checkout, or $NOSANA_CORPUS) is missing")


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The corpus directory (``jobdefs/``, ``jobdefs.tsv``)."""
    return corpus_root()


def minimal(**extra: Any) -> dict[str, Any]:
    """A valid one-op job definition, with ``extra`` top-level keys."""
    doc: dict[str, Any] = {
        "version": "0.1",
        "type": "container",
        "ops": [{"type": "container/run", "id": "run", "args": {"image": "ubuntu"}}],
    }
    doc.update(extra)
    return doc


def write_json(tmp_path: Path, data: Any, name: str = "job.json") -> Path:
    """``data`` as pretty JSON in ``tmp_path/name``."""
    path = tmp_path / name
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path

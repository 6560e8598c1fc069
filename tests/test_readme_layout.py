"""The README's layout table names every package and top-level module of ``nosana_node/``, once,
and nothing that is not there."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADING = "### Layout of `nosana_node/`"


def _table_rows() -> list[str]:
    text = (ROOT / "README.md").read_text()
    assert HEADING in text, "the README has no layout section"
    section = text.split(HEADING, 1)[1].split("\n#", 1)[0]
    return re.findall(r"^\| `(nosana_node/[^`]+)` \|", section, flags=re.MULTILINE)


def _on_disk() -> list[str]:
    package = ROOT / "nosana_node"
    found = [f"nosana_node/{p.name}/" for p in package.iterdir() if (p / "__init__.py").is_file()]
    found += [f"nosana_node/{p.name}" for p in package.glob("*.py") if p.name != "__init__.py"]
    return found


def test_the_layout_table_matches_the_packages() -> None:
    rows = _table_rows()
    assert len(rows) == len(set(rows)), "a package is listed twice"
    assert sorted(rows) == sorted(_on_disk())

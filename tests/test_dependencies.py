"""The declared dependencies match the imports: every third-party module the package imports
comes from a distribution ``pyproject.toml`` declares, and every declared one is imported."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _imported() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "nosana_node").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names and m != "nosana_node"}


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {_canonical(re.split(r"[<>=!~;\[ ]", spec, maxsplit=1)[0]) for spec in project["dependencies"]}


def test_every_import_is_declared_and_every_declaration_imported() -> None:
    owners = packages_distributions()
    declared = _declared()
    used: set[str] = set()
    for module in sorted(_imported()):
        dists = {_canonical(d) for d in owners.get(module, [])}
        assert dists & declared, (
            f"{module} is imported but {sorted(dists) or 'no distribution'} is not declared"
        )
        used |= dists & declared
    assert declared - used == set(), "declared but never imported"

"""Fixtures: an environment without the caller's NOSANA_* variables, HOME in a temporary folder,
and a helper writing configuration files."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No NOSANA_*/VAULT_* variables from outside; HOME is a fresh folder (returned)."""
    for name in list(os.environ):
        if name.startswith(("NOSANA_", "VAULT_", "BAO_")):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    """write(text, name="config.edn", mode=0o644) -> the file's path (under tmp_path/cfg)."""

    def _write(text: str, name: str = "config.edn", mode: int = 0o644) -> Path:
        path = tmp_path / "cfg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(mode)
        return path

    return _write

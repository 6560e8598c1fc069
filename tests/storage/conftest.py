"""Fixtures of the storage tests: the real JS IPFS node, a local market, the Pinata stand-in."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.storage import jsipfs


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No NOSANA_*/VAULT_* settings from outside; HOME in a temporary folder."""
    for name in list(os.environ):
        if name.startswith(("NOSANA_", "VAULT_", "BAO_")):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))


@pytest.fixture(scope="session")
def jsipfs_dir() -> Path:
    return jsipfs.install()


@pytest.fixture(scope="session")
def ipfs_node(jsipfs_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[jsipfs.JsIpfs]:
    """One real JS IPFS daemon for the session (offline, loopback, free ports)."""
    node = jsipfs.start(jsipfs_dir, tmp_path_factory.mktemp("jsipfs"))
    try:
        yield node
    finally:
        node.stop()

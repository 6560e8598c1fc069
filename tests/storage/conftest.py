"""Fixtures of the storage tests: the environment of the config tests, the real JS IPFS node."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.config.conftest import clean_env  # noqa: F401 - autouse: no NOSANA_* from outside, HOME in tmp
from tests.storage import jsipfs


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

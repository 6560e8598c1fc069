"""Fixtures: a real OpenBao dev server per session (plus a TLS one, and short-lived ones that tests
stop mid-way), and vault configurations pointing at them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nosana_node.config.schema import VaultConfig
from nosana_node.secrets.value import Secret
from tests.vault.bao import BaoServer, running


@pytest.fixture(scope="session")
def bao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BaoServer]:
    """The shared OpenBao server (KV v2 at secret/, as `bao server -dev` sets up)."""
    with running(tmp_path_factory.mktemp("bao")) as server:
        server.kv1("kv1")
        yield server


@pytest.fixture(scope="session")
def bao_tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BaoServer]:
    """An OpenBao server with a TLS listener and a mutual-TLS listener (client certificate required)."""
    with running(tmp_path_factory.mktemp("bao-tls"), tls=True) as server:
        yield server


@pytest.fixture
def bao_own(tmp_path: Path) -> Iterator[BaoServer]:
    """A server of this test alone: the test may stop it."""
    with running(tmp_path / "bao") as server:
        yield server


@pytest.fixture
def prefix() -> str:
    """A secret-path prefix unique to the test (the session server is shared)."""
    return f"t-{uuid.uuid4().hex[:10]}"


def vault_config(server: BaoServer, **kw: Any) -> VaultConfig:
    """A VaultConfig for ``server``; token auth with the root token unless told otherwise."""
    kw.setdefault("token", Secret(server.root_token))
    kw.setdefault("address", server.addr)
    return VaultConfig(backend="openbao", **kw)

"""Fixtures of the API tests: a node home per test, and one local market per module (real
LiteSVM behind real JSON-RPC/PubSub) where a client posts the jobs whose logs are read."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from nosana_node.chain.endpoint import Endpoint, localnet_endpoint
from nosana_node.localnet.instance import Localnet
from nosana_node.localnet.server import ServerThread
from tests.corekit import home  # noqa: F401 - fixture
from tests.localnet.conftest import Served
from tests.vault.conftest import bao  # noqa: F401 - fixture


@pytest.fixture(scope="module")
def localnet() -> Iterator[Served]:
    with tempfile.TemporaryDirectory(prefix="nosana-api-market-") as tmp:
        ledger = Path(tmp) / "ledger"
        net = Localnet.open(ledger)
        server = ServerThread(net.chain).start()
        try:
            yield Served(net, server, ledger)
        finally:
            server.stop()
            net.close()


@pytest.fixture(scope="module")
def local_endpoint(localnet: Served) -> Endpoint:
    return localnet_endpoint(localnet.ledger, localnet.rpc_url, localnet.ws_url)
